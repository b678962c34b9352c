"""Every channel type is complete: a test module, a template, a row and a section in the docs
that explain each of its settings, and a declaration the core can rely on."""

from __future__ import annotations

import inspect
import re

import pytest

from adapters.port import ABILITIES, ChannelSettings, ChannelType, Wave
from publisher.core.templates import TEMPLATES
from publisher.site.registry import channel_types

from conftest import ROOT

DOCS = (ROOT / "docs" / "channels.md").read_text(encoding="utf-8")
SHIPPED = {
    name: kind for name, kind in channel_types().items() if kind.__module__.startswith(("adapters.", "publisher.site."))
}


def test_the_own_website_ships_with_herold() -> None:
    assert any(kind.capabilities.wave is Wave.website for kind in SHIPPED.values())


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_channel_type_has_its_test_module_template_and_documentation(name: str) -> None:
    kind: type[ChannelType] = SHIPPED[name]
    module = kind.__module__.rsplit(".", 1)[-1]
    source = kind.__module__.replace(".", "/") + ".py"
    assert (ROOT / "tests" / f"test_{module}.py").exists(), f"tests/test_{module}.py is missing"
    assert (TEMPLATES / kind.capabilities.template).exists(), f"templates/{kind.capabilities.template} is missing"
    assert re.search(rf"^\| `{name}` \| `{source}` \|", DOCS, re.MULTILINE), "no row in docs/channels.md"
    section = DOCS.split(f"## `{name}`", 1)
    assert len(section) == 2, f"docs/channels.md has no section ## `{name}`"
    text = section[1].split("\n## ", 1)[0]
    for setting in kind.Settings.model_fields.keys() - ChannelSettings.model_fields.keys():
        assert f"`{setting}`" in text, f"setting {setting} of {name} is not explained in docs/channels.md"


def test_the_settings_every_channel_type_takes_are_explained_before_the_first_type() -> None:
    common = DOCS.split("\n## ", 1)[0]
    for setting in ChannelSettings.model_fields:
        assert f"`{setting}`" in common, f"setting {setting} of every channel is not explained in docs/channels.md"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_channel_type_declares_what_the_core_needs(name: str) -> None:
    kind = SHIPPED[name]
    assert kind.type == name
    assert kind.label
    assert not inspect.isabstract(kind)
    capabilities = kind.capabilities
    if capabilities.wave is not Wave.website:
        # Everything posted elsewhere links back to the item's own page, so it needs text for it.
        assert capabilities.template.startswith("channels/")
    for name, ability in ABILITIES.items():
        declared = getattr(capabilities, name)
        assert declared == issubclass(kind, ability), f"capabilities.{name} is {declared}, the methods say otherwise"
    if capabilities.media.alt_text:
        assert capabilities.media.count > 0
