"""Documents in a dossier and who has downloaded them."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, partial_index, sparse_index, str_enum, utcnow


class DocumentCategory(enum.StrEnum):
    CORRESPONDENCE = "correspondence"  # letters from the firm
    DOCUMENT = "document"  # documents published by the firm
    DELIVERED = "delivered"  # what the client delivered ("Delivered by me")


class Channel(enum.StrEnum):
    """Where something came in or went out."""

    WEB = "web"
    EMAIL = "email"
    TELEGRAM = "telegram"
    CLI = "cli"
    SYSTEM = "system"


class ReviewState(enum.StrEnum):
    NONE = "none"
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_dossier_category", "dossier_id", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    category: Mapped[DocumentCategory] = mapped_column(
        str_enum(DocumentCategory, "document_category")
    )
    # For display only: the store never builds a path from it.
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(128))
    source_channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("answers.id", ondelete="SET NULL"), default=None
    )
    review_state: Mapped[ReviewState] = mapped_column(
        str_enum(ReviewState, "review_state"), default=ReviewState.NONE
    )
    review_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # A submitted checklist's PDF: the submission is its inbox entry, not the file as well.
    checklist_id: Mapped[int | None] = mapped_column(
        ForeignKey("checklists.id", ondelete="SET NULL"), default=None
    )
    # Set on an earlier PDF when the checklist is submitted again: kept, but no longer current.
    replaced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DownloadReceipt(Base):
    __tablename__ = "download_receipts"
    __table_args__ = (UniqueConstraint("document_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    first_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    count: Mapped[int] = mapped_column(default=1)


sparse_index("ix_documents_message_id", Document.message_id)
sparse_index("ix_documents_answer_id", Document.answer_id)
sparse_index("ix_documents_checklist_id", Document.checklist_id)
# The staff inbox: documents that came on their own (not as a message's attachment), newest first.
partial_index("ix_documents_loose_created", Document.created_at, Document.message_id.is_(None))
