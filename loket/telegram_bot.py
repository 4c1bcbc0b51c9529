"""The bot in a Loket process (``loket serve``, ``loket demo``): long polling, or, with
LOKET_TELEGRAM_WEBHOOK_URL, fed by a route on the web view (bot.webhook), registered with
setWebhook and a secret at the start. LOKET_TELEGRAM_API_URL points both at another Bot API
server (bot.app.api_urls).

Telegram out of reach at the start does not stop the other components: the bot tries again
after a growing pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application

from core import heartbeats, locks

from .config import ConfigError
from .heartbeat import EVERY_SECONDS, Pulse
from .runtime import Runtime

log = logging.getLogger("loket.bot")
FIRST_PAUSE = 5.0
LONGEST_PAUSE = 300.0

App = Application[Any, Any, Any, Any, Any, Any]


def webhook_secret(secret_key: str) -> str:
    """The secret Telegram sends with each update (1-256 of A-Z a-z 0-9 _ -): derived from
    the secret key, so that every web process behind a proxy knows it without storing it."""
    return hmac.new(secret_key.encode(), b"loket telegram webhook", hashlib.sha256).hexdigest()


def webhook_path(url: str) -> str:
    return urlsplit(url).path or "/"


@dataclass
class BotPlan:
    """The bot this process runs: the Application, and whether by webhook."""

    app: App
    webhook_url: str | None

    @property
    def secret(self) -> str:
        return webhook_secret(self.app.bot_data["loket"].settings.secret_key)

    def machine_posts(self) -> dict[str, Any]:
        """The route for the web view: the webhook's path, when by webhook."""
        if self.webhook_url is None:
            return {}
        from bot.webhook import webhook_handler

        return {webhook_path(self.webhook_url): webhook_handler(self.app, self.secret)}


def plan(rt: Runtime, components: set[str]) -> BotPlan | None:
    """The bot for these components, or None: no token, or "bot" not among them."""
    s = rt.settings
    if "bot" not in components:
        return None
    if not s.telegram_token:
        if components == {"bot"}:
            raise ConfigError("The bot needs a token: set LOKET_TELEGRAM_TOKEN (see the README).")
        log.info("no LOKET_TELEGRAM_TOKEN: the Telegram bot does not run")
        return None
    if s.telegram_webhook_url:
        if not s.telegram_webhook_url.lower().startswith("https://") and not s.telegram_api_url:
            raise ConfigError("LOKET_TELEGRAM_WEBHOOK_URL must be an https:// address.")
        if "web" not in components:
            raise ConfigError(
                "LOKET_TELEGRAM_WEBHOOK_URL is set: Telegram posts updates to the web view, so "
                "run the bot with it (--only web,bot), or unset it to poll."
            )
    from bot.app import create_bot

    app = create_bot(s, rt.db, rt.store, polling=not s.telegram_webhook_url)
    return BotPlan(app, s.telegram_webhook_url)


async def _start(bot: BotPlan) -> None:
    app = bot.app
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    if bot.webhook_url is not None:
        # Running first: the route answers 503 (try again) until then.
        await app.start()
        await app.bot.set_webhook(
            bot.webhook_url, secret_token=bot.secret, allowed_updates=Update.ALL_TYPES
        )
        log.info("Telegram bot @%s: updates by webhook at %s", app.bot.username, bot.webhook_url)
        return
    # Telegram refuses getUpdates while a webhook is set (from an earlier configuration).
    await app.bot.delete_webhook()
    assert app.updater is not None
    await app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
    await app.start()
    log.info("Telegram bot @%s: long polling", app.bot.username)


async def _stop(app: App) -> None:
    with contextlib.suppress(Exception):
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


async def run(bot: BotPlan, stop: asyncio.Event) -> None:
    """Run the bot until ``stop``. Polling, one process at a time: Telegram answers a second
    poller with errors, so a second bot process on the same database waits for the first's
    lock (core.locks) and takes over when it stops. By webhook, every web process runs it."""
    if bot.webhook_url is not None:
        await _run(bot, stop)
        return
    loket = bot.app.bot_data["loket"]
    bot_id = (loket.settings.telegram_token or "").partition(":")[0]
    async with locks.held(
        loket.db,
        f"telegram-polling:{bot_id}",
        stop=stop,
        waiting=lambda: log.info("another Loket process polls Telegram for this bot; waiting"),
    ) as lock:
        if lock is not None:
            await _run(bot, stop)


async def _run(bot: BotPlan, stop: asyncio.Event) -> None:
    """Start the bot (again after a pause while Telegram cannot be reached) and keep it
    running until ``stop``."""
    pause = FIRST_PAUSE
    while not stop.is_set():
        try:
            await _start(bot)
            break
        except InvalidToken:
            log.error("Telegram does not know LOKET_TELEGRAM_TOKEN: the bot does not run")
            await _stop(bot.app)
            return
        except TelegramError as exc:
            log.warning("Telegram bot: cannot start (%s); trying again in %.0f s", exc, pause)
            await _stop(bot.app)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=pause)
        pause = min(pause * 2, LONGEST_PAUSE)
    try:
        await _beat_while_running(bot, stop)
    finally:
        await _stop(bot.app)


async def _beat_while_running(bot: BotPlan, stop: asyncio.Event) -> None:
    """The bot's heartbeat, while it runs and (polling) its updater asks Telegram."""
    pulse = Pulse(bot.app.bot_data["loket"].db, heartbeats.BOT, every=0)
    while not stop.is_set():
        updater = bot.app.updater
        if bot.app.running and (bot.webhook_url is not None or (updater and updater.running)):
            await pulse()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=EVERY_SECONDS)
