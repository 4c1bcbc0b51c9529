"""Every message in the code and templates has a Dutch translation, and the catalogue works."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from core.errors import ValidationError
from core.i18n import gettext_for, language_of

ROOT = Path(__file__).resolve().parent.parent


def _catalogue_tool():
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_message_has_a_dutch_translation() -> None:
    tool = _catalogue_tool()
    assert len(list(tool.extract())) > 50  # the extractor really finds the messages
    assert tool.missing("nl") == []


def test_errors_read_in_the_readers_language() -> None:
    error = ValidationError(
        "The message may be at most %(max)d characters long; this one has %(length)d.",
        max=4000,
        length=4001,
    )
    assert error.translated(gettext_for("en")) == error.message
    assert error.translated(gettext_for("nl")) == (
        "Het bericht mag hoogstens 4000 tekens lang zijn; dit bericht heeft er 4001."
    )


def test_language_codes() -> None:
    assert [language_of(x) for x in ("en", "en-GB", "NL", "de", None, "")] == [
        "en",
        "en",
        "nl",
        "nl",
        "nl",
        "nl",
    ]
