"""The bot's application factory: pointed at the configured Bot API, it records its own name
at start, which the web view's deep links use."""

from __future__ import annotations

from pathlib import Path

from core.db import Database
from core.services import telegram
from core.storage import LocalFileStore

from .conftest import mail_settings
from .fakebotapi import FakeBotAPI
from .telegram import (
    fake_telegram_fixture,  # noqa: F401 (the fake_telegram fixture)
    run_bot,
)


async def test_the_bot_records_its_name_at_start(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI
) -> None:
    from bot.app import create_bot

    settings = mail_settings(
        tmp_path,
        telegram_token=fake_telegram.token,
        telegram_api_url=fake_telegram.url,
    )
    async with run_bot(create_bot(settings, db, store), fake_telegram):
        pass
    async with db.read() as s:
        assert await telegram.bot_username(s, settings) == fake_telegram.username
