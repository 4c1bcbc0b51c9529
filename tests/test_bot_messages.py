"""Talking to the firm in the chat: a reply to a bot message that carried the firm's message
becomes a portal message in that dossier, answering it, with a photo as its attachment;
/message picks the dossier, asks a subject and the text; an album sent with a message is one
message with all its photos."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.db import Database
from core.models import Channel, Direction, DocumentCategory, Message, OutboxItem
from core.services import messages, telegram
from core.storage import LocalFileStore

from .botkit import bot_settings, chat_state, link, running
from .conftest import SYSTEM, Firm
from .fakebotapi import FakeBotAPI
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)

PHOTO = b"\xff\xd8\xff\xe0 loonstrook december " + bytes(range(256)) * 6


async def client_messages(db: Database) -> list[Message]:
    async with db.read() as s:
        return list(
            await s.scalars(
                select(Message)
                .where(Message.direction == Direction.INCOMING)
                .order_by(Message.id)
                .options(selectinload(Message.attachments))
            )
        )


async def test_a_firm_message_answered_in_the_chat_with_a_photo(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with db.begin() as s:
        asked = await messages.send_message(
            s,
            store,
            SYSTEM,
            number="2026-0001",
            subject="Loonstrook",
            body="Kunt u de loonstrook van december sturen?",
        )
    async with db.read() as s:
        item = await s.scalar(
            select(OutboxItem).where(
                OutboxItem.channel == "telegram", OutboxItem.kind == "new_message"
            )
        )
    assert item is not None and item.recipient == str(anna.id)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        # The outbox's Telegram sender puts it in the chat and remembers what it carried.
        notice = await bot.bot.send_message(
            anna.id, "Nieuw bericht in dossier 2026-0001: Loonstrook"
        )
        async with db.begin() as s:
            await telegram.record_delivery(s, anna.id, notice.message_id, item)
        await anna.next_message()

        anna.photo(PHOTO, caption="Hierbij de loonstrook", reply_to=notice.message_id)
        assert (await anna.next_message()).text == (
            "Uw bericht is naar ons verstuurd (dossier 2026-0001). Met 1 bijlage."
        )
        anna.send("De rest volgt volgende week.", reply_to=notice.message_id)
        assert "dossier 2026-0001" in (await anna.next_message()).text
        await bot.idle()
    first, second = await client_messages(db)
    assert (first.dossier_id, first.parent_id, first.channel) == (
        firm.alice_1.id,
        asked.id,
        Channel.TELEGRAM,
    )
    assert (first.subject, first.body, first.author_id) == (
        "Re: Loonstrook",
        "Hierbij de loonstrook",
        firm.alice.id,
    )
    [photo] = first.attachments
    assert photo.category is DocumentCategory.DELIVERED and photo.content_type == "image/jpeg"
    assert photo.filename.startswith("foto-") and photo.filename.endswith(".jpg")
    assert (second.parent_id, second.body, second.attachments) == (
        asked.id,
        "De rest volgt volgende week.",
        [],
    )


async def test_message_picks_the_dossier_and_asks_subject_and_text(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        anna.command("message")
        assert (await anna.next_message()).text == "Over welk dossier gaat uw bericht?"
        anna.press("2026-0002 · Testament")
        assert "Waar gaat het over?" in (await anna.next_message()).text
        anna.send("x" * 201)  # a subject too long: core's words, asked again
        assert "200" in (await anna.next_message()).text
        anna.send("Vraag over het testament")
        assert "Typ nu uw bericht." in (await anna.next_message()).text
        anna.send("Mag mijn zus ook bij de afspraak zijn?")
        assert (await anna.next_message()).text == (
            "Uw bericht is naar ons verstuurd (dossier 2026-0002)."
        )

        # An album with the text as its caption: one message with all its photos.
        anna.command("message")
        await anna.next_message()
        anna.press("2026-0001 · Aangifte inkomstenbelasting 2025")
        await anna.next_message()
        anna.send("Brief van de Belastingdienst")
        await anna.next_message()
        anna.album([PHOTO, PHOTO + b"2", PHOTO + b"3"], caption="Zie de foto's van de brief")
        sent = await anna.next_message()
        await bot.idle()
        assert fake_telegram.message(anna.id, sent.message_id)["text"] == (
            "Uw bericht is naar ons verstuurd (dossier 2026-0001). Met 3 bijlagen."
        )
        anna.send("Bedankt!")  # after the album: not part of it
        assert "Ik weet niet goed waar dit bij hoort" in (await anna.next_message()).text

        # Stopped halfway: nothing is sent.
        anna.command("message")
        await anna.next_message()
        anna.press("2026-0002 · Testament")
        await anna.next_message()
        anna.press("Annuleren")
        assert (await anna.next_message()).text == "Gestopt; er is niets verstuurd."
        await bot.idle()
    testament, letter = await client_messages(db)
    assert (testament.dossier_id, testament.subject, testament.body) == (
        firm.alice_2.id,
        "Vraag over het testament",
        "Mag mijn zus ook bij de afspraak zijn?",
    )
    assert (letter.dossier_id, letter.body, len(letter.attachments)) == (
        firm.alice_1.id,
        "Zie de foto's van de brief",
        3,
    )
    assert await chat_state(db, anna) is None
