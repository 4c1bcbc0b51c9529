"""A page is one read transaction (core.db.Database.shared_read): the request's first read
carries on the transaction its session was looked up in, and a write ends it, so what the
request wrote is what its later reads see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select, text

from core.db import Database
from core.models import Client


def count_begins(db: Database) -> list[int]:
    begins = [0]

    def on_begin(_conn: Any) -> None:
        begins[0] += 1

    event.listen(db.engine.sync_engine, "begin", on_begin)
    return begins


async def test_the_first_read_carries_on_the_shared_transaction(db: Database) -> None:
    begins = count_begins(db)
    async with db.shared_read() as looked_up:
        await looked_up.execute(text("SELECT 1"))
        async with db.read() as page:
            assert page is looked_up
            await page.execute(text("SELECT 1"))
        async with db.read() as later:  # a second read is a transaction of its own
            assert later is not looked_up
            await later.execute(text("SELECT 1"))
    assert begins[0] == 2


async def test_a_write_ends_the_shared_transaction_and_later_reads_see_it(db: Database) -> None:
    async with db.shared_read() as looked_up:
        # The read snapshot begins here (SQLite's deferred BEGIN takes it at the first read).
        assert await looked_up.scalar(select(Client.id).where(Client.name == "Shared")) is None
        async with db.begin() as s:
            s.add(Client(name="Shared", kind="person"))
        async with db.read() as page:
            assert page is not looked_up
            assert await page.scalar(select(Client.name).where(Client.name == "Shared"))
