"""Heartbeats of the long-running parts (models.Heartbeat): each process says now and then
that its worker, mail reader or bot is working; /healthz reads the latest per part."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .db import dialect_insert
from .models import Heartbeat, utcnow

WORKER, MAIL, BOT = "worker", "mail", "bot"
# A process that stopped long ago is forgotten (each start is a new instance).
FORGET_AFTER = dt.timedelta(days=1)


async def beat(session: AsyncSession, component: str, instance: str) -> None:
    now = utcnow()
    stmt = dialect_insert(session, Heartbeat).values(
        component=component, instance=instance[:200], seen_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["component", "instance"], set_={"seen_at": now})
    )
    await session.execute(delete(Heartbeat).where(Heartbeat.seen_at < now - FORGET_AFTER))


async def latest(session: AsyncSession) -> dict[str, dt.datetime]:
    """Per component, when any process last said it was working."""
    rows = await session.execute(
        select(Heartbeat.component, func.max(Heartbeat.seen_at)).group_by(Heartbeat.component)
    )
    return {component: seen for component, seen in rows if seen is not None}
