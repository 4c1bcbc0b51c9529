"""Which outbox channels this process can send, from the settings."""

from __future__ import annotations

from core.outbox import Sender
from core.settings import Settings
from core.sms import OutboxSmsGateway, SmsGateway
from mailbridge.smtp import SmtpSender

from .sms_http import HttpSmsSender


def outbox_senders(settings: Settings) -> dict[str, Sender]:
    senders: dict[str, Sender] = {}
    if settings.smtp_host:
        senders["email"] = SmtpSender(settings)
    if settings.sms_url:
        senders["sms"] = HttpSmsSender(settings)
    return senders


def sms_gateway(settings: Settings) -> SmsGateway | None:
    """Where the web view queues text messages; None when no SMS gateway is configured, so
    that SMS is not offered."""
    return OutboxSmsGateway() if settings.sms_url else None
