"""Sending outbox mail over SMTP with aiosmtplib, per the LOKET_SMTP_* settings.

One connection serves the mails of a pass one after another (a reminder run can queue
hundreds; a connection, TLS and login each time cost more than the mail, and providers limit
new connections a minute). One the server closed is replaced; one left unused for IDLE_SECONDS
is closed before the next mail (a firewall may have dropped it without a word, and a mail sent
on it would wait out the timeout); one on which a mail failed is not used again."""

from __future__ import annotations

import asyncio
import time

import aiosmtplib

from core.models import OutboxItem
from core.outbox import PermanentFailure, TemporaryFailure
from core.settings import Settings

from .compose import compose

TIMEOUT = 30
IDLE_SECONDS = 20


class SmtpSender:
    """The outbox's sender for the "email" channel."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("no SMTP host configured")
        self.settings = settings
        self._client: aiosmtplib.SMTP | None = None
        self._used_at = 0.0

    async def _connection(self) -> aiosmtplib.SMTP:
        """The kept connection, or a new one."""
        client = self._client
        if client is not None and (
            not client.is_connected or time.monotonic() - self._used_at > IDLE_SECONDS
        ):
            await self.aclose()
        if self._client is not None:
            return self._client
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_user or None,
            password=s.smtp_password or None,
            use_tls=s.smtp_tls == "tls",
            start_tls=s.smtp_tls == "starttls",
            timeout=TIMEOUT,
        )
        try:
            await client.connect()
        except BaseException:
            client.close()  # connected but refused at STARTTLS or login, say
            raise
        self._client = client
        return client

    async def _send_on_connection(self, message: object) -> None:
        client = await self._connection()
        try:
            await client.send_message(message)  # type: ignore[arg-type]
        except BaseException:
            self._drop()  # in a state nobody knows: not used again, not even for QUIT
            raise
        self._used_at = time.monotonic()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Say QUIT and close the connection, if there is one."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await asyncio.wait_for(client.quit(), 5)
        except Exception:
            client.close()

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
            await self._send_on_connection(message)
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
