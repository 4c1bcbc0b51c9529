"""The harness of the bot tests: the fake Bot API (tests/fakebotapi.py) as a pytest fixture,
and a real python-telegram-bot Application run against it, long polling, as a server would.

    from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)
    from .telegram import bot_builder, run_bot

    async def test_start(fake_telegram):
        app = bot_builder(fake_telegram).build()      # or the bot's own factory, given
        app.add_handler(CommandHandler("start", start))   # fake_telegram.url as its API URL
        async with run_bot(app, fake_telegram) as bot:
            anna = fake_telegram.private_chat("Anna")
            anna.command("start", "ABC")
            assert (await anna.next_message()).text == "Welcome, ABC"
            await bot.idle()                          # every update handled: nothing more comes

Waiting is event-driven (the fake wakes waiters on each request); nothing here sleeps.
"""

# RunningBot.idle takes `timeout=` like the fake's waiting helpers.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import inspect
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, ExtBot

from .fakebotapi import WAIT, FakeBotAPI

AppSource = Application | Callable[[], Application | Awaitable[Application]]


@pytest.fixture(name="fake_telegram")
async def fake_telegram_fixture() -> AsyncIterator[FakeBotAPI]:
    """A fake Bot API server on a free loopback port, for one test. Import it into the test
    module under this name; tests ask for `fake_telegram`."""
    async with FakeBotAPI() as fake:
        yield fake


def bot_builder(fake: FakeBotAPI) -> ApplicationBuilder:
    """An ApplicationBuilder with the fake's token and URLs; chain more before build()."""
    return (
        Application.builder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
    )


@dataclass
class RunningBot:
    """An Application running against the fake, as run_bot yields it."""

    app: Application
    fake: FakeBotAPI
    # Exceptions that escaped a handler (what PTB passes to the error handlers).
    errors: list[BaseException] = field(default_factory=list)
    # Errors of the polling loop itself (e.g. a 502 on getUpdates); PTB retries them.
    polling_errors: list[TelegramError] = field(default_factory=list)

    @property
    def bot(self) -> ExtBot:
        return self.app.bot

    async def idle(self, timeout: float = WAIT) -> None:
        """Wait until every update queued at the fake has been fetched and handled. Tasks a
        handler starts on its own (application.create_task, block=False) are not waited for."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self.fake.wait_confirmed(timeout)
        try:
            await asyncio.wait_for(self.app.update_queue.join(), deadline - loop.time())
        except TimeoutError:
            raise AssertionError(f"updates still being handled after {timeout}s") from None


@asynccontextmanager
async def run_bot(
    source: AppSource,
    fake: FakeBotAPI,
    *,
    allow_errors: bool = False,
    poll_timeout: int = 1,
) -> AsyncIterator[RunningBot]:
    """Run an Application (or the result of a factory, sync or async) against the fake, with
    the lifecycle run_polling would give it: initialize, post_init, polling, start, and the
    reverse on leaving (post_init and the others run only inside run_polling otherwise).

    An exception that escapes a handler fails the test on leaving, unless `allow_errors`
    (then read them in `errors`): "nothing crashes" is checked in every bot test.
    An Application built without an updater (webhook mode) is started without polling.
    """
    app = source if isinstance(source, Application) else source()
    if inspect.isawaitable(app):
        app = await app
    if not app.bot.base_url.startswith(fake.base_url):
        raise AssertionError(f"the Application talks to {app.bot.base_url}, not the fake")
    running = RunningBot(app, fake)

    async def record(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        running.errors.append(context.error)  # type: ignore[arg-type]

    app.add_error_handler(record)
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        if app.updater is not None:
            await app.updater.start_polling(
                poll_interval=0.0,
                timeout=poll_timeout,
                error_callback=running.polling_errors.append,
            )
        await app.start()
        yield running
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
            if app.post_stop:
                await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)
        app.remove_error_handler(record)
    if running.errors and not allow_errors:
        first = running.errors[0]
        trace = "".join(traceback.format_exception(first))
        raise AssertionError(f"{len(running.errors)} error(s) escaped the handlers:\n{trace}")
