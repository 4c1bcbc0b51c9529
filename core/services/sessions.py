"""Web sessions, kept in the database so any web process can serve any request and a
logged-out or expired cookie is dead on the server.

The cookie carries 256 random bits; only their sha256 is stored. A session is "password"
(first step done, second still asked) or "full". It dies after the idle time, after the
absolute lifetime, on logout, and when the password changes.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Account, WebSession, utcnow
from ..settings import Settings
from ..tokens import digest

FULL = "full"
PASSWORD_ONLY = "password"
TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclass
class LiveSession:
    row: WebSession
    account: Account

    @property
    def complete(self) -> bool:
        return self.row.stage == FULL


async def create(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    *,
    stage: str,
    address: str | None = None,
) -> tuple[str, WebSession]:
    """A new session; returns the raw id for the cookie."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSession(
        session_hash=digest(raw),
        account_id=account.id,
        stage=stage,
        csrf_secret=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + dt.timedelta(hours=settings.session_absolute_hours),
        ip=address,
    )
    session.add(row)
    await session.flush()
    return raw, row


async def rotate(session: AsyncSession, row: WebSession, *, stage: str | None = None) -> str:
    """Give the session a new id (after each login step) so a planted id is worthless."""
    raw = secrets.token_urlsafe(32)
    row.session_hash = digest(raw)
    row.csrf_secret = secrets.token_urlsafe(32)
    if stage is not None:
        row.stage = stage
    row.last_seen_at = utcnow()
    await session.flush()
    return raw


# Built once: every request runs it, and building a statement costs more than running it.
_LOOKUP = (
    select(WebSession, Account)
    .join(Account, Account.id == WebSession.account_id)
    .where(WebSession.session_hash == bindparam("session_hash"))
)


def _expired(row: WebSession, settings: Settings, now: dt.datetime) -> bool:
    idle = dt.timedelta(minutes=settings.session_idle_minutes)
    return row.expires_at <= now or row.last_seen_at + idle <= now


async def load(session: AsyncSession, settings: Settings, raw: str | None) -> LiveSession | None:
    """The live session for a cookie value, or None (unknown, ended or expired)."""
    # Our ids are ASCII; a cookie with other characters (undecodable bytes arrive as lone
    # surrogates, which cannot even be hashed) is none of ours.
    if not raw or len(raw) > 200 or not raw.isascii():
        return None
    found = (await session.execute(_LOOKUP, {"session_hash": digest(raw)})).first()
    if found is None:
        return None
    row, account = found
    if _expired(row, settings, utcnow()) or not account.active:
        return None
    return LiveSession(row=row, account=account)


def needs_touch(row: WebSession) -> bool:
    """Whether ``last_seen_at`` is old enough to be worth a write (not on every request)."""
    return row.last_seen_at + TOUCH_EVERY <= utcnow()


async def touch(session: AsyncSession, session_id: int) -> None:
    row = await session.get(WebSession, session_id)
    if row is not None:
        row.last_seen_at = utcnow()


async def end(session: AsyncSession, session_id: int) -> None:
    await session.execute(delete(WebSession).where(WebSession.id == session_id))


async def end_all(session: AsyncSession, account_id: int, *, keep: int | None = None) -> None:
    stmt = delete(WebSession).where(WebSession.account_id == account_id)
    if keep is not None:
        stmt = stmt.where(WebSession.id != keep)
    await session.execute(stmt)


async def purge_expired(session: AsyncSession, settings: Settings) -> int:
    now = utcnow()
    idle = dt.timedelta(minutes=settings.session_idle_minutes)
    result = await session.execute(
        delete(WebSession).where(
            (WebSession.expires_at <= now) | (WebSession.last_seen_at <= now - idle)
        )
    )
    return result.rowcount or 0
