"""Checks on the plain values people type: usernames, email addresses, required text."""

from __future__ import annotations

import re

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


def required_text(value: str | None, *, field: str, max_length: int) -> str:
    """Strip ``value``; refuse it when empty or longer than ``max_length`` characters."""
    value = (value or "").strip()
    if not value:
        raise ValidationError(_REQUIRED.get(field, N_("This field is required.")), field=field)
    if len(value) > max_length:
        raise ValidationError(_TOO_LONG, field=field, max=max_length, length=len(value))
    return value


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
