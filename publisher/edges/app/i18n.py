"""The web app's languages: German first, English second, every text through gettext catalogs.

The catalogs are the ``.po`` files in ``locale/`` (Babel's format, ``pybabel extract`` and
``update`` keep them); they are read and compiled when the app starts, so no binary file is kept
in the repository. The messages are written in English; German is the default language.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE = Path(__file__).parent / "locale"
LANGUAGES = ("de", "en")  # the first is the default
DEFAULT = LANGUAGES[0]


@cache
def translations(language: str) -> NullTranslations:
    """The catalog for ``language`` (an unknown one gets the default's)."""
    if language not in LANGUAGES:
        language = DEFAULT
    catalog_file = LOCALE / language / "LC_MESSAGES" / "messages.po"
    if not catalog_file.is_file():
        return NullTranslations()  # English: the messages as written
    with catalog_file.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def chosen(accept_language: str | None, preferred: str | None = None) -> str:
    """The language for a request: the person's choice, else the first of theirs we have."""
    if preferred in LANGUAGES:
        return preferred
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT
