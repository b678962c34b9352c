"""The privacy guard's personal-data rules: what about a private person must never be published.

Public bodies may use commercial platforms only if their posts carry no personal data about
citizens (the state guideline for public bodies' use of social networks; issue 10). A pure
function finds what a tired press officer could let slip, field by field, so that publication
is refused unless an approver overrides it with a reason:

- **email**: any e-mail address (also written ``name(at)example.de``) not on the authority's
  allow-list of official contacts;
- **phone**: any number ``phonenumbers`` finds valid for Germany (``0171 1234567``,
  ``(06151) 12 34 56``, ``+49 171 1234567`` …) not on the allow-list. Short codes (110, 112,
  115, 116117) are never numbers it finds; neither are postcodes, times or dates; service
  numbers (0800, 0180, 0900, 115 with area code) are an organisation's and pass;
- **iban**: an IBAN with a valid mod-97 checksum and its country's length, with or without
  spaces (an account on the allow-list passes: a donation account of the authority);
- **birth_date**: a date right after a birth marker (``geb.``, ``geboren am``, ``Geburtsdatum:``,
  ``*``); a year alone (``geboren 1985``) is not a date of birth;
- **plate**: a German registration plate, written ``DA-AB 1234`` anywhere, or ``M AB 1234``
  after a vehicle word (Kennzeichen, Kfz, Pkw, Fahrzeug …). Road numbers (``A 5``, ``B 26``)
  have no letters after the district part and are never plates;
- **person**: a named person (``Frau Müller``, ``Herr Thomas K.``, ``Dr. Schmidt``, a common first
  name with a surname or initial, a name after an age such as ``der 34-jährige Max Mustermann``)
  in a sentence that gives their age or says they were hurt, ill, taken to hospital, arrested,
  missing or dead. A name alone (``Familie Meier wurde evakuiert``, ``Herr Müller vom
  Ordnungsamt``) is not refused: naming people is sometimes needed and is not in itself a fact
  about them. A name right after an office (``Landrat Dr. Schmidt``, ``Pressesprecherin Anna
  Schmidt``) or followed by one (``Anna Schmidt, Sprecherin der Polizei``) is an official
  speaking in their role and passes. An age without a name (``ein 34-jähriger Mann``) is how
  police reports keep people unidentifiable and passes. Without an honorific, a title or an age
  before it, a name is recognised only by a first name in ``_FIRST_NAMES``.

Regular expressions are compiled once, at import; the phone matcher runs only on the stretches
of text around six digits or more (benchmarks/guard.py: about 1 ms for 2,000 characters).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import phonenumbers

from publisher.domain.announcement import Announcement


@dataclass(frozen=True)
class Finding:
    """Personal data found in one text field; ``excerpt`` is masked so that logs never hold it whole."""

    field: str
    kind: str  # "email" | "phone" | "iban" | "birth_date" | "plate" | "person"
    excerpt: str
    message_de: str
    message_en: str


def texts_of(announcement: Announcement) -> dict[str, str]:
    """Every free-text field of the announcement, by field path (as validation problems name them)."""
    texts: dict[str, str] = {}

    def add(path: str, text: str | None) -> None:
        if text:
            texts[path] = text

    add("headline", announcement.headline)
    add("description", announcement.description)
    add("instruction", announcement.instruction)
    add("contact", announcement.contact)
    add("area.description", announcement.area.description if announcement.area else None)
    add("event", announcement.event)
    # Shown on every variant and on the page like the text itself (an API client may set them).
    add("attribution", announcement.attribution)
    add("note", announcement.note)
    for language, translation in announcement.translations.items():
        add(f"translations.{language}.headline", translation.headline)
        add(f"translations.{language}.description", translation.description)
        add(f"translations.{language}.instruction", translation.instruction)
    for number, media in enumerate(announcement.media):
        add(f"media.{number}.alt", media.alt)
    return texts


def personal_data(texts: Mapping[str, str], official: Iterable[str] = ()) -> list[Finding]:
    """The personal data in ``texts`` (field path → text), in field order and then by position.

    ``official`` is the authority's allow-list of official contacts as written in its configuration:
    e-mail addresses (compared case-insensitively), phone numbers (compared as E.164, region DE)
    and IBANs (compared without spaces); what is on it is not a finding.
    """
    allowed = _Allowed.of(official)
    findings: list[Finding] = []
    for field, text in texts.items():
        seen: set[tuple[str, str]] = set()
        for _, kind, excerpt, detail in sorted(_scan(_plain(text), allowed)):
            if (kind, excerpt) not in seen:
                seen.add((kind, excerpt))
                findings.append(_finding(field, kind, excerpt, detail))
    return findings


# Text pasted from word processors: narrow and no-break spaces between digits, invisible
# characters inside addresses. Scanned as plain spaces and without the invisible ones, so that
# "0171\u202f123\u202f4567" and "max\u200b@gmx.de" are found like their plain spellings.
_SPACES = {ord(c): " " for c in "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
           "\u200a\u202f\u205f\u3000"}  # fmt: skip
_INVISIBLE = {ord(c): None for c in "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"}
_PLAIN = _SPACES | _INVISIBLE


def _plain(text: str) -> str:
    return text.translate(_PLAIN)


# -- the allow-list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Allowed:
    emails: frozenset[str]
    phones: frozenset[str]
    ibans: frozenset[str]

    @classmethod
    def of(cls, official: Iterable[str]) -> _Allowed:
        emails, phones, ibans = set(), set(), set()
        for entry in official:
            entry = entry.strip()
            if "@" in entry:
                emails.add(entry.lower())
            elif _IBAN_ENTRY.fullmatch(entry):
                ibans.add(entry.replace(" ", "").upper())
            elif (number := _e164(entry)) is not None:
                phones.add(number)
        return cls(frozenset(emails), frozenset(phones), frozenset(ibans))


def _e164_number(text: str) -> phonenumbers.PhoneNumber | None:
    """A valid phone number written in international form, else None."""
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _e164(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "DE")
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# -- finding ----------------------------------------------------------------------------------------

_WORD = r"[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?"
_SPACE = r"[^\S\n]+"  # within a line: a name never runs on into the next
_INITIAL = r"[A-ZÄÖÜ]\."

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+(?:@|\s?[(\[]at[)\]]\s?)[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
# Messenger links that open a chat with a phone number: the number is as private as written out.
_CHAT_LINK = re.compile(
    r"(?:wa\.me/|whatsapp\.com/send/?\?phone=|t\.me/|signal\.me/#p/)\+?(\d{7,15})(?![\w-])", re.IGNORECASE
)
# Six digits or more, a few separators between them: the fewest any German number has. The phone
# parser (about half a millisecond per 1,000 characters of prose with times, dates and postcodes)
# runs only on the stretches of text around these.
_PHONE_LIKE = re.compile(r"\d(?:[ /().\-–]{0,4}\d){5,}")
_PHONE_MARGIN = 24
# Numbers that are codes, not phones (official municipality keys, warning cells, file numbers).
_CODE_BEFORE = re.compile(
    r"(?:\bAGS|\bARS|Warncell(?:-ID)?|schlüssel|Kennziffer|Aktenzeichen|\bAz\.|Vorgangsnummer|\bID)\s*:?\s*$",
    re.IGNORECASE,
)

# IBAN lengths by country (the SWIFT IBAN registry).
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?= ?[A-Za-z0-9])")
_IBAN_ENTRY = re.compile(r"[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}")

_MONTHS = (
    r"(?:Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember"
    r"|Jan|Feb|Mär|Apr|Jun|Jul|Aug|Sept?|Okt|Nov|Dez)"
)
_BIRTH = re.compile(
    r"(?P<marker>(?<!\w)geb\.|\bgeboren\b|\bGeburtsdatum\b|\bGeb\.-?Datum\b|\bGeburtstag\b|(?<![\w*])\*(?=\d))"
    r"\s*(?:am\s+|den\s+|:\s*)?"
    r"(?P<date>\d{1,2}\.\s?(?:\d{1,2}\.|" + _MONTHS + r"\.?\s)\s?(?:\d{4}|\d{2})(?!\d)|\d{4}-\d{2}-\d{2}(?!\d))",
    re.IGNORECASE,
)

# District code, letters, number, E (electric) or H (historic). The whole plate has at most 8.
_PLATE_PARTS = (
    r"(?P<district>[A-ZÄÖÜ]{{1,3}}){sep}(?P<letters>[A-Z]{{1,2}}) ?(?P<number>[1-9]\d{{0,3}})(?P<suffix>[EH]?)"
)
_PLATE_END = r"(?![\w-])(?![/.,:]\d)"
_PLATE_HYPHEN = re.compile(r"(?<![\w-])" + _PLATE_PARTS.format(sep="-") + _PLATE_END)
_PLATE_SPACE = re.compile(r"(?<![\w-])" + _PLATE_PARTS.format(sep=" ") + _PLATE_END)
_VEHICLE_BEFORE = re.compile(
    r"(?:Kennzeichen|Kennz\.|Kfz|Pkw|Lkw|Fahrzeug|Auto|Wagen|Motorrad|Transporter|Wohnmobil|Anhänger|Kleinbus|Roller)"
    r"[^.!?\n]{0,40}$",
    re.IGNORECASE,
)
_NOT_DISTRICTS = frozenset({"VW", "BMW", "BAB", "ID", "DB", "EU", "UN", "DIN", "ISO", "ICE", "IC", "RE", "RB"})

_HONORIFIC = r"(?:Frau|Herrn?|Familie|Ehepaar)"
_TITLE = rf"(?:(?:Dr|Prof)\.{_SPACE})"
_MENTION = re.compile(
    # "Frau Müller", "Herr Thomas K.", "Familie Meier", "Frau Dr. Müller"
    rf"\b(?P<honorific>{_HONORIFIC}){_SPACE}{_TITLE}*(?P<h1>{_WORD})(?:{_SPACE}(?P<h2>{_WORD}|{_INITIAL}))?"
    # "Dr. Schmidt", "Prof. Dr. Anna Schmidt"
    rf"|(?<!\w){_TITLE}+(?P<t1>{_WORD})(?:{_SPACE}(?P<t2>{_WORD}|{_INITIAL}))?"
    # "der 34-jährige Max Mustermann", "die 80-jährige Bewohnerin Anna S."
    rf"|\b(?P<age>\d{{1,3}}-[jJ]ährige[nmrs]?){_SPACE}(?:{_WORD}{_SPACE})?(?P<a1>{_WORD}){_SPACE}(?P<a2>{_WORD}|{_INITIAL})"
    # "Anna Schmidt", "Thomas K." (the first name checked against _FIRST_NAMES); the lookahead lets
    # "Feuerwehr Anna Schmidt" be tried from "Anna" too
    rf"|\b(?P<f1>{_WORD})(?={_SPACE}(?P<f2>{_WORD}|{_INITIAL}))"
)
# Offices: someone named right after one (or followed by ", <office>") speaks in their role.
_OFFICE = (
    r"(?:[A-ZÄÖÜ][a-zäöüß]*)?(?:[Ss]precher|[Ll]eiter|[Bb]ürgermeister|[Bb]randmeister|[Bb]randinspektor"
    r"|[Ll]andr[aä]t|[Ss]tadtr[aä]t|[Kk]reisr[aä]t|[Pp]räsident|[Dd]irektor|[Dd]ezernent|[Mm]inister"
    r"|[Kk]ommandant|[Ww]ehrführer|[Oo]rtsvorsteher|[Bb]eigeordnete|[Aa]mtsarzt|[Aa]mtsärztin|[Kk]ämmerer"
    r"|[Ss]taatssekretär|[Bb]eauftragte)(?:in|r|n)?"
)
_OFFICE_BEFORE = re.compile(rf"\b{_OFFICE}(?:\s+(?:des|der|vom)\s+[^,.!?\n]{{1,40}}?)?,?\s+{_TITLE}*$")
_OFFICE_AFTER = re.compile(rf"\s*[,(]\s*(?:{_TITLE})?{_OFFICE}\b")
_SAINT_BEFORE = re.compile(r"(?:\bSt\.|\bSankt)\s*$")
_AGE_AFTER = re.compile(r"\s*(?:\(\s*\d{1,3}\s*\)|,\s*\d{1,3}\s*(?:,|Jahre\b))")
_AGE_HINT = re.compile(r"\(\s*\d{1,3}\s*\)|,\s*\d{1,3}\s*(?:,|Jahre)|[jJ]ährig|Jahre\s+alt|Alter\s+von")
_AGE = re.compile(r"\b\d{1,3}-?[jJ]ährig|\b\d{1,3}\s+Jahre\s+alt\b|\bim Alter von\s+\d{1,3}\b")
# Health, arrest and death words, as word beginnings ("verletzt", "Schwerverletzte", "Krankenhaus"),
# searched in the lower-cased text ("unverletzt" is not one).
_SENSITIVE_WORDS = (
    r"(?<!\w)(?:(?:schwer(?:st)?|leicht|lebensgefährlich )?verletz|lebensgefahr|verstorb|gestorben\b|tot(?:en?)?\b"
    r"|tödlich|getötet|ums leben\b|leblos|leiche|festgenommen\b|festnahme|verhaftet\b|haftbefehl|gewahrsam\b"
    r"|untersuchungshaft\b"
    r"|tatverdächtig|tatverdacht|beschuldigt|krankenhaus|klinik|reanimi|vermisst|erkrankt|infiziert\b"
    r"|positiv getestet\b|quarantäne\b|obduziert\b|suizid|alkoholisiert\b|betrunken)"
)
_SENSITIVE = re.compile(_SENSITIVE_WORDS)
_SENSITIVE_ANY_CASE = re.compile(_SENSITIVE_WORDS, re.IGNORECASE)  # where lower-casing changes the length
_WORD_REST = re.compile(r"\w*")
# A sentence ends at . ! ? before a space (not after "Dr.", "Nr.", an initial …) or at a line break.
_SENTENCE_END = re.compile(r"[.!?]+(?=\s)|\n")
_ABBREVIATION = re.compile(r"(?:\b(?:Dr|Prof|Nr|St|geb|ca|bzw|vgl)|(?<!\w)[A-ZÄÖÜ])$")
# Capitalised words after a first name that make it the name of a place or an institution.
_INSTITUTION = re.compile(
    r"(?:[Kk]rankenhaus|[Kk]linik\w*|[Hh]ospital|[Ss]chule|[Gg]ymnasium|[Uu]niversität|[Ss]traße|[Pp]latz|[Ww]eg"
    r"|[Aa]llee|[Hh]alle|[Ss]tift|[Kk]irche|[Hh]aus|[Hh]eim|[Zz]entrum|[Pp]ark|[Bb]rücke|[Rr]ing|[Gg]asse|[Ss]iedlung)$"
)
_NOT_NAMES = _words(
    "Januar Februar März April Mai Juni Juli August September Oktober November Dezember Montag Dienstag Mittwoch "
    "Donnerstag Freitag Samstag Sonntag Anfang Mitte Ende Uhr Straße Stadt Gemeinde Landkreis Himmelfahrt"
)
_PERSON_NOUNS = _words(
    "Mann Frau Kind Junge Mädchen Person Fahrer Fahrerin Autofahrer Autofahrerin Radfahrer Radfahrerin "
    "Motorradfahrer Motorradfahrerin Fußgänger Fußgängerin Beifahrer Beifahrerin Bewohner Bewohnerin Mieter "
    "Mieterin Senior Seniorin Rentner Rentnerin Jugendliche Jugendlicher Schüler Schülerin Arbeiter Arbeiterin "
    "Spaziergänger Spaziergängerin Tatverdächtige Tatverdächtiger Frauen Männer"
)
# Common first names in Germany (all generations, and the most frequent of immigrant families). Names
# that are also German words or months ("August", "Kai", "Heide", "Rose") are left out.
_FIRST_NAMES = _words(
    """Aaron Adam Adrian Agnes Ahmad Ahmed Ahmet Alexander Alexandra Ali Alina Alexej Amelie Andrea Andreas Angela
    Angelika Anja Anke Anna Anne Annette Anton Antonia Arne Astrid Ayse Barbara Beate Ben Benedikt Benjamin Bernd
    Bernhard Bettina Birgit Björn Brigitte Bruno Carla Carina Carl Carsten Charlotte Christa Christian Christiane
    Christina Christine Christoph Claudia Clara Cornelia Dagmar Damian Daniel Daniela David Denis Dennis Dieter
    Dirk Doris Dominik Dorothea Edith Elena Elias Elif Elisabeth Elke Ella Emil Emilia Emily Emine Emma Erich Erika
    Ernst Esther Eva Fabian Fatma Felix Finn Florian Frank Franz Franziska Frieda Friedrich Fritz Gabriele Georg
    Gerda Gerhard Gisela Greta Gudrun Günter Günther Hanna Hannah Hannelore Hans Harald Hasan Heike Heinrich Heinz
    Helga Helmut Henrik Henry Herbert Hermann Hildegard Holger Horst Hüseyin Ibrahim Igor Ilse Ina Inge Ingeborg
    Ingrid Irene Jakob Jan Jana Janina Jannik Jens Jessica Joachim Johann Johanna Johannes Jonas Jonathan Jörg
    Josef Julia Julian Juliane Jürgen Jutta Karin Karl Karla Karsten Katharina Kathrin Katja Katrin Kerstin Kevin
    Klaus Konrad Kristina Lara Lars Laura Lea Leah Lena Leni Leo Leon Leonie Lina Linda Lisa Lotte Louis Luca
    Lucas Ludwig Luis Luisa Lukas Luise Magdalena Maik Maja Manfred Manuel Manuela Marc Marco Marcel Marcus
    Margarete Maria Marie Marina Mario Marko Markus Marlene Marta Martha Martin Martina Mathias Matthias
    Max Maximilian Mehmet Melanie Merve Mia Michael Michaela Mila Mohammed Mohammad Monika Moritz Murat
    Mustafa Nadine Natalia Natalie Nicole Niklas Nico Nils Nina Noah Norbert Olaf Olga Oliver Oskar Otto Patrick
    Paul Paula Peter Petra Philipp Pia Rainer Ralf Ralph Regina Reinhard Renate Robert Roland Rolf Rosemarie Ruth
    Sabine Sabrina Sandra Sara Sarah Sascha Sebastian Sergej Silke Simon Simone Sofia Sophia Sophie Stefan
    Stefanie Steffen Stephan Stephanie Susanne Sven Svenja Sylvia Tanja Thomas Thorsten Tim Timo Tobias Tom
    Torsten Udo Ulrich Ulrike Ursula Ute Uwe Valentin Vanessa Vera Viktor Viktoria Walter Werner Wilhelm Willi
    Wolfgang Yannick Yusuf Zeynep"""
)


def _scan(text: str, allowed: _Allowed) -> Iterator[tuple[int, str, str, str]]:
    """(position, kind, masked excerpt, detail for the message) for each piece of personal data in ``text``."""
    lowered = text.lower()
    taken: list[tuple[int, int]] = [m.span() for m in _URL.finditer(text)]
    for link in taken:
        chat = _CHAT_LINK.search(text, *link)
        number = _e164_number("+" + chat.group(1)) if chat else None
        if number is None or phonenumbers.number_type(number) in _SERVICE:
            continue
        if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) not in (allowed.phones):
            yield link[0], "phone", _mask_phone(number), ""
    for match in _EMAIL.finditer(text) if "@" in text or "at]" in lowered or "at)" in lowered else ():
        address = re.sub(r"\s?[(\[]at[)\]]\s?", "@", match.group(0)).lower()
        taken.append(match.span())
        if address not in allowed.emails:
            yield match.start(), "email", _mask_email(address), ""
    for start, end, iban in _ibans(text):
        taken.append((start, end))
        if iban not in allowed.ibans:
            yield start, "iban", f"{iban[:4]} …{iban[-2:]}", ""
    for start, end, number in _phones(text):
        if _overlaps(start, end, taken) or _CODE_BEFORE.search(text, max(0, start - 30), start):
            continue
        if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) not in allowed.phones:
            yield start, "phone", _mask_phone(number), ""
    if "geb" in lowered or "*" in text:
        for match in _BIRTH.finditer(text):
            marker = match.group("marker")
            yield match.start(), "birth_date", f"{marker}{' ' if marker != '*' else ''}…{match.group('date')[-2:]}", ""
    yield from _plates(text)
    yield from _persons(text, lowered)


_SERVICE = frozenset({
    phonenumbers.PhoneNumberType.TOLL_FREE, phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.UAN,
})  # fmt: skip


def _phones(text: str) -> Iterator[tuple[int, int, phonenumbers.PhoneNumber]]:
    """The valid numbers phonenumbers' matcher finds in ``text``, run on stretches around enough digits."""
    windows: list[list[int]] = []
    for match in _PHONE_LIKE.finditer(text):
        start, end = max(0, match.start() - _PHONE_MARGIN), match.end() + _PHONE_MARGIN
        if windows and start <= windows[-1][1]:
            windows[-1][1] = end
        else:
            windows.append([text.rfind(" ", 0, start) + 1 if start else 0, end])
    for start, end in windows:
        for found in phonenumbers.PhoneNumberMatcher(text[start:end], "DE", leniency=phonenumbers.Leniency.VALID):
            if phonenumbers.number_type(found.number) in _SERVICE:
                continue  # a hotline (0800, 0180, 0900, 115): an organisation's, never a private person's
            yield start + found.start, start + found.end, found.number


def _ibans(text: str) -> Iterator[tuple[int, int, str]]:
    for match in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(match.group(0)[:2].upper())
        if length is None:
            continue
        characters: list[str] = []
        index = match.start()
        while len(characters) < length and index < len(text):
            character = text[index]
            if character.isascii() and character.isalnum():
                characters.append(character.upper())
            elif not (character == " " and characters and text[index - 1] != " "):
                break
            index += 1
        following = text[index : index + 1]
        if len(characters) < length or (following.isascii() and following.isalnum()):
            continue
        iban = "".join(characters)
        if _checksum_valid(iban):
            yield match.start(), index, iban


def _checksum_valid(iban: str) -> bool:
    """ISO 13616: the account moved behind its check digits, letters as 10-35, is 1 modulo 97."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _plates(text: str) -> Iterator[tuple[int, str, str, str]]:
    found: list[re.Match[str]] = list(_PLATE_HYPHEN.finditer(text))
    for match in _PLATE_SPACE.finditer(text):
        if _VEHICLE_BEFORE.search(text, max(0, match.start() - 60), match.start()):
            found.append(match)
    for match in found:
        district, letters, number = match.group("district", "letters", "number")
        if district in _NOT_DISTRICTS or len(district) + len(letters) + len(number) > 8:
            continue
        separator = text[match.end("district")]
        yield match.start(), "plate", f"{district}{separator}{letters} …{number[-1]}{match.group('suffix')}", ""


def _persons(text: str, lowered: str) -> Iterator[tuple[int, str, str, str]]:
    if len(lowered) == len(text):
        sensitive = [match.span() for match in _SENSITIVE.finditer(lowered)]
    else:
        sensitive = [match.span() for match in _SENSITIVE_ANY_CASE.finditer(text)]
    if not sensitive and not _AGE_HINT.search(text):
        return
    ages = [match.start() for match in _AGE.finditer(text)]
    ends: list[int] | None = None
    last = 0
    for match in _MENTION.finditer(text):
        found = _mention(text, match, last)
        if found is None:
            continue
        names, last = found
        if match.group("age") or _AGE_AFTER.match(text, last):
            detail = "age"
        else:
            ends = _sentence_ends(text) if ends is None else ends
            start, end = _sentence_around(ends, match.start(), len(text))
            if any(start <= age < end for age in ages):
                detail = "age"
            else:
                word = next((span for span in sensitive if start <= span[0] < end), None)
                if word is None:
                    continue
                rest = _WORD_REST.match(text, word[1])
                detail = text[word[0] : rest.end() if rest else word[1]]
        yield match.start(), "person", _mask_person(match.group("honorific"), names), detail


def _sentence_ends(text: str) -> list[int]:
    return [
        match.end()
        for match in _SENTENCE_END.finditer(text)
        if match.group(0) != "." or not _ABBREVIATION.search(text, max(0, match.start() - 5), match.start())
    ]


def _sentence_around(ends: list[int], position: int, length: int) -> tuple[int, int]:
    index = bisect.bisect_right(ends, position)
    return (ends[index - 1] if index else 0), (ends[index] if index < len(ends) else length)


def _mention(text: str, match: re.Match[str], last: int) -> tuple[list[str], int] | None:
    """The names of a mention and where it ends, or None if it names no private person."""
    if match.start() < last:
        return None  # inside the mention before it
    if match.group("h1"):
        names = [match.group("h1"), match.group("h2")]
        end = match.end()
    elif match.group("t1"):
        names = [match.group("t1"), match.group("t2")]
        end = match.end()
    elif match.group("a1"):
        names = [match.group("a1"), match.group("a2")]
        if names[0] in _PERSON_NOUNS or _NOT_NAMES.intersection(names):
            return None
        end = match.end()
    else:
        names = [match.group("f1"), match.group("f2")]
        if names[0] not in _FIRST_NAMES or _SAINT_BEFORE.search(text, max(0, match.start() - 8), match.start()):
            return None
        end = match.end("f2")
    present = [name for name in names if name]
    if _NOT_NAMES.intersection(present) or _INSTITUTION.search(present[-1]):
        return None
    if _OFFICE_BEFORE.search(text, max(0, match.start() - 80), match.start()) or _OFFICE_AFTER.match(text, end):
        return None
    return present, end


# -- masking and messages ---------------------------------------------------------------------------


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < taken_end and taken_start < end for taken_start, taken_end in spans)


def _mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"


def _mask_phone(number: phonenumbers.PhoneNumber) -> str:
    written = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    groups = written.split(" ")
    digits = "".join(c for c in written if c.isdigit())
    return f"{' '.join(groups[:2])} …{digits[-2:]}"


def _mask_person(honorific: str | None, names: list[str]) -> str:
    shown = f"{names[0][:1]}…" if len(names) == 1 else f"{names[0]} {names[1][:1]}…"
    return f"{honorific} {shown}" if honorific else shown


_MESSAGES = {
    "email": (
        "enthält eine E-Mail-Adresse ({excerpt}), die nicht als offizieller Kontakt freigegeben ist",
        "contains an e-mail address ({excerpt}) that is not an approved official contact",
    ),
    "phone": (
        "enthält eine Telefonnummer ({excerpt}), die nicht als offizieller Kontakt freigegeben ist",
        "contains a phone number ({excerpt}) that is not an approved official contact",
    ),
    "iban": (
        "enthält eine Bankverbindung (IBAN {excerpt}), die nicht als offizielles Konto freigegeben ist",
        "contains a bank account (IBAN {excerpt}) that is not an approved official account",
    ),
    "birth_date": (
        "enthält ein Geburtsdatum ({excerpt}); Geburtsdaten von Personen werden nicht veröffentlicht",
        "contains a date of birth ({excerpt}); people's dates of birth are not published",
    ),
    "plate": (
        "enthält ein Kfz-Kennzeichen ({excerpt}); es macht die Halterin oder den Halter identifizierbar",
        "contains a vehicle registration plate ({excerpt}); it identifies the vehicle's keeper",
    ),
}


def _finding(field: str, kind: str, excerpt: str, detail: str) -> Finding:
    if kind == "person":
        reason_de = "mit Altersangabe" if detail == "age" else f"zusammen mit „{detail}“"
        reason_en = "with an age" if detail == "age" else f"together with “{detail}”"
        german = f"nennt eine Person ({excerpt}) {reason_de}; Betroffene dürfen nicht identifizierbar sein"
        english = f"names a person ({excerpt}) {reason_en}; people affected must not be identifiable"
    else:
        german, english = (message.format(excerpt=excerpt) for message in _MESSAGES[kind])
    return Finding(field=field, kind=kind, excerpt=excerpt, message_de=german, message_en=english)
