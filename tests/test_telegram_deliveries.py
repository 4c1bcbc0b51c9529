"""A bot message that carried a notification is remembered, so that a client's reply to it in
the chat finds the dossier (and the firm's message) it answers."""

from __future__ import annotations

from sqlalchemy import select

from core.db import Database
from core.models import OutboxItem
from core.services import messages, telegram
from core.storage import LocalFileStore

from .conftest import SYSTEM, Firm


async def test_a_reply_to_a_delivered_message_finds_its_dossier_and_message(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        alice = await s.get(type(firm.alice), firm.alice.id)
        alice.telegram_chat_id = 4242
        sent = await messages.send_message(
            s,
            store,
            SYSTEM,
            number="2026-0001",
            subject="Vraag",
            body="Kunt u de loonstrook sturen?",
        )
    async with db.begin() as s:
        item = await s.scalar(
            select(OutboxItem).where(
                OutboxItem.channel == "telegram", OutboxItem.kind == "new_message"
            )
        )
        assert item is not None and item.recipient == "4242"
        await telegram.record_delivery(s, 4242, 77, item)
        await telegram.record_delivery(s, 4242, 77, item)  # a second try of the same send
    async with db.read() as s:
        found = await telegram.delivery_for(s, 4242, 77)
        assert found == telegram.Delivery(firm.alice_1.id, sent.id, item.id)
        assert await telegram.delivery_for(s, 4242, 78) is None
        assert await telegram.delivery_for(s, 999, 77) is None
