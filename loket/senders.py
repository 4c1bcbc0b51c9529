"""Which outbox channels this process can send, from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.db import Database
from core.outbox import Sender
from core.settings import Settings
from core.sms import OutboxSmsGateway, SmsGateway
from mailbridge.smtp import SmtpSender

from .sms_http import HttpSmsSender


def outbox_senders(settings: Settings) -> dict[str, Sender]:
    """The senders that need nothing but the settings: mail and SMS."""
    senders: dict[str, Sender] = {}
    if settings.smtp_host:
        senders["email"] = SmtpSender(settings)
    if settings.sms_url:
        senders["sms"] = HttpSmsSender(settings)
    return senders


@asynccontextmanager
async def open_senders(settings: Settings, db: Database) -> AsyncIterator[dict[str, Sender]]:
    """Every sender this process can use, the Telegram one too when a bot token is set; their
    connections (the Bot API's, the SMTP server's) are closed on leaving."""
    senders = outbox_senders(settings)
    chat = None
    if settings.telegram_token:
        from bot.app import sending_bot
        from bot.sender import TelegramSender

        chat = TelegramSender(settings, db, sending_bot(settings, db))
        senders["telegram"] = chat
    try:
        yield senders
    finally:
        if chat is not None:
            await chat.aclose()
        if isinstance(mail := senders.get("email"), SmtpSender):
            await mail.aclose()


def sms_gateway(settings: Settings) -> SmsGateway | None:
    """Where the web view queues text messages; None when no SMS gateway is configured, so
    that SMS is not offered."""
    return OutboxSmsGateway() if settings.sms_url else None
