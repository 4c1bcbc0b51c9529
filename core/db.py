"""Engine and session factory, with the SQLite settings that let several processes write at once.

SQLite: WAL mode (readers never block the writer), foreign keys on, a busy timeout, and every
write transaction opened with ``BEGIN IMMEDIATE``. pysqlite's own transaction handling begins
lazily with a deferred BEGIN, so a read-then-write transaction would try to upgrade its lock
later and fail at once with "database is locked" instead of waiting out the busy timeout. We
switch pysqlite's handling off and emit BEGIN ourselves (the workaround SQLAlchemy documents
under "Serializable isolation / Savepoints / Transactional DDL").

A reader session (``Database.reader``) begins with a deferred BEGIN so that pages that only
read do not queue behind writers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from . import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = 30_000
_BEGIN_OPTION = "loket_sqlite_begin"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to us (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets the multi-process settings above."""
    if is_sqlite(url):
        connect_args = kwargs.pop("connect_args", {})
        # The busy timeout is set by PRAGMA; the driver's own timeout must not cut it short.
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        if make_url(url).get_driver_name() == "aiosqlite":
            kwargs.setdefault("module", sqlite_driver.dbapi())
        engine = create_async_engine(url, connect_args=connect_args, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


@dataclass
class Database:
    """The engine with two session factories: ``writer`` (the default) and ``reader``."""

    engine: AsyncEngine
    writer: async_sessionmaker[AsyncSession]
    reader: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, url: str, **kwargs: Any) -> Database:
        engine = create_engine(url, **kwargs)
        read_engine = engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
        return cls(
            engine=engine,
            writer=async_sessionmaker(engine, expire_on_commit=False),
            reader=async_sessionmaker(read_engine, expire_on_commit=False),
        )

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any error."""
        async with self.writer.begin() as session:
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.reader.begin() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that knows ``ON CONFLICT`` on the session's database (SQLite or PostgreSQL)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)
