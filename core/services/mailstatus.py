"""What staff need to see of mail: the outbox (sent, waiting, failed) and addresses that bounce."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access
from ..actor import Actor
from ..models import Account, OutboxItem, OutboxStatus


async def outbox(
    session: AsyncSession, actor: Actor, *, status: OutboxStatus | None = None, limit: int = 100
) -> list[OutboxItem]:
    access.require(access.can_manage_firm(actor), "Only staff may see the outbox.")
    stmt = select(OutboxItem).order_by(OutboxItem.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(OutboxItem.status == status)
    return list(await session.scalars(stmt))


async def failing_addresses(session: AsyncSession, actor: Actor) -> list[Account]:
    access.require(access.can_manage_firm(actor), "Only staff may see the outbox.")
    return list(
        await session.scalars(
            select(Account)
            .where(Account.email_failing_since.is_not(None))
            .order_by(Account.email_failing_since.desc())
        )
    )
