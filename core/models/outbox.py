"""The notification outbox: what must still be sent, by mail, Telegram or SMS."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, str_enum, utcnow


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a worker; if it stays here the worker died mid-send
    SENT = "sent"
    FAILED = "failed"


class OutboxItem(Base):
    __tablename__ = "outbox_items"
    __table_args__ = (Index("ix_outbox_items_due", "status", "next_try_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # "email", "telegram", "sms"
    kind: Mapped[str] = mapped_column(String(64))  # e.g. "new_message", "invitation"
    recipient: Mapped[str] = mapped_column(String(320))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    dossier_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True, default=None
    )
    language: Mapped[str] = mapped_column(String(8), default="nl")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    email_message_id: Mapped[str | None] = mapped_column(String(998), index=True, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
