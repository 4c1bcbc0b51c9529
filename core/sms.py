"""Sending a text message: a small interface, so a firm can plug in its SMS provider.

The gateway writes the text to the outbox (channel "sms"); the outbox worker hands it to the
sender for the configured HTTP gateway (loket/sms_http.py). The text sits under a ``secret_``
key, so the outbox wipes it once it is sent: it holds a login code.

An adapter holds no gateway when no SMS provider is configured; ``available`` then refuses
anything that would send a text.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from .errors import ValidationError
from .models import OutboxItem, OutboxStatus, utcnow


class SmsGateway(Protocol):
    async def send(
        self,
        session: AsyncSession,
        phone: str,
        text: str,
        *,
        account_id: int,
        key: str,
        valid_for: dt.timedelta | None = None,
    ) -> None: ...


def available(gateway: SmsGateway | None) -> SmsGateway:
    """The gateway, or a clear refusal when this portal cannot send text messages."""
    if gateway is None:
        raise ValidationError(
            "Text messages cannot be sent from this portal. Use an authenticator app instead."
        )
    return gateway


class OutboxSmsGateway:
    """Queues the text in the outbox for the SMS sender."""

    async def send(
        self,
        session: AsyncSession,
        phone: str,
        text: str,
        *,
        account_id: int,
        key: str,
        valid_for: dt.timedelta | None = None,
    ) -> None:
        payload: dict[str, str] = {"secret_text": text}
        if valid_for is not None:
            # A code that can no longer be used is not sent late.
            payload["expires_at"] = (utcnow() + valid_for).isoformat()
        session.add(
            OutboxItem(
                channel="sms",
                kind="sms_code",
                recipient=phone,
                account_id=account_id,
                payload=payload,
                idempotency_key=f"sms:{account_id}:{key}",
                status=OutboxStatus.PENDING,
            )
        )
