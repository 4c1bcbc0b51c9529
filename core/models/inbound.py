"""Every inbound mail the bridge has seen, with what became of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class InboundMail(Base):
    __tablename__ = "inbound_mails"
    __table_args__ = (UniqueConstraint("mailbox", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str | None] = mapped_column(String(200), default=None)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, default=None)
    uid: Mapped[int | None] = mapped_column(BigInteger, default=None)
    message_id_header: Mapped[str | None] = mapped_column(String(998), index=True, default=None)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # The same, of the body alone: a copy that came by another route differs in its headers.
    body_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    sender: Mapped[str | None] = mapped_column(String(320), default=None)
    subject: Mapped[str | None] = mapped_column(Text, default=None)
    # "stored", "quarantined", "ignored", "bounced"
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Why it waits in quarantine as a code (core.services.inbound.REASON_LABELS): what staff
    # read, in their language; ``reason`` keeps the English with its details. None on rows
    # from before the code was stored.
    reason_code: Mapped[str | None] = mapped_column(String(32), default=None)
    # The names of the steps the mail went through, in order, ending with the deciding one.
    path: Mapped[list[Any]] = mapped_column(default=list)
    raw_storage_key: Mapped[str | None] = mapped_column(String(128), default=None)
    dossier_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossiers.id", ondelete="SET NULL"), default=None
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    filed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


# The rate rule counts a sender's recent mails by address, whatever its case.
Index("ix_inbound_mails_sender_lower", func.lower(InboundMail.sender), InboundMail.received_at)
