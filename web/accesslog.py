"""An access log that never writes a token: it logs the route's pattern (``/password/{token}``),
not the path, and no query string or headers."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from core.logcontext import REQUEST

from .keys import REQUEST_ID


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        # Written after the request's own context has ended: its id comes along by hand.
        rid = request.get(REQUEST_ID) if isinstance(request, web.Request) else None
        self.logger.info(
            "%s %s %s %.1fms",
            request.method,
            route(request),
            response.status,
            time * 1000,
            extra={REQUEST: rid} if rid else None,
        )


def route(request: web.BaseRequest) -> str:
    """The pattern that answered, or "?" for a request that never reached the router: one
    that was not valid HTTP, whose ``match_info`` aiohttp guards with an assert."""
    try:
        match_info = getattr(request, "match_info", None)
    except AssertionError:
        return "?"
    if match_info is None or match_info.route.resource is None:
        return "?"
    return match_info.route.resource.canonical
