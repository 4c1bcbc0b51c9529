"""Three processes writing to one SQLite database at once, as web, mail and bot would: no
"database is locked" (or any other error) reaches a caller, and every write is kept."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.models import Message

from .conftest import build_firm


async def _setup(url: str) -> None:
    db = Database.connect(url)
    await build_firm(db)
    await db.dispose()


async def _count_messages(url: str) -> int:
    db = Database.connect(url)
    async with db.read() as s:
        stored = await s.scalar(select(func.count(Message.id)))
    await db.dispose()
    return stored


# Ten seconds is hundreds of conflicting transactions per writer: with deferred BEGINs the
# first "database is locked" comes within a second. LOKET_STRESS_SECONDS=60 runs longer.
SECONDS = float(os.environ.get("LOKET_STRESS_SECONDS", "10"))
WORKERS = 3


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_three_writers_at_once(database_url: str, tmp_path: Path) -> None:
    asyncio.run(_setup(database_url))
    root = Path(__file__).resolve().parent.parent
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.sqlite_writer",
                database_url,
                str(tmp_path / "store"),
                str(SECONDS),
                str(n),
            ],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=SECONDS + 120)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    for r in results:
        assert r["errors"] == [], r["errors"][:5]
        assert r["messages"] > 10 and r["status"] > 0 and r["reads"] > 0

    assert asyncio.run(_count_messages(database_url)) == sum(r["messages"] for r in results)
