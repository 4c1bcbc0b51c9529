"""One writer process for the SQLite concurrency test (run by tests/test_sqlite_concurrency.py).

Usage: python -m tests.sqlite_writer DATABASE_URL STORE_DIR SECONDS WORKER

For SECONDS it runs read-then-write units of work through the services, as the web, mail and
bot processes would, and prints one JSON line: how many of each it committed and every error
that reached it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from core.actor import Actor
from core.db import Database
from core.models import Channel
from core.services import accounts, dossiers, messages
from core.storage import LocalFileStore

NUMBERS = ["2026-0001", "2026-0002"]


async def run(url: str, store_dir: Path, seconds: float, worker: int) -> dict:
    db = Database.connect(url)
    store = LocalFileStore(store_dir, limit=1024 * 1024)
    system = Actor.system(Channel.SYSTEM)
    counts = {"messages": 0, "status": 0, "reads": 0}
    errors: list[str] = []
    async with db.read() as s:
        alice = Actor.of(await accounts.account_by_username(s, "alice"), Channel.WEB)
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        i += 1
        number = NUMBERS[i % 2]
        try:
            async with db.begin() as s:
                # Read first, then write: the case that fails without BEGIN IMMEDIATE.
                view = await dossiers.open_dossier(s, alice, number=number)
                await messages.send_message(
                    s,
                    store,
                    alice,
                    dossier_id=view.dossier.id,
                    subject=f"w{worker}",
                    body=f"message {i} from worker {worker}",
                )
            counts["messages"] += 1
            if i % 5 == 0:
                async with db.begin() as s:
                    status = "in_treatment" if i % 10 == 0 else "waiting_for_client"
                    await dossiers.set_status(s, system, number, status)
                counts["status"] += 1
            async with db.read() as s:
                await dossiers.list_dossiers(s, alice)
            counts["reads"] += 1
        except Exception as exc:  # the test wants to see every error, whatever it is
            errors.append(f"{type(exc).__name__}: {exc}")
    await db.dispose()
    return {"worker": worker, **counts, "errors": errors}


def main() -> None:
    url, store_dir, seconds, worker = sys.argv[1:5]
    result = asyncio.run(run(url, Path(store_dir), float(seconds), int(worker)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
