"""The translation catalogue: Dutch and English.

Messages are written in English in the code (the msgid) and translated in
``core/locale/<lang>.po``, read with Babel at first use (no compile step, so a fresh checkout
runs as it is). Every adapter asks here for the reader's language.

A test extracts every msgid from the code and templates and checks that Dutch has them all.
"""

from __future__ import annotations

import functools
import gettext as _gettext
import io
from collections.abc import Callable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from .models import Language

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = Language.NL
LANGUAGES = tuple(lang.value for lang in Language)


def N_(message: str) -> str:  # noqa: N802 - the usual name for "mark for translation only"
    """Mark a string for the catalogue where it is defined; translate it where it is shown."""
    return message


def language_of(value: str | None) -> str:
    """A supported language code for ``value`` (``nl``, ``en``, ``en-GB``…), default Dutch."""
    code = (value or "").strip().lower()[:2]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE.value


@functools.cache
def translations(language: str) -> _gettext.NullTranslations:
    path = LOCALE_DIR / f"{language_of(language)}.po"
    if not path.exists():
        return _gettext.NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language_of(language))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def gettext_for(language: str | None) -> Callable[[str], str]:
    return translations(language_of(language)).gettext


def ngettext_for(language: str | None) -> Callable[[str, str, int], str]:
    return translations(language_of(language)).ngettext
