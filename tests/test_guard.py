"""The privacy guard's link rules (publisher.core.guard): no tracking parameter survives in any
link, no link goes through a shortener — in every variant and on the page."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.core.guard import (
    clean_text,
    foreign_links,
    guard_images,
    guard_links,
    shorteners_in,
    without_tracking,
)
from publisher.domain.announcement import parse_announcement
from publisher.domain.problems import InvalidInput
from publisher.domain.records import Stage
from publisher.edges.wiring import Herold
from publisher.sources.intake import accept, receive
from publisher.sources.preview import preview

from conftest import HeroldFactory, SettingsFactory, publish, warning

PAGE = "https://www.lk-beispiel.de/aktuelles/sperrung"


@pytest.mark.parametrize(
    ("link", "cleaned"),
    [
        (f"{PAGE}?utm_source=facebook&utm_medium=social&utm_campaign=bombe", PAGE),
        (f"{PAGE}?id=5&fbclid=IwAR0abc", f"{PAGE}?id=5"),
        (f"{PAGE}?gclid=x&seite=2#karte", f"{PAGE}?seite=2#karte"),
        (f"{PAGE}?mc_eid=1&mc_cid=2&igshid=3&UTM_Source=4", PAGE),
        (f"{PAGE}?a=1&b=%20z", f"{PAGE}?a=1&b=%20z"),  # nothing to remove: left exactly as written
        (f"{PAGE}?ort=K%C3%B6ln&utm_source=x&q=a+b", f"{PAGE}?ort=K%C3%B6ln&q=a+b"),  # the rest as written
        (f"{PAGE}?ort=Köln&utm_term=x", f"{PAGE}?ort=Köln"),
        (f"{PAGE}?si=2&seite=3", f"{PAGE}?si=2&seite=3"),  # a name too common to be taken for a tracker
        (PAGE, PAGE),
    ],
)
def test_tracking_parameters_are_removed_and_nothing_else(link: str, cleaned: str) -> None:
    assert without_tracking(link) == cleaned


def test_a_link_in_prose_keeps_the_punctuation_after_it() -> None:
    text = f"Mehr unter {PAGE}?utm_source=x. Oder ({PAGE}?fbclid=y), bitte."

    assert clean_text(text) == f"Mehr unter {PAGE}. Oder ({PAGE}), bitte."


def test_a_link_written_without_its_scheme_is_cleaned_as_well() -> None:
    # Platforms turn "www.…" into a link, so its tracking parameters would be followed too.
    assert (
        clean_text("Siehe www.lk-beispiel.de/lage?utm_source=nl&seite=2.") == "Siehe www.lk-beispiel.de/lage?seite=2."
    )


@given(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=200)
    | st.from_regex(r"https?://[a-z.]+/?\?(utm_source=[a-z]+&?|id=[0-9]+&?)*[.,)]?", fullmatch=True)
)
def test_cleaning_never_adds_anything_and_cleaning_twice_changes_nothing(text: str) -> None:
    once = clean_text(text)
    assert len(once) <= len(text)
    assert clean_text(once) == once


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Infos: https://bit.ly/3xYz", ["bit.ly"]),
        ("Infos: bit.ly/3xYz und t.co/abc", ["bit.ly", "t.co"]),
        ("Infos: https://www.tinyurl.com/abc", ["tinyurl.com"]),
        ("Infos: https://www.lk-beispiel.de/a und https://bitly.example.de/", []),
        ("z.B. und Nr.5 sind keine Links", []),
    ],
)
def test_shorteners_are_found_with_or_without_their_scheme(text: str, found: list[str]) -> None:
    assert list(shorteners_in(text)) == found


def test_each_text_field_is_cleaned_and_each_shortener_named_by_its_field() -> None:
    announcement = parse_announcement(warning(
        description=f"Details: {PAGE}?utm_source=newsletter",
        instruction="Hinweise unter bit.ly/sperrung beachten.",
        translations={"en": {"headline": "Bomb found", "description": f"See {PAGE}?fbclid=1"}},
    ))  # fmt: skip

    cleaned, problems = guard_links(announcement)

    assert cleaned.description == f"Details: {PAGE}"
    assert cleaned.translations["en"].description == f"See {PAGE}"
    assert [p.field for p in problems] == ["instruction"]
    assert "bit.ly" in problems[0].message and "full address" in problems[0].message


# -- at intake: every source, every variant, the page ---------------------------------------------


def test_tracking_parameters_vanish_from_every_variant_and_the_page(herold: Herold) -> None:
    announcement_id = publish(herold, warning(description=f"Alle Straßensperrungen: {PAGE}?utm_source=app&x=1"))

    variants = herold.store.announcements.variants(announcement_id)
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None and variants
    page = (herold.site("lk-beispiel").directory / stored.item_path / "index.html").read_text(encoding="utf-8")
    for text in [v.text for v in variants] + [page, stored.announcement.description]:
        assert "utm_source" not in text and f"{PAGE}?x=1" in text


def test_a_link_through_a_shortener_is_refused_and_nothing_is_stored(herold: Herold) -> None:
    with pytest.raises(InvalidInput) as refused:
        accept(herold.engine, warning(instruction="Aktuelle Lage: https://bit.ly/lage"), source="test", actor="t")

    assert [p.field for p in refused.value.problems] == ["instruction"]
    assert herold.store.announcements.in_stages(list(Stage)) == []


def test_the_preview_shows_the_cleaned_text(make_settings: SettingsFactory, make_herold: HeroldFactory) -> None:
    herold = make_herold(make_settings())
    shown = preview(herold.engine, warning(description=f"Infos: {PAGE}?utm_medium=x"))

    assert "utm_medium" not in str(shown)


@pytest.mark.parametrize("text", ["Mehr unter https://[Adresse folgt]", "Siehe https://example.de]x?utm_source=a"])
def test_text_that_only_looks_like_a_link_is_left_as_written(text: str) -> None:
    assert clean_text(text) == text
    assert list(shorteners_in(text)) == []


# -- alt texts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("alt", ["IMG_2041.jpg", "karte.PNG", "Bild", "image", " Foto. ", "Symbolbild", "-", "alttext"])
def test_an_alt_text_that_is_a_file_name_or_a_placeholder_is_refused(alt: str) -> None:
    announcement = parse_announcement(warning(media=[{"data": "AA==", "alt": "Karte des Sperrgebiets"},
                                                     {"data": "AA==", "alt": alt}]))  # fmt: skip

    assert [p.field for p in guard_images(announcement)] == ["media.1.alt"]


@pytest.mark.parametrize("alt", ["Karte", "Lageplan des Sperrgebiets", "Foto der Absperrung an der Marktstraße"])
def test_an_alt_text_that_says_what_the_image_shows_passes(alt: str) -> None:
    announcement = parse_announcement(warning(media=[{"data": "AA==", "alt": alt}]))

    assert guard_images(announcement) == []


# -- links elsewhere than the authority's own domains: flagged, never refused ----------------------

OWN = ["lk-beispiel.de", "polizei.nrw"]


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Infos: https://www.lk-beispiel.de/aktuelles und https://service.lk-beispiel.de/x", []),
        ("Siehe polizei.nrw/presse und www.polizei.nrw.", []),
        (
            "Wetter: https://www.dwd.de/warnungen, Karte: https://lk-beispiel.de.example.com/",
            ["dwd.de", "lk-beispiel.de.example.com"],
        ),
        ("Fragen an presse@lk-beispiel-info.de", []),  # an address is a contact, not a link
        ("Fragen an presse.stelle@lk-beispiel-info.de oder presse(at)lk-info.de", []),  # both halves
        ("Schreiben Sie an buergerbuero [at] lk-info.de", []),
        ("Zweimal https://dwd.de/a und https://dwd.de/b", ["dwd.de"]),
        ("Ein Look-alike: https://lk-beispiel.de-info.net/", ["lk-beispiel.de-info.net"]),
    ],
)
def test_links_to_other_domains_are_named_each_once(text: str, flagged: list[str]) -> None:
    announcement = parse_announcement(warning(description=text))
    found = foreign_links(announcement, OWN)
    assert [p.message.split()[2].rstrip(",") for p in found] == flagged
    assert all(p.field == "description" for p in found)


def test_a_foreign_link_in_a_translation_is_named_by_its_field() -> None:
    announcement = parse_announcement(
        warning(translations={"en": {"headline": "Bomb found", "description": "See https://example.org/x"}})
    )
    assert [p.field for p in foreign_links(announcement, OWN)] == ["translations.en.description"]


def test_the_authority_s_own_pages_count_as_its_own_without_configuring_them(herold: Herold) -> None:
    authority = herold.engine.authority("lk-beispiel")
    assert "lk-beispiel.de" in authority.own_domains  # the host of its base_url, without www.


def test_a_foreign_link_goes_out_and_the_writer_hears_of_it_in_the_answer_the_preview_and_the_audit_log(
    herold: Herold,
) -> None:
    document = warning(instruction="Lageinfos beim Wetterdienst: https://www.dwd.de/warnungen")

    shown = preview(herold.engine, document)
    accepted = receive(herold.engine, document, source="test", actor="t")

    assert [w.field for w in shown.warnings] == ["instruction"] and "dwd.de" in shown.warnings[0].message
    assert accepted.created and list(accepted.warnings) == shown.warnings
    entry = next(
        e for e in herold.store.audit.entries(announcement_id=accepted.id) if e.action == "announcement.accepted"
    )
    assert entry.detail is not None and entry.detail["warnings"][0]["field"] == "instruction"
    stored = herold.store.announcements.get(accepted.id)
    assert stored is not None and "https://www.dwd.de/warnungen" in (stored.announcement.instruction or "")


def test_links_only_to_the_authority_s_own_domains_raise_no_warning(herold: Herold) -> None:
    accepted = receive(herold.engine, warning(instruction=f"Alle Infos: {PAGE}"), source="test", actor="t")
    assert accepted.warnings == ()


# -- a third party's warning, relayed verbatim: found and shown, never changed or refused ----------


def test_a_warning_relayed_verbatim_goes_out_as_sent_with_what_the_guard_found_recorded(herold: Herold) -> None:
    sent = f"Hinweise an Herrn Maier, 0171 2345678. Lage: {PAGE}?utm_source=mowas und https://bit.ly/lage"
    document = warning(description=sent)
    with pytest.raises(InvalidInput):  # from the press office, the same text is refused
        receive(herold.engine, document, source="test", actor="t")

    accepted = receive(herold.engine, document, source="mowas", actor="poller", verbatim=True)

    stored = herold.store.announcements.get(accepted.id)
    assert stored is not None and stored.announcement.description == sent, "not one character changed"
    found = {(w.field, w.message.split(",")[0].split(":")[0]) for w in accepted.warnings}
    assert ("", "links carry tracking parameters") in found
    assert any(w.field == "description" and "bit.ly" in w.message for w in accepted.warnings)
    assert any(w.field == "description" and "phone" in w.message for w in accepted.warnings)
    entry = next(
        e for e in herold.store.audit.entries(announcement_id=accepted.id) if e.action == "announcement.accepted"
    )
    assert entry.detail is not None and entry.detail["verbatim"] is True
    assert len(entry.detail["warnings"]) == len(accepted.warnings)
