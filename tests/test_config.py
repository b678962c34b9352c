"""The operator's configuration: it loads as shipped, the environment wins, and every mistake names its key."""

from __future__ import annotations

import copy
import io
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import adapters
from adapters.port import Capabilities, Channel, ChannelSettings, Post, Receipt, Wave
from publisher.core.routing import route
from publisher.domain.authority import Authority, slugify
from publisher.edges.config import ConfigError, Settings, config_path, load_settings, settings_from
from publisher.site.registry import channel_types
from publisher.sources.cap import parse_cap

from conftest import AUTHORITY, ROOT
from helpers import png_bytes

EXAMPLE = ROOT / "config" / "herold.example.toml"
TOKEN_VARIABLE = "HEROLD_TEST_CHAT_TOKEN"


class ChatSettings(ChannelSettings):
    token_env: str
    room: str = "lage"


class ChatChannel(Channel):
    """A channel type with a secret, as most platform channels have one."""

    type = "test-chat"
    label = "Test-Chat"
    capabilities = Capabilities(wave=Wave.other)
    Settings = ChatSettings

    def publish(self, post: Post) -> Receipt:
        return Receipt(platform_id="1")


@pytest.fixture
def chat_channel() -> Iterator[str]:
    adapters.register(ChatChannel)
    yield ChatChannel.type
    adapters.unregister(ChatChannel.type)


def authority(**changes: Any) -> dict[str, Any]:
    """The test authority; keyword arguments change or (with None) remove keys."""
    entry = copy.deepcopy(AUTHORITY)
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return entry


WEBSITE = {"id": "website", "type": "website"}
CHAT = {"id": "chat", "type": "test-chat", "token_env": TOKEN_VARIABLE}


def config(*authorities: dict[str, Any], **herold: Any) -> dict[str, Any]:
    return {"herold": herold, "authorities": list(authorities) or [authority()]}


def problems(raw: dict[str, Any], env: dict[str, str] | None = None, base: Path = ROOT) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        settings_from(raw, env or {}, base=base)
    return [(p.field, p.message) for p in caught.value.problems]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL_TOML = """
[herold]
data_dir = "var"
database_url = "sqlite:///from-the-file.db"
grace_warning_seconds = 10
templates_dir = "my-templates"

[[authorities]]
slug = "lk-beispiel"
name = "Landkreis Beispiel"
base_url = "https://www.lk-beispiel.de/warnungen"
impressum_url = "https://www.lk-beispiel.de/impressum"
privacy_url = "https://www.lk-beispiel.de/datenschutz"

  [[authorities.channels]]
  id = "website"
  type = "website"
"""


# --- loading ------------------------------------------------------------------------------------------


def test_the_example_configuration_loads_as_shipped() -> None:
    settings = load_settings(EXAMPLE, env={})

    assert settings.source == EXAMPLE
    assert settings.herold.data_dir == (ROOT / "var").resolve()
    assert settings.herold.database == f"sqlite:///{(ROOT / 'var').resolve() / 'herold.db'}"
    assert settings.herold.log_format == "console"
    assert [a.slug for a in settings.authorities] == ["lk-beispiel"]
    example = settings.authority("lk-beispiel")
    assert example.base_url == "http://127.0.0.1:8000/"
    assert example.languages == ["de", "en"]
    assert example.language == "de"
    assert [(c.id, c.type) for c in example.channels] == [("website", "website")]


def test_the_shared_test_settings_build_like_a_config_file(make_settings: Any, tmp_path: Path) -> None:
    settings: Settings = make_settings(embedded_workers=2)

    assert settings.herold.embedded_workers == 2
    assert settings.herold.data_dir == tmp_path / "var"
    assert settings.authority("lk-beispiel").channel("website").type == "website"


def test_environment_variables_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "herold.toml", MINIMAL_TOML)
    env = {"HEROLD_DATABASE_URL": "postgresql+psycopg://herold@db/herold", "HEROLD_GRACE_WARNING_SECONDS": "2.5"}

    settings = load_settings(path, env=env)

    assert settings.herold.database_url == "postgresql+psycopg://herold@db/herold"
    assert settings.herold.database == "postgresql+psycopg://herold@db/herold"
    assert settings.herold.grace_warning_seconds == 2.5


def test_without_the_environment_the_file_counts(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "herold.toml", MINIMAL_TOML), env={})

    assert settings.herold.database_url == "sqlite:///from-the-file.db"
    assert settings.herold.grace_warning_seconds == 10


def test_relative_paths_are_relative_to_the_config_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "etc" / "herold.toml", MINIMAL_TOML)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    settings = load_settings(Path("../etc/herold.toml"), env={})

    assert settings.herold.data_dir == (tmp_path / "etc" / "var").resolve()
    assert settings.herold.templates_dir == (tmp_path / "etc" / "my-templates").resolve()


def test_an_absolute_data_dir_is_kept(tmp_path: Path) -> None:
    settings = settings_from(config(data_dir=str(tmp_path / "srv")), {}, base=ROOT)

    assert settings.herold.data_dir == tmp_path / "srv"


def test_herold_config_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "anywhere.toml", MINIMAL_TOML)

    assert config_path({"HEROLD_CONFIG": str(path)}) == path


def test_without_herold_config_and_without_a_file_here_the_operator_is_told_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError) as caught:
        config_path({})

    [problem] = caught.value.problems
    assert problem.field == "HEROLD_CONFIG"
    assert "copy config/herold.example.toml" in problem.message


# --- secrets ---------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("chat_channel")
def test_a_secret_is_read_from_the_environment_variable_the_channel_names() -> None:
    raw = config(authority(channels=[WEBSITE, CHAT]))

    settings = settings_from(raw, {TOKEN_VARIABLE: "s3cr3t-chat-token"}, base=ROOT)

    assert settings.secret("lk-beispiel", "chat", "token") == "s3cr3t-chat-token"
    assert settings.authority("lk-beispiel").channel("chat").settings.token_env == TOKEN_VARIABLE
    assert "s3cr3t-chat-token" not in repr(settings)
    assert "s3cr3t-chat-token" not in str(settings)


def test_a_channel_type_from_elsewhere_is_known_from_its_registration_until_it_is_withdrawn() -> None:
    raw, env = config(authority(channels=[WEBSITE, CHAT])), {TOKEN_VARIABLE: "s3cr3t-chat-token"}
    with pytest.raises(ConfigError, match="must be one of"):
        settings_from(raw, env, base=ROOT)

    adapters.register(ChatChannel)
    try:
        assert settings_from(raw, env, base=ROOT).authority("lk-beispiel").channel("chat").type == ChatChannel.type
        assert channel_types()[ChatChannel.type] is ChatChannel
    finally:
        adapters.unregister(ChatChannel.type)

    assert ChatChannel.type not in channel_types()
    with pytest.raises(ConfigError, match="must be one of"):
        settings_from(raw, env, base=ROOT)


# --- every mistake names its key -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("chat_channel")
@pytest.mark.parametrize(
    ("raw", "env", "field", "message"),
    [
        pytest.param(
            {**config(), "autorities": []}, {}, "autorities", "is not a section Herold knows", id="unknown-section"
        ),
        pytest.param(
            {"herold": {}}, {}, "authorities", "configure at least one [[authorities]] table", id="no-authorities"
        ),
        pytest.param(
            {"herold": {}, "authorities": []},
            {},
            "authorities",
            "configure at least one [[authorities]] table",
            id="empty-authorities",
        ),
        pytest.param(
            config(authority(channels=[WEBSITE, {**CHAT, "rooom": "lage"}])),
            {TOKEN_VARIABLE: "x"},
            "authorities.0.channels.1.rooom",
            "is not a field Herold knows (check the spelling)",
            id="unknown-channel-setting",
        ),
        pytest.param(
            config(authority(channels=[WEBSITE, {"id": "chat", "type": "test-chat"}])),
            {},
            "authorities.0.channels.1.token_env",
            "is required",
            id="missing-channel-setting",
        ),
        pytest.param(
            config(authority(channels=[WEBSITE, CHAT])),
            {},
            "authorities.0.channels.1.token_env",
            f"names the environment variable {TOKEN_VARIABLE}, which is not set",
            id="secret-variable-unset",
        ),
        pytest.param(
            config(authority(channels=[WEBSITE, CHAT])),
            {TOKEN_VARIABLE: ""},
            "authorities.0.channels.1.token_env",
            f"names the environment variable {TOKEN_VARIABLE}, which is not set",
            id="secret-variable-empty",
        ),
        pytest.param(
            config(authority(impressum_url=None)), {}, "authorities.0.impressum_url", "is required", id="no-impressum"
        ),
        pytest.param(
            config(authority(base_url="www.lk-beispiel.de/warnungen")),
            {},
            "authorities.0.base_url",
            'is not a web address like https://www.example.de/ (got "www.lk-beispiel.de/warnungen")',
            id="base-url-without-scheme",
        ),
        pytest.param(
            config(authority(base_url="ftp://lk-beispiel.de/")),
            {},
            "authorities.0.base_url",
            'is not a web address like https://www.example.de/ (got "ftp://lk-beispiel.de/")',
            id="base-url-ftp",
        ),
        pytest.param(
            config(authority(privacy_url="/datenschutz")),
            {},
            "authorities.0.privacy_url",
            'is not a web address like https://www.example.de/ (got "/datenschutz")',
            id="relative-privacy-url",
        ),
        pytest.param(
            config(authority(timezone="Europe/Bonn")),
            {},
            "authorities.0.timezone",
            'is not a time zone like "Europe/Berlin" (got "Europe/Bonn")',
            id="bad-timezone",
        ),
        pytest.param(
            config(authority(), authority(base_url="https://www.lk-beispiel.de/andere/")),
            {},
            "authorities",
            "slug 'lk-beispiel' is used by 2 authorities",
            id="duplicate-slug",
        ),
        pytest.param(
            config(authority(), authority(slug="stadt-beispiel")),
            {},
            "authorities.1.base_url",
            "is the same as that of 'lk-beispiel': their pages would overwrite each other",
            id="duplicate-base-url",
        ),
        pytest.param(
            config(authority(channels=[WEBSITE, {**WEBSITE}])),
            {},
            "authorities.0.channels",
            "channel id 'website' is used 2 times",
            id="duplicate-channel-id",
        ),
        pytest.param(
            config(authority(channels=[CHAT])),
            {TOKEN_VARIABLE: "x"},
            "authorities.0.channels",
            'needs a channel for the authority\'s own website (e.g. type = "website"): '
            "every item must exist off-platform before it goes anywhere else",
            id="no-website-channel",
        ),
        pytest.param(
            config(authority(oncall={"webhook_url": "https://leitstelle.example.de/alarm"})),
            {},
            "authorities.0.oncall.webhook_secret_env",
            "is required with webhook_url",
            id="oncall-webhook-without-secret",
        ),
        pytest.param(
            config(embedded_workers=0), {}, "herold.embedded_workers", "must be at least 1 (got 0)", id="no-workers"
        ),
        pytest.param(
            config(data_dri="var"),
            {},
            "herold.data_dri",
            "is not a field Herold knows (check the spelling)",
            id="unknown-herold-key",
        ),
        pytest.param(
            config(),
            {"HEROLD_GRACE_WARNING_SECONDS": "bald"},
            "herold.grace_warning_seconds",
            'must be a number (got "bald")',
            id="bad-value-from-environment",
        ),
    ],
)
def test_a_configuration_mistake_names_its_key(
    raw: dict[str, Any], env: dict[str, str], field: str, message: str
) -> None:
    assert problems(raw, env) == [(field, message)]


@pytest.mark.usefixtures("chat_channel")
def test_an_unknown_channel_type_lists_the_known_ones() -> None:
    raw = config(authority(channels=[WEBSITE, {"id": "social", "type": "mastodom"}]))

    [(field, message)] = problems(raw)

    assert field == "authorities.0.channels.1.type"
    assert message == f"must be one of {', '.join(channel_types())} (got 'mastodom')"
    assert "website" in message
    assert "test-chat" in message


def test_a_channel_without_type_is_told_it_needs_one() -> None:
    raw = config(authority(channels=[WEBSITE, {"id": "social"}]))

    assert problems(raw) == [("authorities.0.channels.1.type", "is required")]


def test_a_typo_in_the_website_channel_is_reported_as_that_typo_only() -> None:
    # The website channel is there; only its setting is misspelt. Claiming that the authority has
    # no website channel at all would send the operator looking for the wrong mistake.
    raw = config(authority(channels=[{**WEBSITE, "directroy": "/srv/www"}]))

    assert problems(raw) == [("authorities.0.channels.0.directroy", "is not a field Herold knows (check the spelling)")]


@pytest.mark.usefixtures("chat_channel")
def test_a_channel_without_id_is_told_so_once() -> None:
    raw = config(authority(channels=[WEBSITE, {"type": "test-chat", "token_env": TOKEN_VARIABLE}]))

    assert problems(raw, {TOKEN_VARIABLE: "x"}) == [("authorities.0.channels.1.id", "is required")]


def test_every_mistake_is_reported_at_once() -> None:
    raw = config(authority(timezone="Mars/Olympus", impressum_url=None, base_url="lk-beispiel.de"), log_level="verbose")

    fields = sorted(field for field, _ in problems(raw))

    assert fields == [
        "authorities.0.base_url",
        "authorities.0.impressum_url",
        "authorities.0.timezone",
        "herold.log_level",
    ]


@pytest.mark.parametrize(
    "section",
    [pytest.param('herold = "production"', id="text"), pytest.param("herold = [1, 2]", id="list")],
)
def test_a_herold_key_that_is_not_a_table_is_a_config_error(tmp_path: Path, section: str) -> None:
    path = write(tmp_path / "herold.toml", section + "\n" + MINIMAL_TOML.replace("[herold]", "[unused]"))

    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})

    assert "herold" in [p.field for p in caught.value.problems]


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "herold.toml"

    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})

    assert [(p.field, p.message) for p in caught.value.problems] == [(str(path), "does not exist")]


def test_a_config_file_that_is_not_toml_is_named_with_the_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "herold.toml", "[herold]\ndata_dir = var\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})

    [problem] = caught.value.problems
    assert problem.field == str(path)
    assert problem.message.startswith("is not valid TOML: ")
    assert "line 2" in problem.message


# --- authorities ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        pytest.param("https://www.lk-beispiel.de/warnungen", "https://www.lk-beispiel.de/warnungen/", id="no-slash"),
        pytest.param("https://www.lk-beispiel.de/warnungen/", "https://www.lk-beispiel.de/warnungen/", id="slash"),
        pytest.param("https://www.lk-beispiel.de", "https://www.lk-beispiel.de/", id="host-only"),
        pytest.param("http://127.0.0.1:8000", "http://127.0.0.1:8000/", id="with-port"),
    ],
)
def test_the_base_url_always_ends_in_a_slash(written: str, stored: str) -> None:
    settings = settings_from(config(authority(base_url=written)), {}, base=ROOT)

    example = settings.authority("lk-beispiel")
    assert example.base_url == stored
    assert example.url("/2026/11/fliegerbombe/") == stored + "2026/11/fliegerbombe/"


def test_an_authority_defaults_to_german_and_berlin_time() -> None:
    example = Authority.model_validate(authority(languages=None, channels=None))

    assert example.timezone == "Europe/Berlin"
    assert example.language == "de"
    assert example.channels == []


@pytest.mark.parametrize(
    ("headline", "slug"),
    [
        pytest.param("Fliegerbombe in Köln", "fliegerbombe-in-koeln", id="umlaut"),
        pytest.param("Straße gesperrt", "strasse-gesperrt", id="sharp-s"),
        pytest.param("ÄRGER über Öl", "aerger-ueber-oel", id="capital-umlauts"),
        pytest.param("Großbrand: Fenster & Türen schließen!", "grossbrand-fenster-tueren-schliessen", id="punctuation"),
        pytest.param("Crème brûlée", "creme-brulee", id="other-accents"),
        pytest.param("  --- !!! ---  ", "meldung", id="nothing-left"),
        pytest.param("🔥🔥🔥", "meldung", id="only-emoji"),
        pytest.param(
            "Hochwasser an der Mosel – Pegel steigt weiter, Anwohner in Trier, Bernkastel und Cochem sollen räumen",
            "hochwasser-an-der-mosel-pegel-steigt-weiter-anwohner-in",
            id="long-headline-cut-at-a-word",
        ),
    ],
)
def test_a_headline_becomes_a_readable_url_slug(headline: str, slug: str) -> None:
    assert slugify(headline) == slug


@pytest.mark.parametrize("max_length", [12, 15, 16, 20, 25, 40])
def test_a_cut_slug_never_ends_in_half_a_word(max_length: int) -> None:
    words = ["fliegerbombe", "in", "koeln", "entschaerft", "sperrgebiet", "aufgehoben"]

    slug = slugify("Fliegerbombe in Köln entschärft – Sperrgebiet aufgehoben", max_length=max_length)

    assert len(slug) <= max_length
    assert slug.split("-") == words[: len(slug.split("-"))]


def test_a_single_word_longer_than_the_limit_is_cut_hard_rather_than_left_empty() -> None:
    assert slugify("Donaudampfschifffahrtsgesellschaft", max_length=10) == "donaudampf"


@pytest.mark.parametrize(
    ("herold", "oncall", "expected"),
    [
        (
            {},
            {"emails": ["leitstelle@lk-beispiel.de"]},
            (
                "herold.smtp_host",
                "is needed to e-mail the on-call contacts of 'lk-beispiel' (authorities.0.oncall.emails)",
            ),
        ),
        (
            {"smtp_host": "mail.lk-beispiel.de", "smtp_user": "herold", "smtp_starttls": True},
            {},
            ("herold.smtp_password_env", "is needed with smtp_user"),
        ),
        (
            {"smtp_host": "mail.lk-beispiel.de", "smtp_user": "herold", "smtp_password_env": "HEROLD_SMTP"},
            {},
            (
                "herold.smtp_starttls",
                "must be true when logging in to a mail server elsewhere (the password would travel unencrypted)",
            ),
        ),
        (
            {},
            {"webhook_url": "https://leitstelle.example.de/alarm"},
            ("authorities.0.oncall.webhook_secret_env", "is required with webhook_url"),
        ),
    ],
    ids=["mail without server", "login without password", "password in the clear", "webhook without secret"],
)
def test_on_call_contacts_need_a_safe_way_to_reach_them(
    herold: dict[str, Any], oncall: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert problems(config(authority(oncall=oncall), **herold), env={"HEROLD_SMTP": "geheim"}) == [expected]


def test_a_channel_named_like_the_on_call_hook_never_gets_its_signing_secret() -> None:
    whsec = "whsec_" + "A" * 43
    raw = config(authority(
        channels=[{"id": "website", "type": "website"},
                  {"id": "oncall", "type": "webhook", "url": "https://radio.example.de/h", "secret_env": "RADIO"}],
        oncall={"webhook_url": "https://leitstelle.example.de/alarm", "webhook_secret_env": "ALARM"},
    ))  # fmt: skip
    settings = settings_from(raw, {"RADIO": whsec, "ALARM": "whsec_" + "B" * 43}, base=ROOT)
    assert settings.secrets_of("lk-beispiel", "oncall") == {"secret": whsec}


def test_an_accent_colour_too_light_to_read_on_the_white_page_stops_herold_with_the_contrast() -> None:
    found = problems(config(authority(accent_colour="#ffcc00")))
    assert len(found) == 1 and found[0][0].endswith("accent_colour")
    assert "contrast of 1.5:1" in found[0][1] and "4.5:1" in found[0][1]
    settings_from(config(authority(accent_colour="#0b4f9c")), {}, base=ROOT)  # 8:1: fine


# --- the authority's logo and form templates: files beside the config file ------------------------


def test_the_logo_and_the_form_templates_are_found_beside_the_config_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    (etc / "bilder").mkdir(parents=True)
    (etc / "bilder" / "wappen.png").write_bytes(png_bytes())
    (etc / "formulare").mkdir()
    own = 'logo = "bilder/wappen.png"\nform_templates = "formulare"\n\n  [[authorities.channels]]'
    write(etc / "herold.toml", MINIMAL_TOML.replace("  [[authorities.channels]]", own, 1))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    authority = load_settings(Path("../etc/herold.toml"), env={}).authority("lk-beispiel")

    assert authority.logo == (etc / "bilder" / "wappen.png").resolve()
    assert authority.form_templates == (etc / "formulare").resolve()


def image(image_format: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "navy").save(out, image_format)
    return out.getvalue()


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "does not exist"),
        (b"Landkreis Beispiel", "is not an image Herold can read; use a PNG or JPEG"),
        (SVG, "is an SVG; use a PNG or JPEG (an SVG can carry scripts and load files from elsewhere)"),
        (image("GIF"), "is a GIF image; use a PNG or JPEG"),
        (image("JPEG")[:200], "is damaged or incomplete (OSError); save it again as a PNG or JPEG"),
        ("directory", "is a directory, not an image"),
    ],
    ids=["missing", "not an image", "svg", "gif", "cut off", "directory"],
)
def test_a_logo_that_is_not_a_readable_png_or_jpeg_stops_herold_naming_the_key_and_the_file(
    tmp_path: Path, content: bytes | str | None, reason: str
) -> None:
    logo = tmp_path / "wappen.png"
    if content == "directory":
        logo.mkdir()
    elif isinstance(content, bytes):
        logo.write_bytes(content)

    found = problems(config(authority(logo="wappen.png")), base=tmp_path)

    assert found == [("authorities.0.logo", f"names {logo.resolve()}, which {reason}")]


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_a_png_or_jpeg_logo_passes_the_check_and_an_absolute_path_is_kept(tmp_path: Path, image_format: str) -> None:
    (tmp_path / "wappen").write_bytes(image(image_format))

    settings = settings_from(config(authority(logo=str(tmp_path / "wappen"))), {}, base=ROOT)

    assert settings.authority("lk-beispiel").logo == tmp_path / "wappen"


@pytest.mark.parametrize(("made", "reason"), [(False, "does not exist"), (True, "is not a directory")])
def test_form_templates_must_name_an_existing_directory(tmp_path: Path, made: bool, reason: str) -> None:
    folder = tmp_path / "formulare"
    if made:
        folder.write_text("warnung.toml belongs inside", encoding="utf-8")

    found = problems(config(authority(form_templates="formulare")), base=tmp_path)

    assert found == [("authorities.0.form_templates", f"names {folder.resolve()}, which {reason}")]


def test_a_broken_form_template_stops_herold_at_start_naming_file_and_key(tmp_path: Path) -> None:
    folder = tmp_path / "formulare"
    folder.mkdir()
    (folder / "sturm.toml").write_text('title = "Sturm"\n[fields]\nkind = "warning"\nseverity = "hoch"\n')

    [(field, message)] = problems(config(authority(form_templates="formulare")), base=tmp_path)

    assert field == "authorities.0.form_templates" and "sturm.toml" in message and "severity" in message


GOOD_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_two_integrations_may_not_share_a_secret() -> None:
    shared = [{"id": "a", "format": "cap", "secret_env": "S"}, {"id": "b", "format": "cap", "secret_env": "S"}]
    with pytest.raises(ConfigError, match="S is named by 2 integrations"):
        settings_from(config(authority(integrations=shared)), {"S": GOOD_SECRET}, base=ROOT)


@pytest.mark.parametrize(
    ("integration", "env", "reason"),
    [
        ({"id": "leitstelle", "format": "cap"}, {}, "or poll for Herold to fetch them"),
        ({"id": "leitstelle", "format": "cap", "secret_env": "S", "token_env": "T"}, {"S": GOOD_SECRET, "T": "t" * 40},
         "not both"),
        ({"id": "nina", "format": "nina", "poll": {"every_seconds": 60}}, {}, "needs ars"),
        ({"id": "feed", "format": "cap", "poll": {"ars": "053150000000"}}, {}, "needs url"),
        ({"id": "software", "format": "announcement", "poll": {"url": "https://example.org/x"}}, {},
         "cannot be polled"),
        ({"id": "feed", "format": "cap", "poll": {"url": "http://example.org/feed"}}, {}, "must use https"),
        ({"id": "leitstelle", "format": "cap", "secret_env": "S"}, {}, "S, which is not set"),
        ({"id": "leitstelle", "format": "cap", "secret_env": "S"}, {"S": "geheim"}, "whsec_"),
        ({"id": "leitstelle", "format": "cap", "secret_env": "S"}, {"S": "whsec_AA=="}, "at least 24 random bytes"),
        ({"id": "leitstelle", "format": "cap", "secret_env": "S"}, {"S": "whsec_!!!!"}, "at least 24 random bytes"),
        ({"id": "leitstelle", "format": "cap", "token_env": "T"}, {"T": "kurz"}, "at least 32 characters"),
        ({"id": "leitstelle", "format": "cap", "secret_env": "S", "channels": ["fax"]}, {"S": GOOD_SECRET},
         "unknown channels: fax"),
        ({"id": "leitstelle", "format": "rss", "secret_env": "S"}, {"S": GOOD_SECRET}, "format"),
    ],
)  # fmt: skip
def test_an_integration_needs_one_way_to_prove_its_messages_or_a_poll(
    integration: dict[str, Any], env: dict[str, str], reason: str
) -> None:
    raw = config(authority(integrations=[integration]))
    with pytest.raises(ConfigError) as refused:
        settings_from(raw, env, base=ROOT)
    assert reason in str(refused.value) and "integrations.0" in str(refused.value)


# --- routing rules and the authority's area --------------------------------------------------------------------


DWD_TOKEN = {"HEROLD_LKB_DWD_TOKEN": "t" * 40}
DWD = {"id": "dwd", "format": "cap", "token_env": "HEROLD_LKB_DWD_TOKEN", "decision": "draft"}
KOELN = [[50.89, 6.90], [50.89, 7.02], [50.98, 7.02], [50.98, 6.90], [50.89, 6.90]]


def routed(*rules: dict[str, Any], area: dict[str, Any] | None = None) -> dict[str, Any]:
    return config(authority(integrations=[DWD], rules=list(rules), area=area))


def test_the_rules_and_the_area_load_in_order_with_cap_spellings_taken() -> None:
    raw = routed({"name": "Unwetter hier", "sources": ["dwd"], "severities": ["Extreme", "severe"],
                  "urgencies": ["Immediate"], "in_authority_area": True, "decision": "publish",
                  "channels": ["website"]},
                 {"name": "Rest", "decision": "draft"},
                 area={"geocodes": ["ARS:053150000000", {"name": "WARNCELLID", "value": "805315000"}],
                       "polygons": [KOELN]})  # fmt: skip

    example = settings_from(raw, DWD_TOKEN, base=ROOT).authority("lk-beispiel")

    assert [rule.name for rule in example.rules] == ["Unwetter hier", "Rest"]
    assert [s.value for s in example.rules[0].severities] == ["extreme", "severe"]
    assert example.area is not None and [(c.name, c.value) for c in example.area.geocodes] == [
        ("ARS", "053150000000"), ("WARNCELLID", "805315000")]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        pytest.param(routed({"name": "r", "sources": ["dwd", "mowas"], "decision": "publish"}),
                     "authorities.0.rules.0.sources", "names unknown integrations: mowas (sources are integration ids)",
                     id="unknown-source"),
        pytest.param(routed({"name": "r", "channels": ["website", "fax"], "decision": "publish"}),
                     "authorities.0.rules.0.channels", "names unknown channels: fax", id="unknown-channel"),
        pytest.param(routed({"name": "hier", "in_authority_area": True, "decision": "publish"}),
                     "authorities.0.rules.0.in_authority_area",
                     "needs the authority's area: add [authorities.area] with its geocodes or polygons",
                     id="area-rule-without-area"),
        pytest.param(routed({"name": "r", "severities": ["minor"], "decision": "ignore"},
                            {"name": "r", "severities": ["severe"], "decision": "publish"}),
                     "authorities.0.rules", "the name 'r' is used 2 times: the audit names the rule that decided",
                     id="same-name-twice"),
        pytest.param(routed({"name": "alles", "decision": "draft"}, {"name": "später", "decision": "publish"}),
                     "authorities.0.rules.1", "can never match: the rule 'alles' before it matches every warning",
                     id="after-a-catch-all"),
        pytest.param(routed({"name": "r", "decision": "senden"}), "authorities.0.rules.0.decision",
                     'must be publish, draft or ignore (got "senden")', id="unknown-decision"),
        pytest.param(routed({"name": "r", "severities": ["hoch"], "decision": "publish"}),
                     "authorities.0.rules.0.severities.0",
                     'must be one of extreme, severe, moderate, minor or unknown (got "hoch")', id="unknown-severity"),
        pytest.param(routed({"name": "r", "decision": "publish", "area": True}), "authorities.0.rules.0.area",
                     "is not a field Herold knows (check the spelling)", id="unknown-key"),
        pytest.param(routed({"name": "r\nzwei", "decision": "publish"}), "authorities.0.rules.0.name",
                     "must be one line of visible text (it names the rule in the audit)", id="name-on-two-lines"),
        pytest.param(routed(area={"geocodes": ["ARS:05315"]}), "authorities.0.area.geocodes.0",
                     'ARS "05315" must have 12 digits; a whole Kreis or Land ends in zeros, e.g. 053150000000 for Köln',
                     id="short-ars"),
        pytest.param(routed(area={"geocodes": ["AGS:0531500"]}), "authorities.0.area.geocodes.0",
                     'AGS "0531500" must have 8 digits; a whole Kreis or Land ends in zeros, e.g. 05315000 for Köln',
                     id="short-ags"),
        pytest.param(routed(area={"geocodes": ["053150000000"]}), "authorities.0.area.geocodes.0",
                     'must be NAME:VALUE, e.g. "ARS:053150000000" or "WARNCELLID:805315000" (got "053150000000")',
                     id="geocode-without-name"),
        pytest.param(routed(area={}), "authorities.0.area",
                     "needs geocodes or polygons (or both): where the authority is responsible", id="empty-area"),
        pytest.param(routed(area={"polygons": [KOELN[:-1]]}), "authorities.0.area.polygons",
                     "polygon 0 must end where it starts (a closed ring, as in CAP)", id="open-ring"),
        pytest.param(routed(area={"polygons": [[[50.9, 6.9], [51.0, 7.0], [50.9, 7.0], [51.0, 6.9], [50.9, 6.9]]]}),
                     "authorities.0.area.polygons.0",
                     "is not a simple outline: self-intersection at [50.95, 6.95] (points are [latitude, longitude])",
                     id="outline-crossing-itself"),
    ],
)  # fmt: skip
def test_a_routing_rule_or_area_that_cannot_work_stops_herold_naming_its_key(
    raw: dict[str, Any], field: str, message: str
) -> None:
    assert (field, message) in problems(raw, DWD_TOKEN)


def _uncommented(text: str, start: str, end: str) -> str:
    """The example with its TOML lines between ``start`` and the first blank line after
    ``end`` made live (the prose around them stays a comment)."""
    lines = text.splitlines(keepends=True)
    first = next(n for n, line in enumerate(lines) if start in line)
    last = next(n for n in range(next(n for n, line in enumerate(lines) if end in line), len(lines))
                if not lines[n].strip())  # fmt: skip
    toml_line = re.compile(r"  # (\[\[?authorities\.|[a-z_]+ = )")
    for number in range(first, last):
        if toml_line.match(lines[number]):
            lines[number] = "  " + lines[number].removeprefix("  # ")
    return "".join(lines)


def test_the_examples_commented_rules_work_when_switched_on() -> None:
    """The rules the example shows are real: live, they load and send a real minor DWD alert
    where the first of them says."""
    text = _uncommented(EXAMPLE.read_text(encoding="utf-8"), "The weather service's CAP alerts", "NINA: an approver")
    raw = tomllib.loads(text)
    raw["authorities"][0]["channels"].append({"id": "mastodon", "type": "mastodon", "instance": "https://social.example.de",
                                              "access_token_env": "HEROLD_LKB_MASTODON_TOKEN"})  # fmt: skip
    env = {**DWD_TOKEN, "HEROLD_LKB_NINA_SECRET": GOOD_SECRET, "HEROLD_LKB_MASTODON_TOKEN": "m" * 40}

    example = settings_from(raw, env, base=EXAMPLE.parent).authority("lk-beispiel")
    alert = parse_cap((ROOT / "tests" / "fixtures" / "cap" / "dwd-alert-windboeen-2023-06-22.xml").read_bytes())

    assert [rule.name for rule in example.rules] == [
        "DWD: minor weather only recorded", "Severe weather here: at once", "NINA: an approver decides"]  # fmt: skip
    assert example.area is not None
    dwd = next(i for i in example.integrations if i.id == "dwd")
    assert route(example, dwd, alert.document).rule == "DWD: minor weather only recorded"
