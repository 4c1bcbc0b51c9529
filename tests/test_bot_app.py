"""The bot's application factory: pointed at the configured Bot API, it records its own name
at start, which the web view's deep links use; it handles several chats' updates at once,
each chat's one after the other."""

from __future__ import annotations

from pathlib import Path

from core.db import Database
from core.services import telegram
from core.storage import LocalFileStore

from .botkit import bot_settings, income_tax, link, running
from .conftest import Firm, mail_settings
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


async def test_a_chat_waiting_for_telegram_holds_up_its_own_updates_and_no_other_chats(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI
) -> None:
    anna = fake_telegram.private_chat("Anna", language_code="nl")
    bob = fake_telegram.private_chat("Bob", language_code="nl")
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram):
        # Telegram does not answer the bot's reply to Anna (until the bot gives up on it).
        fake_telegram.hang("sendMessage", chat_id=anna.id)
        anna.command("help")
        await fake_telegram.wait_for("sendMessage", chat_id=anna.id, done=None)
        anna.command("help")
        bob.command("help")
        assert "/start" in (await bob.next_message()).text
        # Anna's second update waits for her first to be done with.
        assert fake_telegram.count("sendMessage", chat_id=anna.id, done=None) == 1
        assert "/start" in (await anna.next_message()).text


async def test_the_question_last_asked_is_recorded_when_the_bot_stops(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    """Each question message is recorded by the chat's next update (not in a unit of work of
    its own, after the send); the last one when the bot stops, so that after a restart a
    button on an older message of the same question is still stale."""
    await income_tax(db)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram):
        anna.command("checklist")
        first = await anna.next_message()
        anna.press("Ja")
        second = await anna.next_message()
    assert second.message_id > first.message_id
    async with db.read() as s:
        assert (await telegram.get_chat(s, anna.id)).question_message_id == second.message_id
