"""Sending outbox mail over SMTP with aiosmtplib, per the LOKET_SMTP_* settings."""

from __future__ import annotations

import aiosmtplib

from core.models import OutboxItem
from core.outbox import PermanentFailure, TemporaryFailure
from core.settings import Settings

from .compose import compose

TIMEOUT = 30


class SmtpSender:
    """The outbox's sender for the "email" channel."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("no SMTP host configured")
        self.settings = settings

    async def send(self, item: OutboxItem) -> None:
        s = self.settings
        try:
            message = compose(item, s)
        except Exception as exc:
            # The same item composes the same way on every try: waiting does not help, and a
            # mail retried for days hides the fault. Staff see the reason in the outbox.
            raise PermanentFailure(
                f"the mail could not be composed: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user or None,
                password=s.smtp_password or None,
                use_tls=s.smtp_tls == "tls",
                start_tls=s.smtp_tls == "starttls",
                timeout=TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(500 <= c < 600 for c in codes):
                raise PermanentFailure(f"refused: {exc.recipients[0].message}") from exc
            raise TemporaryFailure(f"refused for now: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"{exc.code} {exc.message}") from exc
            raise TemporaryFailure(f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
