"""What the Telegram bot keeps lives in core tables, so a restart or a second bot process loses
nothing: each chat's conversation state, the updates handled (once), the per-chat send limit
across processes, and chats that blocked the bot (nothing sent there, and staff see it)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from core.actor import Actor
from core.db import Database
from core.errors import PermissionDenied
from core.models import Account, Language, OutboxItem, OutboxStatus, TelegramUpdate, utcnow
from core.notifications import Kind, link, wants
from core.services import documents, messages, telegram
from core.services.documents import Upload
from core.services.telegram import ChatInfo

from .conftest import SYSTEM, Firm

CHAT = ChatInfo(5_555_000_111, "private", "nl")


async def linked(db: Database, account: Account, chat: ChatInfo = CHAT) -> None:
    async with db.begin() as s:
        (await s.get(Account, account.id)).telegram_chat_id = chat.id
        await telegram.chat_seen(s, chat)


async def outbox(db: Database, channel: str | None = None) -> list[OutboxItem]:
    async with db.read() as s:
        stmt = select(OutboxItem).order_by(OutboxItem.id)
        if channel:
            stmt = stmt.where(OutboxItem.channel == channel)
        return list(await s.scalars(stmt))


async def test_the_conversation_state_is_kept_in_the_database(db: Database, firm: Firm) -> None:
    async with db.read() as s:
        assert await telegram.get_chat(s, CHAT.id) is None
    state = {"waiting": telegram.WAITING_UPLOAD, "checklist_id": 3, "question": "loonstrook"}
    async with db.begin() as s:
        await telegram.set_state(s, CHAT.id, state)
        await telegram.set_question(s, CHAT.id, 812)
    async with db.read() as s:
        view = await telegram.get_chat(s, CHAT.id)
    assert view.state == state and view.waiting == "upload"
    assert view.question_message_id == 812 and view.account_id is None
    async with db.begin() as s:
        await telegram.set_state(s, CHAT.id, None)
    async with db.read() as s:
        view = await telegram.get_chat(s, CHAT.id)
    assert view.state is None and view.waiting is None and view.question_message_id == 812


async def test_a_question_sent_after_a_unit_of_work_is_recorded_unless_changed_meanwhile(
    db: Database,
) -> None:
    """The bot's question message, sent after its unit of work, is recorded by the chat's next
    one (or at the bot's stop), only over what that unit of work left."""

    async def recorded() -> int | None:
        async with db.read() as s:
            return (await telegram.get_chat(s, CHAT.id)).question_message_id

    async with db.begin() as s:
        assert (await telegram.chat_context(s, CHAT)).view.question_message_id is None
    async with db.begin() as s:
        seen = await telegram.chat_context(s, CHAT, asked=telegram.Asked(None, 10))
        assert seen.view.question_message_id == 10  # the next update judges buttons by it
    assert await recorded() == 10
    async with db.begin() as s:  # meanwhile (the chat unlinked, say) it became 11
        await telegram.set_question(s, CHAT.id, 11)
    async with db.begin() as s:
        seen = await telegram.chat_context(s, CHAT, asked=telegram.Asked(10, 12))
        assert seen.view.question_message_id == 11
    async with db.begin() as s:
        await telegram.record_asked(s, {CHAT.id: telegram.Asked(10, 13)})
    assert await recorded() == 11
    async with db.begin() as s:
        await telegram.record_asked(s, {CHAT.id: telegram.Asked(11, 14)})
    assert await recorded() == 14


@pytest.mark.parametrize(
    "state",
    [{}, {"waiting": ""}, {"checklist_id": 3}, {"waiting": "upload", "photo": "x" * 20_000}],
)
async def test_a_state_names_what_it_waits_for_and_holds_ids_only(
    db: Database, state: dict
) -> None:
    with pytest.raises(ValueError):
        async with db.begin() as s:
            await telegram.set_state(s, CHAT.id, state)


async def test_an_update_is_claimed_once(db: Database) -> None:
    async with db.begin() as s:
        assert await telegram.claim_update(s, 900_000_001)
    async with db.begin() as s:
        assert not await telegram.claim_update(s, 900_000_001)
    # A unit of work that failed claimed nothing: the update is handled when it comes again.
    with pytest.raises(RuntimeError):
        async with db.begin() as s:
            assert await telegram.claim_update(s, 900_000_002)
            raise RuntimeError("the bot crashed before committing")
    async with db.begin() as s:
        assert await telegram.claim_update(s, 900_000_002)


async def test_an_update_claimed_by_two_processes_at_once_is_handled_by_one(
    db: Database, second_db: Database
) -> None:
    async def claim(database: Database) -> bool:
        async with database.begin() as s:
            return await telegram.claim_update(s, 900_000_003)

    results = await asyncio.gather(*(claim(d) for d in [db, second_db] * 4))
    assert sorted(results) == [False] * 7 + [True]


async def test_old_update_ids_are_purged(db: Database) -> None:
    async with db.begin() as s:
        await telegram.claim_update(s, 1)
        await telegram.claim_update(s, 2)
        (await s.get(TelegramUpdate, 1)).handled_at = utcnow() - dt.timedelta(days=8)
    async with db.begin() as s:
        assert await telegram.purge_updates(s) == 1
    async with db.read() as s:
        assert list(await s.scalars(select(TelegramUpdate.update_id))) == [2]


async def reserve(database: Database, chat_id: int, now: float) -> float:
    async with database.begin() as s:
        return await telegram.reserve_send(s, chat_id, now)


async def test_one_message_a_second_per_chat_across_processes(
    db: Database, second_db: Database
) -> None:
    now = 1_800_000_000.0
    assert await reserve(db, CHAT.id, now) == 0.0
    assert await reserve(second_db, CHAT.id, now) == 1.0
    assert await reserve(db, CHAT.id, now + 0.5) == 1.5
    assert await reserve(second_db, 42, now) == 0.0  # another chat is not held up
    assert await reserve(db, CHAT.id, now + 60) == 0.0  # a quiet chat starts afresh
    waits = await asyncio.gather(*(reserve(d, 43, now) for d in [db, second_db] * 3))
    assert sorted(waits) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


async def test_a_blocked_chat_is_not_sent_to_and_staff_see_it(
    db: Database, firm: Firm, store
) -> None:
    await linked(db, firm.alice)
    async with db.begin() as s:
        await messages.send_message(
            s, store, SYSTEM, number="2026-0001", subject="Vraag", body="Hoe gaat het?"
        )
    [waiting] = await outbox(db, "telegram")

    async with db.begin() as s:
        assert await telegram.mark_blocked(s, CHAT.id) == 1
    [failed] = await outbox(db, "telegram")
    assert failed.id == waiting.id and failed.status is OutboxStatus.FAILED
    assert "blocked the bot" in failed.last_error

    async with db.begin() as s:
        alice = await s.get(Account, firm.alice.id)
        assert wants(alice, Kind.NEW_MESSAGE, "telegram")  # the choice itself stays
        assert not wants(alice, Kind.NEW_MESSAGE, "telegram", chat_blocked=True)
        await messages.send_message(
            s, store, SYSTEM, number="2026-0001", subject="Nog een", body="Graag antwoord."
        )
    assert len(await outbox(db, "telegram")) == 1  # nothing new queued for the chat
    assert len(await outbox(db, "email")) == 2

    async with db.read() as s:
        [(account, since)] = await telegram.blocked_accounts(s, SYSTEM)
        statuses = await telegram.telegram_status(s, [account, firm.bv_main])
        with pytest.raises(PermissionDenied):
            await telegram.blocked_accounts(s, firm.actor(firm.alice))
    assert account.id == firm.alice.id and since is not None
    assert statuses == {firm.alice.id: telegram.TelegramStatus(linked=True, blocked_at=since)}

    # The client writes to the bot again: it may write back.
    async with db.begin() as s:
        assert (await telegram.chat_seen(s, CHAT)).blocked_at is None
        await messages.send_message(
            s, store, SYSTEM, number="2026-0001", subject="Fijn", body="U bent er weer."
        )
    assert [i.status for i in await outbox(db, "telegram")] == [
        OutboxStatus.FAILED,
        OutboxStatus.PENDING,
    ]


async def test_a_chat_message_carries_what_it_needs_in_the_accounts_language(
    db: Database, firm: Firm, store
) -> None:
    await linked(db, firm.alice)
    async with db.begin() as s:
        (await s.get(Account, firm.alice.id)).language = Language.EN
    async with db.begin() as s:
        await documents.publish_document(
            s,
            store,
            SYSTEM,
            number="2026-0001",
            upload=Upload(filename="aanslag.pdf", chunks=_chunks(b"%PDF-1.4 secret contents")),
        )
    [item] = await outbox(db, "telegram")
    assert (item.kind, item.recipient, item.language) == ("new_document", str(CHAT.id), "en")
    assert item.payload["dossier_number"] == "2026-0001"
    assert item.payload["filename"] == "aanslag.pdf"
    assert "secret contents" not in repr(item.payload)  # never a document's content
    assert link(item, "https://portal.example/") == "https://portal.example/dossiers/2026-0001"


async def _chunks(data: bytes):
    yield data


async def test_an_unlinked_or_inactive_chat_acts_as_nobody(db: Database, firm: Firm) -> None:
    async with db.read() as s:
        assert await telegram.chat_actor(s, CHAT.id) is None
    await linked(db, firm.bv_extra)
    async with db.read() as s:
        actor = await telegram.chat_actor(s, CHAT.id)
    assert actor == Actor.of(firm.bv_extra, actor.channel) and actor.channel.value == "telegram"
    async with db.begin() as s:
        (await s.get(Account, firm.bv_extra.id)).active = False
    async with db.read() as s:
        assert await telegram.chat_actor(s, CHAT.id) is None


async def test_a_chat_that_blocked_the_bot_is_not_told_it_was_unlinked(
    db: Database, firm: Firm
) -> None:
    await linked(db, firm.alice)
    async with db.begin() as s:
        await telegram.mark_blocked(s, CHAT.id)
        assert await telegram.unlink(s, firm.actor(firm.alice))
    assert await outbox(db, "telegram") == []
