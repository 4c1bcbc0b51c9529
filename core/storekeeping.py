"""Keeping the file store to what the database refers to.

A unit of work that is refused after it stored files (too many attachments, a bad parent
message, an oversize later file, a client that went away) removes the objects it created
itself, once its transaction is over and no record refers to them (``removing_unused``).
What slips through (a crash, a mail refused late, an object shared with an upload that was
refused too) is left for ``sweep``, which removes objects no record refers to once they are
older than a grace period (``loket store sweep``).

Objects are shared by identical uploads, so neither removes an object a record refers to,
nor one that a put has stamped since it was looked at (see core.storage).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Database
from .models import Document, InboundMail
from .storage import FileStore, StoredFile, recording_created

log = logging.getLogger(__name__)
# Keys per query: well under SQLite's and asyncpg's limits on bound parameters.
BATCH = 500


async def referenced(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` that a record refers to: a document, or a mail's kept original."""
    keys = sorted(set(keys))
    found: set[str] = set()
    for start in range(0, len(keys), BATCH):
        batch = keys[start : start + BATCH]
        query = union(
            select(Document.storage_key).where(Document.storage_key.in_(batch)),
            select(InboundMail.raw_storage_key).where(InboundMail.raw_storage_key.in_(batch)),
        )
        found.update(await session.scalars(query))
    return found


async def remove_unused(db: Database, store: FileStore, created: Sequence[StoredFile]) -> int:
    """Remove those of the objects this unit of work created that no record refers to (its
    transaction is over: committed or rolled back). How many were removed."""
    if not created:
        return 0
    async with db.read() as s:
        used = await referenced(s, (f.key for f in created))
    removed = 0
    for stored in created:
        if stored.key not in used and await store.release(stored):
            removed += 1
    return removed


@contextlib.asynccontextmanager
async def removing_unused(db: Database, store: FileStore) -> AsyncIterator[None]:
    """Around a unit of work (a web request, a command): afterwards, however it ended, the
    objects its puts created that no record came to refer to are removed. This never raises
    of its own: what it cannot remove, the sweep does."""
    with recording_created() as created:
        try:
            yield
        finally:
            if created:
                # Shielded: a request cancelled while it cleans up still finishes the job.
                cleanup = asyncio.ensure_future(_quietly(db, store, list(created)))
                await asyncio.shield(cleanup)


async def _quietly(db: Database, store: FileStore, created: list[StoredFile]) -> None:
    try:
        removed = await remove_unused(db, store, created)
    except Exception:
        log.warning("could not remove %d unused stored file(s); the sweep will", len(created))
        return
    if removed:
        log.info("removed %d stored file(s) that nothing refers to", removed)


@dataclass
class SweepResult:
    objects: int
    object_bytes: int
    temporary: int
    temporary_bytes: int
    kept: int  # old objects that a record refers to


async def sweep(db: Database, store: FileStore, *, grace: dt.timedelta) -> SweepResult:
    """Remove objects older than ``grace`` that no record refers to, and files that writes
    left in the store's temporary folder before then."""
    older_than = time.time() - grace.total_seconds()
    candidates = await store.objects(older_than=older_than)
    async with db.read() as s:
        used = await referenced(s, (o.key for o in candidates))
    removed = removed_bytes = 0
    for candidate in candidates:
        if candidate.key in used:
            continue
        if await store.remove_unchanged(candidate.key, candidate.stamp):
            removed, removed_bytes = removed + 1, removed_bytes + candidate.size
    temporary, temporary_bytes = await store.sweep_temporary(older_than=older_than)
    return SweepResult(
        objects=removed,
        object_bytes=removed_bytes,
        temporary=temporary,
        temporary_bytes=temporary_bytes,
        kept=len(used),
    )


@dataclass
class Released:
    removed: int
    shared: int  # another record still refers to it
    recent: int  # stamped within the grace period (an upload may be about to use it): the sweep's


async def remove_released(
    db: Database, store: FileStore, keys: Iterable[str], *, grace: dt.timedelta
) -> Released:
    """After a unit of work that deleted the records referring to ``keys`` has committed:
    remove those objects that no other record refers to, unless a put stamped them within
    ``grace`` (the same rule as the sweep's, so an upload on its way keeps its object)."""
    keys = set(keys)
    if not keys:
        return Released(0, 0, 0)
    async with db.read() as s:
        used = await referenced(s, keys)
    stamps = {
        o.key: o.stamp
        for o in await store.objects(older_than=time.time() - grace.total_seconds())
        if o.key in keys
    }
    removed = recent = 0
    for key in keys - used:
        if key not in stamps:
            recent += 1
        elif await store.remove_unchanged(key, stamps[key]):
            removed += 1
        else:
            recent += 1
    return Released(removed, len(used), recent)
