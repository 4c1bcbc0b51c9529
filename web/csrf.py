"""CSRF protection: a same-origin check and a token on every state-changing request.

The token is an HMAC of the session's own secret (or, before login, of a random cookie), so
it cannot be made up by another site and dies with the session. During a key rotation a token
signed with LOKET_SECRET_KEY_PREVIOUS is still taken, so forms open at the switch still work.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from aiohttp import web

from core.settings import Settings

from .keys import ANON_CSRF, LIVE, NEW_ANON_CSRF, SETTINGS

ANON_COOKIE = "loket_csrf"
FIELD = "csrf"
# What secrets.token_urlsafe(24) makes. Anything else in the cookie was not set by us, and may
# not even be text (undecodable bytes arrive as lone surrogates), so it is replaced.
_ANON_VALUE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def anon_cookie(settings: Settings) -> str:
    """The anonymous form cookie's name. On https it gets the __Host- prefix, as the session
    cookie does: browsers then take it only from this host, over https, for path /, so a
    neighbouring (sub)domain cannot plant a value of its own and forge the token for it."""
    return f"__Host-{ANON_COOKIE}" if settings.https else ANON_COOKIE


def _sign(key: str, value: str) -> str:
    return hmac.new(key.encode(), f"csrf:{value}".encode(), hashlib.sha256).hexdigest()


def binding(request: web.Request) -> str:
    """What the token is bound to: the session's secret, or the anonymous cookie."""
    live = request.get(LIVE)
    if live is not None:
        return "s:" + live.row.csrf_secret
    cookie = request.cookies.get(anon_cookie(request.app[SETTINGS]))
    value = request.get(ANON_CSRF) or cookie
    if not value or not _ANON_VALUE.fullmatch(value):
        value = secrets.token_urlsafe(24)
        request[NEW_ANON_CSRF] = value
    request[ANON_CSRF] = value
    return "a:" + value


def token(request: web.Request, settings: Settings) -> str:
    return _sign(settings.secret_key, binding(request))


def valid(request: web.Request, settings: Settings, given: object) -> bool:
    # A form may carry anything in this field: a file, or text compare_digest cannot compare
    # (it refuses non-ASCII strings).
    if not isinstance(given, str) or not given or not given.isascii():
        return False
    bound = binding(request)
    keys = [settings.secret_key, settings.secret_key_previous]
    return any(key and hmac.compare_digest(given, _sign(key, bound)) for key in keys)


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
