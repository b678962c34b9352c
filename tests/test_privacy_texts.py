"""Profile texts and the data-protection summary (issue 10, items 5 and 6): every text fits its
platform counted as that platform counts, and always names the Impressum and the privacy notice;
the summary names every channel, who gets what, and how long Herold keeps it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import regex
from click.testing import CliRunner, Result

from adapters.port import Capabilities, ChannelSettings, ChannelType, Wave
from publisher.domain.authority import Authority, ChannelConfig
from publisher.domain.counting import Graphemes, TextRule
from publisher.edges.cli import main
from publisher.edges.config import Runtime, Settings
from publisher.edges.privacy_texts import (
    FEEDS,
    PLATFORMS,
    UNKNOWN_BIO,
    hosts_of,
    privacy_report,
    profile_texts,
    without_profile,
)
from publisher.site.registry import channel_types

from conftest import AUTHORITY, SettingsFactory, herold_toml

LINK = regex.compile(r"https?://\S+")


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def mastodon(text: str) -> int:
    # Mastodon: graphemes with every link as 23; servers that count the raw text: code points.
    return max(graphemes(LINK.sub("x" * 23, text)), len(text))


# How each platform counts its profile text, written out again here so that the module's own
# rules are checked against an independent count.
COUNTED_AS: dict[str, list[tuple[int, Callable[[str], int]]]] = {
    "mastodon": [(500, mastodon)],
    "bluesky": [(256, graphemes), (2560, lambda text: len(text.encode()))],
    "x": [(160, utf16)],
    "instagram": [(150, utf16)],
    "threads": [(150, utf16)],
    "facebook": [(101, utf16)],
    "linkedin": [(2000, utf16)],
    "telegram": [(255, utf16)],
    "whatsapp": [(150, utf16)],
    "xing": [(150, utf16)],
    "nebenan": [(150, utf16)],
    "twitter": [(160, utf16)],
}

LONG_NAME = "Landratsamt des Landkreises Beispielstadt-Nord – Amt für Brand- und Katastrophenschutz " * 2
SHORT = {
    "name": "Landkreis Beispiel",
    "base_url": "https://www.lk-beispiel.de/",
    "impressum_url": "https://www.lk-beispiel.de/impressum",
    "privacy_url": "https://www.lk-beispiel.de/datenschutz",
}
LONG = {
    "name": LONG_NAME.strip()[:200],
    "base_url": "https://www.landkreis-beispielstadt-nord.de/warnungen/",
    "impressum_url": "https://www.landkreis-beispielstadt-nord.de/impressum",
    "privacy_url": "https://www.landkreis-beispielstadt-nord.de/datenschutz",
}


def platform_type(name: str, wave: Wave = Wave.other, **attributes: Any) -> type[ChannelType]:
    """A channel type named like a platform (its module may not exist yet)."""
    return type(f"Type_{name}", (ChannelType,), {
        "type": name, "label": name.title(), "capabilities": Capabilities(wave=wave), **attributes
    })  # fmt: skip


TYPES: dict[str, type[ChannelType]] = {
    **channel_types(),
    **{name: platform_type(name) for name in COUNTED_AS if name not in channel_types()},
}


def authority(addresses: dict[str, str], kinds: list[str], languages: list[str] | None = None) -> Authority:
    channels = [ChannelConfig(id="website", type="website")]
    channels += [ChannelConfig(id=kind, type=kind) for kind in kinds]
    return Authority(slug="lk-beispiel", languages=languages or ["de", "en"], channels=channels, **addresses)


# -- profile texts ----------------------------------------------------------------------------


@pytest.mark.parametrize("addresses", [SHORT, LONG], ids=["short", "long"])
@pytest.mark.parametrize("platform", sorted(COUNTED_AS))
def test_every_text_fits_its_platform_as_the_platform_counts_and_names_impressum_and_privacy(
    platform: str, addresses: dict[str, str]
) -> None:
    owner = authority(addresses, [platform])
    texts = profile_texts(owner, TYPES)
    assert [t.language for t in texts] == ["de", "en"]
    for text in texts:
        assert text.channel == platform and text.limit == COUNTED_AS[platform][0][0]
        if text.text is None:
            # Only the tightest platforms may have no room at all, and then they say so.
            assert platform == "facebook" and addresses is LONG
            assert any("Does not fit" in note for note in text.notes)
            continue
        for limit, count in COUNTED_AS[platform]:
            assert count(text.text) <= limit, (platform, text.text)
        assert addresses["impressum_url"] in text.text and addresses["privacy_url"] in text.text
        if "the website address" not in text.left_out:
            assert addresses["base_url"] in text.text
        if "the feed address" not in text.left_out:
            assert addresses["base_url"] + FEEDS["Atom"] in text.text


def test_a_roomy_platform_gets_everything_a_tight_one_what_fits_and_each_says_what_it_left_out() -> None:
    texts = {(t.channel, t.language): t for t in profile_texts(authority(LONG, ["mastodon", "x", "telegram"]), TYPES)}

    full = texts[("mastodon", "de")]
    assert full.left_out == ()
    assert full.text is not None and full.text.startswith(LONG["name"] + ": Warnungen und Meldungen.")
    assert "Feed (Atom): " + LONG["base_url"] + "atom.xml" in full.text
    assert texts[("mastodon", "en")].text is not None and "Legal notice: " in str(texts[("mastodon", "en")].text)

    telegram = texts[("telegram", "de")]
    assert telegram.left_out == ("the authority's name", "the feed address")
    assert telegram.text == (
        f"Ohne Konto: {LONG['base_url']}\nImpressum: {LONG['impressum_url']}\nDatenschutz: {LONG['privacy_url']}"
    )

    x = texts[("x", "de")]  # 160: the website goes into the profile's link field
    assert x.left_out == ("the authority's name", "the website address", "the feed address")
    assert x.text == f"Impressum: {LONG['impressum_url']}\nDatenschutz: {LONG['privacy_url']}"
    assert "Put the website address into the profile's own link field." in x.notes


def test_mastodon_counts_links_as_23_but_the_text_also_fits_servers_that_count_them_in_full() -> None:
    # Long addresses: at 23 a link, the full text would fit 500; counted in full, it does not.
    path = "a" * 90
    owner = authority(
        {
            "name": "Landkreis Beispiel",
            "base_url": f"https://www.lk-beispiel.de/{path}/",
            "impressum_url": f"https://www.lk-beispiel.de/{path}/impressum",
            "privacy_url": f"https://www.lk-beispiel.de/{path}/datenschutz",
        },
        ["mastodon"],
        ["de"],
    )
    [text] = profile_texts(owner, TYPES)
    assert text.text is not None and len(text.text) <= 500
    assert text.left_out  # shortened, although at 23 a link everything would have fitted


def test_a_text_that_cannot_fit_is_none_never_over_the_limit() -> None:
    tiny = platform_type("tiny", bio_rule=TextRule(40, Graphemes()))
    owner = authority(SHORT, ["tiny"], ["de"])
    [text] = profile_texts(owner, {**TYPES, "tiny": tiny})
    assert text.text is None and text.length > 40 and text.limit == 40
    assert "Does not fit" in text.notes[-1]


def test_one_page_for_impressum_and_privacy_is_one_link_named_for_both() -> None:
    owner = authority({**SHORT, "privacy_url": SHORT["impressum_url"]}, ["bluesky"], ["de"])
    [text] = profile_texts(owner, TYPES)
    assert text.text is not None and text.text.count(SHORT["impressum_url"]) == 1
    assert f"Impressum und Datenschutz: {SHORT['impressum_url']}" in text.text


def test_without_english_only_the_first_language_and_unknown_languages_get_german() -> None:
    assert [t.language for t in profile_texts(authority(SHORT, ["bluesky"], ["de"]), TYPES)] == ["de"]
    assert [t.language for t in profile_texts(authority(SHORT, ["bluesky"], ["fr"]), TYPES)] == ["de"]
    assert [t.language for t in profile_texts(authority(SHORT, ["bluesky"], ["en", "de"]), TYPES)] == ["en", "de"]


def test_what_a_channel_type_declares_wins_and_undeclared_types_are_careful() -> None:
    declared = platform_type(
        "pigeon",
        bio_rule=TextRule(300, Graphemes()),
        bio_field="Steckbrief",
        processor="Taubenpost GmbH (Deutschland)",
        receives="Nur die Überschrift",
    )
    hidden = platform_type("hook", bio_rule=None)  # declares it has no profile
    counted = platform_type("plain", bio_limit=120)  # a number only: counted carefully
    unknown = platform_type("newsite")  # nothing declared: an account somewhere
    remote = platform_type("sync", wave=Wave.website)  # a copy of the website: no account
    types = {**TYPES, "pigeon": declared, "hook": hidden, "plain": counted, "newsite": unknown, "sync": remote}
    owner = authority(SHORT, ["pigeon", "hook", "plain", "newsite", "sync", "webhook"], ["de"])

    texts = {t.channel: t for t in profile_texts(owner, types)}
    assert set(texts) == {"pigeon", "plain", "newsite"}
    assert texts["plain"].limit == 120 and texts["plain"].unit == "120 UTF-16 code units"
    assert texts["pigeon"].limit == 300 and texts["pigeon"].field == "Steckbrief" and texts["pigeon"].left_out == ()
    assert texts["newsite"].limit == UNKNOWN_BIO.limit
    assert texts["newsite"].notes[0].startswith("No documented limit for Newsite")
    assert without_profile(owner, types) == ["website", "hook", "sync", "webhook"]

    report = privacy_report(Settings(herold=Runtime(), authorities=[owner]), types=types, today=date(2026, 12, 1))
    assert "| `pigeon` | Pigeon | Taubenpost GmbH (Deutschland) | ja (yes) |" in report
    assert "- **Empfängt (receives):** Nur die Überschrift." in report
    assert "| `newsite` | Newsite | Nicht aus der Konfiguration ablesbar: bitte ergänzen | ja (yes) |" in report


def test_a_manual_channel_named_after_its_platform_gets_that_platforms_facts() -> None:
    owner = authority(SHORT, [], ["de"]).model_copy(
        update={"channels": [ChannelConfig(id="website", type="website"), ChannelConfig(id="instagram-kreis",
                                                                                         type="manual")]}
    )  # fmt: skip
    [text] = profile_texts(owner, TYPES)
    assert text.platform == "Instagram" and text.limit == 150
    assert any("not clickable" in note for note in text.notes)


def test_hosts_come_from_addresses_and_host_keys_never_from_secrets_or_user_names() -> None:
    class Remote(ChannelSettings):
        url: str = "https://user:pw@radio.example.de:8443/hook?key=1"
        host: str = "deploy@web.lk-beispiel.de:22"
        secret_env: str = "https://secret.example.de/"
        directory: str = "/srv/www"

    assert hosts_of(Remote()) == ("radio.example.de", "web.lk-beispiel.de")
    assert hosts_of(None) == ()


# -- the data-protection summary --------------------------------------------------------------

CHANNELS: list[dict[str, Any]] = [
    {"id": "website", "type": "website"},
    {"id": "fedi", "type": "mastodon", "instance": "https://social.lk-beispiel.de", "access_token_env": "TOKEN"},
    {"id": "radio", "type": "webhook", "url": "https://radio.example.de/herold", "secret_env": "SECRET"},
    {"id": "whatsapp", "type": "manual"},
]
ENV = {"TOKEN": "t0ken-value", "SECRET": "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"}


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Any:
    entry = copy.deepcopy(AUTHORITY) | {"channels": CHANNELS, "name": "Landkreis *Beispiel* | Nord"}
    other = copy.deepcopy(AUTHORITY) | {"slug": "stadt", "name": "Stadt Beispiel", "base_url": "https://stadt.de/"}
    return make_settings(
        authorities=[entry, other], env=ENV, retention_days=14, smtp_host="mail.lk-beispiel.de"
    )  # fmt: skip


def test_the_report_names_every_channel_its_recipients_and_how_long_what_is_kept(settings: Any) -> None:
    report = privacy_report(settings, today=date(2026, 12, 1))

    assert report.startswith("# Datenschutz-Übersicht")
    assert "am 2026-12-01" in report
    for channel in ("website", "fedi", "radio", "whatsapp"):
        assert f"### Kanal `{channel}`" in report
    assert "Betreiber der Instanz social.lk-beispiel.de" in report
    assert "Partner, der radio.example.de betreibt" in report
    assert "WhatsApp Ireland Limited" in report
    assert "Betreiber des Webservers www.lk-beispiel.de" in report
    assert "Mailserver mail.lk-beispiel.de" in report
    assert "gelöscht 14 Tage nach Ende der Zustellung" in report
    assert "Formular-Entwürfe (was getippt wurde) werden 14 Tage nach der letzten Änderung gelöscht" in report
    assert "mit der IP-Adresse im Prüfprotokoll" in report, "the press office's sign-ins are personal data too"
    assert "30 Tage" not in report
    assert "liest dort keine Follower, Antworten, Nachrichten oder Statistiken" in report
    assert "Keine personenbezogenen Daten von Bürgerinnen und Bürgern" in report
    # Mastodon looks up its own recent posts after a lost answer, and the report says so; only it.
    assert report.count("nur das eigene Konto und dessen eigene letzte Beiträge") == 1
    assert report.count("#### Zweck und Rechtsgrundlage") == 4 + 1  # every channel of both authorities
    # Secrets stay out; names from the configuration cannot break the Markdown.
    assert "t0ken-value" not in report and "whsec_" not in report
    assert "## Landkreis \\*Beispiel\\* \\| Nord (`lk-beispiel`)" in report
    assert "## Stadt Beispiel (`stadt`)" in report


def test_the_report_for_one_authority_has_only_its_channels(settings: Any) -> None:
    report = privacy_report(settings, "stadt", today=date(2026, 12, 1))
    assert "## Stadt Beispiel (`stadt`)" in report and "lk-beispiel`)" not in report
    assert "### Kanal `fedi`" not in report
    with pytest.raises(KeyError):
        privacy_report(settings, "nowhere")


# -- the commands -----------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    channels = "".join(
        "\n  [[authorities.channels]]\n" + "".join(f'  {k} = "{v}"\n' for k, v in c.items()) for c in CHANNELS[1:]
    )
    path = tmp_path / "herold.toml"
    path.write_text(herold_toml(channels=channels, languages='["de", "en"]'), encoding="utf-8")
    return path


def herold(config: Path, *arguments: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *arguments], catch_exceptions=False)


def test_profile_texts_prints_each_account_in_each_language(config: Path) -> None:
    result = herold(config, "profile-texts")
    assert result.exit_code == 0, result.output
    assert "== lk-beispiel/fedi (Mastodon, bio (note), de): " in result.output
    assert "== lk-beispiel/fedi (Mastodon, bio (note), en): " in result.output
    assert "== lk-beispiel/whatsapp (WhatsApp, channel description, de): " in result.output
    assert "Datenschutz: https://www.lk-beispiel.de/datenschutz" in result.output
    assert "lk-beispiel: no profile text for website, radio" in result.output


def test_profile_texts_exit_1_when_a_text_cannot_fit(config: Path) -> None:
    long = "https://www.lk-beispiel.de/" + "x" * 200
    config.write_text(config.read_text().replace("https://www.lk-beispiel.de/impressum", long), encoding="utf-8")
    result = herold(config, "profile-texts", "--authority", "lk-beispiel")
    assert result.exit_code == 1
    assert "DOES NOT FIT" in result.output


def test_privacy_report_prints_or_writes_the_markdown(config: Path, tmp_path: Path) -> None:
    printed = herold(config, "privacy-report")
    assert printed.exit_code == 0, printed.output
    assert printed.output.startswith("# Datenschutz-Übersicht") and "### Kanal `fedi`" in printed.output

    written = herold(config, "privacy-report", "--authority", "lk-beispiel", "--output", str(tmp_path / "vvt.md"))
    assert written.exit_code == 0, written.output
    assert written.output == f"Wrote {tmp_path / 'vvt.md'}\n"
    assert "### Kanal `radio`" in (tmp_path / "vvt.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["profile-texts", "privacy-report"])
def test_an_unknown_authority_is_a_clear_error_with_exit_code_2(config: Path, command: str) -> None:
    result = herold(config, command, "--authority", "nowhere")
    assert result.exit_code == 2
    assert result.stderr == "No authority 'nowhere' in the configuration.\n"
    assert "Traceback" not in result.output


def test_the_feeds_the_texts_name_are_the_ones_the_site_writes(config: Path) -> None:
    assert herold(config, "site", "build").exit_code == 0
    site = config.parent / "var" / "site" / "lk-beispiel"
    assert all((site / name).is_file() for name in FEEDS.values())


def test_every_platform_with_a_profile_is_checked_here() -> None:
    # A row added to the table without its count here would go unchecked by the tests above.
    assert {name for name, platform in PLATFORMS.items() if platform.bio is not None} == set(COUNTED_AS)
