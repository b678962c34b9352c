"""The accessible alert card, as a person on a phone sees it and as platforms fetch it.

One image per message for image-first platforms: the authority, how severe in words and colour,
the headline, what to do, how long it holds and the item page's address, at 1080 × 1350, every
text at 4.5:1 against its background, long texts shortened at whole words, no metadata; its alt
text says everything. The site writes it beside the item page before any other channel posts,
at the address the engine hands channels. One card per look is written to tests/artifacts/ for
a person to judge.
"""

from __future__ import annotations

import copy
import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters import register, unregister
from adapters.port import Capabilities, Channel, MediaRule, Post, Receipt, Wave
from publisher.domain.announcement import Announcement, parse_announcement
from publisher.domain.authority import Authority, contrast
from publisher.edges.wiring import Herold
from publisher.engine import tasks
from publisher.site import card as card_module
from publisher.site import website
from publisher.site.card import (
    HEIGHT,
    MARGIN,
    WIDTH,
    Card,
    card_alt,
    card_jpeg_name,
    card_name,
    draw_card,
    missing_glyphs,
    render_card,
)

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, news, publish, warning
from helpers import png

ARTIFACTS = Path(__file__).parent / "artifacts"
BASE_URL = AUTHORITY["base_url"]
ITEM_URL = BASE_URL + "2026/12/fliegerbombe-in-der-altstadt-1a2b3c4d/"
AUTHORITY_MODEL = Authority.model_validate({**AUTHORITY, "channels": []})
# 13:00 UTC is 14:00 in Berlin in December: the card speaks the authority's time.
EFFECTIVE, EXPIRES = "2026-12-03T13:00:00+00:00", "2026-12-03T21:00:00+00:00"


def announcement(**changes: Any) -> Announcement:
    document = warning(effective=EFFECTIVE, expires=EXPIRES, language="de")
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return parse_announcement(document)


# Every look a card can have, as a message that has it: how severe, and what it does.
LOOKS: dict[str, Announcement] = {
    "extreme": announcement(severity="extreme", headline="Großbrand in der Chemiefabrik – Fenster schließen"),
    "severe": announcement(severity="severe"),
    "moderate": announcement(severity="moderate", headline="Sturmböen bis 90 km/h im ganzen Landkreis"),
    "minor": announcement(severity="minor", headline="Glätte auf Brücken und Nebenstraßen"),
    "unknown": announcement(severity="unknown", headline="Rauchentwicklung in Neustadt"),
    "update": announcement(msg_type="update", references="a" * 32, headline="Sperrgebiet erweitert"),
    "correction": announcement(
        msg_type="update",
        references="a" * 32,
        correction=True,
        severity="unknown",
        headline="Sperrgebiet kleiner",
    ),
    "cancel": announcement(
        msg_type="cancel",
        references="a" * 32,
        severity=None,
        instruction=None,
        headline="Entwarnung: Bombe entschärft",
        description="Die Bombe ist entschärft. Alle Straßen sind frei.",
    ),
    "error": announcement(
        msg_type="error",
        references="a" * 32,
        severity=None,
        instruction=None,
        headline="Warnung irrtümlich versandt",
        description="Die Warnung von 9 Uhr wurde irrtümlich versandt.",
    ),
    "news": parse_announcement(news(language="de")),
}
ACCENT = AUTHORITY_MODEL.model_copy(update={"accent_colour": "#6b2c91"})
LONG_HEADLINE = ("Großflächiger Stromausfall nach Umspannwerksbrand: Trinkwasserversorgung und "
                 "Mobilfunknetz im gesamten Kreisgebiet eingeschränkt, Notunterkünfte geöffnet")  # fmt: skip
LONG_INSTRUCTION = " ".join(
    f"Schritt {n}: Bleiben Sie ruhig, prüfen Sie Ihre Nachbarschaft und hören Sie Radio." for n in range(1, 13)
)
COMPOUND = "Grundstücksentwässerungsanlagenüberprüfungsverordnungsänderungsgesetz"


def shown(card: Card) -> list[str]:
    return [line.text for line in card.lines]


def assert_whole_words(shortened: str, text: str) -> None:
    """``shortened`` is the start of ``text`` up to a whole word (its trailing comma or colon
    left off), then "…"."""
    assert shortened.endswith("…")
    kept, words = shortened.removesuffix("…").split(), text.split()
    assert kept[:-1] == words[: len(kept) - 1]
    assert kept[-1] == words[len(kept) - 1].rstrip(",;:"), "the last word whole"


def dominant(image: Image.Image, box: tuple[int, int, int, int]) -> str:
    """The colour most pixels of a line's box have: the background it was drawn on."""
    colours = image.crop(box).getcolors(maxcolors=1 << 20)
    assert colours
    _, pixel = max(colours, key=lambda counted: counted[0])
    assert isinstance(pixel, tuple)
    return "#" + "".join(f"{channel:02x}" for channel in pixel)


# -- the image ---------------------------------------------------------------------------------


def test_a_card_is_a_png_and_a_jpeg_of_1080_by_1350_pixels_that_pillow_opens() -> None:
    png_data, jpeg_data = render_card(LOOKS["severe"], AUTHORITY_MODEL, ITEM_URL)

    for data, kind in ((png_data, "PNG"), (jpeg_data, "JPEG")):
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert (image.format, image.size, image.mode) == (kind, (WIDTH, HEIGHT), "RGB")
    assert WIDTH / HEIGHT == 4 / 5, "the tallest shape Instagram's feed shows whole"


def test_a_card_carries_no_metadata() -> None:
    png_data, jpeg_data = render_card(LOOKS["severe"], AUTHORITY_MODEL, ITEM_URL)

    with Image.open(io.BytesIO(png_data)) as image:
        assert image.info == {}
        assert dict(image.getexif()) == {}
        assert getattr(image, "text", {}) == {}
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP", b"tIME"):
        assert chunk not in png_data, chunk
    with Image.open(io.BytesIO(jpeg_data)) as image:
        # Only the JFIF header every JPEG has: no EXIF, XMP, ICC profile or comment.
        assert set(image.info) <= {"jfif", "jfif_version", "jfif_unit", "jfif_density"}
        assert dict(image.getexif()) == {}
        assert [marker for marker, _ in image.applist] == ["APP0"]  # type: ignore[attr-defined]
    # Markers cannot occur inside a JPEG's coded data (a 0xFF there is followed by 0x00).
    for marker in (b"\xff\xe1", b"\xff\xe2", b"\xff\xfe"):  # APP1 (EXIF, XMP), APP2 (ICC), COM
        assert marker not in jpeg_data, marker
    assert b"XML:com.adobe.xmp" not in png_data + jpeg_data
    assert b"http://ns.adobe.com/xap" not in png_data + jpeg_data


@pytest.mark.parametrize("look", [*LOOKS, "news with the authority's accent colour"])
def test_every_text_on_a_card_stands_out_from_its_background_by_4_5_to_1(look: str) -> None:
    authority = ACCENT if look.startswith("news with") else AUTHORITY_MODEL
    card = draw_card(LOOKS.get(look, LOOKS["news"]), authority, ITEM_URL)

    assert len(card.lines) >= 6
    for line in card.lines:
        ratio = contrast(line.colour, line.background)
        assert ratio >= 4.5, f"{line.text!r}: {line.colour} on {line.background} is {ratio:.2f}:1"
        # The background a line claims is the one it was drawn on.
        assert dominant(card.image, line.box) == line.background, line.text


@pytest.mark.parametrize("look", [*LOOKS, "long"])
def test_one_card_of_each_look_is_written_for_a_person_to_judge(look: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    message = LOOKS.get(look) or announcement(headline=LONG_HEADLINE[:160], instruction=LONG_INSTRUCTION)
    png_data, jpeg_data = render_card(message, AUTHORITY_MODEL, ITEM_URL)
    (ARTIFACTS / f"card-{look}.png").write_bytes(png_data)
    (ARTIFACTS / f"card-{look}.jpg").write_bytes(jpeg_data)

    with Image.open(ARTIFACTS / f"card-{look}.png") as image:
        assert image.size == (WIDTH, HEIGHT)


def test_the_card_says_who_warns_how_severe_what_to_do_until_when_and_where_to_read_more() -> None:
    card = draw_card(LOOKS["severe"], AUTHORITY_MODEL, ITEM_URL)
    text = " ".join(shown(card))

    assert shown(card)[:2] == ["Landkreis Beispiel", "Große Gefahr"]
    assert "Fliegerbombe in der Altstadt" in text
    assert "Was ist zu tun?" in text
    assert "Verlassen Sie das Sperrgebiet bis 10 Uhr." in text
    assert "Gültig ab: 3. Dezember 2026, 14:00" in text
    assert "Gültig bis: 3. Dezember 2026, 22:00" in text
    assert "".join(shown(card)[-2:]) == ITEM_URL.removeprefix("https://")
    assert not card.shortened


@pytest.mark.parametrize(
    ("look", "words"),
    [
        ("update", "Aktualisierung · Große Gefahr"),
        ("correction", "Korrektur · Gefahr unbekannten Ausmaßes"),  # too long for one line
        ("cancel", "Entwarnung"),
        ("error", "Widerruf"),
        ("news", "Meldung"),
        ("minor", "Hinweis"),
    ],
)
def test_the_band_says_in_words_what_the_message_is(look: str, words: str) -> None:
    card = draw_card(LOOKS[look], AUTHORITY_MODEL, ITEM_URL)
    band = card_module.look_of(LOOKS[look], AUTHORITY_MODEL).band
    said = [line.text for line in card.lines if line.background == band][1:]  # after the authority

    assert said == [words] or (len(said) > 1 and " ".join(said).split() == words.replace(" · ", " ").split())


def test_severities_differ_in_colour_as_well_as_in_words() -> None:
    bands = {
        look: card_module.look_of(LOOKS[look], AUTHORITY_MODEL).band
        for look in LOOKS
        if look not in ("update", "correction")
    }

    assert len(set(bands.values())) == len(bands)


@pytest.mark.parametrize(
    ("headline", "instruction"),
    [
        (LONG_HEADLINE, LONG_INSTRUCTION),
        (f"{COMPOUND} {COMPOUND}", f"{COMPOUND} beachten."),
        (LONG_HEADLINE[:160], "Kurz."),
    ],
    ids=["long headline and instruction", "words longer than the card is wide", "longest headline"],
)
def test_long_texts_wrap_and_never_leave_the_card_nor_cover_each_other(headline: str, instruction: str) -> None:
    card = draw_card(announcement(headline=headline[:160], instruction=instruction), AUTHORITY_MODEL, ITEM_URL)

    boxes = [line.box for line in card.lines]
    for left, top, right, bottom in boxes:
        assert 0 <= top < bottom <= HEIGHT
        assert MARGIN - 4 <= left < right <= WIDTH - MARGIN + 4, "within the margins"
    ordered = sorted(boxes, key=lambda box: box[1])
    for above, below in itertools.pairwise(ordered):
        assert above[3] <= below[1], f"lines overlap: {above} {below}"
    assert "".join(shown(card)[-2:]) == ITEM_URL.removeprefix("https://"), "the link is always whole"


def test_what_does_not_fit_is_shortened_at_a_whole_word_with_an_ellipsis() -> None:
    card = draw_card(
        announcement(headline=LONG_HEADLINE[:160], instruction=LONG_INSTRUCTION), AUTHORITY_MODEL, ITEM_URL
    )
    lines = shown(card)
    start = lines.index("Was ist zu tun?") + 1
    end = next(at for at, line in enumerate(lines) if line.startswith("Gültig ab"))
    body = " ".join(lines[start:end])

    assert card.shortened
    assert body.endswith("…")
    assert_whole_words(body, LONG_INSTRUCTION)
    assert len(body.split()) >= 20, "the body keeps a useful part"


def test_a_number_stays_on_the_line_with_its_unit_and_a_day_with_its_month() -> None:
    face = card_module.font(60, "Bold")
    width = int(face.getlength("Sturmböen bis 90")) + 2  # "90" would fit, "90 km/h" would not

    assert card_module._wrap("Sturmböen bis 90 km/h", face, width) == ["Sturmböen bis", "90 km/h"]
    width = int(face.getlength("Geschlossen am 24.")) + 2
    assert card_module._wrap("Geschlossen am 24. Dezember", face, width) == ["Geschlossen am", "24. Dezember"]


def test_the_font_has_every_german_letter_and_sign_and_the_check_would_see_one_missing() -> None:
    assert missing_glyphs("äöüÄÖÜßẞ€„“‚‘–—…§°") == ""
    assert missing_glyphs("Київ İzmir Łódź Ελλάδα") == "", "Ukrainian, Turkish, Polish and Greek texts as well"
    assert missing_glyphs("Straße ا 中") == "ا中"


def test_umlauts_are_drawn_as_their_own_glyphs_not_as_boxes() -> None:
    face = card_module.font(84, "Bold")
    masks = {ch: bytes(face.getmask(ch)) for ch in "aäoöuüsß"}

    assert masks["ä"] != masks["a"] and masks["ö"] != masks["o"] and masks["ü"] != masks["u"]
    assert masks["ß"] != masks["s"]
    assert all(face.getbbox(ch)[2] > 0 for ch in masks)


# -- the alt text ------------------------------------------------------------------------------


def test_the_alt_text_says_everything_on_the_card_in_full_with_the_link() -> None:
    alt = card_alt(LOOKS["severe"], AUTHORITY_MODEL, ITEM_URL)

    assert alt.splitlines() == [
        "Große Gefahr – Landkreis Beispiel",
        "Fliegerbombe in der Altstadt",
        "Was ist zu tun? Verlassen Sie das Sperrgebiet bis 10 Uhr.",
        "Gültig ab: 3. Dezember 2026, 14:00",
        "Gültig bis: 3. Dezember 2026, 22:00",
        f"Mehr Informationen: {ITEM_URL}",
    ]


def test_the_alt_text_keeps_what_the_card_had_to_shorten() -> None:
    long = announcement(headline=LONG_HEADLINE[:160], instruction=LONG_INSTRUCTION)

    assert draw_card(long, AUTHORITY_MODEL, ITEM_URL).shortened
    alt = card_alt(long, AUTHORITY_MODEL, ITEM_URL)
    assert LONG_HEADLINE[:160] in alt
    assert LONG_INSTRUCTION in alt


def test_the_alt_text_speaks_the_language_of_the_message() -> None:
    english = announcement(language="en", headline="Unexploded bomb in the old town", instruction="Leave the area.")

    alt = card_alt(english, AUTHORITY_MODEL, ITEM_URL)

    assert alt.splitlines()[0] == "Severe danger – Landkreis Beispiel"
    assert "What to do: Leave the area." in alt
    assert f"More information: {ITEM_URL}" in alt


def test_a_relayed_text_names_its_source_on_the_card_and_in_the_alt_text() -> None:
    relayed = announcement(attribution="Deutscher Wetterdienst")

    assert "Quelle: Deutscher Wetterdienst" in shown(draw_card(relayed, AUTHORITY_MODEL, ITEM_URL))
    assert "Quelle: Deutscher Wetterdienst" in card_alt(relayed, AUTHORITY_MODEL, ITEM_URL).splitlines()


@pytest.mark.parametrize("limit", [1000, 420, 300])
def test_within_a_platform_s_alt_text_limit_the_body_is_shortened_at_a_word_and_the_link_kept(limit: int) -> None:
    long = announcement(instruction=LONG_INSTRUCTION)

    alt = card_alt(long, AUTHORITY_MODEL, ITEM_URL, limit=limit)

    assert len(alt) <= limit
    assert alt.endswith(ITEM_URL)
    assert "Fliegerbombe in der Altstadt" in alt
    body = next(line for line in alt.splitlines() if line.startswith("Was ist zu tun?"))
    assert_whole_words(body.removeprefix("Was ist zu tun? "), LONG_INSTRUCTION)


# -- on the site -------------------------------------------------------------------------------


class CardTaker(Channel):
    """A stand-in for an image-first platform: it takes the card, and notes whether the card was
    there to fetch at its address when it posted."""

    type = "test-card-taker"
    label = "Bild.example"
    capabilities = Capabilities(wave=Wave.other, media=MediaRule(count=1, card="always"))
    directory: Path | None = None
    seen: list[tuple[str | None, bool]] = []  # the test's notebook

    def publish(self, post: Post) -> Receipt:
        found = False
        if post.card_url and self.directory is not None:
            found = (self.directory / post.card_url.removeprefix(BASE_URL)).is_file()
        CardTaker.seen.append((post.card_url, found))
        return Receipt(platform_id=str(len(CardTaker.seen)), url=f"https://bild.example/p/{len(CardTaker.seen)}")


class WithoutImage(CardTaker):
    type = "test-card-without-image"
    capabilities = Capabilities(wave=Wave.other, media=MediaRule(count=1, card="without_image"))


@pytest.fixture
def card_channels() -> Iterator[None]:
    CardTaker.seen = []
    register(CardTaker)
    register(WithoutImage)
    yield
    unregister(CardTaker.type)
    unregister(WithoutImage.type)


def herold_with(make_herold: HeroldFactory, make_settings: SettingsFactory, *types: str) -> Herold:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"] = [*authority["channels"], *({"id": f"c{n}", "type": t} for n, t in enumerate(types))]
    herold = make_herold(make_settings(authorities=[authority]))
    CardTaker.directory = herold.site(AUTHORITY["slug"]).directory
    return herold


def folder_of(herold: Herold, announcement_id: str) -> Path:
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None
    return herold.site(AUTHORITY["slug"]).directory / stored.item_path


def test_the_site_writes_the_card_beside_the_item_page_before_the_platform_fetches_it_from_there(
    card_channels: None, make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    herold = herold_with(make_herold, make_settings, CardTaker.type)

    alert = publish(herold, warning())

    folder = folder_of(herold, alert)
    stored = herold.store.announcements.get(alert)
    assert stored is not None
    assert CardTaker.seen == [(BASE_URL + stored.item_path + card_name(alert), True)]
    with Image.open(folder / card_name(alert)) as image:
        assert (image.format, image.size) == ("PNG", (WIDTH, HEIGHT))
    with Image.open(folder / card_jpeg_name(alert)) as image:
        assert (image.format, image.size) == ("JPEG", (WIDTH, HEIGHT))
    assert card_jpeg_name(alert) == card_name(alert).removesuffix(".png") + ".jpg"


def test_each_message_of_an_item_has_its_own_card(
    card_channels: None, make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    herold = herold_with(make_herold, make_settings, CardTaker.type)
    alert = publish(herold, warning())
    update = publish(
        herold, warning(msg_type="update", references=alert, headline="Sperrgebiet erweitert", severity="extreme")
    )

    folder = folder_of(herold, alert)
    assert folder_of(herold, update) == folder
    assert (folder / card_name(alert)).read_bytes() != (folder / card_name(update)).read_bytes()


def test_without_a_channel_that_takes_a_card_the_site_writes_none(
    card_channels: None, make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    herold = herold_with(make_herold, make_settings)

    alert = publish(herold, warning())

    assert not list(folder_of(herold, alert).glob("karte-*"))


def test_a_channel_that_takes_the_card_only_without_an_image_gets_none_for_a_message_with_one(
    card_channels: None, make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    herold = herold_with(make_herold, make_settings, WithoutImage.type)

    with_image = publish(herold, warning(media=[{"data": png(), "alt": "Karte des Sperrgebiets"}]))
    without = publish(herold, warning(headline="Gasaustritt am Bahnhof"))

    assert not (folder_of(herold, with_image) / card_name(with_image)).exists()
    assert (folder_of(herold, without) / card_name(without)).is_file()
    assert [url is not None for url, _ in CardTaker.seen] == [False, True]


def test_a_rebuild_restores_a_lost_card_and_leaves_a_kept_one_as_the_platforms_took_it(
    card_channels: None, make_herold: HeroldFactory, make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    herold = herold_with(make_herold, make_settings, CardTaker.type)
    first, second = publish(herold, warning()), publish(herold, news())
    lost = folder_of(herold, first) / card_name(first)
    kept = folder_of(herold, second) / card_name(second)
    original, stamp = lost.read_bytes(), kept.stat().st_mtime_ns
    lost.unlink()
    rendered: list[str] = []

    def noted(message: Announcement, authority: Authority, item_url: str) -> tuple[bytes, bytes]:
        rendered.append(message.headline)
        return render_card(message, authority, item_url)

    monkeypatch.setattr(website, "render_card", noted)

    tasks.rebuild(herold.engine, AUTHORITY["slug"])

    assert lost.read_bytes() == original
    assert rendered == [warning()["headline"]], "only the lost card is made again"
    assert kept.stat().st_mtime_ns == stamp


def test_a_card_that_cannot_be_made_never_holds_back_the_item_page(
    card_channels: None, make_herold: HeroldFactory, make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(message: Announcement, authority: Authority, item_url: str) -> tuple[bytes, bytes]:
        raise OSError("no font")

    monkeypatch.setattr(website, "render_card", broken)
    herold = herold_with(make_herold, make_settings, CardTaker.type)

    alert = publish(herold, warning())

    assert (folder_of(herold, alert) / "index.html").is_file()
    assert not (folder_of(herold, alert) / card_name(alert)).exists()
