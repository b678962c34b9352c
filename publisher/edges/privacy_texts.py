"""What auditors ask of an authority's accounts, from the configuration alone: a profile text per
account (`profile_texts`) and a data-protection summary for the records of processing activities
(`privacy_report`, Markdown). Nothing here reads the database or the network, or writes anything.

German data-protection supervisors expect a public body's accounts to name its Impressum (§ 5 DDG)
and privacy notice (Art. 13 GDPR), and to say where everything is available without a platform
account: the authority's own website and its feeds.

What a channel type knows of its platform's profile and operator it may declare on its class. They
are read with ``getattr``, so a channel module can declare them before the port names them:

- ``bio_rule: TextRule | None``: the profile text's limit, counted as the platform counts; None:
  the channel has no profile (a website, a hook). Or ``bio_limit: int | None``, counted carefully
  (UTF-16 code units);
- ``bio_field: str``: what the platform calls that text ("description");
- ``processor: str``: who runs the platform, with its seat, in German ("Bluesky Social, PBC (USA)");
  ``{hosts}`` stands for the hosts the channel's settings name;
- ``receives: str``: what the channel gets of an announcement, in German.

A type that declares nothing is looked up in `PLATFORMS` by its name; a type found in neither is
described from its capabilities, its profile text kept within `UNKNOWN_BIO`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel
from sqlalchemy.engine import make_url

from adapters.port import ChannelType, Lookup, Wave, able
from publisher.domain.authority import Authority, ChannelConfig
from publisher.domain.counting import (
    CodePoints,
    CodePointsEmojiAsBytes,
    Graphemes,
    GraphemesShortLinks,
    TextRule,
    Utf8Bytes,
    Utf16Units,
    XWeighted,
)
from publisher.domain.labels import primary
from publisher.engine.settings import Settings
from publisher.site.registry import channel_types, is_site

# The feeds the built-in website writes (publisher.site.website.Site), below the authority's base_url.
FEEDS = {"Atom": "atom.xml", "RSS": "rss.xml", "JSON Feed": "feed.json"}


def _careful(limit: int) -> TextRule:
    """A limit whose counting the platform does not document: UTF-16 code units, the most any
    platform here counts for a character (never fewer than code points or graphemes)."""
    return TextRule(limit, Utf16Units())


# An account on a platform Herold has no facts about: a short limit common to Instagram and Threads.
UNKNOWN_BIO = _careful(150)


@dataclass(frozen=True)
class Platform:
    """What Herold knows of a platform's profile text and operator. Operator names follow the
    platforms' published terms; the report asks the authority to check them."""

    name: str
    operator: str = ""  # German; "{hosts}" is filled in with the hosts the settings name
    bio: TextRule | None = None  # None: no profile text (a website, a hook)
    field: str = "bio"
    limit_source: str = ""  # where the limit is documented; "": nowhere we found, so kept careful
    receives: str = ""  # German; "": described from the channel type's capabilities
    also_receives: str = ""  # German: further recipients the platform itself adds
    notes: tuple[str, ...] = ()  # for whoever pastes the profile text


_META = "Meta Platforms Ireland Ltd. (Irland; Konzernmutter Meta Platforms, Inc., USA)"
PLATFORMS: dict[str, Platform] = {
    "website": Platform(
        name="Website",
        operator="Betreiber des Webservers {hosts} (die Behörde selbst oder ihr Hoster)",
        receives="Alles Öffentliche der Meldung: ihre Seite, die Übersichten und die Feeds (Atom, RSS, JSON Feed), "
        "Bilder ohne Metadaten mit ihren Alternativtexten",
    ),
    "sftp": Platform(
        name="SFTP",
        operator="Betreiber des Webservers {hosts} (die Behörde selbst oder ihr Hoster)",
        receives="Eine Kopie der eingebauten Website: ihre Seiten, Übersichten und Feeds, Bilder ohne Metadaten mit "
        "ihren Alternativtexten",
    ),
    "wordpress": Platform(
        name="WordPress",
        operator="Betreiber des WordPress unter {hosts} (die Behörde selbst oder ihr Hoster)",
        receives="Die Meldung als Beitrag im WordPress der Behörde; Folgemeldungen, Korrekturen und Widerrufe "
        "ändern denselben Beitrag",
    ),
    "webhook": Platform(
        name="Webhook",
        operator="Partner, der {hosts} betreibt",
        receives="Die ganze Meldung als signiertes JSON (alle Felder, der fertige Text, Bilder als Adressen mit "
        "Alternativtext)",
    ),
    "mastodon": Platform(
        name="Mastodon",
        operator="Betreiber der Instanz {hosts} (Sitz laut Impressum der Instanz)",
        # Mastodon counts a note as graphemes with every link as 23 (NoteLengthValidator); other
        # fediverse servers count the raw text: the text must fit both.
        bio=TextRule(500, GraphemesShortLinks(23), also=(TextRule(500, CodePoints()),)),
        field="bio (note)",
        limit_source="Mastodon app/models/account.rb: note at most 500; other servers may allow more",
        also_receives="Öffentliche Beiträge gehen an die Server der Folgenden (Föderation); deren Betreiber "
        "erhalten sie ebenfalls",
    ),
    "bluesky": Platform(
        name="Bluesky",
        operator="Bluesky Social, PBC (USA)",
        bio=TextRule(256, Graphemes(), also=(TextRule(2560, Utf8Bytes()),)),
        field="description",
        limit_source="lexicon app.bsky.actor.profile: description 256 graphemes, 2,560 bytes",
        also_receives="Öffentliche Daten des AT Protocol werden über Relays an beliebige Dienste verteilt",
        notes=("Links in the description are clickable only where the app detects them.",),
    ),
    "x": Platform(
        name="X",
        operator="X Corp. (USA)",
        # X weighs CJK and emoji as two; the bio's link counting is not documented, so in full too.
        bio=TextRule(160, Utf16Units(), also=(TextRule(160, XWeighted()),)),
        field="bio",
        limit_source="API account/update_profile: description at most 160 characters",
    ),
    "instagram": Platform(
        name="Instagram",
        operator=_META,
        bio=_careful(150),
        field="bio",
        limit_source="bio at most 150 characters, as guides report (not in Meta's developer docs)",
        notes=("Links in an Instagram bio are not clickable: put the website into the profile's link field too.",),
    ),
    "threads": Platform(
        name="Threads",
        operator=_META,
        bio=TextRule(150, Utf16Units(), also=(TextRule(150, CodePointsEmojiAsBytes()),)),
        field="bio",
        limit_source="bio at most 150 characters, as guides report",
    ),
    "facebook": Platform(
        name="Facebook",
        operator=_META,
        bio=_careful(101),
        field="intro",
        limit_source="intro 101 characters as guides report; they name 155 and 255 for older page fields: "
        "the smallest holds",
        notes=("Facebook pages have their own fields for the website and the Impressum: fill them in as well.",),
    ),
    "linkedin": Platform(
        name="LinkedIn",
        operator="LinkedIn Ireland Unlimited Company (Irland; Konzernmutter Microsoft Corporation, USA)",
        bio=_careful(2000),
        field="About (description)",
        limit_source="page About at most 2,000 characters, as guides report (the 120 of the tagline are too few)",
    ),
    "telegram": Platform(
        name="Telegram",
        operator="Telegram FZ-LLC (Vereinigte Arabische Emirate)",
        bio=TextRule(255, Utf16Units()),
        field="channel description",
        limit_source="Bot API setChatDescription: 0-255 characters",
    ),
    "xing": Platform(name="XING", operator="New Work SE (Deutschland)", bio=UNKNOWN_BIO, field="page description"),
    "nebenan": Platform(name="nebenan.de", operator="Good Hood GmbH (Deutschland)", bio=UNKNOWN_BIO),
    "whatsapp": Platform(
        name="WhatsApp",
        operator="WhatsApp Ireland Limited (Irland; Konzernmutter Meta Platforms, Inc., USA)",
        bio=UNKNOWN_BIO,
        field="channel description",
    ),
}
PLATFORMS["twitter"] = PLATFORMS["x"]


# -- what a channel is ------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """One configured channel, as the profile texts and the report see it."""

    channel: ChannelConfig
    kind: type[ChannelType] | None
    platform: Platform
    bio: TextRule | None
    declared: bool  # the bio limit comes from the channel type or the table, not UNKNOWN_BIO
    hosts: tuple[str, ...]

    @property
    def wave(self) -> Wave | None:
        return self.kind.capabilities.wave if self.kind else None

    @property
    def operator(self) -> str:
        where = ", ".join(self.hosts) or "(nicht in der Konfiguration)"
        text = self.platform.operator
        if not text and self.hosts:
            text = "Betreiber des Webservers {hosts}" if self.wave is Wave.website else "Betreiber von {hosts}"
        return text.replace("{hosts}", where) if text else "Nicht aus der Konfiguration ablesbar: bitte ergänzen"


_HOST_KEYS = {"host", "hostname", "server"}


def hosts_of(settings: Any) -> tuple[str, ...]:
    """The hosts a channel's settings name: every web address, and keys named like a host. Only
    their host names: a URL's user, path and query, and every ``*_env`` key, stay out."""
    if not isinstance(settings, BaseModel):
        return ()
    found: list[str] = []
    for key, value in settings.model_dump(mode="json").items():
        if not isinstance(value, str) or key.endswith("_env"):
            continue
        parts = urlsplit(value)
        host = parts.hostname if parts.scheme in {"http", "https", "sftp", "ssh", "ftp", "ftps"} else None
        if host is None and key in _HOST_KEYS:
            host = value.rsplit("@", 1)[-1].split(":", 1)[0] or None
        if host and host not in found:
            found.append(host)
    return tuple(found)


def _platform_for(channel: ChannelConfig, kind: type[ChannelType] | None) -> Platform:
    known = PLATFORMS.get(channel.type)
    if known is None and kind is not None and kind.capabilities.hand_off:
        # A person posts it on some platform the type cannot know: the channel's id often names
        # it (id = "whatsapp", "instagram-kreis").
        name = re.split(r"[-_]", channel.id, maxsplit=1)[0]
        known = PLATFORMS.get(channel.id) or PLATFORMS.get(name)
    if known is None:
        label = kind.label if kind else channel.type
        known = Platform(name=label)
    if kind is None:
        return known
    declared = {
        attribute: getattr(kind, name)
        for attribute, name in (("field", "bio_field"), ("operator", "processor"), ("receives", "receives"))
        if isinstance(getattr(kind, name, None), str)
    }
    return replace(known, **declared) if declared else known


def _declares_bio(kind: type[ChannelType]) -> bool:
    return hasattr(kind, "bio_rule") or hasattr(kind, "bio_limit")


def _declared_bio(kind: type[ChannelType]) -> TextRule | None:
    rule = getattr(kind, "bio_rule", None)
    if isinstance(rule, TextRule):
        return rule
    limit = getattr(kind, "bio_limit", None)
    # A bare number says nothing of how the platform counts: counted carefully.
    return _careful(limit) if isinstance(limit, int) and limit > 0 else None


def facts(authority: Authority, types: Mapping[str, type[ChannelType]] | None = None) -> list[Facts]:
    """Every channel of an authority with what Herold knows of it."""
    types = channel_types() if types is None else types
    found = []
    for channel in authority.channels:
        kind = types.get(channel.type)
        platform = _platform_for(channel, kind)
        hosts = hosts_of(channel.settings)
        if kind is not None and is_site(kind):
            hosts = (urlsplit(authority.base_url).hostname or authority.base_url,)
        if kind is not None and _declares_bio(kind):
            bio, declared = _declared_bio(kind), True
        elif platform.bio is not None or channel.type in PLATFORMS:
            bio, declared = platform.bio, platform.bio is not UNKNOWN_BIO
        elif kind is not None and kind.capabilities.wave is not Wave.website:
            # An account somewhere: better a text too short for its platform than one it refuses.
            bio, declared = UNKNOWN_BIO, False
        else:
            bio, declared = None, True
        found.append(Facts(channel, kind, platform, bio, declared, hosts))
    return found


# -- profile texts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileText:
    """The profile text for one account in one language, counted as its platform counts."""

    authority: str
    channel: str
    platform: str
    field: str  # what the platform calls it
    language: str
    text: str | None  # None: not even the shortest form fits (see notes)
    length: int  # of the text, or of the shortest form when none fits
    limit: int
    unit: str  # how the limit counts, for people ("256 characters and 2,560 bytes")
    left_out: tuple[str, ...] = ()  # what a longer form had and the limit had no room for
    notes: tuple[str, ...] = ()


# The parts of a profile text; a form is a tuple of them, richest first. Each part carries one or
# two of the things in WHAT: its key before the dot, "+" joining two.
WORDING: dict[str, dict[str, str]] = {
    "de": {
        "name": "{name}: Warnungen und Meldungen.",
        "website": "Alles auch ohne Konto: {site}",
        "website.short": "Ohne Konto: {site}",
        "website.bare": "{site}",
        "feed": "Feed (Atom): {feed}",
        "feed.short": "Feed: {feed}",
        "impressum": "Impressum: {impressum}",
        "privacy": "Datenschutz: {privacy}",
        "impressum+privacy": "Impressum und Datenschutz: {impressum}",
    },
    "en": {
        "name": "{name}: warnings and news.",
        "website": "Everything also without an account: {site}",
        "website.short": "No account needed: {site}",
        "website.bare": "{site}",
        "feed": "Feed (Atom): {feed}",
        "feed.short": "Feed: {feed}",
        "impressum": "Legal notice: {impressum}",
        "privacy": "Privacy: {privacy}",
        "impressum+privacy": "Legal notice and privacy: {impressum}",
    },
}
FORMS: tuple[tuple[str, ...], ...] = (
    ("name", "website", "feed", "impressum", "privacy"),
    ("website", "feed", "impressum", "privacy"),
    ("website.short", "feed.short", "impressum", "privacy"),
    ("website.short", "impressum", "privacy"),
    ("website.bare", "impressum", "privacy"),
    ("impressum", "privacy"),  # the legal minimum: the website then goes into the profile's link field
)
WHAT = {
    "name": "the authority's name",
    "website": "the website address",
    "feed": "the feed address",
    "impressum": "the Impressum",
    "privacy": "the privacy notice",
}


def describe(rule: TextRule) -> str:
    """A limit for people, each of its rules once ("256 characters and 2,560 bytes")."""
    parts: list[str] = []
    for each in (rule, *rule.also):
        text = f"{each.limit:,} {each.counting.unit}"
        if text not in parts:
            parts.append(text)
    return " and ".join(parts)


def _forms(has_feed: bool, one_page: bool) -> list[tuple[str, ...]]:
    forms: list[tuple[str, ...]] = []
    for form in FORMS:
        parts = [part for part in form if has_feed or not part.startswith("feed")]
        if one_page and "impressum" in parts:
            # One page for both (common): one link, named for both.
            parts = [("impressum+privacy" if p == "impressum" else p) for p in parts if p != "privacy"]
        if tuple(parts) not in forms:
            forms.append(tuple(parts))
    return forms


def _things(form: Sequence[str]) -> set[str]:
    return {thing for part in form for thing in part.split(".", 1)[0].split("+")}


def _languages(authority: Authority) -> list[str]:
    """The authority's languages Herold has words for, first language first; German if none."""
    chosen: list[str] = []
    for language in authority.languages:
        if primary(language) in WORDING and primary(language) not in chosen:
            chosen.append(primary(language))
    return chosen or ["de"]


def profile_texts(authority: Authority, types: Mapping[str, type[ChannelType]] | None = None) -> list[ProfileText]:
    """For every account of the authority (a channel with a profile), the profile text in its
    first language and in English if it has that: the richest form that fits the platform's
    limit, never longer. Where even the shortest form does not fit, the text is None."""
    known = facts(authority, types)
    built_in = any(f.kind is not None and is_site(f.kind) for f in known)
    values = {
        "name": authority.name,
        "site": authority.base_url,
        "feed": authority.url(FEEDS["Atom"]),
        "impressum": authority.impressum_url,
        "privacy": authority.privacy_url,
    }
    links = [values["site"], values["feed"], values["impressum"], values["privacy"]]
    forms = _forms(built_in, authority.impressum_url == authority.privacy_url)
    texts = []
    for found in known:
        rule = found.bio
        if rule is None:
            continue
        notes = list(found.platform.notes)
        if not found.declared:
            notes.insert(
                0, f"No documented limit for {found.platform.name}: kept within {describe(rule)}; check the platform."
            )
        elif found.platform.limit_source:
            notes.insert(0, f"Limit: {found.platform.limit_source}.")
        if not built_in:
            notes.append("No built-in website: the feed address is not known, so the text has none.")
        for language in _languages(authority):
            words = WORDING[language]
            candidates = ["\n".join(words[part].format(**values) for part in form) for form in forms]
            fits = [i for i, text in enumerate(candidates) if rule.excess(text, links, has_media=False) <= 0]
            chosen = fits[0] if fits else len(forms) - 1
            text = candidates[chosen]
            left_out = tuple(WHAT[t] for t in WHAT if t in _things(forms[0]) - _things(forms[chosen]))
            extra = []
            if not fits:
                extra.append(
                    f"Does not fit: even the shortest form ({rule.length(text, links)} {rule.counting.unit}) is over "
                    "the limit; use shorter addresses, or the platform's own fields for links."
                )
            elif "the website address" in left_out:
                extra.append("Put the website address into the profile's own link field.")
            texts.append(
                ProfileText(
                    authority=authority.slug,
                    channel=found.channel.id,
                    platform=found.platform.name,
                    field=found.platform.field,
                    language=language,
                    text=text if fits else None,
                    length=rule.length(text, links),
                    limit=rule.limit,
                    unit=describe(rule),
                    left_out=left_out,
                    notes=tuple(notes + extra),
                )
            )
    return texts


def without_profile(authority: Authority, types: Mapping[str, type[ChannelType]] | None = None) -> list[str]:
    """The channels that have no profile text to write (the website, hooks)."""
    return [f.channel.id for f in facts(authority, types) if f.bio is None]


# -- the data-protection summary ----------------------------------------------------------------

_MARKDOWN = re.compile(r"([\\`*_\[\]<>|])")  # what would start emphasis, code, a link, HTML or a cell
TO_FILL = "_Von der Behörde auszufüllen (to be completed by the authority)._"
GUARD = (
    "Keine personenbezogenen Daten von Bürgerinnen und Bürgern: der Datenschutzfilter (privacy guard) weist "
    "Meldungen zurück, in denen er private E-Mail-Adressen, Telefonnummern, IBAN, Geburtsdaten, Kfz-Kennzeichen "
    "oder namentlich genannte Personen mit Angaben etwa zu Verletzung, Festnahme oder Tod erkennt. Veröffentlichen "
    "trotz eines Fundes kann nur eine freigebende Person, mit Begründung; das steht im Audit-Log. Der Filter "
    "erkennt Muster, er ersetzt keine Prüfung durch Menschen."
)


def _md(text: str) -> str:
    """Text from the configuration, shown as itself in Markdown (a name with * or | in it)."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def _link(url: str) -> str:
    return f"<{url}>" if re.fullmatch(r"[^\s<>]+", url) else f"`{url.replace('`', '')}`"


def _days(days: float) -> str:
    return f"{days:g}"


def _receives(found: Facts) -> str:
    if found.platform.receives:
        return found.platform.receives
    kind = found.kind
    if kind is None:
        return "Nicht bekannt: der Kanaltyp ist in dieser Installation nicht vorhanden"
    capabilities = kind.capabilities
    if capabilities.wave is Wave.website:
        text = "Die Seite der Meldung auf dem Webauftritt der Behörde"
    else:
        text = "Der öffentliche Text der Meldung, für diesen Kanal gesetzt"
        if capabilities.link_in_text:
            text += ", mit dem Link auf ihre Seite auf der eigenen Website"
    media = capabilities.media
    if media.count:
        text += f"; bis zu {media.count} Bilder, neu kodiert ohne Metadaten (EXIF, GPS)"
        text += ", mit Alternativtext" if media.alt_text else " (die Plattform übernimmt keinen Alternativtext)"
    if capabilities.hand_off:
        text += ". Eine Person veröffentlicht den vorbereiteten Text von Hand; Herold selbst überträgt nichts"
    return text


def _send_only(found: Facts) -> str:
    if found.kind is not None and is_site(found.kind):
        return "Ja (yes): Herold schreibt die Dateien der Website und liest dort nichts."
    text = (
        "Ja (yes): Herold liest dort keine Follower, Antworten, Nachrichten oder Statistiken. Der Vertragstest "
        "der Kanäle (tests/kit) prüft jeden Kanaltyp auf Lesezugriffe auf Daten anderer."
    )
    if found.kind is not None and able(found.kind, Lookup):
        text += (
            " Gelesen werden nur das eigene Konto und dessen eigene letzte Beiträge, um nach einer verlorenen "
            "Antwort keinen Beitrag doppelt zu senden."
        )
    return text


def _stored(found: Facts, days: str) -> str:
    if found.kind is not None and found.kind.capabilities.hand_off:
        kept = "der vorbereitete Text, wer ihn wann bestätigt hat und die Adresse des Beitrags"
    else:
        kept = "der für den Kanal gesetzte Text, der Zustellstatus, Kennung und Adresse des Beitrags"
    return (
        f"Bleibt, als Nachweis der Behörde: {kept}. Fehlermeldungen der Gegenstelle (delivery error texts): "
        f"beim Zustellvorgang gelöscht {days} Tage nach seinem Ende; im Audit-Log bleibt der Grund, mit dem ein "
        "Fehlschlag vermerkt wurde."
    )


def _database(settings: Settings) -> str:
    try:
        url = make_url(settings.herold.database)
    except Exception:  # a URL SQLAlchemy cannot read is reported, not raised
        return "Datenbank (Adresse nicht lesbar)"
    if url.get_backend_name() == "sqlite":
        return f"SQLite-Datei auf dem Herold-Server ({_md(url.database or '')})"
    return f"{_md(url.get_backend_name())} auf {_md(url.host or 'localhost')}"


def _general(settings: Settings, chosen: Sequence[Authority], days: str) -> list[str]:
    runtime = settings.herold
    lines = [
        "## Herold: Verarbeitung im Überblick (overview)",
        "",
        "Herold veröffentlicht Meldungen der Behörde: zuerst auf der eigenen Website, dann auf den unten genannten "
        "Kanälen. Er sendet nur (send-only): auf keiner Plattform liest er Follower, Antworten, Nachrichten oder "
        "Statistiken.",
        "",
        "### Was Herold speichert (what Herold stores)",
        "",
        f"- **Ort (where):** {_database(settings)}; Bilder im Datenverzeichnis {_md(str(runtime.data_dir))}.",
        "- **Meldungen (announcements)** mit Texten, Bildern (neu kodiert, ohne Metadaten) und den je Kanal "
        "gesetzten Texten, und **die Zustellungen** (Status, Kennung und Adresse jedes Beitrags): bleiben, als "
        "Nachweis der Behörde; Herold löscht sie nicht von selbst.",
        "- **Audit-Log:** wer wann was getan hat (Benutzername an der Kommandozeile, Name des API-Tokens, "
        "Freigaben mit Begründung, der Grund jedes Fehlschlags einer Zustellung): bleibt; Herold löscht es nicht "
        "von selbst.",
        f"- **Fehlermeldungen der Plattformen (delivery error texts)** bei den Zustellungen: gelöscht {days} "
        "Tage nach Ende der Zustellung (`retention_days`); bei einer ohne Erfolg steht dann nur noch, dass sie "
        "gelöscht wurden.",
        f"- **Alarme an die Bereitschaft (on-call alarms)** mit den Adressen der Empfänger: gelöscht {days} Tage "
        "nach ihrer Entstehung, sobald sie versandt oder aufgegeben sind.",
        "- **Rohdaten eingehender Meldungen (raw inbound payloads):** bewahrt Herold bisher nicht auf; "
        "gespeichert wird die daraus gemachte Meldung. Abgelehnte Meldungen von Warnsystemen stehen nur als "
        "eine Protokollzeile ohne Inhalt im Log.",
        "- **Konten der Pressestelle (press office accounts):** Benutzername, Behörde, Rolle, Passwort nur als "
        "Argon2id-Hash; jede Anmeldung, auch eine abgelehnte, steht mit der IP-Adresse im Prüfprotokoll (bleibt). "
        f"Sitzungen (nur ein Hash des Cookies) enden nach der Leerlaufzeit und werden einen Tag danach gelöscht; "
        f"Formular-Entwürfe (was getippt wurde) werden {days} Tage nach der letzten Änderung gelöscht.",
        "- **API-Tokens:** nur als Hash. **Zugangsdaten der Kanäle** stehen nicht in der Datenbank, sondern in "
        "Umgebungsvariablen.",
        "- **Protokolle (logs):** Herold schreibt sie auf die Standardausgabe; `herold serve` führt kein "
        "Zugriffsprotokoll. Wie lange der Betrieb Protokolle aufbewahrt, regelt er selbst.",
        "",
        "### Weitere Empfänger (further recipients)",
        "",
    ]
    others = []
    if runtime.smtp_host:
        others.append(
            f"- **E-Mail an die Bereitschaft (on-call e-mail):** über den Mailserver {_md(runtime.smtp_host)}."
        )
    if runtime.redis_url:
        host = urlsplit(runtime.redis_url).hostname or "?"
        others.append(f"- **Warteschlange (queue):** Redis auf {_md(host)} (Zustellaufträge).")
    for authority in chosen:
        if authority.oncall.webhook_url:
            host = urlsplit(authority.oncall.webhook_url).hostname or "?"
            others.append(f"- **Alarm-Webhook von {_md(authority.slug)}:** an {_md(host)}.")
    lines += others or ["Keine (none)."]
    lines += [
        "",
        "### Technische und organisatorische Maßnahmen (Art. 32 DSGVO)",
        "",
        TO_FILL,
        "",
    ]
    return lines


def _authority(
    authority: Authority, settings: Settings, days: str, types: Mapping[str, type[ChannelType]] | None
) -> list[str]:
    found = facts(authority, types)
    lines = [
        f"## {_md(authority.name)} (`{authority.slug}`)",
        "",
        f"- **Website:** {_link(authority.base_url)}; Feeds: "
        + ", ".join(f"{name} {_link(authority.url(path))}" for name, path in FEEDS.items())
        + (" (eingebaute Website)" if any(f.kind is not None and is_site(f.kind) for f in found) else ""),
        f"- **Impressum:** {_link(authority.impressum_url)}",
        f"- **Datenschutzerklärung (privacy notice):** {_link(authority.privacy_url)}",
        "",
        "| Kanal (channel) | Plattform | Empfänger (recipients) | Nur senden (send-only) |",
        "|---|---|---|---|",
    ]
    for item in found:
        lines.append(f"| `{item.channel.id}` | {_md(item.platform.name)} | {_md(item.operator)} | ja (yes) |")
    lines += [
        "",
        "### Verantwortlicher und Datenschutzbeauftragte(r) (controller and data protection officer)",
        "",
        TO_FILL,
        "",
    ]
    for item in found:
        kind = item.kind
        wave = f"{int(kind.capabilities.wave)} ({kind.capabilities.wave.name})" if kind else "?"
        recipients = _md(item.operator)
        if item.platform.also_receives:
            recipients += f". {_md(item.platform.also_receives)}"
        lines += [
            f"### Kanal `{item.channel.id}`: {_md(item.platform.name)} (Typ `{item.channel.type}`)",
            "",
            f"- **Empfängt (receives):** {_md(_receives(item))}.",
            f"- **Nicht enthalten (not included):** {_md(GUARD)}",
            f"- **Herold speichert (Herold stores):** {_md(_stored(item, days))}",
            f"- **Empfänger und Auftragsverarbeiter (recipients, processors):** {recipients}.",
            f"- **Nur senden (send-only):** {_md(_send_only(item))}",
            f"- **Reihenfolge (wave):** {wave}; nichts geht auf eine Plattform, bevor die Seite der Meldung auf "
            "der eigenen Website steht.",
            "",
            "#### Zweck und Rechtsgrundlage (purpose and legal basis)",
            "",
            TO_FILL,
            "",
            "#### Verhältnis zum Betreiber (relationship to the operator: processor, joint or separate controller)",
            "",
            TO_FILL,
            "",
            "#### Übermittlung in Drittländer (transfers to third countries)",
            "",
            TO_FILL,
            "",
        ]
        if item.wave is Wave.website:
            lines += ["#### Protokolle des Webservers (web server logs)", "", TO_FILL, ""]
        else:
            lines += [
                "#### Verarbeitung durch die Plattform selbst (the platform's own processing of visitors' data)",
                "",
                TO_FILL,
                "",
            ]
    return lines


def privacy_report(
    settings: Settings,
    authority: str | None = None,
    *,
    today: date | None = None,
    types: Mapping[str, type[ChannelType]] | None = None,
) -> str:
    """The data-protection summary as Markdown: per authority and channel what it receives, what
    Herold stores and how long, who else gets it, and headings for what only the authority can
    say (legal basis, its relationship to each operator). States facts of the configuration and
    of Herold; draws no legal conclusions. ``authority``: only this one's (KeyError if unknown)."""
    chosen = [settings.authority(authority)] if authority else settings.authorities
    days = _days(settings.herold.retention_days)
    today = today or date.today()
    lines = [
        "# Datenschutz-Übersicht (data-protection summary)",
        "",
        f"Erzeugt von `herold privacy-report` am {today.isoformat()} aus der Konfiguration"
        + (f" {_md(str(settings.source))}" if settings.source else "")
        + ". Sie beschreibt, was Herold tut, und ersetzt keine rechtliche Bewertung. Die Angaben zu Betreibern "
        "folgen deren veröffentlichten Bedingungen: bitte gegen die aktuellen prüfen.",
        "",
        *_general(settings, chosen, days),
    ]
    for owner in chosen:
        lines += _authority(owner, settings, days, types)
    return "\n".join(lines).rstrip() + "\n"
