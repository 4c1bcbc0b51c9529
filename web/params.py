"""Numbers in paths, query strings and form fields, read without trusting them: a value that
is not a number, or is too large, never reaches ``int()`` or the database. (A record id in a
query string or form field: ``core.validation.parse_id``.)"""

from __future__ import annotations

from aiohttp import web

from core.errors import NotFound
from core.validation import parse_id

# Far more sections than any template has, and few enough digits for int() to be cheap.
MAX_INDEX_DIGITS = 6


def path_id(request: web.Request, name: str = "id") -> int:
    """The record id in the path; an id no record can have is a page that does not exist."""
    found = parse_id(request.match_info[name])
    if found is None:
        raise NotFound("This page does not exist.")
    return found


def position(value: str | None) -> int | None:
    """A position counted from 0 (a checklist section), or None when ``value`` is not one."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit() and len(value) <= MAX_INDEX_DIGITS:
        return int(value)
    return None
