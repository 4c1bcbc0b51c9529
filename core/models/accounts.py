"""People who log in: clients' accounts, intermediaries' accounts and staff."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, sparse_index, str_enum, utcnow

if TYPE_CHECKING:
    from .clients import Client, IntermediaryOffice


class Role(enum.StrEnum):
    CLIENT = "client"
    STAFF = "staff"
    INTERMEDIARY = "intermediary"


class Language(enum.StrEnum):
    NL = "nl"
    EN = "en"


class TwoFactorMethod(enum.StrEnum):
    NONE = "none"
    TOTP = "totp"
    SMS = "sms"


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    language: Mapped[Language] = mapped_column(str_enum(Language, "language"), default=Language.NL)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    active: Mapped[bool] = mapped_column(default=True)

    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True, default=None
    )
    # The company's main account may add and remove the company's extra accounts.
    is_main: Mapped[bool] = mapped_column(default=False)
    intermediary_id: Mapped[int | None] = mapped_column(
        ForeignKey("intermediary_offices.id", ondelete="CASCADE"), default=None
    )

    two_factor: Mapped[TwoFactorMethod] = mapped_column(
        str_enum(TwoFactorMethod, "two_factor"), default=TwoFactorMethod.NONE
    )
    # Sealed with the secret key (core.services.totpsecrets), never in plain text.
    totp_secret: Mapped[str | None] = mapped_column(String(255), default=None)
    totp_last_step: Mapped[int | None] = mapped_column(default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    # {"new_document": {"email": true, "telegram": false}, ...}; missing keys mean "on by email".
    notifications: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The linked Telegram chat (one chat per account, one account per chat). Telegram's ids
    # need up to 52 bits: BIGINT on PostgreSQL; SQLite's INTEGER holds 64 bits already.
    telegram_chat_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), unique=True, default=None
    )

    # Set by the mail bridge when mail to this address bounces, for staff to see.
    email_failing_since: Mapped[dt.datetime | None] = mapped_column(default=None)
    email_failure_reason: Mapped[str | None] = mapped_column(String(500), default=None)

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    client: Mapped[Client | None] = relationship(back_populates="accounts", lazy="raise")
    intermediary: Mapped[IntermediaryOffice | None] = relationship(
        back_populates="accounts", lazy="raise"
    )


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Token(Base):
    """A one-time token (invitation, password reset, Telegram link). Only its hash is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WebSession(Base):
    """A web login. The cookie carries a random id; only its hash is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    # "password": the first step is done, the second is still asked; "full": logged in.
    stage: Mapped[str] = mapped_column(String(16), default="full")
    csrf_secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    failed_codes: Mapped[int] = mapped_column(default=0)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)


class LoginAttempt(Base):
    """Failed logins, counted per account and per address to slow down guessing."""

    __tablename__ = "login_attempts"
    __table_args__ = (UniqueConstraint("kind", "key", "window_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "account" or "address"
    key: Mapped[str] = mapped_column(String(320))
    window_start: Mapped[dt.datetime]
    failures: Mapped[int] = mapped_column(default=0)


# Each account has its own address, whatever its case (login by address and mail in rely on
# it), and mail in finds accounts by it.
Index("ix_accounts_email_lower", func.lower(Account.email), unique=True)


sparse_index("ix_accounts_intermediary_id", Account.intermediary_id)
