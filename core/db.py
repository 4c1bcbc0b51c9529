"""Engine and session factory, with the SQLite settings that let several processes write at once.

SQLite: WAL mode (readers never block the writer), foreign keys on, a busy timeout, and every
write transaction opened with ``BEGIN IMMEDIATE``. pysqlite's own transaction handling begins
lazily with a deferred BEGIN, so a read-then-write transaction would try to upgrade its lock
later and fail at once with "database is locked" instead of waiting out the busy timeout. We
switch pysqlite's handling off and emit BEGIN ourselves (the workaround SQLAlchemy documents
under "Serializable isolation / Savepoints / Transactional DDL").

A reader session (``Database.reader``) begins with a deferred BEGIN so that pages that only
read do not queue behind writers.

A page is one read transaction: ``Database.shared_read`` opens the transaction in which the
web view looks up the request's session, and the request's first ``read()`` carries it on
instead of beginning another (each transaction costs a pool checkout, BEGIN and COMMIT, a
third of a small page's CPU). A write (``begin()``) ends it first, so what a request wrote
is what its later reads see.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from . import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = 30_000
_BEGIN_OPTION = "loket_sqlite_begin"
SQLITE_POOL_SIZE = 20
# PostgreSQL: the 15 connections a process could have open at once before (SQLAlchemy's 5 kept
# and 10 more at a peak), now all kept. Under a dozen concurrent requests the 10 at a peak
# were opened and closed again all the time: a connection (TLS offer, authentication,
# its statements prepared again) per request, a fifth of a list page's CPU. The most a
# process holds stays 15 (docs/deploy.md counts them against max_connections).
PG_POOL_SIZE = 15
# A PostgreSQL connection back from the pool is asked whether it still works (a round trip:
# BEGIN, an empty statement, ROLLBACK) only when it lay unused this long: one that the
# server closed (a restart, pg_terminate_backend, an idle timeout) is known closed without
# asking, as asyncpg reads the server's goodbye as it comes; what it cannot see (a firewall
# or a failover dropping the connection silently) happens to idle connections, not to ones
# used a moment ago. Pinging every checkout cost about a tenth of a list page.
PG_PING_AFTER_IDLE_SECONDS = 10.0
_CHECKED_IN = "loket_checked_in"


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


def _install_pg_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # Raising DisconnectionError has the pool drop this connection and hand out another.
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")
        checked_in = record.info.get(_CHECKED_IN)  # none yet: a connection just opened
        if checked_in is None or time.monotonic() - checked_in < PG_PING_AFTER_IDLE_SECONDS:
            return
        try:
            sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("this connection no longer answers") from exc


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets the multi-process settings above, PostgreSQL
    a pool that keeps its connections (PG_POOL_SIZE) and pings only idle ones."""
    if is_sqlite(url):
        connect_args = kwargs.pop("connect_args", {})
        # The busy timeout is set by PRAGMA; the driver's own timeout must not cut it short.
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        if make_url(url).get_driver_name() == "aiosqlite":
            kwargs.setdefault("module", sqlite_driver.dbapi())
        # Connections kept, not opened per request: the pool's default keeps 5, and each one
        # opened past them reads the schema again (its search triggers included) and runs the
        # PRAGMAs above, under 16 concurrent requests most of a page's CPU.
        kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
        engine = create_async_engine(url, connect_args=connect_args, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", PG_POOL_SIZE)
        kwargs.setdefault("max_overflow", 0)
    engine = create_async_engine(url, **kwargs)
    if make_url(url).get_driver_name() == "asyncpg":
        _install_pg_hooks(engine)
    return engine


@dataclass
class _Shared:
    """A read transaction opened by ``shared_read``, until a ``read()`` takes it over."""

    db: Database
    begun: AbstractAsyncContextManager[AsyncSession]
    session: AsyncSession
    taken: bool = False

    def take(self, db: Database) -> bool:
        if self.taken or self.db is not db:
            return False
        self.taken = True
        return True

    async def end(self, exc: BaseException | None = None) -> None:
        if exc is None:
            await self.begun.__aexit__(None, None, None)
        else:
            await self.begun.__aexit__(type(exc), exc, exc.__traceback__)


_SHARED: ContextVar[_Shared | None] = ContextVar("loket_shared_read", default=None)


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
        shared = _SHARED.get()
        if shared is not None and shared.take(self):
            await shared.end()  # later reads of this request see what this one writes
        async with self.writer.begin() as session:
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read transaction: the one ``shared_read`` began, if this task has one open and
        no other ``read()`` took it yet; otherwise a new one."""
        shared = _SHARED.get()
        if shared is None or not shared.take(self):
            async with self.reader.begin() as session:
                yield session
            return
        try:
            yield shared.session
        except BaseException as exc:
            await shared.end(exc)
            raise
        await shared.end()

    @asynccontextmanager
    async def shared_read(self) -> AsyncIterator[AsyncSession]:
        """A read transaction that the first ``read()`` inside this block (in this task or
        one it starts) carries on; ended here if none did."""
        begun = self.reader.begin()
        shared = _Shared(self, begun, await begun.__aenter__())
        token = _SHARED.set(shared)
        try:
            yield shared.session
        except BaseException as exc:
            if shared.take(self):
                await shared.end(exc)
            raise
        finally:
            _SHARED.reset(token)
        if shared.take(self):
            await shared.end()

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
