"""The bot as `loket serve` runs it, against the fake Bot API (LOKET_TELEGRAM_API_URL): by
long polling, alone (--only bot); or, with LOKET_TELEGRAM_WEBHOOK_URL, by a webhook on the
web view that takes only requests carrying the secret it gave setWebhook, and handles an
update Telegram delivers again only once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.models import TelegramUpdate
from core.services import messages
from core.storage import LocalFileStore
from loket.config import ConfigError, load_settings
from loket.runtime import Runtime
from loket.serve import serve
from loket.telegram_bot import plan

from .botkit import bot_settings, link
from .conftest import SYSTEM, Firm, mail_settings
from .fakebotapi import FakeBotAPI
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)

WELCOME = "Welkom! Om deze chat aan uw account te koppelen"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serving(rt: Runtime, components: set[str]) -> AsyncIterator[None]:
    task = asyncio.create_task(serve(rt, components))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def hooked(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI
) -> AsyncIterator[tuple[str, str]]:
    """The web view and the bot by webhook, served: the webhook's URL and the secret the bot
    gave Telegram with it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/update"
    settings = bot_settings(tmp_path, fake_telegram, http_port=port, telegram_webhook_url=url)
    async with serving(Runtime(settings=settings, db=db, store=store), {"web", "bot"}):
        await fake_telegram.wait_for("setWebhook")
        assert fake_telegram.webhook is not None and fake_telegram.webhook["url"] == url
        yield url, fake_telegram.webhook["secret_token"]


async def handled(db: Database) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(TelegramUpdate)))


async def test_serve_runs_the_bot_alone_by_long_polling(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI
) -> None:
    rt = Runtime(settings=bot_settings(tmp_path, fake_telegram), db=db, store=store)
    async with serving(rt, {"bot"}):
        anna = fake_telegram.private_chat("Anna")
        anna.command("start")
        assert (await anna.next_message()).text.startswith(WELCOME)
    assert fake_telegram.webhook is None and fake_telegram.count("getUpdates", done=None) >= 1


async def test_a_webhook_takes_only_telegrams_requests_and_each_update_once(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI
) -> None:
    async with hooked(db, store, tmp_path, fake_telegram) as (url, secret):
        anna = fake_telegram.private_chat("Anna")
        update = anna.command("start")

        assert await fake_telegram.post_update(url, update) == 403
        assert await fake_telegram.post_update(url, update, secret_token="raden") == 403
        assert await fake_telegram.post_update(url, update, secret_token=secret + "x") == 403
        assert await handled(db) == 0 and anna.sent == []

        assert await fake_telegram.deliver_webhook() == [200]
        assert (await anna.next_message()).text.startswith(WELCOME)
        # Telegram did not hear our 200 and delivers it again: handled once.
        assert await fake_telegram.post_update(url, update, secret_token=secret) == 200
        assert await handled(db) == 1
        assert len(anna.sent) == 1
    assert fake_telegram.count("getUpdates", done=None) == 0


async def test_a_webhook_handles_a_chats_updates_in_turn_as_telegram_posts_them_at_once(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI
) -> None:
    # Telegram posts a chat's next update before the last one's answer came: the second is
    # handled only after the first, its reply sent, is done with (as by long polling).
    async with hooked(db, store, tmp_path, fake_telegram) as (url, secret):
        anna = fake_telegram.private_chat("Anna")
        first, second = anna.command("start"), anna.command("help")
        held = 2.0
        fake_telegram.hang("sendMessage", chat_id=anna.id, delay=held)
        posted = [asyncio.create_task(fake_telegram.post_update(url, first, secret_token=secret))]
        await fake_telegram.wait_for("sendMessage", done=None, chat_id=anna.id)
        posted.append(
            asyncio.create_task(fake_telegram.post_update(url, second, secret_token=secret))
        )
        assert await asyncio.gather(*posted) == [200, 200]
        welcome, help_ = fake_telegram.calls_of("sendMessage", done=None, chat_id=anna.id)
    assert welcome.text.startswith(WELCOME) and "/start" in help_.text
    assert help_.time - welcome.time >= held


def test_a_webhook_needs_the_web_view_and_the_bot_a_token(
    db: Database, store: LocalFileStore, tmp_path: Path
) -> None:
    hooked = bot_settings(
        tmp_path, FakeBotAPI(), telegram_webhook_url="https://loket.example/telegram/update"
    )
    with pytest.raises(ConfigError, match="--only web,bot"):
        plan(Runtime(settings=hooked, db=db, store=store), {"bot"})
    tokenless = mail_settings(tmp_path)
    with pytest.raises(ConfigError, match="LOKET_TELEGRAM_TOKEN"):
        plan(Runtime(settings=tokenless, db=db, store=store), {"bot"})
    assert plan(Runtime(settings=tokenless, db=db, store=store), {"web", "bot"}) is None


async def test_the_outbox_worker_sends_to_the_chat_when_a_token_is_set(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    anna = fake_telegram.private_chat("Alice")
    await link(db, firm.alice, anna)
    async with db.begin() as s:
        await messages.send_message(
            s, store, SYSTEM, number="2026-0001", subject="Loonstrook", body="Graag voor vrijdag."
        )
    rt = Runtime(settings=bot_settings(tmp_path, fake_telegram), db=db, store=store)
    async with serving(rt, {"worker"}):
        notice = await anna.next_message()
    assert "Loonstrook" in notice.text and "Graag voor vrijdag." in notice.text


def test_the_pace_is_a_number_of_messages_a_second(tmp_path: Path) -> None:
    env = {"LOKET_DATA_DIR": str(tmp_path)}
    assert load_settings(env).telegram_per_second == 30
    assert load_settings({**env, "LOKET_TELEGRAM_PER_SECOND": "0"}).telegram_per_second == 0
    with pytest.raises(ConfigError, match="TELEGRAM_PER_SECOND"):
        load_settings({**env, "LOKET_TELEGRAM_PER_SECOND": "-1"})
