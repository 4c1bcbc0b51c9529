"""GET /healthz: each component and one verdict (core.health); 200 unless this process
cannot serve (503). ``?strict=1``: 503 also when a part elsewhere is stale, for monitoring."""

from __future__ import annotations

from aiohttp import web

from core import health

from ..keys import DB, SETTINGS, STORE

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.StreamResponse:
    found = await health.report(request.app[DB], request.app[STORE], request.app[SETTINGS])
    failing = {health.DOWN} | ({health.DEGRADED} if request.query.get("strict") else set())
    status = 503 if found.status in failing else 200
    return web.json_response(found.as_json(), status=status)
