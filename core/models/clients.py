"""Clients (a person or a company) and intermediary offices."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, str_enum, utcnow

if TYPE_CHECKING:
    from .accounts import Account


class ClientKind(enum.StrEnum):
    PERSON = "person"
    COMPANY = "company"


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ClientKind] = mapped_column(str_enum(ClientKind, "client_kind"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    accounts: Mapped[list[Account]] = relationship(back_populates="client", lazy="raise")


class IntermediaryOffice(Base):
    """A tussenpersoon: sees all its clients' dossiers; notifications go to its general address."""

    __tablename__ = "intermediary_offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    accounts: Mapped[list[Account]] = relationship(back_populates="intermediary", lazy="raise")
