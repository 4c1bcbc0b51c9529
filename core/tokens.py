"""One-time tokens for links in mail and chat: invitation, set-password, Telegram link, a
checklist question's upload link.

The raw token (256 random bits) goes out in the link; only its sha256 is stored, so a copy of
the database holds no usable link. A token is dead once used, once it expires, and once a newer
one of the same purpose is issued for the same account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import LinkExpired
from .models import Account, Token, utcnow

INVITATION = "invitation"
SET_PASSWORD = "set_password"
TELEGRAM_LINK = "telegram_link"
SMS_CODE = "sms_code"
UPLOAD_LINK = "upload_link"

# The payload field of an outbox item that names the token its link carries, by digest: not a
# secret (the tokens table holds the same), so it outlives the link when that is wiped.
LINK_TOKEN = "link_token_digest"


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


async def issue(
    session: AsyncSession,
    account: Account,
    purpose: str,
    ttl: dt.timedelta,
    *,
    data: dict[str, Any] | None = None,
    raw: str | None = None,
    scope: tuple[str, ...] = (),
) -> str:
    """A new token for ``account``; every older live one of the same purpose dies. With
    ``scope`` (keys of ``data``), only those whose data has the same values there: one live
    upload link per question, not one per account."""
    if scope:
        await _revoke_scoped(session, account.id, purpose, {k: (data or {})[k] for k in scope})
    else:
        await revoke(session, account.id, purpose)
    raw = raw or secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        Token(
            purpose=purpose,
            token_hash=digest(raw),
            account_id=account.id,
            created_at=now,
            expires_at=now + ttl,
            data=data or {},
        )
    )
    await session.flush()
    return raw


async def revoke(session: AsyncSession, account_id: int, *purposes: str) -> None:
    """Kill the live tokens of these purposes (all purposes when none are named)."""
    stmt = update(Token).where(Token.account_id == account_id, Token.used_at.is_(None))
    if purposes:
        stmt = stmt.where(Token.purpose.in_(purposes))
    await session.execute(stmt.values(used_at=utcnow()))


async def _revoke_scoped(
    session: AsyncSession, account_id: int, purpose: str, same: dict[str, Any]
) -> None:
    # Compared here, not in SQL: JSON paths differ between SQLite and PostgreSQL, and an
    # account holds only a few live tokens of one purpose.
    live = await session.scalars(
        select(Token).where(
            Token.account_id == account_id, Token.purpose == purpose, Token.used_at.is_(None)
        )
    )
    ids = [t.id for t in live if all(t.data.get(k) == v for k, v in same.items())]
    if ids:
        await session.execute(update(Token).where(Token.id.in_(ids)).values(used_at=utcnow()))


async def revoke_digest(session: AsyncSession, token_hash: str) -> None:
    """Kill the one token with this digest, if it is still live."""
    await session.execute(
        update(Token)
        .where(Token.token_hash == token_hash, Token.used_at.is_(None))
        .values(used_at=utcnow())
    )


async def find(session: AsyncSession, raw: str, purpose: str) -> Token:
    """The live token for ``raw``, or LinkExpired (unknown, used, revoked or expired alike)."""
    if not raw or len(raw) > 200:
        raise LinkExpired("This link is no longer valid.")
    token = await session.scalar(
        select(Token).where(Token.token_hash == digest(raw), Token.purpose == purpose)
    )
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        raise LinkExpired("This link is no longer valid.")
    return token


async def consume(session: AsyncSession, raw: str, purpose: str) -> Token:
    """Use the token up; a second use gets LinkExpired."""
    token = await find(session, raw, purpose)
    # Conditional update: of two requests racing with the same link, only one wins.
    result = await session.execute(
        update(Token).where(Token.id == token.id, Token.used_at.is_(None)).values(used_at=utcnow())
    )
    if result.rowcount != 1:
        raise LinkExpired("This link is no longer valid.")
    token.used_at = utcnow()
    return token
