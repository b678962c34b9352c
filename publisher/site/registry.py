"""Every channel type Herold knows: the adapters' and the built-in website."""

from __future__ import annotations

from adapters import channel_types as adapter_types
from adapters.port import Channel
from publisher.site.website import Website


def channel_types() -> dict[str, type[Channel]]:
    """Every channel type, by its config name."""
    types: dict[str, type[Channel]] = {**adapter_types(), Website.type: Website}
    return dict(sorted(types.items()))
