"""What a running Loket holds: settings, the database and the file store, opened once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.db import Database
from core.settings import Settings
from core.storage import FileStore, LocalFileStore
from core.store_cipher import StoreCipher

from .config import ensure_secret_key


@dataclass
class Runtime:
    settings: Settings
    db: Database
    store: FileStore


def build_store(settings: Settings) -> FileStore:
    """The store ``LOKET_STORE_URL`` names: the data dir's by default, or an S3 bucket."""
    cipher = StoreCipher.from_settings(settings.store_key, settings.store_key_previous)
    if not settings.store_url:
        return LocalFileStore(settings.store_dir, limit=settings.upload_limit, cipher=cipher)
    from core.storage_s3 import S3FileStore, parse_store_url

    bucket, prefix = parse_store_url(settings.store_url)
    return S3FileStore(
        bucket,
        prefix,
        limit=settings.upload_limit,
        endpoint_url=settings.store_endpoint,
        region=settings.store_region,
        access_key=settings.store_access_key,
        secret_key=settings.store_secret_key,
        cipher=cipher,
    )


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    settings = ensure_secret_key(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.connect(settings.resolved_database_url())
    store = build_store(settings)
    try:
        yield Runtime(settings=settings, db=db, store=store)
    finally:
        await store.close()
        await db.dispose()
