"""Dossiers and their progress steps."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, sparse_index, str_enum, utcnow

if TYPE_CHECKING:
    from .accounts import Account
    from .clients import Client, IntermediaryOffice


class DossierStatus(enum.StrEnum):
    NEW = "new"
    IN_TREATMENT = "in_treatment"
    WAITING_FOR_CLIENT = "waiting_for_client"
    REPORT_READY = "report_ready"
    COMPLETED = "completed"
    ARCHIVED = "archived"

    @property
    def in_progress(self) -> bool:
        return self not in FINISHED_STATUSES


FINISHED_STATUSES = frozenset({DossierStatus.COMPLETED, DossierStatus.ARCHIVED})


class Dossier(Base):
    __tablename__ = "dossiers"
    __table_args__ = (
        Index("ix_dossiers_client_status", "client_id", "status"),
        # The staff list: newest activity first, a page at a time.
        Index("ix_dossiers_updated", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    # The type of work ("Aangifte inkomstenbelasting"); free text, the form suggests the ones
    # in use. The description is the dossier's own title.
    kind: Mapped[str] = mapped_column(String(100), default="", server_default="")
    status: Mapped[DossierStatus] = mapped_column(
        str_enum(DossierStatus, "dossier_status"), default=DossierStatus.NEW
    )
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    intermediary_id: Mapped[int | None] = mapped_column(
        ForeignKey("intermediary_offices.id", ondelete="RESTRICT"), default=None
    )
    # An intermediary may keep a dossier to itself; the client then does not see it at all.
    visible_to_client: Mapped[bool] = mapped_column(default=True)
    handler_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship(lazy="raise")
    intermediary: Mapped[IntermediaryOffice | None] = relationship(lazy="raise")
    handler: Mapped[Account | None] = relationship(lazy="raise")
    steps: Mapped[list[DossierStep]] = relationship(
        back_populates="dossier", lazy="raise", order_by="DossierStep.position"
    )


class DossierCount(Base):
    """How many dossiers there are with each status: the staff list's totals, which would
    otherwise count the whole table on every page view. Changed in the unit of work that
    creates a dossier or changes its status (core/services/dossiercounts.py)."""

    __tablename__ = "dossier_counts"

    status: Mapped[DossierStatus] = mapped_column(
        str_enum(DossierStatus, "dossier_status"), primary_key=True
    )
    count: Mapped[int] = mapped_column(default=0)


class DossierStep(Base):
    __tablename__ = "dossier_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    title: Mapped[str] = mapped_column(Text)
    done_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    done_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )

    dossier: Mapped[Dossier] = relationship(back_populates="steps", lazy="raise")


sparse_index("ix_dossiers_intermediary_id", Dossier.intermediary_id)
sparse_index("ix_dossiers_handler_id", Dossier.handler_id)
