"""What the Telegram bot keeps between updates, in the database so that a restart or a second
bot process loses nothing: each chat's conversation, the updates already handled, and the bot's
own name as Telegram gave it.

Which account a chat is linked to is Account.telegram_chat_id (one place, unique both ways).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .accounts import Language
from .base import Base, str_enum, utcnow


class TelegramChat(Base):
    __tablename__ = "telegram_chats"

    # Telegram's ids need up to 52 bits.
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # Chosen with /language; an unlinked chat has no account whose language to use.
    language: Mapped[Language | None] = mapped_column(str_enum(Language, "language"), default=None)
    # What the chat waits for next ({"waiting": ..., ...}); see core.services.telegram.
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # The bot's message that asks the current question: a button on any other is stale.
    question_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # The person blocked the bot (403): nothing is sent until they write to it again.
    blocked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Seconds since the epoch before which nothing more goes to this chat (1 a second at most).
    # A number, not a timestamp, so that one UPDATE compares and adds on both databases.
    next_send_at: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TelegramUpdate(Base):
    """An update the bot has handled, recorded in the same unit of work as its effect."""

    __tablename__ = "telegram_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    handled_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class TelegramBot(Base):
    """The bot as getMe described it when a bot process last started: its username makes the
    deep links (t.me/<username>?start=<code>) the web view shows."""

    __tablename__ = "telegram_bots"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TelegramDelivery(Base):
    """A bot message that carried an outbox item (a firm's message, a new document...): a
    client's reply to it is about that item's dossier (and message)."""

    __tablename__ = "telegram_deliveries"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    outbox_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_items.id", ondelete="SET NULL"), default=None
    )
    dossier_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True, default=None
    )
    # The portal message it showed, when it showed one: a reply answers that message.
    portal_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
