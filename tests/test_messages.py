"""Messages: the rules on subject and body, attachments, replies and read receipts; and the bad
input a person or a script can send, each refused clearly with nothing left behind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.errors import NotFound, TooLarge, ValidationError
from core.models import (
    AuditEvent,
    Channel,
    Direction,
    Document,
    DocumentCategory,
    Message,
    OutboxItem,
)
from core.services import messages
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes

from .conftest import SYSTEM, Firm


async def rows(db: Database, model: type) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(model))


def files_in(store: LocalFileStore) -> list:
    return [p for p in store.root.rglob("*") if p.is_file()]


async def test_client_message_with_attachments_lands_as_delivered(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    alice = firm.actor(firm.alice)
    async with db.begin() as s:
        msg = await messages.send_message(
            s,
            store,
            alice,
            number="2026-0001",
            subject="Loonstroken",
            body="Hierbij de loonstroken.",
            attachments=[
                Upload("jan.pdf", aiter_bytes(b"januari")),
                Upload("feb.pdf", aiter_bytes(b"februari")),
            ],
        )
    assert msg.direction is Direction.INCOMING and msg.channel is Channel.WEB
    assert msg.author.username == "alice"
    assert [(d.filename, d.category, d.size) for d in msg.attachments] == [
        ("jan.pdf", DocumentCategory.DELIVERED, 7),
        ("feb.pdf", DocumentCategory.DELIVERED, 8),
    ]
    async with db.read() as s:
        items = list(await s.scalars(select(OutboxItem)))
    # The handler hears of it; Alice is not told about her own message.
    assert [(i.kind, i.recipient) for i in items] == [("client_message", "sanne@firm.example")]


async def test_firm_message_goes_out_to_every_company_account(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        msg = await messages.send_message(
            s, store, SYSTEM, number="2026-0100", subject="Jaarrekening", body="Gereed."
        )
    assert msg.direction is Direction.OUTGOING and msg.author is None
    async with db.read() as s:
        recipients = sorted(i.recipient for i in await s.scalars(select(OutboxItem)))
    assert recipients == ["boekhouding@bakkerij.example", "info@bakkerij.example"]


async def test_notification_settings_are_respected(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        extra = await s.get(type(firm.bv_extra), firm.bv_extra.id)
        extra.notifications = {"new_message": {"email": False}}
    async with db.begin() as s:
        await messages.send_message(s, store, SYSTEM, number="2026-0100", subject="S", body="B")
    async with db.read() as s:
        recipients = [i.recipient for i in await s.scalars(select(OutboxItem))]
    assert recipients == ["info@bakkerij.example"]


async def test_reply_shows_the_original(db: Database, firm: Firm, store: LocalFileStore) -> None:
    alice = firm.actor(firm.alice)
    async with db.begin() as s:
        question = await messages.send_message(
            s, store, SYSTEM, number="2026-0001", subject="Vraag", body="Heeft u een auto?"
        )
        answer = await messages.send_message(
            s,
            store,
            alice,
            number="2026-0001",
            subject="Re: Vraag",
            body="Nee.",
            parent_id=question.id,
        )
    async with db.begin() as s:
        thread = await messages.read_message(s, firm.actor(firm.staff), answer.id)
    assert thread.message.body == "Nee."
    assert thread.parent is not None and thread.parent.body == "Heeft u een auto?"


async def test_reply_to_a_message_of_another_dossier_is_refused(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        other = await messages.send_message(
            s, store, SYSTEM, number="2026-0100", subject="Vraag", body="?"
        )
    with pytest.raises(NotFound):
        async with db.begin() as s:
            await messages.send_message(
                s,
                store,
                firm.actor(firm.alice),
                number="2026-0001",
                subject="Re",
                body="x",
                parent_id=other.id,
            )


async def test_4000_characters_is_fine(db: Database, firm: Firm, store: LocalFileStore) -> None:
    async with db.begin() as s:
        msg = await messages.send_message(
            s, store, SYSTEM, number="2026-0001", subject="Lang", body="x" * 4000
        )
    assert len(msg.body) == 4000


@pytest.mark.parametrize(
    "subject,body,field,words",
    [
        ("Lang", "x" * 4001, "body", "at most 4000 characters"),
        ("", "Tekst", "subject", "The subject is required"),
        ("   ", "Tekst", "subject", "The subject is required"),
        ("Leeg", "", "body", "The message is required"),
        ("Leeg", " \n ", "body", "The message is required"),
        ("s" * 201, "Tekst", "subject", "at most 200 characters"),
    ],
)
async def test_bad_messages_are_refused_and_leave_nothing(
    db: Database, firm: Firm, store: LocalFileStore, subject, body, field, words
) -> None:
    with pytest.raises(ValidationError) as info:
        async with db.begin() as s:
            await messages.send_message(
                s,
                store,
                firm.actor(firm.alice),
                number="2026-0001",
                subject=subject,
                body=body,
                attachments=[Upload("a.pdf", aiter_bytes(b"data"))],
            )
    assert info.value.field == field
    assert words in info.value.message
    assert await rows(db, Message) == 0
    assert await rows(db, Document) == 0
    assert await rows(db, OutboxItem) == 0
    assert files_in(store) == []


async def test_attachment_over_the_limit_leaves_nothing(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    too_big = b"x" * (store.limit + 1)
    with pytest.raises(TooLarge):
        async with db.begin() as s:
            await messages.send_message(
                s,
                store,
                firm.actor(firm.alice),
                number="2026-0001",
                subject="Scan",
                body="Zie bijlage",
                attachments=[Upload("big.pdf", aiter_bytes(too_big, chunk_size=64 * 1024))],
            )
    assert await rows(db, Message) == 0
    assert await rows(db, Document) == 0
    async with db.read() as s:
        assert (
            await s.scalar(
                select(func.count(AuditEvent.id)).where(AuditEvent.action == "message.send")
            )
            == 0
        )
    assert not any(p for p in files_in(store) if "objects" in p.parts)
    assert not any(p for p in files_in(store) if "tmp" in p.parts)


@pytest.mark.parametrize(
    "name,shown",
    [
        ("../../etc/passwd", "passwd"),
        ("scan\x00.pdf.exe", "scan.pdf.exe"),
        ("factuur\u202efdp.exe", "factuurfdp.exe"),
        ("C:\\Users\\jan\\aangifte.pdf", "aangifte.pdf"),
    ],
)
async def test_hostile_filenames_are_stored_safely(
    db: Database, firm: Firm, store: LocalFileStore, name: str, shown: str
) -> None:
    async with db.begin() as s:
        msg = await messages.send_message(
            s,
            store,
            firm.actor(firm.alice),
            number="2026-0001",
            subject="Bijlage",
            body="Zie",
            attachments=[Upload(name, aiter_bytes(b"inhoud"))],
        )
    doc = msg.attachments[0]
    assert doc.filename == shown
    # The bytes live under the content hash, never under anything built from the name.
    stored = files_in(store)
    assert [p.name for p in stored] == [doc.sha256]
    assert all(store.root in p.parents for p in stored)
