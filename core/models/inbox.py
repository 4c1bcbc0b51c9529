"""What each staff member has seen of the inbox: a mark per item opened, and a moment up to
which "mark all read" read everything (one row, however much there was)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class InboxRead(Base):
    """``kind`` and ``item_id`` name an inbox entry (a delivered document, a submitted
    checklist, a "not available" answer); messages keep their marks in message_reads, the
    same marks the dossier page sets. ``read_at``: an entry that comes back later (a checklist
    submitted again) is new again."""

    __tablename__ = "inbox_reads"
    __table_args__ = (UniqueConstraint("account_id", "kind", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int]
    read_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InboxReadUntil(Base):
    __tablename__ = "inbox_read_until"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    read_until: Mapped[dt.datetime]
