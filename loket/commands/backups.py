"""loket backup, loket restore."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.db import Database
from core.settings import Settings

from ..backup import backup, restore
from ..config import SECRET_FILE
from ..output import emit
from ..runtime import Runtime, build_store


def _key_file(settings: Settings) -> Path | None:
    """The data dir's secret key file, when that is where the key comes from."""
    path = settings.data_dir / SECRET_FILE
    if path.is_file() and path.read_text().strip() == settings.secret_key:
        return path
    return None


async def backup_command(rt: Runtime, args: argparse.Namespace) -> None:
    summary = await backup(rt.db, rt.store, Path(args.path), secret_key_file=_key_file(rt.settings))
    data = {
        "id": str(summary.path),
        "path": str(summary.path),
        "database": summary.database,
        "revision": summary.revision,
        "objects": summary.objects,
        "object_bytes": summary.object_bytes,
        "rows": summary.rows,
        "secret_key": summary.secret_key,
    }
    key = (
        " It holds the secret key: keep it as safe as the data dir."
        if summary.secret_key
        else " The secret key is not in it (LOKET_SECRET_KEY is set): keep that key as well."
    )
    emit(
        args.json,
        data,
        f"Wrote {summary.path}: the {summary.database} database (schema {summary.revision}) "
        f"and {summary.objects} stored file(s) ({summary.object_bytes} bytes).{key}",
    )


async def restore_command(settings: Settings, args: argparse.Namespace) -> None:
    """Runs before the usual runtime is opened: that would write a secret key into the data
    dir, which must be empty."""
    key_file = None if settings.secret_key else settings.data_dir / SECRET_FILE
    db = Database.connect(settings.resolved_database_url())
    store = build_store(settings)
    try:
        summary = await restore(
            db, store, Path(args.path), data_dir=settings.data_dir, secret_key_file=key_file
        )
    finally:
        await store.close()
        await db.dispose()
    if summary.secret_key:
        key = " The secret key came with it."
    elif settings.secret_key:
        key = " LOKET_SECRET_KEY is set: it must be the key the backed-up Loket used."
    else:
        key = " The archive held no secret key: set LOKET_SECRET_KEY to the one it used."
    emit(
        args.json,
        {
            "id": str(settings.data_dir),
            "data_dir": str(settings.data_dir),
            "database": summary.database,
            "revision": summary.revision,
            "objects": summary.objects,
            "rows": summary.rows,
            "secret_key": summary.secret_key,
        },
        f"Restored the {summary.database} database (schema {summary.revision}, now upgraded "
        f"to the newest) and {summary.objects} stored file(s) into {settings.data_dir}.{key}",
    )
