"""Documents: the firm publishes them, clients deliver them, anyone who may see the dossier
downloads them, and every download leaves a receipt."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access, audit
from ..actor import Actor
from ..db import dialect_insert
from ..errors import NotFound, ValidationError
from ..filenames import display_filename, guess_content_type
from ..models import (
    Account,
    Channel,
    Document,
    DocumentCategory,
    Dossier,
    DownloadReceipt,
    ReviewState,
    Role,
    utcnow,
)
from ..notifications import Kind, notify, notify_accounts
from ..storage import TRANSFER_CHUNK, FileStore, StoredFile
from ..validation import check_block

_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*")
PUBLISHABLE = (DocumentCategory.CORRESPONDENCE, DocumentCategory.DOCUMENT)


@dataclass
class Upload:
    """A file on its way in: a name for display, and its bytes as a stream, or already
    streamed into the store (an adapter reading a multipart body part by part)."""

    filename: str | None
    chunks: AsyncIterable[bytes] | None
    content_type: str | None = None
    stored: StoredFile | None = None


def _content_type(upload: Upload, filename: str) -> str:
    given = (upload.content_type or "").split(";")[0].strip().lower()
    if _CONTENT_TYPE.fullmatch(given) and given != "application/octet-stream":
        return given
    return guess_content_type(filename)


async def store_document(
    session: AsyncSession,
    store: FileStore,
    actor: Actor,
    dossier: Dossier,
    upload: Upload,
    category: DocumentCategory,
    *,
    message_id: int | None = None,
    answer_id: int | None = None,
    checklist_id: int | None = None,
) -> Document:
    """Stream ``upload`` into the store and add its Document row. No access check: callers
    have done theirs."""
    filename = display_filename(upload.filename)
    if upload.stored is not None:
        stored = upload.stored
    elif upload.chunks is not None:
        stored = await store.put(upload.chunks)
    else:
        raise ValueError("an upload needs its bytes")
    if stored.size == 0:
        # A file of nothing (a cloud placeholder, a failed scan) is never what was meant.
        raise ValidationError(
            "The file %(name)s is empty. Choose it again, or send another one.",
            field="files",
            name=filename,
        )
    document = Document(
        dossier_id=dossier.id,
        category=category,
        filename=filename,
        content_type=_content_type(upload, filename),
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        source_channel=actor.channel,
        uploaded_by_id=actor.account_id,
        message_id=message_id,
        answer_id=answer_id,
        checklist_id=checklist_id,
        review_state=(
            ReviewState.PENDING if category is DocumentCategory.DELIVERED else ReviewState.NONE
        ),
    )
    session.add(document)
    await session.flush()
    return document


def publishable(category: DocumentCategory | str) -> DocumentCategory:
    """The category a publication goes under: correspondence (letters) or documents."""
    try:
        category = DocumentCategory(category)
    except ValueError:
        category = DocumentCategory.DELIVERED  # refused below, with the same words
    if category not in PUBLISHABLE:
        raise ValidationError(
            "The firm publishes correspondence or documents; deliveries come from the client.",
            field="category",
        )
    return category


async def may_publish(session: AsyncSession, actor: Actor, number: str) -> Dossier:
    """The dossier, when ``actor`` may publish in it: asked before an upload is taken in."""
    dossier = await access.visible_dossier(session, actor, number=number)
    access.require(access.can_manage_dossier(actor, dossier), "Only staff may publish documents.")
    return dossier


async def publish_document(
    session: AsyncSession,
    store: FileStore,
    actor: Actor,
    *,
    number: str,
    upload: Upload,
    category: DocumentCategory = DocumentCategory.DOCUMENT,
) -> Document:
    """The firm publishes a letter or document to the client, who is told of it."""
    category = publishable(category)
    dossier = await may_publish(session, actor, number)
    document = await store_document(session, store, actor, dossier, upload, category)
    dossier.updated_at = utcnow()
    audit.record(
        session,
        actor,
        "document.publish",
        dossier_id=dossier.id,
        subject=document,
        category=category.value,
        filename=document.filename,
    )
    await notify(
        session,
        Kind.NEW_DOCUMENT,
        dossier,
        subject_key=f"document:{document.id}",
        data={"document_id": document.id, "filename": document.filename},
        exclude_account_id=actor.account_id,
    )
    return document


async def deliver_document(
    session: AsyncSession,
    store: FileStore,
    actor: Actor,
    *,
    upload: Upload,
    number: str | None = None,
    dossier_id: int | None = None,
    answer_id: int | None = None,
) -> Document:
    """A client (or their intermediary) delivers a document: it lands under Delivered by me."""
    dossier = await access.visible_dossier(session, actor, number=number, dossier_id=dossier_id)
    document = await store_document(
        session, store, actor, dossier, upload, DocumentCategory.DELIVERED, answer_id=answer_id
    )
    dossier.updated_at = utcnow()
    audit.record(
        session,
        actor,
        "document.deliver",
        dossier_id=dossier.id,
        subject=document,
        filename=document.filename,
    )
    await notify(
        session,
        Kind.CLIENT_DOCUMENT,
        dossier,
        subject_key=f"document:{document.id}",
        data={"document_id": document.id, "filename": document.filename},
        exclude_account_id=actor.account_id,
    )
    return document


@dataclass
class DocumentRow:
    document: Document
    downloaded: bool


async def list_documents(
    session: AsyncSession,
    actor: Actor,
    *,
    dossier_id: int,
    category: DocumentCategory | None = None,
) -> list[DocumentRow]:
    """The dossier's documents, newest first, each marked downloaded or not by this user."""
    dossier = await access.visible_dossier(session, actor, dossier_id=dossier_id)
    me = actor.account_id if actor.account_id is not None else -1
    stmt = (
        select(Document, DownloadReceipt.id)
        .outerjoin(
            DownloadReceipt,
            and_(DownloadReceipt.document_id == Document.id, DownloadReceipt.account_id == me),
        )
        .where(Document.dossier_id == dossier.id)
        .order_by(Document.created_at.desc(), Document.id.desc())
    )
    if category is not None:
        stmt = stmt.where(Document.category == category)
    return [DocumentRow(doc, receipt is not None) for doc, receipt in await session.execute(stmt)]


async def visible_document(session: AsyncSession, actor: Actor, document_id: int) -> Document:
    """A document the actor may see (it is in a dossier they see); NotFound otherwise."""
    document = await session.scalar(
        select(Document)
        .join(Dossier, Dossier.id == Document.dossier_id)
        .where(Document.id == document_id, access.visible_dossiers(actor))
    )
    if document is None:
        raise NotFound("This document was not found.")
    return document


@dataclass
class Download:
    document: Document
    chunks: AsyncIterator[bytes]


async def download(
    session: AsyncSession, store: FileStore, actor: Actor, document_id: int
) -> Download:
    """Open a document for download and record a receipt for this user."""
    document = await visible_document(session, actor, document_id)
    if actor.account_id is not None:
        now = utcnow()
        insert = dialect_insert(session, DownloadReceipt).values(
            document_id=document.id, account_id=actor.account_id, first_at=now, last_at=now, count=1
        )
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["document_id", "account_id"],
                set_={"last_at": now, "count": DownloadReceipt.count + 1},
            )
        )
    audit.record(
        session, actor, "document.download", dossier_id=document.dossier_id, subject=document
    )
    return Download(
        document=document, chunks=store.open(document.storage_key, chunk_size=TRANSFER_CHUNK)
    )


REASON_MAX = 1000


async def reject_document(
    session: AsyncSession, actor: Actor, document_id: int, *, reason: str
) -> Document:
    """Staff refuse one delivered document with a reason: the client (or their office) is
    told, with the reason, and asked for a new file. The file itself stays, marked rejected."""
    document = await visible_document(session, actor, document_id)
    dossier = await access.visible_dossier(session, actor, dossier_id=document.dossier_id)
    access.require(access.can_manage_dossier(actor, dossier), "Only staff may review documents.")
    if document.category is not DocumentCategory.DELIVERED:
        raise ValidationError("Only a document the client delivered can be rejected.")
    reason = check_block((reason or "").strip(), field="reason")
    if not reason:
        raise ValidationError("Say why this document cannot be accepted.", field="reason")
    if len(reason) > REASON_MAX:
        raise ValidationError(
            "The reason may be at most %(max)d characters long.", field="reason", max=REASON_MAX
        )
    document.review_state = ReviewState.REJECTED
    document.review_reason = reason
    dossier.updated_at = utcnow()
    audit.record(
        session,
        actor,
        "document.reject",
        dossier_id=dossier.id,
        subject=document,
        filename=document.filename,
        reason=reason[:200],
    )
    key = f"document:{document.id}:rejected:{utcnow().isoformat()}"
    data = {"document_id": document.id, "filename": document.filename, "reason": reason}
    told = await notify(
        session,
        Kind.DOCUMENTS_REJECTED,
        dossier,
        subject_key=key,
        data=data,
        exclude_account_id=actor.account_id,
    )
    deliverer = await _client_who_delivered(session, document, dossier)
    if deliverer is not None and all(item.account_id != deliverer.id for item in told):
        # The dossier's mail goes to its intermediary office, but the client who sent this
        # very file (say, in a reply to our mail) is the one asked for a new one.
        await notify_accounts(
            session, Kind.DOCUMENTS_REJECTED, dossier, [deliverer], subject_key=key, data=data
        )
    return document


async def _client_who_delivered(
    session: AsyncSession, document: Document, dossier: Dossier
) -> Account | None:
    """The client account that delivered ``document``, if it still sees the dossier."""
    if document.uploaded_by_id is None:
        return None
    account = await session.get(Account, document.uploaded_by_id)
    if account is None or account.role is not Role.CLIENT:
        return None
    return account if access.can_see_dossier(Actor.of(account, Channel.EMAIL), dossier) else None


@dataclass
class Receipt:
    document: Document
    account: Account
    receipt: DownloadReceipt


async def downloads(session: AsyncSession, actor: Actor, *, dossier_id: int) -> list[Receipt]:
    """Who downloaded which of the dossier's documents, first and last when, and how often:
    for staff, newest download first."""
    dossier = await access.visible_dossier(session, actor, dossier_id=dossier_id)
    access.require(access.can_manage_dossier(actor, dossier), "Only staff may see downloads.")
    rows = await session.execute(
        select(Document, Account, DownloadReceipt)
        .join(DownloadReceipt, DownloadReceipt.document_id == Document.id)
        .join(Account, Account.id == DownloadReceipt.account_id)
        .where(Document.dossier_id == dossier.id)
        .order_by(DownloadReceipt.last_at.desc(), DownloadReceipt.id.desc())
    )
    return [Receipt(doc, account, receipt) for doc, account, receipt in rows]
