"""The outermost middleware: each request gets an id (the proxy's X-Request-ID when it sends
a sane one, else a new one), bound to every log line of the request (core.logcontext) and
sent back in X-Request-ID; its route, status and duration go to the metrics."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from core import logcontext, metrics

from . import accesslog
from .keys import REQUEST_ID

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HEADER = "X-Request-ID"
# What a proxy's id may look like (nginx's $request_id is 32 hex digits): anything else a
# client sends is not written into the logs.
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Methods as the metrics name them; the others the HTTP parser lets through (WebDAV's and
# the like, which no route here takes) count as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id(request: web.Request) -> str:
    given = request.headers.get(HEADER, "")
    return given if _SANE.fullmatch(given) else uuid.uuid4().hex


@web.middleware
async def observed(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request_id(request)
    request[REQUEST_ID] = rid
    started = time.perf_counter()
    status = 500
    try:
        with logcontext.bound(**{logcontext.REQUEST: rid}):
            response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers[HEADER] = rid
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[HEADER] = rid
        raise
    finally:
        metrics.HTTP_REQUESTS.observe(
            time.perf_counter() - started,
            accesslog.route(request),
            request.method if request.method in METHODS else "other",
            str(status),
        )
