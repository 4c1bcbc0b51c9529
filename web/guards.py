"""Who may open a page: logged in fully, or halfway (between password and code)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from core.actor import Actor
from core.models import Channel

from .keys import ACTOR, LIVE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def login_required(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        live = request.get(LIVE)
        if live is None:
            target = request.path_qs if request.method == "GET" else "/"
            raise web.HTTPSeeOther(f"/login?next={quote(target, safe='')}")
        if not live.complete:
            raise web.HTTPSeeOther("/login/code")
        request[ACTOR] = Actor.of(live.account, Channel.WEB)
        return await handler(request)

    return wrapper


def actor(request: web.Request) -> Actor:
    return request[ACTOR]


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an open redirect to another one."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"
