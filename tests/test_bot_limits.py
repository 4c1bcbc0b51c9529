"""Notifications in the chat, through the outbox's Telegram sender, against the fake Bot API's
faults: a firm's message arrives in the client's language with a link and can be answered
there; a 429 is waited out and the message sent once (a long one makes the outbox come back
when Telegram says); a 502 is tried again and sent once; a message that may have arrived (no
answer in time) is not sent twice; a 403 blocks the chat, fails what waits for it and shows
to staff; and the bot paces itself: one message a second per chat, about 30 in all."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from telegram.request import HTTPXRequest

from bot.app import rate_limiter, sending_bot
from bot.ratelimit import RateLimiter
from bot.sender import NO_ANSWER, TelegramSender
from core import outbox
from core.actor import Actor
from core.db import Database
from core.models import Account, Channel, Language, OutboxItem, OutboxStatus, utcnow
from core.services import messages, telegram
from core.services.documents import Upload
from core.settings import Settings
from core.storage import LocalFileStore, aiter_bytes

from .botkit import bot_settings, link
from .conftest import SYSTEM, Firm
from .fakebotapi import FakeBotAPI, FakeChat
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)

BODY = "Kunt u de loonstrook van december sturen? <b>Graag</b> vóór vrijdag."


class Waits(list[float]):
    """The pauses the limiter asked for, instead of sleeping them."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def waits() -> Waits:
    return Waits()


def sender(settings: Settings, db: Database, waits: Waits, **request: float) -> TelegramSender:
    limiter = rate_limiter(settings, db, sleep=waits)
    http = HTTPXRequest(**request) if request else None
    return TelegramSender(settings, db, sending_bot(settings, db, limiter=limiter, request=http))


async def firm_writes(db: Database, store: LocalFileStore, subject: str = "Loonstrook") -> None:
    async with db.begin() as s:
        await messages.send_message(
            s, store, SYSTEM, number="2026-0001", subject=subject, body=BODY
        )


async def chat_items(db: Database) -> list[OutboxItem]:
    async with db.read() as s:
        return list(
            await s.scalars(
                select(OutboxItem).where(OutboxItem.channel == "telegram").order_by(OutboxItem.id)
            )
        )


async def send_pass(settings: Settings, db: Database, chat: TelegramSender) -> outbox.PassResult:
    try:
        return await outbox.run_once(db, {"telegram": chat}, settings)
    finally:
        await chat.aclose()


async def linked_alice(db: Database, fake: FakeBotAPI, firm: Firm, language: str) -> FakeChat:
    anna = fake.private_chat("Alice", language_code=language)
    await link(db, firm.alice, anna)
    async with db.begin() as s:
        (await s.get(Account, firm.alice.id)).language = Language(language)
    return anna


@pytest.mark.parametrize("language", ["nl", "en"])
async def test_a_firm_message_arrives_in_the_chat_in_the_clients_language(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
    waits: Waits,
    language: str,
) -> None:
    anna = await linked_alice(db, fake_telegram, firm, language)
    await firm_writes(db, store)
    settings = bot_settings(tmp_path, fake_telegram)
    result = await send_pass(settings, db, sender(settings, db, waits))
    assert (result.sent, result.failed) == (1, 0)
    [notice] = anna.sent
    intro = {
        "nl": "Er is een nieuw bericht voor u in dossier 2026-0001: Loonstrook.",
        "en": "There is a new message for you in dossier 2026-0001: Loonstrook.",
    }[language]
    reply = {
        "nl": "Beantwoord dit bericht om te reageren",
        "en": "Reply to this message to answer",
    }[language]
    assert notice.text.startswith(intro)
    assert BODY in notice.text  # the firm's words as written, not read as markup
    assert "http://portal.test/dossiers/2026-0001" in notice.text and reply in notice.text
    [item] = await chat_items(db)
    assert item.status is OutboxStatus.SENT
    async with db.read() as s:
        delivery = await telegram.delivery_for(s, anna.id, notice.message_id)
    assert delivery is not None and delivery.dossier_id == firm.alice_1.id


async def test_a_429_is_waited_out_and_the_message_sent_once(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
    waits: Waits,
) -> None:
    anna = await linked_alice(db, fake_telegram, firm, "nl")
    await firm_writes(db, store)
    fake_telegram.retry_after("sendMessage", 3, chat_id=anna.id)
    settings = bot_settings(tmp_path, fake_telegram)
    result = await send_pass(settings, db, sender(settings, db, waits))
    assert result.sent == 1
    assert waits == [3.0]
    assert fake_telegram.count("sendMessage", chat_id=anna.id, done=None) == 2
    assert fake_telegram.count("sendMessage", chat_id=anna.id) == 1


async def test_a_long_429_brings_the_item_back_when_telegram_says(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
    waits: Waits,
) -> None:
    anna = await linked_alice(db, fake_telegram, firm, "nl")
    await firm_writes(db, store)
    fake_telegram.retry_after("sendMessage", 3000, chat_id=anna.id)
    settings = bot_settings(tmp_path, fake_telegram)
    before = utcnow()
    result = await send_pass(settings, db, sender(settings, db, waits))
    assert (result.sent, result.retrying) == (0, 1)
    assert waits == []  # not waited here: the worker has other items to send
    [item] = await chat_items(db)
    assert item.status is OutboxStatus.PENDING
    # Not the minute of the back-off: the 50 minutes Telegram asked for.
    assert item.next_try_at >= before + dt.timedelta(seconds=3000)
    assert fake_telegram.count("sendMessage", chat_id=anna.id) == 0


@pytest.mark.parametrize("html", [False, True])
async def test_a_502_is_tried_again_and_sent_once(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
    waits: Waits,
    html: bool,
) -> None:
    anna = await linked_alice(db, fake_telegram, firm, "nl")
    await firm_writes(db, store)
    fake_telegram.bad_gateway("sendMessage", chat_id=anna.id, times=2, html=html)
    settings = bot_settings(tmp_path, fake_telegram)
    result = await send_pass(settings, db, sender(settings, db, waits))
    assert result.sent == 1
    assert waits == [1.0, 2.0]  # a growing pause between tries
    assert fake_telegram.count("sendMessage", chat_id=anna.id, done=None) == 3
    assert fake_telegram.count("sendMessage", chat_id=anna.id) == 1


async def test_a_message_that_may_have_arrived_is_not_sent_twice(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
    waits: Waits,
) -> None:
    anna = await linked_alice(db, fake_telegram, firm, "nl")
    await firm_writes(db, store)
    # Telegram puts it in the chat, but its answer never comes.
    fake_telegram.hang("sendMessage", chat_id=anna.id, deliver=True)
    settings = bot_settings(tmp_path, fake_telegram)
    result = await send_pass(settings, db, sender(settings, db, waits, read_timeout=0.3))
    assert (result.sent, result.failed) == (0, 1)
    result = await send_pass(settings, db, sender(settings, db, waits))
    assert (result.sent, result.failed, result.retrying) == (0, 0, 0)
    assert fake_telegram.count("sendMessage", chat_id=anna.id, done=None) == 1
    [item] = await chat_items(db)
    assert (item.status, item.last_error) == (OutboxStatus.FAILED, f"PermanentFailure: {NO_ANSWER}")


async def test_an_edit_without_an_answer_is_tried_again(
    db: Database, tmp_path: Path, fake_telegram: FakeBotAPI, waits: Waits
) -> None:
    """An edit (unlike a new message) changes nothing when done twice: tried again."""
    anna = fake_telegram.private_chat("Anna")
    settings = bot_settings(tmp_path, fake_telegram)
    bot = sending_bot(
        settings,
        db,
        limiter=rate_limiter(settings, db, sleep=waits),
        request=HTTPXRequest(read_timeout=0.3),
    )
    async with bot:
        sent = await bot.send_message(anna.id, "Vraag 1")
        fake_telegram.hang("editMessageText", chat_id=anna.id)
        await bot.edit_message_text("Vraag 1 (beantwoord)", chat_id=anna.id, message_id=sent.id)
    assert fake_telegram.count("editMessageText", done=None) == 2
    assert fake_telegram.message(anna.id, sent.message_id)["text"] == "Vraag 1 (beantwoord)"


async def test_a_blocked_chat_gets_nothing_more_and_staff_see_it(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
    waits: Waits,
) -> None:
    anna = await linked_alice(db, fake_telegram, firm, "nl")
    await firm_writes(db, store, "Eerste")
    await firm_writes(db, store, "Tweede")
    fake_telegram.block(anna.id)
    settings = bot_settings(tmp_path, fake_telegram)
    result = await send_pass(settings, db, sender(settings, db, waits))
    assert (result.sent, result.failed) == (0, 2)
    first, second = await chat_items(db)
    assert first.last_error == f"PermanentFailure: {telegram.BLOCKED}"
    assert second.status is OutboxStatus.FAILED and telegram.BLOCKED in second.last_error
    # The second was never tried: the chat was blocked after the first 403.
    assert fake_telegram.count("sendMessage", chat_id=anna.id, done=None) == 1

    await firm_writes(db, store, "Derde")  # queued by mail only now
    assert len(await chat_items(db)) == 2
    async with db.read() as s:
        staff = Actor.of(await s.get(Account, firm.staff.id), Channel.WEB)
        [(account, blocked_at)] = await telegram.blocked_accounts(s, staff)
    assert account.username == "alice" and blocked_at is not None


async def test_news_for_an_account_no_longer_in_the_chat_is_not_sent(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
    waits: Waits,
) -> None:
    """Queued while linked, unlinked (here: behind the services' back) before it was sent."""
    anna = await linked_alice(db, fake_telegram, firm, "nl")
    await firm_writes(db, store)
    async with db.begin() as s:
        (await s.get(Account, firm.alice.id)).telegram_chat_id = None
    settings = bot_settings(tmp_path, fake_telegram)
    result = await send_pass(settings, db, sender(settings, db, waits))
    assert result.failed == 1
    [item] = await chat_items(db)
    assert item.last_error == f"PermanentFailure: {telegram.UNLINKED}"
    assert fake_telegram.count("sendMessage", chat_id=anna.id, done=None) == 0


async def test_the_bot_sends_one_message_a_second_per_chat_and_30_in_all(
    fake_telegram: FakeBotAPI, waits: Waits
) -> None:
    """With a clock that stands still, the pauses are exactly the limits."""
    anna, bert = fake_telegram.private_chat("Anna"), fake_telegram.private_chat("Bert")
    limiter = RateLimiter(per_second=30, sleep=waits, clock=lambda: 100.0)
    from telegram.ext import ExtBot

    bot = ExtBot(
        fake_telegram.token,
        base_url=fake_telegram.base_url,
        base_file_url=fake_telegram.base_file_url,
        rate_limiter=limiter,
    )
    async with bot:
        for text in ("een", "twee", "drie"):
            await bot.send_message(anna.id, text)
        await bot.send_message(bert.id, "een")
    assert waits == pytest.approx([1.0, 2.0, 3 / 30])
    assert anna.texts == ["een", "twee", "drie"]


async def test_a_pace_of_0_does_not_wait(fake_telegram: FakeBotAPI, waits: Waits) -> None:
    anna = fake_telegram.private_chat("Anna")
    limiter = RateLimiter(per_second=None, sleep=waits, clock=lambda: 100.0)
    from telegram.ext import ExtBot

    async with ExtBot(
        fake_telegram.token, base_url=fake_telegram.base_url, rate_limiter=limiter
    ) as bot:
        for text in ("een", "twee"):
            await bot.send_message(anna.id, text)
    assert waits == []


async def test_a_long_message_is_cut_to_fit_and_its_attachments_are_links(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    anna = await linked_alice(db, fake_telegram, firm, "en")
    async with db.begin() as s:
        await messages.send_message(
            s,
            store,
            SYSTEM,
            number="2026-0001",
            subject="Lang",
            body="& " * 1999,  # every character escaped: longer than a chat message may be
            attachments=[Upload("brief.pdf", aiter_bytes(b"%PDF-1.4 inhoud"), "application/pdf")],
        )
    settings = bot_settings(tmp_path, fake_telegram)
    assert (await send_pass(settings, db, sender(settings, db, Waits()))).sent == 1
    [notice] = anna.sent
    assert len(notice.params["text"]) <= 4096
    assert "(The message goes on in the client portal.)" in notice.text
    assert "inhoud" not in notice.text  # a document is a link, never its content
    assert "Attachments (log in to download):\n• brief.pdf: http://portal.test/documents/" in (
        notice.text
    )
