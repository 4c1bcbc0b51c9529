"""Checks on the plain values people type: usernames, email addresses, required text."""

from __future__ import annotations

import re

from .errors import ValidationError

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
            f"A username may be at most {USERNAME_MAX} characters long.", field="username"
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
        raise ValidationError(f"'{email}' is not a valid email address.", field="email")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def required_text(value: str | None, *, field: str, label: str, max_length: int) -> str:
    """Strip ``value``; refuse it when empty or longer than ``max_length`` characters."""
    value = (value or "").strip()
    if not value:
        raise ValidationError(f"{label} is required.", field=field)
    if len(value) > max_length:
        raise ValidationError(
            f"{label} may be at most {max_length} characters long; this one has {len(value)}.",
            field=field,
        )
    return value
