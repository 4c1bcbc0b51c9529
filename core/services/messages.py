"""Messages between the firm and its clients, with attachments and read receipts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .. import access, audit
from ..actor import Actor
from ..db import dialect_insert
from ..errors import NotFound, ValidationError
from ..models import (
    MAX_BODY_LENGTH,
    MAX_SUBJECT_LENGTH,
    Direction,
    DocumentCategory,
    Dossier,
    InboundMail,
    Message,
    MessageRead,
    utcnow,
)
from ..notifications import Kind, notify
from ..storage import FileStore
from ..validation import check_block, required_text
from .documents import Upload, store_document

MAX_ATTACHMENTS = 20

_WITH_DETAILS = (selectinload(Message.author), selectinload(Message.attachments))
# A dossier's messages for list_messages, each with whether the reader read it: built once,
# as every dossier page runs it and building it cost more than running it.
_MESSAGES = (
    select(Message, MessageRead.id, InboundMail.sender)
    .outerjoin(
        MessageRead,
        and_(
            MessageRead.message_id == Message.id,
            MessageRead.account_id == bindparam("reader_id", type_=Integer),
        ),
    )
    .outerjoin(InboundMail, InboundMail.message_id == Message.id)
    .where(Message.dossier_id == bindparam("in_dossier", type_=Integer))
    .order_by(Message.created_at.desc(), Message.id.desc())
    .options(*_WITH_DETAILS)
)


def check_message(subject: str | None, body: str | None) -> tuple[str, str]:
    """The cleaned subject and body, or a ValidationError saying what is wrong."""
    subject = required_text(subject, field="subject", max_length=MAX_SUBJECT_LENGTH)
    body = check_block((body or "").strip("\r\n "), field="body")
    if not body.strip():
        raise ValidationError("The message is required.", field="body")
    if len(body) > MAX_BODY_LENGTH:
        raise ValidationError(
            "The message may be at most %(max)d characters long; this one has %(length)d.",
            field="body",
            max=MAX_BODY_LENGTH,
            length=len(body),
        )
    return subject, body


async def send_message(
    session: AsyncSession,
    store: FileStore,
    actor: Actor,
    *,
    subject: str | None,
    body: str | None,
    number: str | None = None,
    dossier_id: int | None = None,
    parent_id: int | None = None,
    attachments: Sequence[Upload] = (),
    email_message_id: str | None = None,
) -> Message:
    """Write a message in a dossier. Staff write to the client; anyone else to the firm.

    Everything is checked before anything is stored, so a refused message leaves nothing.
    """
    dossier = await access.visible_dossier(session, actor, number=number, dossier_id=dossier_id)
    subject, body = check_message(subject, body)
    if len(attachments) > MAX_ATTACHMENTS:
        raise ValidationError(
            "A message may carry at most %(max)d attachments.",
            field="attachments",
            max=MAX_ATTACHMENTS,
        )
    if parent_id is not None:
        parent = await session.get(Message, parent_id)
        if parent is None or parent.dossier_id != dossier.id:
            raise NotFound("The message you are replying to was not found.")
    direction = Direction.OUTGOING if actor.is_staff else Direction.INCOMING
    message = Message(
        dossier_id=dossier.id,
        author_id=actor.account_id,
        direction=direction,
        subject=subject,
        body=body,
        parent_id=parent_id,
        channel=actor.channel,
        email_message_id=email_message_id,
    )
    session.add(message)
    await session.flush()
    # What the firm attaches is correspondence; what a client attaches is a delivery.
    category = DocumentCategory.CORRESPONDENCE if actor.is_staff else DocumentCategory.DELIVERED
    stored = [
        await store_document(
            session, store, actor, dossier, upload, category, message_id=message.id
        )
        for upload in attachments
    ]
    dossier.updated_at = utcnow()
    audit.record(
        session,
        actor,
        "message.send",
        dossier_id=dossier.id,
        subject=message,
        direction=direction.value,
        attachments=len(attachments),
    )
    await notify(
        session,
        Kind.NEW_MESSAGE if actor.is_staff else Kind.CLIENT_MESSAGE,
        dossier,
        subject_key=f"message:{message.id}",
        data={
            "message_id": message.id,
            "subject": subject,
            # The mail carries the message itself; attachments go as links behind the login.
            "body": body,
            "attachments": [{"id": d.id, "filename": d.filename} for d in stored],
        },
        exclude_account_id=actor.account_id,
    )
    return await _load(session, message.id)


async def add_attachments(
    session: AsyncSession,
    store: FileStore,
    actor: Actor,
    message_id: int,
    attachments: Sequence[Upload],
) -> Message:
    """More files for a message ``actor`` wrote: the other photos of an album sent in a chat,
    which arrive one by one after the message went in with the first. Only the author adds
    to their own message, and at most MAX_ATTACHMENTS in all."""
    message = await session.scalar(
        select(Message)
        .join(Dossier, Dossier.id == Message.dossier_id)
        .where(Message.id == message_id, access.visible_dossiers(actor))
        .options(selectinload(Message.attachments))
    )
    if message is None or actor.account_id is None or message.author_id != actor.account_id:
        raise NotFound("This message was not found.")
    if len(message.attachments) + len(attachments) > MAX_ATTACHMENTS:
        raise ValidationError(
            "A message may carry at most %(max)d attachments.",
            field="attachments",
            max=MAX_ATTACHMENTS,
        )
    dossier = await session.get(Dossier, message.dossier_id)
    assert dossier is not None
    category = DocumentCategory.CORRESPONDENCE if actor.is_staff else DocumentCategory.DELIVERED
    for upload in attachments:
        await store_document(
            session, store, actor, dossier, upload, category, message_id=message.id
        )
    dossier.updated_at = utcnow()
    audit.record(
        session,
        actor,
        "message.attach",
        dossier_id=dossier.id,
        subject=message,
        attachments=len(attachments),
    )
    return await _load(session, message.id)


async def _load(session: AsyncSession, message_id: int) -> Message:
    message = await session.scalar(
        select(Message)
        .where(Message.id == message_id)
        .options(*_WITH_DETAILS)
        .execution_options(populate_existing=True)
    )
    assert message is not None
    return message


@dataclass
class MessageRow:
    message: Message
    read: bool
    # The address a mail came from: for a stranger's mail filed by staff (no author), the
    # only trace of who wrote it.
    sender: str | None = None


async def list_messages(
    session: AsyncSession, actor: Actor, *, dossier_id: int
) -> list[MessageRow]:
    """The dossier's messages, newest first, each marked read or not by this user."""
    dossier = await access.visible_dossier(session, actor, dossier_id=dossier_id)
    me = actor.account_id if actor.account_id is not None else -1
    rows = await session.execute(_MESSAGES, {"reader_id": me, "in_dossier": dossier.id})
    return [
        MessageRow(m, read is not None or (m.author_id is not None and m.author_id == me), sender)
        for m, read, sender in rows
    ]


@dataclass
class MessageThread:
    message: Message
    parent: Message | None
    sender: str | None = None  # as on MessageRow: the address a mail came from
    # Staff may open the mail as it came in (its original is kept): the filed text is the
    # client's words as the bridge cut them, and a cut that went wrong loses nothing.
    original: bool = False


@dataclass
class OriginalMail:
    filename: str
    storage_key: str


async def original_mail(session: AsyncSession, actor: Actor, message_id: int) -> OriginalMail:
    """The raw mail a message was filed from, for staff of its dossier."""
    found = (
        await session.execute(
            select(Dossier, InboundMail.raw_storage_key)
            .join(Message, Message.dossier_id == Dossier.id)
            .join(InboundMail, InboundMail.message_id == Message.id)
            .where(Message.id == message_id, access.visible_dossiers(actor))
        )
    ).first()
    if found is None or not found[1] or not access.can_manage_dossier(actor, found[0]):
        raise NotFound("This message was not found.")
    audit.record(session, actor, "mail.original", dossier_id=found[0].id, message_id=message_id)
    return OriginalMail(f"message-{message_id}.eml", found[1])


async def read_message(session: AsyncSession, actor: Actor, message_id: int) -> MessageThread:
    """Open a message (marking it read for this user), with the message it answers."""
    found = (
        await session.execute(
            select(Message, InboundMail.sender, InboundMail.raw_storage_key, Dossier)
            .join(Dossier, Dossier.id == Message.dossier_id)
            .outerjoin(InboundMail, InboundMail.message_id == Message.id)
            .where(Message.id == message_id, access.visible_dossiers(actor))
            .options(*_WITH_DETAILS)
        )
    ).first()
    if found is None:
        raise NotFound("This message was not found.")
    message, sender, raw_key, dossier = found
    original = bool(raw_key) and access.can_manage_dossier(actor, dossier)
    if actor.account_id is not None:
        first = await session.scalar(
            dialect_insert(session, MessageRead)
            .values(message_id=message.id, account_id=actor.account_id, read_at=utcnow())
            .on_conflict_do_nothing(index_elements=["message_id", "account_id"])
            .returning(MessageRead.id)
        )
        if first is not None:  # the first time this account opens it: who saw what, when
            audit.record(
                session, actor, "message.read", dossier_id=message.dossier_id, subject=message
            )
    parent = await _load(session, message.parent_id) if message.parent_id else None
    return MessageThread(message=message, parent=parent, sender=sender, original=original)
