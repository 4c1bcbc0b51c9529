"""PostgreSQL's pool hands out connections that work: one the server closed is replaced
without a round trip, and one that lay unused a while is asked first (core.db)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

import core.db
from core.db import Database

from .conftest import pg_engine_kwargs


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[Database]:
    if make_url(database_url).get_backend_name() == "sqlite":
        pytest.skip("PostgreSQL's pool only")
    database = Database.connect(database_url, pool_size=1, **pg_engine_kwargs())
    yield database
    await database.dispose()


async def backend_pid(db: Database) -> int:
    async with db.read() as s:
        return (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def terminate(db: Database, pid: int) -> None:
    admin = core.db.create_engine(db.engine.url.render_as_string(hide_password=False))
    async with admin.begin() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await admin.dispose()
    await asyncio.sleep(0.2)  # the server's goodbye reaches asyncpg


async def test_a_connection_the_server_closed_is_replaced(one_connection: Database) -> None:
    first = await backend_pid(one_connection)
    await terminate(one_connection, first)
    assert await backend_pid(one_connection) != first


async def test_a_connection_idle_a_while_is_asked_before_use(
    one_connection: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await backend_pid(one_connection)
    await terminate(one_connection, first)
    # As a firewall dropping it silently would: asyncpg heard nothing.
    monkeypatch.setattr(asyncpg.Connection, "is_closed", lambda _self: False)
    monkeypatch.setattr(core.db, "PG_PING_AFTER_IDLE_SECONDS", 0.0)
    assert await backend_pid(one_connection) != first
