"""Sending a text message: a small interface, so a firm can plug in its SMS provider.

The default gateway does not send anything: it writes the text to the outbox (channel "sms"),
where an operator can see it. Tests use it too.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from .models import OutboxItem, OutboxStatus


class SmsGateway(Protocol):
    async def send(
        self, session: AsyncSession, phone: str, text: str, *, account_id: int, key: str
    ) -> None: ...


class OutboxSmsGateway:
    """Keeps the text in the outbox as "sent" so an operator can read it out."""

    async def send(
        self, session: AsyncSession, phone: str, text: str, *, account_id: int, key: str
    ) -> None:
        session.add(
            OutboxItem(
                channel="sms",
                kind="sms_code",
                recipient=phone,
                account_id=account_id,
                payload={"text": text},
                idempotency_key=f"sms:{account_id}:{key}",
                status=OutboxStatus.PENDING,
            )
        )
