"""Which outbox channels this process can send, from the settings."""

from __future__ import annotations

from core.outbox import Sender
from core.settings import Settings
from mailbridge.smtp import SmtpSender

from .sms_http import HttpSmsSender


def outbox_senders(settings: Settings) -> dict[str, Sender]:
    senders: dict[str, Sender] = {}
    if settings.smtp_host:
        senders["email"] = SmtpSender(settings)
    if settings.sms_url:
        senders["sms"] = HttpSmsSender(settings)
    return senders
