"""Who may open a page: logged in fully, or halfway (between password and code)."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Awaitable, Callable
from urllib.parse import quote, unquote

from aiohttp import web
from yarl import URL

from core.actor import Actor
from core.models import Channel
from core.services import twofactor

from .keys import ACTOR, LIVE, SESSION_ENDED, SETTINGS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


TWO_FACTOR_SETUP = "/me/2fa/setup"


def login_required(handler: Handler) -> Handler:
    # Pages of the two-step setup itself stay open to an account that must still set it up.
    setup_step = getattr(handler, "two_factor_setup_step", False)

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        live = request.get(LIVE)
        if live is None:
            raise web.HTTPSeeOther(login_page(request))
        if not live.complete:
            raise web.HTTPSeeOther("/login/code")
        if not setup_step and twofactor.setup_required(live.account, request.app[SETTINGS]):
            raise web.HTTPSeeOther(TWO_FACTOR_SETUP)
        request[ACTOR] = Actor.of(live.account, Channel.WEB)
        return await handler(request)

    return wrapper


def two_factor_setup_step(handler: Handler) -> Handler:
    """Mark a page (under ``login_required``) that an account must reach while it sets up
    the two-step verification the firm requires of it."""
    handler.two_factor_setup_step = True  # type: ignore[attr-defined]
    return handler


def login_page(request: web.Request) -> str:
    """The login page, with where to go after it: the page asked for, or for a form sent
    with an ended session, the page the form was on (what was sent is not saved, and the
    login page says so)."""
    ended = ""
    if request.method == "GET":
        target = request.path_qs
    else:
        referer = URL(request.headers.get("Referer", ""))
        same_site = not referer.is_absolute() or referer.origin() == request.url.origin()
        target = safe_next(referer.path_qs if same_site else "/")
    if request.get(SESSION_ENDED):
        ended = "&ended=" + ("page" if request.method == "GET" else "form")
    return f"/login?next={quote(target, safe='')}{ended}"


def actor(request: web.Request) -> Actor:
    return request[ACTOR]


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this site, else "/": never an open redirect.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so
    ``/\t/evil.example`` and ``/\\evil.example`` lead to another site; so does a path that
    starts with ``//`` once its dot segments are resolved (``/.//evil.example``). Checked on
    the value as sent and percent-decoded, for whoever decodes it once more."""
    if not value or not value.startswith("/"):
        return "/"
    for form in (value, unquote(value)):
        if any(_hostile(ch) for ch in form) or _resolved(form).startswith("//"):
            return "/"
    return value


def _hostile(ch: str) -> bool:
    # Whitespace other than a plain space (which is sent as %20) and controls, format
    # characters (bidi overrides, zero width) and backslashes.
    if ch == "\\" or (ch.isspace() and ch != " "):
        return True
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def _resolved(path: str) -> str:
    """The path with its ``.`` and ``..`` segments resolved, as a browser resolves them."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    out: list[str] = []
    segments = path.split("/")[1:]
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)
