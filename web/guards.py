"""Who may open a page: logged in fully, or halfway (between password and code)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from yarl import URL

from core.actor import Actor
from core.models import Channel

from .keys import ACTOR, LIVE, SESSION_ENDED

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def login_required(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        live = request.get(LIVE)
        if live is None:
            raise web.HTTPSeeOther(login_page(request))
        if not live.complete:
            raise web.HTTPSeeOther("/login/code")
        request[ACTOR] = Actor.of(live.account, Channel.WEB)
        return await handler(request)

    return wrapper


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
    """Only a path on this site: never an open redirect to another one."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"
