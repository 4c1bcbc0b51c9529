"""loket store sweep, loket store rotate-key."""

from __future__ import annotations

import argparse
import datetime as dt
import time

from core import storekeeping
from core.store_cipher import DamagedFile

from ..config import ConfigError
from ..output import emit
from ..runtime import Runtime


async def store_sweep(rt: Runtime, args: argparse.Namespace) -> None:
    grace = dt.timedelta(hours=args.grace_hours)
    result = await storekeeping.sweep(rt.db, rt.store, grace=grace)
    data = {
        "id": "store",
        "grace_hours": args.grace_hours,
        "removed": result.objects,
        "removed_bytes": result.object_bytes,
        "temporary_removed": result.temporary,
        "temporary_bytes": result.temporary_bytes,
        "kept": result.kept,
    }
    human = (
        f"Removed {result.objects} stored file(s) that nothing refers to "
        f"({result.object_bytes} bytes) and {result.temporary} unfinished write(s) "
        f"({result.temporary_bytes} bytes), older than {args.grace_hours} hour(s); "
        f"{result.kept} older file(s) are in use."
    )
    emit(args.json, data, human)


async def rotate_key(rt: Runtime, args: argparse.Namespace) -> None:
    """Every stored file encrypted under LOKET_STORE_KEY: those under the previous key (or
    none) are written anew; those done already are skipped, so an interrupted run resumes."""
    if not rt.settings.store_key:
        raise ConfigError("Set LOKET_STORE_KEY (and the old key as LOKET_STORE_KEY_PREVIOUS).")
    resealed = unchanged = 0
    damaged: list[str] = []
    for found in await rt.store.objects(older_than=time.time() + 3600):
        try:
            if await rt.store.reseal(found.key):
                resealed += 1
            else:
                unchanged += 1
        except DamagedFile:
            damaged.append(found.key)
    data = {"id": "store", "resealed": resealed, "unchanged": unchanged, "damaged": damaged}
    human = (
        f"Encrypted {resealed} stored file(s) with the current store key "
        f"({unchanged} already were)."
    )
    if damaged:
        human += f" {len(damaged)} could not be opened and were left as they are: " + ", ".join(
            damaged
        )
    emit(args.json, data, human)
    if damaged:
        # Not a success: a script that goes on to drop the previous key would make these
        # unreadable for good.
        raise DamagedFile(
            f"{len(damaged)} stored file(s) could not be opened with LOKET_STORE_KEY or "
            "LOKET_STORE_KEY_PREVIOUS; keep the previous key until they are dealt with"
        )
