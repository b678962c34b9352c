"""How platforms count text, and what a channel's text limit is.

Every platform counts differently: Mastodon counts graphemes and every link as 23; X weighs
characters (CJK and emoji count two) and links as 23; Bluesky counts graphemes and bytes;
Telegram counts UTF-16 code units. A channel declares a `TextRule` built from one of these
countings, and the renderer shortens a variant until the rule holds.

We must never count *less* than the platform does (the post would be rejected in a crisis),
while counting a little more only shortens a description. So where a platform may or may not
turn something into a link (``www.stadt.de``, a bare domain), we count it both as a link and
as its own characters. Only links Herold put there itself (the item's own page) are counted
exactly as the platform counts a link.

Sources: ../shared/platforms.md; X: docs "counting-characters" (twitter-text v3 weights);
Mastodon: StatusLengthValidator (graphemes, URLs as 23, spoiler text counts too).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import regex

GRAPHEME = regex.compile(r"\X")
EMOJI = regex.compile(r"\p{Extended_Pictographic}")
# Anything a platform might auto-link: scheme links, www. hosts, bare domains (stadt.de/pfad).
# Two letters after the last dot at least, so abbreviations like "z.B." or "Nr.5" do not match.
LINK_LIKE = regex.compile(
    r"(?:https?://|www\.)\S+"
    r"|(?<![\w.])[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?:[/?#:]\S*)?"
)


# Characters that may join a neighbour in one grapheme cluster (UAX #29: marks, joiners, flags,
# Hangul syllables and jamo, prepended marks, and the linkers of Indic conjuncts, some of which
# break like any letter otherwise). A text without any is one cluster per code point, except
# CR LF: counted so without splitting it, which costs a fraction of the time.
JOINING = regex.compile(
    r"[\p{GCB=Extend}\p{GCB=ZWJ}\p{GCB=SpacingMark}\p{GCB=Prepend}\p{GCB=Regional_Indicator}"
    r"\p{GCB=L}\p{GCB=V}\p{GCB=T}\p{GCB=LV}\p{GCB=LVT}\p{InCB=Linker}\p{InCB=Extend}]"
)


def graphemes(text: str) -> int:
    if text.isascii() or not JOINING.search(text):
        return len(text) - text.count("\r\n")
    return len(GRAPHEME.findall(text))


def _pieces(text: str) -> Iterator[tuple[str, bool]]:
    """Split text into (piece, is_link_like)."""
    position = 0
    for match in LINK_LIKE.finditer(text):
        if match.start() > position:
            yield text[position : match.start()], False
        yield match.group(0), True
        position = match.end()
    if position < len(text):
        yield text[position:], False


class Counting(Protocol):
    """One platform's way of measuring text."""

    @property
    def unit(self) -> str:
        """What is counted, for people: "characters", "bytes"."""
        ...

    def count(self, text: str, links: Collection[str]) -> int:
        """Length of ``text`` as the platform counts it; ``links`` are Herold's own links in it."""
        ...


@dataclass(frozen=True)
class Graphemes:
    """User-perceived characters (extended grapheme clusters), links at full length (Bluesky)."""

    unit: str = "characters"

    def count(self, text: str, links: Collection[str]) -> int:
        return graphemes(text)


@dataclass(frozen=True)
class CodePoints:
    """Code points, links at full length: servers of the Mastodon API that count the raw text
    (Takahē, Pleroma/Akkoma, mastodon-mock). Never fewer than graphemes, so a text that fits
    here fits a server that counts either way."""

    unit: str = "characters"

    def count(self, text: str, links: Collection[str]) -> int:
        return len(text)


@dataclass(frozen=True)
class GraphemesShortLinks:
    """Graphemes, with every link counted as a fixed length (Mastodon: 23)."""

    link_length: int = 23
    unit: str = "characters"

    def count(self, text: str, links: Collection[str]) -> int:
        total = 0
        for piece, link_like in _pieces(text):
            if not link_like:
                total += graphemes(piece)
            elif piece in links:
                total += self.link_length
            else:
                total += self.link_length + graphemes(piece)
        return total


# X: code points in these ranges weigh 1, every other code point 2 (twitter-text config v3);
# an emoji sequence weighs 2 as a whole; links weigh 23. Text is NFC-normalised first.
_X_LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))


# What twitter-text takes for one emoji besides pictographs: keycaps ("1️⃣") and flags (a pair of
# regional indicators); each such sequence weighs 2, not the sum of its code points.
_X_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\u20E3|\p{Regional_Indicator}")


def _x_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _X_LIGHT) else 2


@dataclass(frozen=True)
class XWeighted:
    link_length: int = 23
    unit: str = "weighted characters"

    def _plain(self, text: str) -> int:
        total = 0
        for cluster in GRAPHEME.findall(text):
            total += 2 if _X_EMOJI.search(cluster) else sum(_x_weight(c) for c in cluster)
        return total

    def count(self, text: str, links: Collection[str]) -> int:
        text = unicodedata.normalize("NFC", text)
        known = {unicodedata.normalize("NFC", link) for link in links}
        total = 0
        for piece, link_like in _pieces(text):
            if not link_like:
                total += self._plain(piece)
            elif piece in known:
                total += self.link_length
            else:
                total += self.link_length + self._plain(piece)
        return total


@dataclass(frozen=True)
class CodePointsEmojiAsBytes:
    """Threads: characters, where (per its docs) an emoji counts as its UTF-8 bytes."""

    unit: str = "characters"

    def count(self, text: str, links: Collection[str]) -> int:
        total = 0
        for cluster in GRAPHEME.findall(text):
            total += len(cluster.encode()) if EMOJI.search(cluster) else len(cluster)
        return total


@dataclass(frozen=True)
class Utf16Units:
    """Telegram measures message length in UTF-16 code units."""

    unit: str = "UTF-16 code units"

    def count(self, text: str, links: Collection[str]) -> int:
        return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Utf8Bytes:
    unit: str = "bytes"

    def count(self, text: str, links: Collection[str]) -> int:
        return len(text.encode())


@dataclass(frozen=True)
class TextRule:
    """A channel's text limit and how its platform counts.

    ``limit_with_media`` applies when an image is attached (Telegram captions: 1,024);
    ``also`` lists further limits that must hold as well (Bluesky: 300 graphemes *and*
    3,000 bytes); ``counts_spoiler`` says the content warning counts against the limit
    (Mastodon).
    """

    limit: int
    counting: Counting
    limit_with_media: int | None = None
    counts_spoiler: bool = False
    also: tuple[TextRule, ...] = field(default=())

    def limit_for(self, has_media: bool) -> int:
        return self.limit_with_media if has_media and self.limit_with_media else self.limit

    def length(self, text: str, links: Collection[str], spoiler: str | None = None) -> int:
        if self.counts_spoiler and spoiler:
            # The warning and the text are counted together, separated by nothing.
            return self.counting.count(spoiler, ()) + self.counting.count(text, links)
        return self.counting.count(text, links)

    def excess(
        self, text: str, links: Collection[str], has_media: bool, spoiler: str | None = None,
        *, length: int | None = None,
    ) -> int:  # fmt: skip
        """How far over the tightest of the rules the text is (<= 0 when it fits). ``length``:
        this rule's own `length` of it, if the caller has it already (counting is not free)."""
        own = self.length(text, links, spoiler) if length is None else length
        over = own - self.limit_for(has_media)
        return max([over, *(rule.excess(text, links, has_media, spoiler) for rule in self.also)])

    def describe(self, has_media: bool = False) -> str:
        text = f"{self.limit_for(has_media):,} {self.counting.unit}"
        return " and ".join([text, *(rule.describe(has_media) for rule in self.also)])
