"""CSRF protection: a same-origin check and a token on every state-changing request.

The token is an HMAC of the session's own secret (or, before login, of a random cookie), so
it cannot be made up by another site and dies with the session.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from aiohttp import web

from core.settings import Settings

from .keys import ANON_CSRF, LIVE, NEW_ANON_CSRF

ANON_COOKIE = "loket_csrf"
FIELD = "csrf"
# What secrets.token_urlsafe(24) makes. Anything else in the cookie was not set by us, and may
# not even be text (undecodable bytes arrive as lone surrogates), so it is replaced.
_ANON_VALUE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _sign(settings: Settings, value: str) -> str:
    return hmac.new(
        settings.secret_key.encode(), f"csrf:{value}".encode(), hashlib.sha256
    ).hexdigest()


def binding(request: web.Request) -> str:
    """What the token is bound to: the session's secret, or the anonymous cookie."""
    live = request.get(LIVE)
    if live is not None:
        return "s:" + live.row.csrf_secret
    value = request.get(ANON_CSRF) or request.cookies.get(ANON_COOKIE)
    if not value or not _ANON_VALUE.fullmatch(value):
        value = secrets.token_urlsafe(24)
        request[NEW_ANON_CSRF] = value
    request[ANON_CSRF] = value
    return "a:" + value


def token(request: web.Request, settings: Settings) -> str:
    return _sign(settings, binding(request))


def valid(request: web.Request, settings: Settings, given: object) -> bool:
    # A form may carry anything in this field: a file, or text compare_digest cannot compare
    # (it refuses non-ASCII strings).
    if not isinstance(given, str) or not given or not given.isascii():
        return False
    return hmac.compare_digest(given, token(request, settings))


def same_origin(request: web.Request, settings: Settings) -> bool:
    """The request comes from one of our own pages (Origin, else Referer)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    try:
        got = urlsplit(source)
    except ValueError:  # e.g. "http://[": not a URL, so not one of ours
        return False
    ours = urlsplit(settings.public_url)
    host = request.host
    return (got.scheme, got.netloc) == (ours.scheme, ours.netloc) or got.netloc == host
