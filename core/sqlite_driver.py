"""aiosqlite for SQLAlchemy with one thread hand-off per statement instead of four or more.

aiosqlite runs every sqlite3 call in the connection's own thread; each call is a round trip
(queue, thread wake-up, event-loop wake-up). SQLAlchemy's adapter makes one for creating the
cursor, one for ``execute``, one for ``fetchall`` and one for closing, and one each for BEGIN,
COMMIT and the pool's reset ROLLBACK. On a small VM a round trip costs 0.1–0.2 ms, far more
than the statement itself, so a page with four statements spent most of its time waiting for
threads to wake up (see bench/web_load.py).

This adapter keeps aiosqlite's thread and SQLAlchemy's dialect but runs a whole statement —
cursor, execute, fetch every row, close — in one hand-off. ``BEGIN`` is held back and run in
the same hand-off as the transaction's first statement, and COMMIT or ROLLBACK of a connection
that holds no transaction costs nothing. The results are exactly what sqlite3 returned; only
the number of trips changes. It relies on two aiosqlite internals (``Connection._execute`` and
``._conn``) that have been stable since 0.17; pyproject.toml pins the range it is tested with.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)


class _Outcome:
    """What the statement left behind: the part of a DBAPI cursor SQLAlchemy reads afterwards."""

    __slots__ = ("description", "rowcount", "lastrowid", "arraysize")

    def __init__(self) -> None:
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    def close(self) -> None:
        """Nothing to release: the sqlite3 cursor was closed in the worker thread."""


def _run_statement(
    conn: sqlite3.Connection, begin: str | None, operation: str, parameters: Any, many: bool
) -> tuple[Any, list[Any], int, int | None]:
    """Runs in aiosqlite's thread: the held-back BEGIN, then the statement, all rows read."""
    if begin is not None:
        conn.execute(begin)
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _is_begin(operation: Any) -> bool:
    return isinstance(operation, str) and operation[:6].upper() == "BEGIN "


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return _Outcome()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        adapt: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        if not many and _is_begin(operation):
            adapt.held_begin = operation
            return
        async with adapt._execute_mutex:
            begin, adapt.held_begin = adapt.held_begin, None
            aio = self._connection
            description, rows, rowcount, lastrowid = await aio._execute(
                _run_statement, aio._conn, begin, operation, parameters, many
            )
        outcome = self._cursor
        outcome.description = description
        outcome.rowcount = rowcount
        outcome.lastrowid = lastrowid
        self._rows = deque(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("held_begin",)
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.held_begin: str | None = None

    def _idle(self) -> bool:
        """No transaction to end: BEGIN never ran, or sqlite3 is in autocommit."""
        if self.held_begin is not None:
            self.held_begin = None
            return True
        conn = self._connection._connection
        return conn is None or not conn.in_transaction

    def commit(self) -> None:
        if not self._idle():
            super().commit()

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        plain = super().connect(*arg, **kw)
        return OneTripConnection(self, plain._connection)


def dbapi() -> OneTripDBAPI:
    """The module object to hand to ``create_async_engine(module=...)`` for sqlite+aiosqlite."""
    import aiosqlite

    return OneTripDBAPI(aiosqlite, sqlite3)
