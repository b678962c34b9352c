"""The accessible alert card: one announcement as an image, for image-first platforms.

Instagram takes no post without an image, and Threads and hand-offs (WhatsApp Channels) show an
image first. There the card says what matters: who warns, how severe (in words and in colour),
the headline, what to do (without an instruction: the situation), how long it holds, and the
address of the item's page. The site writes it beside the item's page before any other channel
posts, and platforms fetch it from there (the own website first, again). ``card_name`` is the
contract between the site and the engine, which hands its address to channels (``Post.card_url``).

Made for a phone: 1080 × 1350 pixels (4:5, the tallest image Instagram's feed shows whole), large
type, and every text at 4.5:1 against its background at least (WCAG 2.1 AA: the tests compute it
for every line drawn). What does not fit is shortened at a whole word with "…"; the alt text
(`card_alt`) always says all of it. The font is Noto Sans from the PyPI package
fontpkg-noto-sans, installed with Herold and never fetched at run time: Latin, Greek and Cyrillic,
so German, Turkish, Polish or Ukrainian texts show no empty boxes. The files carry no metadata
(no EXIF, XMP or text chunks): Pillow writes none unless asked to.

Each PNG has a JPEG twin beside it (`card_jpeg_name`), as Instagram takes JPEG only.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import structlog
from PIL import Image, ImageDraw, ImageFont

from publisher.core.render import local_time
from publisher.domain.announcement import Announcement, Kind, MsgType
from publisher.domain.authority import Authority
from publisher.domain.labels import labels_for

WIDTH, HEIGHT = 1080, 1350
MARGIN = 64
INNER = WIDTH - 2 * MARGIN
PAGE, TEXT, MUTED = "#ffffff", "#1a1a1a", "#4a4a4a"  # the site's own (templates/site/style.css)
FOOTER, ON_FOOTER = "#1a1a1a", "#ffffff"
ELLIPSIS = "…"
JPEG_QUALITY = 90


log = structlog.get_logger("herold.card")


def card_name(announcement_id: str) -> str:
    """The card's file name in the item's directory: one per message of the item (an update's
    card says what the update says)."""
    return f"karte-{announcement_id}.png"


def card_jpeg_name(announcement_id: str) -> str:
    """The card's JPEG twin beside it (Instagram takes JPEG only): the same name, ending in .jpg."""
    return card_name(announcement_id).removesuffix(".png") + ".jpg"


@dataclass(frozen=True)
class Look:
    """A card's colours: the band with the authority and how severe, and the box with what to do.
    Text on the band is ``on_band``; text in the box is `TEXT` on ``tint``."""

    band: str
    on_band: str
    tint: str


# Severity by colour as German warning apps show it (extreme darkest, then red, orange, yellow),
# never by colour alone: the band says it in words. Orange and yellow take dark text.
LOOKS: dict[str, Look] = {
    "extreme": Look(band="#5c0a2e", on_band=PAGE, tint="#fbe9ef"),
    "severe": Look(band="#b0001c", on_band=PAGE, tint="#fdecec"),
    "moderate": Look(band="#e56d00", on_band=TEXT, tint="#fff1e0"),
    "minor": Look(band="#ffd21f", on_band=TEXT, tint="#fff8d6"),
    "unknown": Look(band="#545454", on_band=PAGE, tint="#f0f0f0"),
    "cancel": Look(band="#1c5e20", on_band=PAGE, tint="#e8f5e9"),  # the all-clear
    "error": Look(band="#4a4a4a", on_band=PAGE, tint="#f0f0f0"),  # the withdrawal
    "news": Look(band="#0b4f9c", on_band=PAGE, tint="#eaf1fb"),  # the site's link colour
}


def look_of(announcement: Announcement, authority: Authority) -> Look:
    if announcement.msg_type is MsgType.error:
        return LOOKS["error"]
    if announcement.msg_type is MsgType.cancel:
        return LOOKS["cancel"]
    if announcement.kind is Kind.news:
        # The accent colour stands out from white by 4.5:1 (checked when the configuration is
        # read), so white text on it does as well.
        accent = authority.accent_colour
        return Look(band=accent.lower(), on_band=PAGE, tint="#f2f2f2") if accent else LOOKS["news"]
    return LOOKS[announcement.severity.value if announcement.severity else "unknown"]


# -- what the card says: the same for the image and its alt text --------------------------------


@dataclass(frozen=True)
class Content:
    authority: str
    status: str  # how severe, in words ("Große Gefahr", "Aktualisierung · Gefahr", "Entwarnung")
    headline: str
    label: str  # above the body: "Was ist zu tun?", or "Lage" where there is no instruction
    body: str
    validity: tuple[str, ...]  # "Gültig ab: …", "Gültig bis: …"
    source: str | None  # a relayed text names whose it is, on every copy
    more: str
    url: str


def content_of(announcement: Announcement, authority: Authority, item_url: str) -> Content:
    language = announcement.language or authority.language
    t = labels_for(language)
    text = announcement.text_in(language)
    if announcement.msg_type is MsgType.error:
        status = t("msg_type.error")
    elif announcement.msg_type is MsgType.cancel:
        status = t("msg_type.cancel")
    elif announcement.kind is Kind.news:
        status = t("kind.news")
    else:
        status = t(f"severity.{announcement.severity.value}") if announcement.severity else t("kind.warning")
    if announcement.correction:
        status = f"{t('correction')} · {status}"
    elif announcement.msg_type is MsgType.update:
        status = f"{t('msg_type.update')} · {status}"
    if text.instruction:
        label, body = t("instruction"), text.instruction
    else:
        label = t("description.news" if announcement.kind is Kind.news else "description")
        body = text.description or announcement.description
    validity = tuple(
        f"{t(key)}: {local_time(moment, language, authority.timezone)}"
        for key, moment in (("effective", announcement.effective), ("expires", announcement.expires))
        if moment is not None
    )
    source = f"{t('source')}: {announcement.attribution}" if announcement.attribution else None
    more = labels_for(language)("card.more")
    return Content(authority.name, status, text.headline, label, body, validity, source, more, item_url)


def card_alt(announcement: Announcement, authority: Authority, item_url: str, *, limit: int | None = None) -> str:
    """The card's alt text: everything it says, in full, the link spelled out. ``limit``: the most
    characters the platform keeps (MediaRule.alt_text); only then the body, and if need be the
    headline, are shortened at a whole word with "…". The link stays whole unless the limit is
    too small for even the lines around it (no platform's is)."""
    c = content_of(announcement, authority, item_url)
    lead = c.label if c.label.endswith(("?", ":")) else f"{c.label}:"

    def said(headline: str, body: str) -> str:
        parts = [f"{c.status} – {c.authority}", headline, f"{lead} {body}" if body else "", *c.validity]
        return "\n".join(part for part in [*parts, c.source or "", f"{c.more}: {c.url}"] if part)

    full = said(c.headline, _blocks_text(c.body))
    if limit is None or len(full) <= limit:
        return full
    without_body = said(c.headline, "")
    room = limit - len(without_body) - len(lead) - 2  # the line break and the space after the label
    if room >= 20:
        return said(c.headline, _cut(_blocks_text(c.body), room))
    room = limit - len(said("", ""))
    return said(_cut(c.headline, room - 1), "")[:limit] if room > 1 else said("", "")[:limit]


def _cut(text: str, most: int) -> str:
    """At most ``most`` characters of ``text``, ending at a whole word with "…"."""
    if len(text) <= most:
        return text
    kept = text[: most - len(ELLIPSIS) + 1]
    kept = kept.rsplit(maxsplit=1)[0] if " " in kept.strip() else kept[: most - len(ELLIPSIS)]
    return kept.rstrip(" ,;:–-") + ELLIPSIS


# A line that starts a list item keeps its own line (as on the item page); any other line break
# inside a paragraph is where the writer's editor wrapped the text.
_ITEM = re.compile(r"(?:[-*•–]|\d{1,2}[.)])\s")


def _blocks(text: str) -> list[str]:
    """The text's paragraphs and list items, each as one line of words."""
    blocks: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
        for number, line in enumerate(lines):
            if number and not _ITEM.match(line):
                blocks[-1] += " " + line
            else:
                blocks.append(line)
    return [" ".join(block.split()) for block in blocks]


def _blocks_text(text: str) -> str:
    return "\n".join(_blocks(text))


# -- the image -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A line of text as drawn: where, in which colour, on which background."""

    text: str
    box: tuple[int, int, int, int]  # left, top, right, bottom of its ink
    colour: str
    background: str


@dataclass(frozen=True)
class Card:
    image: Image.Image
    lines: tuple[Line, ...]  # in reading order
    shortened: bool  # some text did not fit and ends in "…" (the alt text has it all)

    def png(self) -> bytes:
        out = io.BytesIO()
        self.image.save(out, "PNG", compress_level=3)  # 6 costs half as long again for 7 % less
        return out.getvalue()

    def jpeg(self) -> bytes:
        out = io.BytesIO()
        # Full colour resolution (4:4:4): red text on white stays sharp.
        self.image.save(out, "JPEG", quality=JPEG_QUALITY, subsampling=0)
        return out.getvalue()


@cache
def _font_data() -> bytes:
    return (resources.files("fontpkg_noto_sans") / "files" / "NotoSans[wdth,wght].ttf").read_bytes()


@cache
def font(size: int, weight: str = "Regular") -> ImageFont.FreeTypeFont:
    """Noto Sans at this size and weight (a named instance of the variable font: "Bold" …)."""
    loaded = ImageFont.truetype(io.BytesIO(_font_data()), size)
    loaded.set_variation_by_name(weight)
    return loaded


@cache
def _notdef() -> tuple[tuple[int, int], bytes]:
    mask = font(40).getmask("\uffff")  # a non-character: drawn as the font's empty box
    return mask.size, bytes(mask)


@lru_cache(maxsize=4096)
def _has_glyph(character: str) -> bool:
    if character.isspace():
        return True
    mask = font(40).getmask(character)  # every weight of the variable font has the same glyphs
    return (mask.size, bytes(mask)) != _notdef()


def missing_glyphs(text: str) -> str:
    """The characters of ``text`` the font has no glyph for (drawn as empty boxes)."""
    return "".join(dict.fromkeys(ch for ch in text if not _has_glyph(ch)))


def _line_height(size: int) -> int:
    return round(size * 1.28)


def _wrap(text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Lines of whole words no wider than ``width``; a word wider than that alone is broken."""
    lines: list[str] = []
    for block in _blocks(text):
        line = ""
        for word in _units(block.split(" ")):
            candidate = f"{line} {word}" if line else word
            if face.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = word
            while face.getlength(line) > width:  # a word longer than the card is wide
                cut = len(line) - 1
                while cut > 1 and face.getlength(line[:cut] + "-") > width:
                    cut -= 1
                lines.append(line[:cut] + "-")
                line = line[cut:]
        if line:
            lines.append(line)
    return lines


# A number keeps the short word after it on its line ("10 Uhr", "90 km/h", "5 %"), a day its
# month ("24. Dezember").
_NUMBER, _DAY = re.compile(r"[\d.,:–-]*\d"), re.compile(r"\d{1,2}\.")


def _units(words: list[str]) -> list[str]:
    units: list[str] = []
    for word in words:
        if units and (
            (_NUMBER.fullmatch(units[-1]) and len(word) <= 5) or (_DAY.fullmatch(units[-1]) and len(word) <= 9)
        ):
            units[-1] += " " + word
        else:
            units.append(word)
    return units


def _wrap_url(url: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """The address without its scheme, broken after a "/" or "-" where it must be."""
    shown = re.sub(r"^https?://", "", url)
    lines: list[str] = []
    line = ""
    for piece in re.findall(r"[^/-]*[/-]|[^/-]+$", shown):
        if line and face.getlength(line + piece) > width:
            lines.append(line)
            line = ""
        line += piece
    return [*lines, line] if line else lines


def _shorten(lines: list[str], keep: int, face: ImageFont.FreeTypeFont, width: int) -> tuple[list[str], bool]:
    """The first ``keep`` lines, the last ending at a whole word with "…" if any were left out."""
    if len(lines) <= keep:
        return lines, False
    if keep <= 0:
        return [], True
    kept = lines[:keep]
    words = kept[-1].split(" ")
    while len(words) > 1 and face.getlength(" ".join(words).rstrip(" ,;:–-") + ELLIPSIS) > width:
        words.pop()
    last = " ".join(words).rstrip(" ,;:–-")
    while len(last) > 1 and face.getlength(last + ELLIPSIS) > width:  # a word broken to fit the line
        last = last[:-1]
    kept[-1] = last + ELLIPSIS
    return kept, True


class _Pen:
    def __init__(self, image: Image.Image) -> None:
        self.draw = ImageDraw.Draw(image)
        self.lines: list[Line] = []

    def write(
        self, lines: list[str], face: ImageFont.FreeTypeFont, x: int, y: int, colour: str, background: str
    ) -> int:
        """Draw lines from ``y`` (their top) down; returns the y below the last."""
        step = _line_height(int(face.size))
        for line in lines:
            self.draw.text((x, y), line, font=face, fill=colour, anchor="la")
            box = self.draw.textbbox((x, y), line, font=face, anchor="la")
            self.lines.append(Line(line, (int(box[0]), int(box[1]), int(box[2]), int(box[3])), colour, background))
            y += step
        return y


# Sizes tried in turn, largest first, until the headline and the body fit whole. A phone shows
# the card about 390 CSS pixels wide, so a size here is about 2.8 times the one read there: the
# body's smallest, 40, is about 14 px; nothing on the card is smaller than 36 (about 13 px).
HEADLINE_SIZES = (84, 76, 68, 62, 56)
BODY_SIZES = (52, 48, 44, 42, 40)
LABEL = 36  # "Was ist zu tun?", "Mehr Informationen:", validity
BOX_PAD, RULE = 28, 12  # the body's box: its padding, and the bar in the band's colour beside it


def draw_card(announcement: Announcement, authority: Authority, item_url: str) -> Card:
    """The card of one announcement: what `content_of` says, laid out to fit 1080 × 1350."""
    c = content_of(announcement, authority, item_url)
    look = look_of(announcement, authority)
    if missing := missing_glyphs(c.headline + c.body + c.authority):
        # Drawn as empty boxes; the alt text still says it all.
        log.warning("the card's font lacks characters of this text", characters=missing)
    image = Image.new("RGB", (WIDTH, HEIGHT), PAGE)
    pen = _Pen(image)
    shortened = False

    # The band: who warns, and how severe, in words on the severity's colour.
    name_face = font(38, "Medium")
    names, cut_name = _shorten(_wrap(c.authority, name_face, INNER), 2, name_face, INNER)
    status, status_face, cut_status = _status_lines(c.status)
    band_bottom = 48 + len(names) * _line_height(38) + 6 + len(status) * _line_height(int(status_face.size)) + 36
    pen.draw.rectangle((0, 0, WIDTH, band_bottom), fill=look.band)
    y = pen.write(names, name_face, MARGIN, 48, look.on_band, look.band) + 6
    pen.write(status, status_face, MARGIN, y, look.on_band, look.band)

    # The footer, from the bottom up: the address of the item's page, white on black.
    more_face, url_face = font(LABEL), font(42, "Bold")
    urls, cut_url = _shorten(_wrap_url(c.url, url_face, INNER), 3, url_face, INNER)
    footer_top = HEIGHT - (36 + _line_height(LABEL) + len(urls) * _line_height(42) + 36)
    pen.draw.rectangle((0, footer_top, WIDTH, HEIGHT), fill=FOOTER)
    y = pen.write([f"{c.more}:"], more_face, MARGIN, footer_top + 36, ON_FOOTER, FOOTER)
    pen.write(urls, url_face, MARGIN, y, ON_FOOTER, FOOTER)

    # Above it: how long the message holds, and whose text it is.
    small = font(LABEL)
    notes: list[str] = []
    for note in (*c.validity, *([c.source] if c.source else [])):
        wrapped, cut = _shorten(_wrap(note, small, INNER), 2, small, INNER)
        notes += wrapped
        shortened |= cut
    notes_top = footer_top - 36 - len(notes) * _line_height(LABEL)
    pen.write(notes, small, MARGIN, notes_top, MUTED, PAGE)

    # Between them: the headline, and the box with what to do.
    top, bottom = band_bottom + 52, notes_top - (36 if notes else 0)
    headline, body, cut_middle, size_h, size_b = _middle(c, bottom - top)
    y = pen.write(headline, font(size_h, "Bold"), MARGIN, top, TEXT, PAGE) + 36
    if body:
        label_face, body_face = font(LABEL, "Bold"), font(size_b, "Medium")
        box_bottom = y + 2 * BOX_PAD + _line_height(LABEL) + 8 + len(body) * _line_height(size_b)
        pen.draw.rectangle((MARGIN, y, WIDTH - MARGIN, box_bottom), fill=look.tint)
        pen.draw.rectangle((MARGIN, y, MARGIN + RULE, box_bottom), fill=look.band)
        x = MARGIN + RULE + BOX_PAD
        below = pen.write([c.label], label_face, x, y + BOX_PAD, TEXT, look.tint) + 8
        pen.write(body, body_face, x, below, TEXT, look.tint)
    shortened |= cut_name or cut_status or cut_url or cut_middle
    reading = sorted(pen.lines, key=lambda line: (line.box[1], line.box[0]))  # drawn out of order
    return Card(image, tuple(reading), shortened)


def _status_lines(status: str) -> tuple[list[str], ImageFont.FreeTypeFont, bool]:
    """How severe, in words, on one line if it fits at 72 or 62 pixels; else each part of it
    ("Aktualisierung", "Gefahr unbekannten Ausmaßes") on lines of its own."""
    for size in (72, 62):
        face = font(size, "Bold")
        if face.getlength(status) <= INNER:
            return [status], face, False
    lines = [line for part in status.split(" · ") for line in _wrap(part, face, INNER)]
    kept, cut = _shorten(lines, 3, face, INNER)
    return kept, face, cut


def _middle(c: Content, space: int) -> tuple[list[str], list[str], bool, int, int]:
    """The headline's and the body's lines in the space between the band and the notes: at the
    largest sizes at which both fit whole; else at the smallest, the headline in three to five
    lines, the body in what room is left, each shortened at a whole word."""
    box_width = INNER - RULE - 2 * BOX_PAD
    overhead = 36 + 2 * BOX_PAD + _line_height(LABEL) + 8  # the gap, the box's padding and its label
    for size_h, size_b in zip(HEADLINE_SIZES, BODY_SIZES, strict=True):
        headline = _wrap(c.headline, font(size_h, "Bold"), INNER)
        body = _wrap(c.body, font(size_b, "Medium"), box_width)
        if len(headline) * _line_height(size_h) + overhead + len(body) * _line_height(size_b) <= space:
            return headline, body, False, size_h, size_b
    step_h, step_b = _line_height(size_h), _line_height(size_b)
    # What to do matters more than the rest of a long headline: it keeps three lines, more only
    # where that lets the whole body fit.
    most = max(1, min(len(headline), 5, (space - overhead - 2 * step_b) // step_h))
    whole = [keep for keep in range(most, 3, -1) if keep * step_h + overhead + len(body) * step_b <= space]
    keep_h = whole[0] if whole else min(most, 3)
    headline, cut_h = _shorten(headline, keep_h, font(size_h, "Bold"), INNER)
    keep_b = max(0, (space - len(headline) * step_h - overhead) // step_b)
    body, cut_b = _shorten(body, keep_b, font(size_b, "Medium"), box_width)
    return headline, body, cut_h or cut_b, size_h, size_b


def render_card(announcement: Announcement, authority: Authority, item_url: str) -> tuple[bytes, bytes]:
    """The card as the site publishes it: PNG and JPEG."""
    card = draw_card(announcement, authority, item_url)
    return card.png(), card.jpeg()
