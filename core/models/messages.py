"""Messages between the firm and a client, and who has read them."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, sparse_index, str_enum, utcnow
from .documents import Channel, Document

if TYPE_CHECKING:
    from .accounts import Account

MAX_BODY_LENGTH = 4000
MAX_SUBJECT_LENGTH = 200


class Direction(enum.StrEnum):
    """Seen from the firm: incoming from a client, outgoing to a client."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_dossier_created", "dossier_id", "created_at"),
        # The staff inbox: newest first across all dossiers.
        Index("ix_messages_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "direction"))
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    email_message_id: Mapped[str | None] = mapped_column(String(998), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    author: Mapped[Account | None] = relationship(lazy="raise")
    attachments: Mapped[list[Document]] = relationship(lazy="raise", order_by=Document.id)


class MessageRead(Base):
    __tablename__ = "message_reads"
    __table_args__ = (UniqueConstraint("message_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    read_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


sparse_index("ix_messages_email_message_id", Message.email_message_id)
