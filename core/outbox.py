"""The outbox worker's rules: claim due items, send them through a channel's sender, and
record what happened.

Delivery is at least once: an item is claimed (status "sending", with a lease) before it is
sent and marked after. Two workers never hold the same item (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's single writer on SQLite). A worker that dies between sending and marking
leaves the item to be sent again when the lease runs out, with the same Message-ID, so mail
clients show it once. Temporary failures (4xx, connection trouble) retry with doubling back-off
until the item's lifetime runs out; permanent ones (5xx, a mail that cannot be composed from
its item) fail at once. Both end states are kept for staff to see.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from email.utils import make_msgid
from typing import Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from . import logcontext, metrics, tokens
from .db import Database
from .models import OutboxItem, OutboxStatus, utcnow
from .settings import Settings

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
FIRST_RETRY = dt.timedelta(minutes=1)
MAX_RETRY = dt.timedelta(hours=6)
BATCH = 50


class TemporaryFailure(Exception):
    """Try again later (a 4xx answer, the server away). ``retry_after``: the seconds the
    other side asked us to wait (Telegram's flood control); without it, the back-off."""

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """Do not try again (a 5xx answer, an address that cannot exist)."""


class Sender(Protocol):
    async def send(self, item: OutboxItem) -> None:
        """Deliver ``item`` or raise TemporaryFailure / PermanentFailure."""


@dataclass
class PassResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th try: one minute, doubling, at most MAX_RETRY."""
    # The exponent is bounded: with a long lifetime, 2**attempts minutes overflow timedelta.
    doublings = min(max(attempts - 1, 0), 16)
    return min(FIRST_RETRY * 2**doublings, MAX_RETRY)


def retry_wait(error: Exception, attempts: int) -> dt.timedelta:
    """How long a temporary failure waits: what the other side asked for, if it did (trying
    sooner is refused again, and Telegram lengthens the wait of a bot that does), else the
    back-off."""
    asked = getattr(error, "retry_after", None)
    if isinstance(asked, int | float) and asked > 0:
        return min(dt.timedelta(seconds=asked), MAX_RETRY)
    return backoff(attempts)


def message_id_domain(settings: Settings) -> str:
    return settings.mail_from.rpartition("@")[2].strip(" >") or "localhost"


async def claim(
    db: Database, channels: list[str], *, limit: int = BATCH, domain: str = "localhost"
) -> list[OutboxItem]:
    """Take up to ``limit`` due items (pending ones, and sending ones whose lease ran out).

    An email item gets its Message-ID on its first claim and keeps it on every retry.
    """
    now = utcnow()
    async with db.begin() as s:
        due = or_(
            (OutboxItem.status == OutboxStatus.PENDING) & (OutboxItem.next_try_at <= now),
            (OutboxItem.status == OutboxStatus.SENDING) & (OutboxItem.next_try_at <= now),
        )
        stmt = (
            select(OutboxItem)
            .where(OutboxItem.channel.in_(channels), due)
            .order_by(OutboxItem.id)
            .limit(limit)
        )
        if s.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        items = list(await s.scalars(stmt))
        for item in items:
            item.status = OutboxStatus.SENDING
            item.attempts += 1
            item.next_try_at = now + LEASE
            if item.channel == "email" and not item.email_message_id:
                item.email_message_id = make_msgid(idstring=f"loket.{item.id}", domain=domain)
    return items


@dataclass(frozen=True)
class Waiting:
    channel: str
    count: int
    oldest_age: float  # seconds


async def waiting(session: AsyncSession) -> list[Waiting]:
    """Per channel, how many items still wait to go out and how old the oldest is."""
    rows = await session.execute(
        select(OutboxItem.channel, func.count(OutboxItem.id), func.min(OutboxItem.created_at))
        .where(OutboxItem.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
        .group_by(OutboxItem.channel)
    )
    now = utcnow()
    return [
        Waiting(channel, count, max(0.0, (now - oldest).total_seconds()))
        for channel, count, oldest in rows
    ]


async def withdraw_pending(
    session: AsyncSession, account_id: int, reason: str, *, kind: str | None = None
) -> None:
    """Mail for an account still waiting in the outbox must not go out (a newer invitation
    replaced it, the account was disabled). It ends as failed, with the reason and without
    its links, so staff still see it. One a worker has claimed (sending) or sent stays as it
    is; on PostgreSQL, SKIP LOCKED leaves alone a row a worker is claiming at this moment."""
    stmt = select(OutboxItem).where(
        OutboxItem.account_id == account_id, OutboxItem.status == OutboxStatus.PENDING
    )
    if kind is not None:
        stmt = stmt.where(OutboxItem.kind == kind)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    for item in await session.scalars(stmt):
        item.status = OutboxStatus.FAILED
        item.last_error = reason
        _wipe_secrets(item, "withdrawn")


def _wipe_secrets(item: OutboxItem, outcome: str) -> None:
    # Links with a token must not outlive the mail in our database.
    if any(k.startswith("secret_") for k in item.payload):
        item.payload = {
            k: (f"({outcome})" if k.startswith("secret_") else v) for k, v in item.payload.items()
        }
        flag_modified(item, "payload")


async def _take_link_down(session: AsyncSession, item: OutboxItem) -> None:
    """A mail that failed must not leave a live link behind: nobody may have received it,
    or (sent by a worker that died before recording it) someone did while staff see
    "failed" and send a new one. Its token dies and the link leaves the payload."""
    token_hash = item.payload.get(tokens.LINK_TOKEN)
    if isinstance(token_hash, str):
        await tokens.revoke_digest(session, token_hash)
    _wipe_secrets(item, "failed")


async def _record(db: Database, item_id: int, settings: Settings, error: Exception | None) -> str:
    now = utcnow()
    async with db.begin() as s:
        item = await s.get(OutboxItem, item_id)
        if item is None:
            return "gone"
        if error is None:
            item.status = OutboxStatus.SENT
            item.sent_at = now
            item.last_error = None
            _wipe_secrets(item, "sent")
            return "sent"
        item.last_error = f"{type(error).__name__}: {error}"[:2000]
        lifetime = dt.timedelta(hours=settings.outbox_lifetime_hours)
        if isinstance(error, PermanentFailure) or item.created_at + lifetime <= now:
            item.status = OutboxStatus.FAILED
            await _take_link_down(s, item)
            return "failed"
        item.status = OutboxStatus.PENDING
        item.next_try_at = now + retry_wait(error, item.attempts)
        return "retrying"


async def run_once(
    db: Database, senders: dict[str, Sender], settings: Settings, *, limit: int = BATCH
) -> PassResult:
    """One pass: claim what is due and try each item once."""
    result = PassResult()
    if not senders:
        return result
    domain = message_id_domain(settings)
    for item in await claim(db, list(senders), limit=limit, domain=domain):
        with logcontext.bound(**{logcontext.OUTBOX_ITEM: item.id}):
            outcome, error = await _deliver(db, senders[item.channel], item, settings)
        metrics.OUTBOX_RESULTS.inc(item.channel, outcome)
        if outcome == "sent":
            result.sent += 1
        elif outcome == "retrying":
            result.retrying += 1
            result.errors.append(str(error))
        elif outcome == "failed":
            result.failed += 1
            result.errors.append(str(error))
    return result


async def _deliver(
    db: Database, sender: Sender, item: OutboxItem, settings: Settings
) -> tuple[str, Exception | None]:
    error: Exception | None = None
    try:
        await sender.send(item)
    except (TemporaryFailure, PermanentFailure) as exc:
        error = exc
    except Exception as exc:  # a sender's bug must not stop the items behind it
        log.exception("outbox item %s could not be sent", item.id)
        error = TemporaryFailure(f"{type(exc).__name__}: {exc}")
    return await _record(db, item.id, settings, error), error
