"""Loket as a firm runs it on several machines: two `loket serve --only web` and two
`loket serve --only worker`, real processes, on one PostgreSQL database of their own, sending
2,000 notifications to a real SMTP server. Each reaches the server exactly once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import Database, create_engine
from core.models import OutboxItem, OutboxStatus

from .conftest import PG_UNSET, PG_VARIABLE, pg_schema
from .mailcatcher import SmtpServer, free_port
from .test_outbox import queue

NOTIFICATIONS = 2000
REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(PG_VARIABLE not in os.environ, reason=PG_UNSET)


def loket_command(*args: str) -> list[str]:
    """The `loket` command of this tree, whatever is installed."""
    return [sys.executable, "-c", "import sys; from loket.cli import main; sys.exit(main())", *args]


@pytest.fixture
async def whole_database() -> AsyncIterator[str]:
    """A database of its own on the test server: the processes' URL cannot carry the suite's
    search_path, so they get a whole database, not a schema."""
    server = make_url(os.environ[PG_VARIABLE])
    name = f"loket_processes_{pg_schema()}"
    engine = create_engine(server.render_as_string(hide_password=False))
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await engine.dispose()


@pytest.fixture
def sink() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def environment(url: str, data_dir: Path, smtp: SmtpServer, **more: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("LOKET_")}
    return {
        **keep,
        "PYTHONPATH": str(REPO),
        "LOKET_DATA_DIR": str(data_dir),
        "LOKET_DATABASE_URL": url,
        "LOKET_SECRET_KEY": "processes-test-" + "x" * 40,
        "LOKET_PUBLIC_URL": "http://127.0.0.1",
        "LOKET_SMTP_HOST": "127.0.0.1",
        "LOKET_SMTP_PORT": str(smtp.port),
        "LOKET_MAIL_FROM": "loket@kantoor.example",
        "LOKET_OUTBOX_POLL_SECONDS": "1",
        **more,
    }


async def healthy(port: int, http: aiohttp.ClientSession) -> dict | None:
    try:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            return await response.json() if response.status == 200 else None
    except aiohttp.ClientError:
        return None


async def test_two_web_and_two_worker_processes_send_each_notification_once(
    whole_database: str, sink: SmtpServer, tmp_path: Path
) -> None:
    env = environment(whole_database, tmp_path / "data", sink)
    init = await asyncio.create_subprocess_exec(*loket_command("init"), env=env)
    assert await init.wait() == 0
    db = Database.connect(whole_database)
    try:
        await queue(db, NOTIFICATIONS)
        # The outbox is locked while the processes start, so both workers' first claims wait
        # and then read the outbox at the same moment: the race a claim must win.
        gate = await db.engine.connect()
        await gate.begin()
        await gate.execute(text("LOCK TABLE outbox_items IN ACCESS EXCLUSIVE MODE"))
        ports = [free_port(), free_port()]
        logs = tmp_path / "logs"
        logs.mkdir()
        processes = []
        for n, only in enumerate(["web", "web", "worker", "worker"]):
            extra = {"LOKET_HTTP_PORT": str(ports[n])} if only == "web" else {}
            with (logs / f"{only}{n}.log").open("wb") as out:
                processes.append(
                    await asyncio.create_subprocess_exec(
                        *loket_command("serve", "--only", only),
                        env={**env, **extra},
                        stdout=out,
                        stderr=asyncio.subprocess.STDOUT,
                    )
                )
        try:
            await released_together(gate, processes, logs)
            await until_sent(db, processes, logs)
            # Both web processes answer, on the same database: each sees the workers beat.
            async with aiohttp.ClientSession() as http:
                for port in ports:
                    report = await healthy(port, http)
                    assert report is not None and report["components"]["worker"]["status"] == "ok"
        finally:
            for process in processes:  # a clean stop: nothing still on its way to the sink
                process.send_signal(signal.SIGTERM)
            for process in processes:
                await asyncio.wait_for(process.wait(), 30)
        assert [p.returncode for p in processes] == [0, 0, 0, 0], _tails(logs)
        async with db.read() as s:
            rows = (await s.execute(select(OutboxItem.status, OutboxItem.email_message_id))).all()
    finally:
        await db.dispose()

    assert Counter(status for status, _ in rows) == {OutboxStatus.SENT: NOTIFICATIONS}
    received = [message["Message-ID"].strip() for message in sink.messages]
    # Message-IDs name their outbox item (<…loket.42@…>): how often each item arrived.
    per_item = Counter(int(re.search(r"\.loket\.(\d+)@", mid)[1]) for mid in received)
    twice = [item for item, n in per_item.items() if n > 1]
    assert not twice, f"{len(twice)} items delivered more than once, e.g. {twice[:5]}"
    assert len(received) == NOTIFICATIONS
    assert set(received) == {message_id for _, message_id in rows}
    # Both workers took part (each claim is a batch of fifty; the other takes the next).
    workers_said = [(logs / f"worker{n}.log").read_text() for n in (2, 3)]
    assert all("outbox: sent" in said for said in workers_said), _tails(logs)


async def released_together(
    gate: AsyncConnection, processes: list[asyncio.subprocess.Process], logs: Path
) -> None:
    """Once both workers wait on the locked outbox, let them in at once."""
    waiting = text(
        "SELECT count(*) FROM pg_locks JOIN pg_class ON pg_class.oid = relation"
        " WHERE relname = 'outbox_items' AND NOT granted"
    )
    deadline = time.monotonic() + 120
    while (await gate.scalar(waiting)) < 2:
        assert all(p.returncode is None for p in processes), _tails(logs)
        assert time.monotonic() < deadline, f"the workers never claimed\n{_tails(logs)}"
        await asyncio.sleep(0.1)
    await gate.commit()
    await gate.close()


async def until_sent(db: Database, processes: list[asyncio.subprocess.Process], logs: Path) -> None:
    """Wait for the outbox to empty (a bound on a hang, not a timing assertion)."""
    deadline = time.monotonic() + 180
    while True:
        async with db.read() as s:
            left = await s.scalar(
                select(text("count(*)"))
                .select_from(OutboxItem)
                .where(OutboxItem.status != OutboxStatus.SENT)
            )
        if left == 0:
            return
        assert all(p.returncode is None for p in processes), _tails(logs)
        assert time.monotonic() < deadline, f"{left} not sent\n{_tails(logs)}"
        await asyncio.sleep(0.2)


def _tails(logs: Path) -> str:
    return "\n".join(f"== {f.name}\n{f.read_text()[-2000:]}" for f in sorted(logs.iterdir()))
