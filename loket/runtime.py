"""What a running Loket holds: settings, the database and the file store, opened once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.db import Database
from core.settings import Settings
from core.storage import LocalFileStore

from .config import ensure_secret_key


@dataclass
class Runtime:
    settings: Settings
    db: Database
    store: LocalFileStore


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    settings = ensure_secret_key(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.connect(settings.resolved_database_url())
    try:
        yield Runtime(
            settings=settings,
            db=db,
            store=LocalFileStore(settings.store_dir, limit=settings.upload_limit),
        )
    finally:
        await db.dispose()
