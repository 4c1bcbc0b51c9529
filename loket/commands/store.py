"""loket store sweep."""

from __future__ import annotations

import argparse
import datetime as dt

from core import storekeeping

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
