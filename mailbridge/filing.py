"""Filing a quarantined mail into a dossier by hand (staff): the same body and attachment
steps as the pipeline, then the message, in one unit of work with the inbound record.
``QuarantineFiler`` offers it to other adapters as core's ``MailFiler``."""

from __future__ import annotations

from sqlalchemy import func, select

from core import access, audit
from core.actor import Actor
from core.db import Database
from core.models import Account, utcnow
from core.services import inbound, quarantine
from core.settings import Settings
from core.storage import FileStore

from .pipeline import STORED, Incoming, Pipeline, attachments, body
from .reader import read_in_thread

SHOWN_TEXT = 100_000  # characters of a quarantined mail's text shown to staff


async def file_from_quarantine(
    db: Database,
    store: FileStore,
    settings: Settings,
    actor: Actor,
    inbound_id: int,
    number: str | None = None,
) -> quarantine.Filed:
    """File the mail into dossier ``number``, or else the one it was matched to."""
    async with db.read() as s:
        row = await quarantine.quarantined_mail(s, actor, inbound_id)
        dossier = await quarantine.target(s, actor, row, number)
        raw_key = row.raw_storage_key
    raw = b"".join([chunk async for chunk in store.open(raw_key)])
    pipeline = Pipeline(db, store, settings)
    m = Incoming(raw=raw)
    m.mail = await read_in_thread(raw)  # a large mail must not stall the event loop
    async with db.read() as s:
        # The sender becomes the author if that address belongs to someone who sees the dossier.
        author = None
        for account in await s.scalars(
            select(Account).where(
                func.lower(Account.email) == m.mail.sender.lower(), Account.active.is_(True)
            )
        ):
            if access.can_see_dossier(Actor.of(account, actor.channel), dossier):
                author = account
                break
    m.match = inbound.Match(dossier, author, "staff")
    await body(pipeline, m)
    await attachments(pipeline, m)
    async with db.begin() as s:
        row = await quarantine.quarantined_mail(s, actor, inbound_id, for_update=True)
        fresh = await inbound.reload(s, m.match)
        message = await inbound.store_message(
            s,
            store,
            fresh,
            subject=m.mail.subject,
            body=m.reply,
            attachments=m.uploads,
            extra_documents=m.extra,
            email_message_id=m.mail.message_id,
        )
        row.outcome = STORED
        row.filed_at = utcnow()
        row.message_id = message.id
        row.dossier_id = dossier.id
        row.path = [*row.path, "filed by staff"]
        audit.record(s, actor, "mail.file", dossier_id=dossier.id, subject=row)
    return quarantine.Filed(inbound_id, message.id, fresh.dossier.number)


async def read_original(
    db: Database, store: FileStore, actor: Actor, inbound_id: int
) -> quarantine.Original:
    """The mail's text (HTML turned into text: nothing of it can run) and its attachments,
    listed by name, type and size."""
    async with db.read() as s:
        row = await quarantine.quarantined_mail(s, actor, inbound_id)
        raw_key = row.raw_storage_key
    raw = b"".join([chunk async for chunk in store.open(raw_key)])
    mail = await read_in_thread(raw)
    text = mail.body_text
    return quarantine.Original(
        text=text[:SHOWN_TEXT] + (" […]" if len(text) > SHOWN_TEXT else ""),
        attachments=[
            quarantine.AttachmentInfo(a.filename or a.content_type, a.content_type, a.size)
            for a in mail.attachments
            if not a.inline
        ],
    )


class QuarantineFiler:
    """core's ``MailFiler``, for the web view (wired in by loket/)."""

    def __init__(self, db: Database, store: FileStore, settings: Settings) -> None:
        self.db = db
        self.store = store
        self.settings = settings

    async def file(
        self, actor: Actor, inbound_id: int, number: str | None = None
    ) -> quarantine.Filed:
        return await file_from_quarantine(
            self.db, self.store, self.settings, actor, inbound_id, number
        )

    async def original(self, actor: Actor, inbound_id: int) -> quarantine.Original:
        return await read_original(self.db, self.store, actor, inbound_id)
