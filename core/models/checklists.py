"""Checklist and questionnaire templates, their instances on dossiers, and the answers."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, partial_index, sparse_index, str_enum, utcnow
from .documents import Channel, ReviewState


class ChecklistStatus(enum.StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    APPROVED = "approved"


class ChecklistTemplate(Base):
    """One version of a template; a new import adds a version and never changes old ones."""

    __tablename__ = "checklist_templates"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))  # "checklist" or "questionnaire"
    title: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"nl": …, "en": …}
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Checklist(Base):
    __tablename__ = "checklists"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id"))
    status: Mapped[ChecklistStatus] = mapped_column(
        str_enum(ChecklistStatus, "checklist_status"), default=ChecklistStatus.OPEN
    )
    locked: Mapped[bool] = mapped_column(default=False)
    # The question key the client is at, so any channel resumes where the last one stopped.
    position: Mapped[str | None] = mapped_column(String(100), default=None)
    due_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Where the last submission came from (the staff inbox filters by channel).
    submitted_channel: Mapped[Channel | None] = mapped_column(
        str_enum(Channel, "channel"), default=None
    )
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    review_reason: Mapped[str | None] = mapped_column(Text, default=None)
    last_reminder_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ChecklistAssignee(Base):
    __tablename__ = "checklist_assignees"
    __table_args__ = (UniqueConstraint("checklist_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklists.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("checklist_id", "question_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklists.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(100))
    value: Mapped[Any] = mapped_column(JSON, default=None)
    not_available: Mapped[bool] = mapped_column(default=False)
    not_available_reason: Mapped[str | None] = mapped_column(Text, default=None)
    expected_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    answered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    review_state: Mapped[ReviewState] = mapped_column(
        str_enum(ReviewState, "review_state"), default=ReviewState.NONE
    )
    review_reason: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# The staff inbox: submissions and "not available" answers, newest first.
sparse_index("ix_checklists_submitted_at", Checklist.submitted_at)
partial_index("ix_answers_not_available_updated", Answer.updated_at, Answer.not_available.is_(True))
