"""What the bot tests share: the real bot from ``create_bot`` against the fake Bot API, chats
linked to accounts of the test firm, and the income-tax checklist given to a client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from core.db import Database
from core.models import Account, Checklist
from core.services import checklists, telegram
from core.settings import Settings
from core.storage import LocalFileStore

from .conftest import SYSTEM, mail_settings
from .fakebotapi import FakeBotAPI, FakeChat
from .telegram import RunningBot, run_bot

TEMPLATES = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"


def bot_settings(tmp_path: Path, fake: FakeBotAPI, **extra: object) -> Settings:
    """Settings for a bot against the fake; unpaced (telegram_per_second=0) unless a test
    asks for the limits, which tests/test_bot_limits.py proves with a clock of its own."""
    extra.setdefault("telegram_per_second", 0)
    return mail_settings(tmp_path, telegram_token=fake.token, telegram_api_url=fake.url, **extra)


@asynccontextmanager
async def running(
    db: Database, store: LocalFileStore, settings: Settings, fake: FakeBotAPI, **kw: object
) -> AsyncIterator[RunningBot]:
    from bot.app import create_bot

    async with run_bot(create_bot(settings, db, store), fake, **kw) as bot:
        yield bot


async def link(db: Database, account: Account, chat: FakeChat) -> None:
    """Link ``chat`` to ``account`` as /start with a code would (tests of other things)."""
    async with db.begin() as s:
        (await s.get(Account, account.id)).telegram_chat_id = chat.id


async def income_tax(db: Database, number: str = "2026-0001", username: str = "alice") -> int:
    """The income-tax checklist (core/data/templates), given to ``username`` on ``number``."""
    async with db.begin() as s:
        text = (TEMPLATES / "inkomstenbelasting.yaml").read_text(encoding="utf-8")
        await checklists.import_template(s, SYSTEM, text)
        given = await checklists.assign(
            s, SYSTEM, number=number, template_name="inkomstenbelasting", usernames=[username]
        )
        return given.id


async def chat_state(db: Database, chat: FakeChat) -> dict | None:
    async with db.read() as s:
        view = await telegram.get_chat(s, chat.id)
        return view.state if view else None


async def checklist_row(db: Database, checklist_id: int) -> Checklist:
    async with db.read() as s:
        found = await s.get(Checklist, checklist_id)
        assert found is not None
        return found


async def post_form(browser, path: str, fields: list[tuple[str, str]]):
    """A checklist section posted as the web page sends it: multipart, even without files."""
    from aiohttp import FormData

    form = FormData(default_to_multipart=True)
    form.add_field("csrf", browser.csrf())
    for name, value in fields:
        form.add_field(name, value)
    return await browser.client.post(
        path, data=form, headers={"Origin": browser.origin}, allow_redirects=False
    )


def forged_press(fake: FakeBotAPI, chat: FakeChat, data: str, message_id: int) -> dict:
    """A callback query with data no button of the bot carried (a modified client): the
    bot must treat it as any other input."""
    query = {
        "id": f"forged-{message_id}-{len(fake.calls)}",
        "from": chat.sender,
        "message": fake.message(chat.id, message_id),
        "chat_instance": "1",
        "data": data,
    }
    return fake.push({"callback_query": query})


def redeliver(fake: FakeBotAPI, *updates: dict) -> None:
    """Queue ``updates`` again with their own update_ids: what Telegram does when the bot
    handled them but died before its next getUpdates confirmed them."""
    fake._pending.extend(updates)
    fake._notify()
