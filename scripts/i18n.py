"""Keep the translation catalogue complete.

    python scripts/i18n.py check    # list msgids without a Dutch translation (exit 1 if any)
    python scripts/i18n.py update   # add new msgids to core/locale/*.po, drop unused ones

Messages are found in the Python code (``_()``, ``gettext()``, ``N_()``, the domain errors'
first argument and ``access.require``'s second) and in the Jinja templates (``_()``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "core" / "locale"
SOURCES = ["core", "web", "mailbridge", "bot", "loket"]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    "LoketError": None,
    "ValidationError": None,
    "NotFound": None,
    "PermissionDenied": None,
    "Conflict": None,
    "TooLarge": None,
    "TooManyAttempts": None,
    "AuthenticationFailed": None,
    "LinkExpired": None,
    "require": (2,),
}
METHODS = [
    ("**/migrations/**", "ignore"),
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
    ("**/templates/**.txt", "jinja2"),
]


def extract() -> Catalog:
    catalog = Catalog(project="loket")
    for folder in SOURCES:
        path = ROOT / folder
        if not path.exists():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
            str(path), METHODS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
        ):
            catalog.add(
                message,
                None,
                [(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def read(language: str) -> Catalog:
    path = LOCALE_DIR / f"{language}.po"
    if not path.exists():
        return Catalog(locale=language, project="loket")
    with path.open("rb") as fh:
        return read_po(fh, locale=language)


def missing(language: str = "nl") -> list[str]:
    """msgids used in the code that ``language`` does not translate."""
    have = read(language)
    out = []
    for message in extract():
        if not message.id:
            continue
        found = have.get(message.id, context=message.context)
        text = found.string if found else None
        ok = all(text) if isinstance(text, tuple | list) else bool(text)
        if not ok:
            out.append(message.id if isinstance(message.id, str) else message.id[0])
    return out


def update() -> None:
    template = extract()
    for language in ("nl", "en"):
        catalog = read(language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False
        LOCALE_DIR.mkdir(parents=True, exist_ok=True)
        with (LOCALE_DIR / f"{language}.po").open("wb") as fh:
            write_po(fh, catalog, width=100, no_location=True, sort_output=True)


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "update":
        update()
        return 0
    gaps = missing("nl")
    for msgid in gaps:
        print(f"untranslated (nl): {msgid!r}")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
