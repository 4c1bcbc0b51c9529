"""GET /metrics: this process's metrics in Prometheus' text format (core.metrics), with the
outbox's depth and its oldest waiting item read from the database at each scrape.

Only with LOKET_METRICS_TOKEN set, and only for a request that brings it as
``Authorization: Bearer <token>``; else 404, as if there were no such page. Not "from
localhost only": behind a proxy on the same machine every request comes from localhost."""

from __future__ import annotations

import hmac

from aiohttp import web

from core import metrics, outbox

from ..keys import DB, SETTINGS

routes = web.RouteTableDef()
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def allowed(request: web.Request) -> bool:
    token = request.app[SETTINGS].metrics_token
    if not token:
        return False
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@routes.get("/metrics")
async def metrics_page(request: web.Request) -> web.StreamResponse:
    if not allowed(request):
        raise web.HTTPNotFound()
    async with request.app[DB].read() as s:
        waiting = await outbox.waiting(s)
    gauges = [
        (
            "loket_outbox_depth",
            "Outbox items waiting to be sent (pending or being sent), by channel.",
            [((("channel", w.channel),), w.count) for w in waiting],
        ),
        (
            "loket_outbox_oldest_age_seconds",
            "Age of the oldest outbox item still waiting, by channel.",
            [((("channel", w.channel),), w.oldest_age) for w in waiting],
        ),
    ]
    body = metrics.render(gauges)
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
