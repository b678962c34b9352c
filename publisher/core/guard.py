"""The privacy guard's link rules: what an announcement's links may carry before it goes anywhere.

Pure functions over the announcement, run at intake for every source and in the preview:

- **tracking parameters** (``utm_*``, ``fbclid``, ``gclid``, ``mc_eid``, ``igshid`` …) are removed
  from every link in every text field, so that no variant and no page carries them: they tell a
  platform or a newsletter tool who followed an official link;
- **URL shorteners** are refused: a short link hides where it leads, and the shortening service
  counts (and often profiles) everyone who follows it;
- **links elsewhere** than the authority's own domains (``link_domains``, and the hosts of its
  website, Impressum and privacy pages) are flagged, not refused: a press officer may well link
  the weather service, but a link to a look-alike domain should be seen before it goes out;
- **alt texts** that say nothing are refused: a file name ("IMG_2041.jpg") or a placeholder
  ("Bild", "image") tells a blind reader nothing about the map of an evacuation zone.

The rest of the guard (personal data, allow-lists, the approver's override) builds on this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from publisher.domain.announcement import Announcement
from publisher.domain.counting import LINK_LIKE
from publisher.domain.problems import Problem

# Query parameters whose only purpose is to track who followed a link (the names marketing and
# platform tools add; matched whole and case-insensitively).
TRACKING = re.compile(
    r"utm_[a-z0-9_]+|fbclid|gclid|gclsrc|dclid|gbraid|wbraid|msclkid|yclid|twclid|ttclid|li_fat_id"
    r"|mc_cid|mc_eid|igshid|igsh|_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id|wickedid|rb_clickid"
    r"|s_cid|_ga|_gl|ref_src",
    re.IGNORECASE,
)
# Services whose links only redirect elsewhere (and count who follows them).
SHORTENERS = frozenset({
    "bit.ly", "bitly.com", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "v.gd", "buff.ly", "rebrand.ly",
    "cutt.ly", "shorturl.at", "tiny.cc", "t.ly", "rb.gy", "s.id", "lnkd.in", "bl.ink", "soo.gd", "x.co",
    "qr.ae", "amzn.to", "tiny.one", "shorte.st", "adf.ly", "bit.do", "trib.al", "dlvr.it", "ift.tt", "fb.me",
    "surl.li", "kurzelinks.de", "kurzlink.de", "t1p.de", "urlz.fr", "0rz.tw", "short.io", "shorturl.com",
})  # fmt: skip
_URL = re.compile(r"(?:https?://|(?<![\w.@/])www\.)[^\s<>\"]+", re.IGNORECASE)  # platforms link www. too
_TRAILING = ".,;:!?)]}'\u201c\u201d\u2019"  # punctuation after a link in prose is not part of it
_FIELDS = ("headline", "description", "instruction", "contact")


def without_tracking(url: str) -> str:
    """The link without tracking parameters; unchanged (byte for byte) if it has none."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a valid address after all ("https://[Adresse folgt]"): left as written
        return url
    if not parts.query:
        return url
    # Segment by segment, as written: the parameters that stay keep their exact encoding.
    segments = parts.query.split("&")
    kept = [s for s in segments if not TRACKING.fullmatch(unquote_plus(s.partition("=")[0]))]
    if len(kept) == len(segments):
        return url
    return urlunsplit(parts._replace(query="&".join(kept)))


def clean_text(text: str) -> str:
    """Every http(s) link in ``text`` without its tracking parameters."""

    def cleaned(match: re.Match[str]) -> str:
        link = match.group(0)
        core = link.rstrip(_TRAILING)
        return without_tracking(core) + link[len(core) :]

    return _URL.sub(cleaned, text)


def shorteners_in(text: str) -> Iterator[str]:
    """The shortener services that links in ``text`` go through (with or without ``https://``)."""
    for match in LINK_LIKE.finditer(text):
        host = host_of(match.group(0))  # None for what is not a valid address: no shortener either
        if host in SHORTENERS:
            yield host


def guard_links(announcement: Announcement) -> tuple[Announcement, list[Problem]]:
    """The announcement with every link cleaned of tracking parameters, and a problem for each
    text that links through a shortener (by field path, as validation reports)."""
    problems: list[Problem] = []

    def cleaned(texts: Mapping[str, str | None], path: str) -> dict[str, str]:
        changed = {}
        for name, text in texts.items():
            if text:
                problems.extend(_shortened(f"{path}{name}", text))
                if (clean := clean_text(text)) != text:
                    changed[name] = clean
        return changed

    changes: dict[str, object] = {**cleaned({name: getattr(announcement, name) for name in _FIELDS}, "")}
    translations = {
        language: translation.model_copy(update=values)
        for language, translation in announcement.translations.items()
        if (values := cleaned(dict(translation), f"translations.{language}."))
    }
    if translations:
        changes["translations"] = {**announcement.translations, **translations}
    return (announcement.model_copy(update=changes) if changes else announcement), problems


_AT = re.compile(r"\s?[(\[]at[)\]]\s?$|^\s?[(\[]at[)\]]", re.IGNORECASE)


def host_of(link: str) -> str | None:
    """The host a link (with or without ``https://``) goes to, lower case, without ``www.``."""
    try:
        host = urlsplit(link if "://" in link else f"//{link}").hostname
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None


def allowed(host: str, domains: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``domains`` or below one (``landkreis-beispiel.de`` allows
    ``www.`` and ``service.landkreis-beispiel.de``)."""
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def foreign_links(announcement: Announcement, domains: Iterable[str]) -> list[Problem]:
    """A warning for each link to a host outside ``domains``, by field path, each host once per
    field. Addresses in e-mail addresses are contacts, not links (the personal-data guard checks
    those)."""
    own = [d.lower().removeprefix("www.").strip(".") for d in domains]
    texts: list[tuple[str, str]] = [(name, getattr(announcement, name) or "") for name in _FIELDS]
    for language, translation in announcement.translations.items():
        texts += [(f"translations.{language}.{name}", text or "") for name, text in dict(translation).items()]
    warnings = []
    for field, text in texts:
        hosts = []
        for match in LINK_LIKE.finditer(text):
            # Either half of an e-mail address (presse.stelle@…, presse(at)…) is a contact, not a link.
            before, after = text[max(0, match.start() - 6) : match.start()], text[match.end() : match.end() + 6]
            if before.endswith("@") or after.startswith("@") or _AT.search(before) or _AT.match(after):
                continue
            host = host_of(match.group(0).rstrip(_TRAILING))
            if host and "." in host and not allowed(host, own) and host not in hosts:
                hosts.append(host)
        warnings += [Problem(field=field, message=(
            f"links to {host}, which is not one of the authority's own domains (link_domains): make sure it is "
            f"meant to be there / verweist auf {host}, keine eigene Domain der Behörde: bitte prüfen"
        )) for host in hosts]  # fmt: skip
    return warnings


# Alt texts that describe nothing (compared without case, spaces and final punctuation).
PLACEHOLDERS = frozenset({
    "bild", "foto", "photo", "image", "img", "picture", "pic", "grafik", "graphic", "abbildung", "symbolbild",
    "beispielbild", "platzhalter", "placeholder", "alt", "alttext", "alt text", "alt-text", "screenshot",
    "bildschirmfoto", "titelbild", "beitragsbild", "header", "banner", "logo", "icon", "untitled", "unbenannt",
    "kein text", "no alt", "none", "n/a", "-", "…", "...",
})  # fmt: skip
_FILE_NAME = re.compile(r"\S+\.(?:jpe?g|png|gif|webp|heic|heif|tiff?|bmp|svg|avif)", re.IGNORECASE)


def guard_images(announcement: Announcement) -> list[Problem]:
    """A problem for each image whose alt text is a file name or a placeholder."""
    problems = []
    for number, media in enumerate(announcement.media):
        alt = " ".join(media.alt.split())
        if _FILE_NAME.fullmatch(alt) or alt.casefold().rstrip(".:!") in PLACEHOLDERS:
            problems.append(Problem(field=f"media.{number}.alt", message=(
                f'"{alt[:60]}" does not describe the image: say what it shows, for people who cannot see it / '
                f'"{alt[:60]}" beschreibt das Bild nicht: sagen Sie, was es zeigt (z. B. "Karte: das Sperrgebiet '
                'rund um die Marktstraße"), für Menschen, die es nicht sehen können'
            )))  # fmt: skip
    return problems


def _shortened(field: str, text: str) -> list[Problem]:
    return [
        Problem(field=field, message=(
            f"links through the URL shortener {host} are refused: it hides where the link leads and "
            f"counts who follows it; give the full address / Links über den Kurzlink-Dienst {host} sind nicht "
            "erlaubt: er verbirgt das Ziel und zählt, wer klickt; bitte die vollständige Adresse angeben"
        ))
        for host in dict.fromkeys(shorteners_in(text))
    ]  # fmt: skip
