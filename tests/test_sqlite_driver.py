"""The one-trip SQLite adapter (core/sqlite_driver.py) behaves like plain aiosqlite: what is
committed is kept, what is rolled back is gone, errors keep their SQLAlchemy types, and a write
transaction still holds SQLite's write lock from its first statement."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.db import Database
from core.sqlite_driver import OneTripConnection


@pytest.fixture
async def sdb(tmp_path: Path):
    db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'one.sqlite3'}")
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    yield db
    await db.dispose()


async def _values(db: Database) -> list[str]:
    async with db.read() as s:
        return list(await s.scalars(text("SELECT v FROM t ORDER BY id")))


async def test_the_engine_uses_the_one_trip_connection(sdb: Database) -> None:
    async with sdb.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.dbapi_connection, OneTripConnection)


async def test_commit_keeps_and_rollback_discards(sdb: Database) -> None:
    async with sdb.begin() as s:
        result = await s.execute(text("INSERT INTO t (v) VALUES ('kept')"))
        assert result.rowcount == 1
    with pytest.raises(RuntimeError):
        async with sdb.begin() as s:
            await s.execute(text("INSERT INTO t (v) VALUES ('gone')"))
            raise RuntimeError("the unit of work fails")
    assert await _values(sdb) == ["kept"]


async def test_savepoint_rolls_back_only_its_own_part(sdb: Database) -> None:
    async with sdb.begin() as s:
        await s.execute(text("INSERT INTO t (v) VALUES ('outer')"))
        with pytest.raises(IntegrityError):
            async with s.begin_nested():
                await s.execute(text("INSERT INTO t (v) VALUES ('inner')"))
                await s.execute(text("INSERT INTO t (v) VALUES ('outer')"))
        await s.execute(text("INSERT INTO t (v) VALUES ('after')"))
    assert await _values(sdb) == ["outer", "after"]


async def test_many_rows_and_executemany(sdb: Database) -> None:
    async with sdb.begin() as s:
        await s.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": f"r{i}"} for i in range(500)])
    values = await _values(sdb)
    assert len(values) == 500 and values[0] == "r0" and values[-1] == "r499"


async def test_a_transaction_without_statements_ends_cleanly(sdb: Database) -> None:
    for _ in range(3):
        async with sdb.begin():
            pass
        async with sdb.read():
            pass
    async with sdb.begin() as s:
        await s.execute(text("INSERT INTO t (v) VALUES ('still fine')"))
    assert await _values(sdb) == ["still fine"]


async def test_a_writer_holds_the_lock_from_its_first_statement(sdb: Database) -> None:
    """Two write transactions at once: the second waits for the first (busy timeout) instead of
    failing with "database is locked", and both writes are kept in order."""
    order: list[str] = []
    first_wrote = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with sdb.begin() as s:
            await s.execute(text("INSERT INTO t (v) VALUES ('first')"))
            first_wrote.set()
            await release.wait()
            order.append("first commits")

    async def second() -> None:
        await first_wrote.wait()
        async with sdb.begin() as s:
            await s.execute(text("INSERT INTO t (v) VALUES ('second')"))
            order.append("second wrote")

    task_one = asyncio.create_task(first())
    task_two = asyncio.create_task(second())
    await asyncio.sleep(0.3)
    assert order == []  # the second writer is waiting for the lock
    release.set()
    await asyncio.gather(task_one, task_two)
    assert order == ["first commits", "second wrote"]
    assert await _values(sdb) == ["first", "second"]
