"""The few fixed words Herold adds to posts and pages, per language.

German first (the first market), English as the fallback for every other language. Texts of
announcements are never translated here: only Herold's own labels are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publisher.domain.announcement import Announcement

LABELS: dict[str, dict[str, str]] = {
    "de": {
        "msg_type.update": "Aktualisierung",
        "msg_type.cancel": "Entwarnung",
        "msg_type.error": "Widerruf",
        "correction": "Korrektur",
        "kind.warning": "Warnung",
        "kind.news": "Meldung",
        "severity.extreme": "Extreme Gefahr",
        "severity.severe": "Große Gefahr",
        "severity.moderate": "Gefahr",
        "severity.minor": "Hinweis",
        "severity.unknown": "Gefahr unbekannten Ausmaßes",
        "area": "Gebiet",
        "instruction": "Was ist zu tun?",
        "description": "Lage",
        "description.news": "Einzelheiten",
        "contact": "Kontakt",
        "source": "Quelle",
        "note": "Hinweis",
        "card.more": "Mehr Informationen",
        "added": "[ergänzt]",
        "update_of_unknown": "Diese Meldung aktualisiert eine frühere Warnung, die hier nicht veröffentlicht wurde.",
        "shortened": "[gekürzt – vollständiger Text unter dem Link]",
        "effective": "Gültig ab",
        "expires": "Gültig bis",
        "sent": "Veröffentlicht",
        "history": "Verlauf",
        "also_on": "Auch veröffentlicht auf",
        "current_warnings": "Aktuelle Warnungen",
        "no_current_warnings": "Zurzeit liegen keine Warnungen vor.",
        "ended_warnings": "Entwarnungen",
        "main_website": "Zur Website: {name}",
        "valid_until": "gültig bis {when}",
        "latest_news": "Neueste Meldungen",
        "archive": "Archiv",
        "archive_month": "Archiv {month}",
        "archive_page": "Archiv {month}, Seite {number} von {last}",
        "archive_pages": "Seiten des Monats",
        "newer": "Neuere Meldungen",
        "older": "Ältere Meldungen",
        "feeds": "Abonnieren",
        "impressum": "Impressum",
        "privacy": "Datenschutz",
        "accessibility": "Barrierefreiheit",
        "accessibility_title": "Erklärung zur Barrierefreiheit",
        "accessibility_scope": "Diese Erklärung gilt für die Website {name} unter {url}.",
        "accessibility_standard": (
            "Die Website soll die Anforderungen der Barrierefreie-Informationstechnik-Verordnung (BITV 2.0) "
            "erfüllen, also der WCAG 2.1 auf Stufe AA."
        ),
        "accessibility_full": "Stand der Vereinbarkeit: Die Website ist mit den Anforderungen vereinbar.",
        "accessibility_partial": "Stand der Vereinbarkeit: Die Website ist mit den Anforderungen teilweise vereinbar.",
        "accessibility_barriers": "Nicht barrierefrei sind:",
        "accessibility_no_barriers": "Barrieren, die bekannt und noch nicht behoben sind: keine.",
        "accessibility_feedback": "Barrieren melden",
        "accessibility_feedback_text": (
            "Wenn Ihnen Barrieren auffallen oder Sie Inhalte in anderer Form brauchen, schreiben Sie uns:"
        ),
        "accessibility_enforcement": "Schlichtungsverfahren",
        "accessibility_enforcement_text": (
            "Wenn Sie auf Ihre Rückmeldung keine zufriedenstellende Antwort erhalten, können Sie sich an die "
            "folgende Stelle wenden:"
        ),
        "accessibility_reviewed": "Diese Erklärung wurde zuletzt am {date} überprüft.",
        "skip_to_content": "Zum Inhalt springen",
        "home": "Startseite",
        "as_of": "Stand",
        "corrected_on": "korrigiert am {when}",
        "withdrawn_notice": "Diese Meldung wurde zurückgezogen. Sie bleibt hier zur Nachvollziehbarkeit sichtbar.",
        "cancelled_notice": "Entwarnung: Die Gefahr ist vorüber.",
        "expired_notice": "Diese Warnung ist abgelaufen.",
        "translations": "Übersetzungen",
        "image": "Bild",
        "official_source": "Amtliche Quelle",
        "alarm.subject": "Herold: {channel} – {state}: {headline}",
        "alarm.credentials_subject": "Herold: Kanal {channel} braucht Zugangsdaten",
        "alarm.failed": "ist endgültig fehlgeschlagen",
        "alarm.dead": "wurde nach Ablauf der Frist aufgegeben",
        "alarm.unknown": "ist unklar: bitte auf der Plattform prüfen",
        "alarm.body": (
            "Die Zustellung von „{headline}“ an {channel} {what}.\n\nGrund: {reason}\n"
            "Versuche: {attempts}\nMeldung: {url}\nStatus: herold status {announcement}\n"
        ),
        "alarm.credentials_body": (
            "Die Plattform hat die Zugangsdaten von Kanal {channel} abgelehnt: {reason}\n"
            "Bis sie erneuert sind, erscheint dort nichts.\n"
        ),
        "alarm.token_refused_subject": "Herold: {channel} – Zugang erneuern",
        "alarm.token_refused_body": (
            "Herold konnte den Zugang für {channel} nicht erneuern: {reason}. Bitte einen neuen Token "
            "hinterlegen, sonst erreichen Meldungen diesen Kanal bald nicht mehr.\n"
        ),
        "alarm.token_expires_subject": "Herold: {channel} – Zugang läuft ab am {when}",
        "alarm.token_expires_body": (
            "Der Zugang für {channel} läuft am {when} ab und kann nicht von selbst erneuert werden. Bitte "
            "rechtzeitig einen neuen Token hinterlegen.\n"
        ),
        "alarm.website_held": "Alle anderen Kanäle werden zurückgehalten, bis die Website-Seite steht "
        "oder jemand sie mit Begründung freigibt (herold release).",
        "alarm.unreadable_subject": "Herold: eine gespeicherte Meldung ist nicht lesbar",
        "alarm.unreadable_body": (
            "Die gespeicherte Meldung {announcement} kann nicht gelesen werden und wird auf keinem Kanal "
            "veröffentlicht.\n\nGrund: {reason}\n\nBitte veröffentlichen Sie sie neu; alle anderen Meldungen "
            "sind davon nicht betroffen.\n"
        ),
        "alarm.hand_off_subject": "Herold: Warnung wartet auf Veröffentlichung von Hand in {channel}",
        "alarm.hand_off_body": (
            "Die Warnung „{headline}“ muss in {channel} von Hand veröffentlicht werden und ist seit "
            "{minutes} Minuten nicht bestätigt.\n\nText zum Kopieren:\n\n{text}\n\n"
            "Danach bestätigen: herold confirm {announcement} {channel} --url ADRESSE\n"
        ),
    },
    "en": {
        "msg_type.update": "Update",
        "msg_type.cancel": "All clear",
        "msg_type.error": "Withdrawn",
        "correction": "Correction",
        "kind.warning": "Warning",
        "kind.news": "News",
        "severity.extreme": "Extreme danger",
        "severity.severe": "Severe danger",
        "severity.moderate": "Danger",
        "severity.minor": "Advisory",
        "severity.unknown": "Danger of unknown extent",
        "area": "Area",
        "instruction": "What to do",
        "description": "Situation",
        "description.news": "Details",
        "contact": "Contact",
        "source": "Source",
        "note": "Note",
        "card.more": "More information",
        "added": "[added]",
        "update_of_unknown": "This message updates an earlier warning that was not published here.",
        "shortened": "[shortened – full text at the link]",
        "effective": "Effective",
        "expires": "Expires",
        "sent": "Published",
        "history": "History",
        "also_on": "Also published on",
        "current_warnings": "Current warnings",
        "no_current_warnings": "There are no warnings at the moment.",
        "ended_warnings": "All clear",
        "main_website": "Main website: {name}",
        "valid_until": "valid until {when}",
        "latest_news": "Latest news",
        "archive": "Archive",
        "archive_month": "Archive {month}",
        "archive_page": "Archive {month}, page {number} of {last}",
        "archive_pages": "Pages of the month",
        "newer": "Newer items",
        "older": "Older items",
        "feeds": "Subscribe",
        "impressum": "Legal notice",
        "privacy": "Privacy",
        "accessibility": "Accessibility",
        "accessibility_title": "Accessibility statement",
        "accessibility_scope": "This statement applies to the website {name} at {url}.",
        "accessibility_standard": (
            "The website aims to meet the German accessibility regulation (BITV 2.0), that is WCAG 2.1 at level AA."
        ),
        "accessibility_full": "Compliance status: the website is fully compliant.",
        "accessibility_partial": "Compliance status: the website is partially compliant.",
        "accessibility_barriers": "Not accessible are:",
        "accessibility_no_barriers": "Known barriers not yet removed: none.",
        "accessibility_feedback": "Report a barrier",
        "accessibility_feedback_text": "If you come across a barrier, or need content in another form, write to us:",
        "accessibility_enforcement": "Enforcement procedure",
        "accessibility_enforcement_text": (
            "If you do not receive a satisfactory answer to your feedback, you can turn to:"
        ),
        "accessibility_reviewed": "This statement was last reviewed on {date}.",
        "skip_to_content": "Skip to content",
        "home": "Home",
        "as_of": "As of",
        "corrected_on": "corrected on {when}",
        "withdrawn_notice": "This announcement was withdrawn. It stays visible here for the record.",
        "cancelled_notice": "All clear: the danger is over.",
        "expired_notice": "This warning has expired.",
        "translations": "Translations",
        "image": "Image",
        "official_source": "Official source",
        "alarm.subject": "Herold: {channel} – {state}: {headline}",
        "alarm.credentials_subject": "Herold: channel {channel} needs credentials",
        "alarm.failed": "failed for good",
        "alarm.dead": "was given up at its deadline",
        "alarm.unknown": "is uncertain: please check on the platform",
        "alarm.body": (
            'Delivering "{headline}" to {channel} {what}.\n\nReason: {reason}\n'
            "Attempts: {attempts}\nItem: {url}\nStatus: herold status {announcement}\n"
        ),
        "alarm.credentials_body": (
            "The platform refused the credentials of channel {channel}: {reason}\n"
            "Nothing appears there until they are renewed.\n"
        ),
        "alarm.token_refused_subject": "Herold: {channel} – renew access",
        "alarm.token_refused_body": (
            "Herold could not renew the access for {channel}: {reason}. Please provide a new token, or "
            "announcements will soon no longer reach this channel.\n"
        ),
        "alarm.token_expires_subject": "Herold: {channel} – access expires {when}",
        "alarm.token_expires_body": (
            "The access for {channel} expires at {when} and cannot be renewed by Herold: please provide a "
            "new token in time.\n"
        ),
        "alarm.website_held": "Every other channel is held back until the website page exists "
        "or a person releases them with a reason (herold release).",
        "alarm.unreadable_subject": "Herold: a stored announcement cannot be read",
        "alarm.unreadable_body": (
            "The stored announcement {announcement} cannot be read and is published on no channel.\n\n"
            "Reason: {reason}\n\nPlease publish it again; no other announcement is affected.\n"
        ),
        "alarm.hand_off_subject": "Herold: a warning waits to be posted by hand on {channel}",
        "alarm.hand_off_body": (
            'The warning "{headline}" must be posted by hand on {channel} and has not been confirmed for '
            "{minutes} minutes.\n\nText to copy:\n\n{text}\n\n"
            "Then confirm it: herold confirm {announcement} {channel} --url ADDRESS\n"
        ),
    },
}


def primary(language: str) -> str:
    return language.split("-")[0].lower()


def labels_for(language: str) -> Callable[..., str]:
    """A lookup ``t(key, **values)`` for one language, falling back to English."""
    table = LABELS.get(primary(language), LABELS["en"])

    def t(key: str, **values: str) -> str:
        text = table.get(key) or LABELS["en"][key]
        return text.format(**values) if values else text

    return t


# The labels a follow-up's headline may carry (`Announcement.label_key`'s values).
FOLLOW_UP_KEYS = ("msg_type.update", "msg_type.cancel", "msg_type.error", "correction")
# What may follow a label at the start of a headline for the headline to carry it ("Entwarnung:
# …", "Update – …", "Widerruf der …"); a word that merely begins like one ("Updates", "Korrekturen")
# is not a label.
_SEPARATOR = r"(?:$|[\s:;,.!?|/\-\u2013\u2014])"


def carries_label(headline: str, keys: tuple[str, ...] = FOLLOW_UP_KEYS) -> bool:
    """Whether ``headline`` starts with one of these labels (by default any follow-up's) in any
    language Herold speaks (case ignored), followed by a separator or nothing: authors often
    write the label themselves."""
    known = tuple(sorted({table[key].casefold() for table in LABELS.values() for key in keys if key in table}))
    return _labelled(known).match(headline.casefold()) is not None


@cache
def _labelled(labels: tuple[str, ...]) -> re.Pattern[str]:
    words = (r"\s+".join(map(re.escape, label.split())) for label in sorted(labels, key=len, reverse=True))
    return re.compile(rf"\s*(?:{'|'.join(words)}){_SEPARATOR}")


def label_for(announcement: Announcement, language: str, headline: str | None = None) -> str | None:
    """The label to put before the headline of ``announcement`` shown in ``language`` ("Entwarnung"),
    or None: an alert has none, and a headline that already starts with a label keeps it alone
    (never "Entwarnung: Entwarnung: …"). ``headline`` is the one shown, by default the
    announcement's own in ``language``."""
    key = announcement.label_key
    if key is None:
        return None
    shown = announcement.text_in(language).headline if headline is None else headline
    # Only its own label, in any language: a withdrawal headed "Entwarnung irrtümlich versandt"
    # is still labelled "Widerruf".
    if carries_label(shown, (key,)):
        return None
    return labels_for(language)(key)


def titled(announcement: Announcement, language: str, headline: str | None = None) -> str:
    """The headline as lists, feeds and page titles show it: with its label, if it needs one."""
    shown = announcement.text_in(language).headline if headline is None else headline
    label = label_for(announcement, language, shown)
    return f"{label}: {shown}" if label else shown
