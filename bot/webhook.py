"""Updates by webhook: the route Telegram posts to, on the web process (loket/ mounts it; web/
knows nothing of the bot). Telegram sends the secret given to setWebhook in a header; a
request without it is refused with 403 and nothing else happens.

An update is handled before it is answered: a process that dies meanwhile leaves Telegram
without its 200, and it delivers the update again, which core's record of handled updates
then lets through only once. Telegram posts several updates at once, a chat's too; they go
through the application's update processor as polled ones do, so a chat's updates take
turns in the order they came (bot.update_processor).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def webhook_handler(app: Application[Any, Any, Any, Any, Any, Any], secret: str) -> Handler:
    """The aiohttp handler for POSTs from Telegram to ``app``'s webhook."""
    expected = secret.encode()

    async def handle(request: web.Request) -> web.StreamResponse:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not given or not hmac.compare_digest(given, expected):
            return web.Response(status=403, text="Forbidden")
        if not app.running:
            # Starting or stopping: Telegram tries again a little later.
            return web.Response(status=503, text="The bot is not running yet.")
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=400, text="Not an update.")
        try:
            update = Update.de_json(data, app.bot) if isinstance(data, dict) else None
        except (TypeError, ValueError, KeyError, AttributeError):
            update = None
        if update is None or not update.update_id:
            return web.Response(status=400, text="Not an update.")
        await app.update_processor.process_update(update, app.process_update(update))
        return web.Response(status=200)

    return handle
