"""GET /healthz: 200 with a small JSON body when the database answers."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from ..keys import DB

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.StreamResponse:
    try:
        async with request.app[DB].read() as s:
            await s.execute(text("SELECT 1"))
    except Exception as exc:  # any database trouble is "unhealthy", not a crash
        return web.json_response({"status": "error", "database": type(exc).__name__}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})
