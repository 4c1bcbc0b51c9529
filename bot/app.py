"""``create_bot(settings, db, store)``: the bot as a python-telegram-bot Application, like
``web.app.create_app`` for the web view. The caller (loket/) runs it: long polling, or fed by
the web process's webhook route.

What the handlers need (settings, database, store) is kept in ``bot_data`` and read with
``deps(context)``; nothing else is kept between updates: each chat's state is in core.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application, ContextTypes, ExtBot
from telegram.request import BaseRequest

from core.db import Database
from core.services import telegram
from core.settings import Settings
from core.storage import FileStore

from . import handlers
from .ratelimit import RateLimiter, Sleep
from .update_processor import CONCURRENT_UPDATES, PerChatProcessor

TELEGRAM_API = "https://api.telegram.org"
_DEPS = "loket"


@dataclass(frozen=True)
class Deps:
    settings: Settings
    db: Database
    store: FileStore
    # Per chat, the question message sent and not yet recorded (core.services.telegram.Asked).
    asked: dict[int, telegram.Asked] = field(default_factory=dict)
    # SQLite only: its units of work one at a time, in the order they come (see ``unit``).
    writes: asyncio.Lock | None = None

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[AsyncSession]:
        """An update's unit of work. On SQLite one at a time in this process: it has one
        writer anyway, and with several updates handled at once the others would wait in
        its busy handler, which sleeps and polls, leaving the lock idle between them and
        letting one wait past its timeout while newer ones go first."""
        if self.writes is None:
            async with self.db.begin() as s:
                yield s
            return
        async with self.writes, self.db.begin() as s:
            yield s


def api_urls(settings: Settings) -> tuple[str, str]:
    """The Bot API's base URL and its file URL: Telegram's, or LOKET_TELEGRAM_API_URL (a local
    Bot API server, or the tests' fake)."""
    root = (settings.telegram_api_url or TELEGRAM_API).rstrip("/")
    return f"{root}/bot", f"{root}/file/bot"


def deps(source: ContextTypes.DEFAULT_TYPE | Application[Any, Any, Any, Any, Any, Any]) -> Deps:
    """The settings, database and store, from a handler's context or the application."""
    return source.bot_data[_DEPS]


def rate_limiter(settings: Settings, db: Database, *, sleep: Sleep = asyncio.sleep) -> RateLimiter:
    """The limits on what the bot sends (bot.ratelimit), with each chat's slot and its
    blocked state in core, so that the bot and the outbox worker, in one process or several,
    keep them together."""

    async def reserve(chat_id: int) -> float:
        async with db.begin() as s:
            return await telegram.reserve_send(s, chat_id, time.time())

    async def blocked(chat_id: int) -> None:
        async with db.begin() as s:
            await telegram.mark_blocked(s, chat_id)

    return RateLimiter(
        per_second=settings.telegram_per_second or None,
        reserve_chat=reserve,
        on_blocked=blocked,
        sleep=sleep,
    )


def sending_bot(
    settings: Settings,
    db: Database,
    *,
    limiter: RateLimiter | None = None,
    request: BaseRequest | None = None,
) -> ExtBot[None]:
    """A bot to send with outside the Application (the outbox worker), under the same limits
    (``limiter``, ``request``: other ones, for tests)."""
    if not settings.telegram_token:
        raise ValueError("LOKET_TELEGRAM_TOKEN is not set")
    base_url, base_file_url = api_urls(settings)
    return ExtBot(
        settings.telegram_token,
        base_url=base_url,
        base_file_url=base_file_url,
        rate_limiter=limiter or rate_limiter(settings, db),
        request=request,
    )


def create_bot(
    settings: Settings,
    db: Database,
    store: FileStore,
    *,
    polling: bool = True,
    concurrent_updates: int = CONCURRENT_UPDATES,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot. ``polling=False``: no updater, for updates fed by a webhook.
    ``concurrent_updates``: how many updates are handled at once (each chat's in turn)."""
    if not settings.telegram_token:
        raise ValueError("LOKET_TELEGRAM_TOKEN is not set")
    base_url, base_file_url = api_urls(settings)
    builder = (
        Application.builder()
        .token(settings.telegram_token)
        .base_url(base_url)
        .base_file_url(base_file_url)
        .post_init(_started)
        .rate_limiter(rate_limiter(settings, db))
    )
    sqlite = db.engine.dialect.name == "sqlite"
    app_deps = Deps(settings, db, store, writes=asyncio.Lock() if sqlite else None)

    async def record_asked() -> None:
        if app_deps.asked:
            async with app_deps.unit() as s:
                await telegram.record_asked(s, app_deps.asked)
            app_deps.asked.clear()

    builder = builder.concurrent_updates(
        PerChatProcessor(concurrent_updates, on_shutdown=record_asked)
    )
    if not polling:
        builder = builder.updater(None)
    app = builder.build()
    app.bot_data[_DEPS] = app_deps
    handlers.register(app)
    return app


async def _started(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The bot's own name, as Telegram knows it, for the deep links the web view shows; and
    its command menu, in Dutch and English."""
    me = await app.bot.get_me()
    async with deps(app).db.begin() as s:
        await telegram.record_bot(s, me.id, me.username or "")
    await handlers.set_commands(app.bot)
