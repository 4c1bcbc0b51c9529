"""Work that only one process may do at a time, when several run on one PostgreSQL database.

PostgreSQL's advisory locks name the work by a number (derived here from a readable name):

- ``try_transaction_lock``: for one pass of periodic work (the reminder digests); the lock
  ends with the transaction, and a process that does not get it skips the pass, because the
  one that has it is doing the same work at this moment.
- ``held``: for a long-running reader (one IMAP mailbox); the lock is held by a connection of
  its own for as long as the reader runs, and a second process waits for it instead of
  reading the same mail. Should that connection break, the lock is gone too: ``Held.lost``
  is set, for the reader to stop and queue for the lock again.

On SQLite no lock is taken: one `loket serve` owns a data dir (loket.datadirlock), and its
writers queue behind SQLite's single write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .db import Database

CHECK_SECONDS = 10.0


def lock_key(name: str) -> int:
    """A signed 64-bit number for ``name`` (what pg_advisory_lock takes)."""
    digest = hashlib.sha256(f"loket:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def try_transaction_lock(session: AsyncSession, name: str) -> bool:
    """Whether this transaction may do ``name``'s work (always, on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    got = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key(name)})
    return bool(got)


@dataclass
class Held:
    """A lock that is held; ``lost`` is set when its connection broke."""

    name: str
    lost: asyncio.Event = field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def held(
    db: Database,
    name: str,
    *,
    stop: asyncio.Event,
    waiting: Callable[[], None],
    poll_seconds: float = 5.0,
    check_seconds: float = CHECK_SECONDS,
) -> AsyncIterator[Held | None]:
    """Hold ``name``'s lock for the body; ``waiting()`` is called once if another process
    has it, and then this waits (asking again every ``poll_seconds``) until it is free or
    ``stop`` is set; None in the body means it was stopped while waiting."""
    lock = Held(name)
    if db.engine.dialect.name != "postgresql":
        yield lock
        return
    key = lock_key(name)
    # Autocommit: the lock belongs to the session, and no transaction stays open beside it.
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        told = False
        while not await _try(conn, key):
            if not told:
                waiting()
                told = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)
            if stop.is_set():
                yield None
                return
        watch = asyncio.create_task(_watch(conn, lock, check_seconds))
        try:
            yield lock
        finally:
            watch.cancel()
            with contextlib.suppress(BaseException):
                await watch
            with contextlib.suppress(Exception):
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            # Closed, not returned to the pool: a pooled connection whose unlock failed
            # would keep the lock, and every other process waiting, for as long as it lives.
            with contextlib.suppress(Exception):
                await conn.invalidate()


async def _try(conn: AsyncConnection, key: int) -> bool:
    return bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))


async def _watch(conn: AsyncConnection, lock: Held, every: float) -> None:
    # The lock lives exactly as long as its connection: ask it now and then whether it is
    # still there, so that a reader whose lock is gone stops before another one starts.
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), every)
        except Exception:
            lock.lost.set()
            return
