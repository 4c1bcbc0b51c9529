"""The number of dossiers per status, kept beside the dossiers (the dossier_counts table).

The staff see every dossier, so their list's "total" and "in progress" are the firm's: read
from a handful of rows here instead of counting the dossiers table, whose size a firm does
not choose. Exact, not an estimate: each change is made in the unit of work that creates the
dossier or changes its status, so the count commits or rolls back with it. Concurrent changes
wait for each other on the status's row (PostgreSQL) or on the writer lock (SQLite); a firm
creates a few dossiers a minute at most.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import dialect_insert
from ..models import DossierCount, DossierStatus


async def add(session: AsyncSession, changes: dict[DossierStatus, int]) -> None:
    """So many more dossiers (negative: fewer) with each status, in one statement."""
    # An upsert: a status no dossier had yet has no row.
    stmt = dialect_insert(session, DossierCount).values(
        [{"status": status, "count": delta} for status, delta in changes.items()]
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[DossierCount.status],
            set_={"count": DossierCount.count + stmt.excluded.count},
        )
    )


async def by_status(session: AsyncSession) -> dict[DossierStatus, int]:
    """How many dossiers have each status (a status none has: absent or 0)."""
    return dict((await session.execute(select(DossierCount.status, DossierCount.count))).all())
