"""Checks on the plain values people type: usernames, email addresses, required text."""

from __future__ import annotations

import re
import unicodedata

from .errors import ValidationError
from .i18n import N_

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
USERNAME_MAX = 64
EMAIL_MAX = 320
# Deliberately loose: one @, no spaces, a dot in the domain (or localhost). Whether the address
# works is found out by mailing it; a strict regex only turns away real addresses.
EMAIL_PATTERN = re.compile(r"[^@\s<>,;\"]+@([^@\s<>,;\"]+\.[^@\s<>,;\".]+|localhost)")


def clean_username(username: str) -> str:
    username = username.strip()
    if not username:
        raise ValidationError("A username is required.", field="username")
    if len(username) > USERNAME_MAX:
        raise ValidationError(
            "A username may be at most %(max)d characters long.", field="username", max=USERNAME_MAX
        )
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationError(
            "A username may contain only letters, digits, '.', '_' and '-' "
            "(no spaces or other characters).",
            field="username",
        )
    return username


def clean_email(email: str) -> str:
    email = email.strip()
    if not email or len(email) > EMAIL_MAX or not EMAIL_PATTERN.fullmatch(email):
        raise ValidationError(
            "'%(email)s' is not a valid email address.", field="email", email=email
        )
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


# What each field is called in a "required" or "too long" error; the catalogue translates them.
_REQUIRED = {
    "subject": N_("The subject is required."),
    "body": N_("The message is required."),
    "name": N_("The name is required."),
    "number": N_("The dossier number is required."),
    "title": N_("The step needs a title."),
}
_TOO_LONG = N_("This field may be at most %(max)d characters long; this text has %(length)d.")


# Characters no line of text may hold: controls (the line breaks among them: a subject or a
# name goes into a mail header, where CR LF would end it), the Unicode line and paragraph
# separators, lone surrogates (bytes that were not text; no database stores them) and the
# bidi embeddings, overrides and isolates, which make text read as something else.
_NOT_IN_A_LINE = frozenset({"Cc", "Cs", "Zl", "Zp"})
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# A longer text (a message) keeps its tabs and line breaks.
_LAYOUT = frozenset("\t\n\r")
# Named per field, so that a CLI user or a mail reply also knows which one.
_CONTROL = {
    "subject": N_("The subject may not contain line breaks or other control characters."),
    "name": N_("The name may not contain line breaks or other control characters."),
    "number": N_("The dossier number may not contain line breaks or other control characters."),
    "description": N_("The description may not contain line breaks or other control characters."),
    "title": N_("The step title may not contain line breaks or other control characters."),
    "body": N_("The message contains control characters; remove them and try again."),
}
_CONTROL_OTHER = N_("This field may not contain line breaks or other control characters.")


def _unfit(ch: str) -> bool:
    return ch in _BIDI_CONTROLS or unicodedata.category(ch) in _NOT_IN_A_LINE


def check_line(value: str, *, field: str) -> str:
    """``value`` unchanged, or a ValidationError when it holds a character that does not
    belong in one line of text (see ``_NOT_IN_A_LINE``)."""
    if any(_unfit(ch) for ch in value):
        raise ValidationError(_CONTROL.get(field, _CONTROL_OTHER), field=field)
    return value


def check_block(value: str, *, field: str) -> str:
    """As ``check_line``, for a text of several lines: tabs and line breaks are allowed."""
    if any(_unfit(ch) and ch not in _LAYOUT for ch in value):
        raise ValidationError(_CONTROL.get(field, _CONTROL_OTHER), field=field)
    return value


def one_line(text: str) -> str:
    """``text`` made into one clean line: each run of whitespace and of characters that do
    not belong in a line becomes one space. For text that must be kept rather than refused,
    such as the subject of a client's mail."""
    cleaned = "".join(" " if _unfit(ch) or ch.isspace() else ch for ch in text)
    return " ".join(cleaned.split())


def required_text(value: str | None, *, field: str, max_length: int) -> str:
    """Strip ``value``; refuse it when empty, longer than ``max_length`` characters or not
    one line of text."""
    value = (value or "").strip()
    if not value:
        raise ValidationError(_REQUIRED.get(field, N_("This field is required.")), field=field)
    check_line(value, field=field)
    if len(value) > max_length:
        raise ValidationError(_TOO_LONG, field=field, max=max_length, length=len(value))
    return value


def optional_text(value: str | None, *, field: str, max_length: int) -> str:
    """As ``required_text``, but empty is fine."""
    value = (value or "").strip()
    return required_text(value, field=field, max_length=max_length) if value else ""


# Record ids are INTEGER columns: 32 bits on PostgreSQL (SQLite would take 64). A larger number
# names no record, and must not reach the database, which refuses it with an error of its own.
MAX_ID = 2**31 - 1


def parse_id(value: str | None) -> int | None:
    """The record id written in ``value``, or None when it cannot name a record.

    Only ASCII digits count: ``str.isdigit`` also accepts "²" and "٣", which ``int`` then
    refuses or reads as another number. Leading zeros are allowed, as in ``0042``.
    """
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit():
        return None
    # Checked before int(): Python refuses to convert more than 4,300 digits.
    digits = value.lstrip("0")
    if not digits or len(digits) > len(str(MAX_ID)):
        return None
    number = int(digits)
    return number if number <= MAX_ID else None
