"""How the dossier lists, a dossier's page and the staff's search scale with the database.

Fills a fresh database in bulk and measures, at each checkpoint, the time per call and the
number of SQL statements per call: a client's dossier list and dossier page (the client has
three dossiers among all the others), the staff's dossier list (its first page, with the
firm's totals: kept counts, no count of the table), the staff search (a dossier number, and
a text found nowhere, which reads the most), and the staff inbox.

Targets (issue 14, "Growth"): each takes at most 1.5x as long at the largest checkpoint as
at the smallest, with the same number of statements. Time is CPU time of the process (the
database thread included), steadier than wall time on a shared machine; on PostgreSQL the
server's work is not in it, so the bench also prints wall time (the faster half of the
calls) and rates that on PostgreSQL.

    python bench/dossier_queries.py                        # checkpoints 1,000 and 100,000
    python bench/dossier_queries.py --at 1000,10000,100000 --repeat 50
    python bench/dossier_queries.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test_growth
    python bench/dossier_queries.py --dossiers 10000 --messages 200000   # one final size

On PostgreSQL the bench works in a schema of its own (dropped before and after), so any
database it may create a schema in will do.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, event, insert

from core import schema
from core.actor import Actor
from core.db import Database
from core.models import (
    Account,
    Answer,
    Channel,
    Checklist,
    ChecklistTemplate,
    Client,
    Document,
    Dossier,
    DossierStatus,
    DossierStep,
    DownloadReceipt,
    Message,
    MessageRead,
    Role,
    utcnow,
)
from core.services import dossiercounts, dossiers, inbox, search
from core.services.inbox import Filters

BATCH = 5000
SQLITE_VARIABLES = 32_000  # bound values a statement may carry (SQLite: 32,766)
SEARCH_INDEXED = {"dossiers", "clients", "accounts", "documents"}  # migration 0015
TARGET = 1.5  # at most this many times as long at the largest checkpoint as at the smallest
# Where incoming messages and delivered documents came from, in turn: mostly the web and mail.
INCOMING_CHANNELS = ["web", "email", "web", "email", "telegram"]
STATUSES = ["new", "in_treatment", "waiting_for_client", "report_ready", "completed", "archived"]
FAKE_SHA = "0" * 64


class Filler:
    """Grows the database to a number of dossiers, keeping ids dense and predictable."""

    def __init__(self, db: Database, messages_per_dossier: int, seed: int = 7) -> None:
        self.db = db
        self.per = messages_per_dossier
        self.rng = random.Random(seed)
        self.dossiers = 0
        self.clients = 0
        self.staff_id = 0
        self.client_account = 0
        self.message_id = 0
        self.document_id = 0
        self.checklist_id = 0
        # Every row a second after the one before: the newest rows are the last dossiers'.
        self.clock = utcnow() - dt.timedelta(days=3 * 365)

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(seconds=1)
        return self.clock

    async def _insert(self, model: type, rows: list[dict[str, Any]]) -> None:
        table = model.__table__  # type: ignore[attr-defined]
        async with self.db.begin() as s:
            if rows and s.get_bind().dialect.name == "postgresql" and _copyable(table):
                # COPY: a server parses 2 million INSERT rows five times slower.
                raw = await (await s.connection()).get_raw_connection()
                columns = list(rows[0])
                records = [tuple(r[c] for c in columns) for r in rows]
                await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                    table.name, records=records, columns=columns
                )
                return
            if table.name in SEARCH_INDEXED:
                # One statement of many rows: FTS5 (its triggers) writes its index out at the
                # end of each statement, and an executemany is a statement a row (40x slower).
                # A multi-row VALUES takes its columns from the first row: a key that only a
                # later row has would be dropped without a word.
                keys = list(dict.fromkeys(key for row in rows for key in row))
                rows = [{key: row.get(key) for key in keys} for row in rows]
                size = SQLITE_VARIABLES // len(table.columns)
                for start in range(0, len(rows), size):
                    await s.execute(insert(table).values(rows[start : start + size]))
                return
            # Core inserts, many rows a statement: the ORM's bulk path costs more than the rows.
            for start in range(0, len(rows), BATCH):
                await s.execute(insert(table), rows[start : start + BATCH])

    async def start(self) -> None:
        now = utcnow()
        await self._insert(
            Client, [{"id": 1, "name": "Bench client", "kind": "person", "created_at": now}]
        )
        await self._insert(
            Account,
            [
                {
                    "id": 1,
                    "username": "staff",
                    "email": "staff@bench.example",
                    "name": "Staff",
                    "role": "staff",
                    "language": "nl",
                    "notifications": {},
                    "created_at": now,
                    "active": True,
                    "is_main": False,
                    "two_factor": "none",
                },
                {
                    "id": 2,
                    "username": "client",
                    "email": "client@bench.example",
                    "name": "Client",
                    "role": "client",
                    "language": "nl",
                    "client_id": 1,
                    "notifications": {},
                    "created_at": now,
                    "active": True,
                    "is_main": True,
                    "two_factor": "none",
                },
            ],
        )
        await self._insert(
            ChecklistTemplate,
            [
                {
                    "id": 1,
                    "name": "ib",
                    "version": 1,
                    "kind": "checklist",
                    "title": {"nl": "Aangifte", "en": "Tax return"},
                    "definition": {
                        "sections": [{"questions": [{"key": "jaaropgave", "label": "Jaaropgave"}]}]
                    },
                    "created_at": now,
                }
            ],
        )
        self.clients, self.staff_id, self.client_account = 1, 1, 2

    async def grow_to(self, total: int) -> None:
        now = utcnow()
        first = self.dossiers + 1
        if total < first:
            return
        # The measured client owns dossiers 1-3; every other client owns one or two.
        clients, accounts, rows, steps = [], [], [], []
        for n in range(first, total + 1):
            if n <= 3:
                client_id = 1
            else:
                if n % 2 == 0 or self.clients == 1:
                    self.clients += 1
                    clients.append(
                        {
                            "id": self.clients,
                            "name": f"Client {self.clients}",
                            "kind": "person",
                            "created_at": now,
                        }
                    )
                    accounts.append(
                        {
                            "id": self.clients + 1,
                            "username": f"c{self.clients}",
                            "email": f"c{self.clients}@bench.example",
                            "name": "",
                            "role": "client",
                            "language": "nl",
                            "client_id": self.clients,
                            "notifications": {},
                            "created_at": now,
                            "active": True,
                            "is_main": True,
                            "two_factor": "none",
                        }
                    )
                client_id = self.clients
            rows.append(
                {
                    "id": n,
                    "number": f"B-{n:07d}",
                    "description": f"Dossier {n} aangifte",
                    "status": STATUSES[n % len(STATUSES)],
                    "client_id": client_id,
                    "visible_to_client": True,
                    "handler_id": self.staff_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for position in range(1, n % 7):
                steps.append(
                    {
                        "dossier_id": n,
                        "position": position,
                        "title": f"Stap {position}",
                        "done_at": now if position % 2 else None,
                    }
                )
        await self._insert(Client, clients)
        await self._insert(Account, accounts)
        await self._insert(Dossier, rows)
        # Rows put in past the services: their counts too, as create_dossier would.
        async with self.db.begin() as s:
            await dossiercounts.add(s, Counter(DossierStatus(r["status"]) for r in rows))
        await self._insert(DossierStep, steps)
        await self._fill_content(first, total, now)
        self.dossiers = total

    async def _fill_content(self, first: int, last: int, now: Any) -> None:
        msgs, reads, docs, receipts, lists, answers = [], [], [], [], [], []
        for n in range(first, last + 1):
            for i in range(self.per):
                self.message_id += 1
                from_client = i % 3 == 0
                channel = INCOMING_CHANNELS[self.message_id % 5] if from_client else "web"
                msgs.append(
                    {
                        "id": self.message_id,
                        "dossier_id": n,
                        "author_id": self.client_account if from_client and n <= 3 else None,
                        "direction": "incoming" if from_client else "outgoing",
                        "subject": f"Bericht {i}",
                        "body": "Tekst " * 20,
                        "channel": channel,
                        "created_at": self.tick(),
                    }
                )
                if n <= 3 and i % 2 == 0 and not from_client:
                    reads.append(
                        {
                            "message_id": self.message_id,
                            "account_id": self.client_account,
                            "read_at": now,
                        }
                    )
            for i in range(max(1, self.per // 5)):
                self.document_id += 1
                docs.append(
                    {
                        "id": self.document_id,
                        "dossier_id": n,
                        "category": ["correspondence", "document", "delivered"][i % 3],
                        "filename": f"doc{i}.pdf",
                        "content_type": "application/pdf",
                        "size": 1000,
                        "sha256": FAKE_SHA,
                        "storage_key": FAKE_SHA,
                        "source_channel": INCOMING_CHANNELS[self.document_id % 5],
                        "review_state": "none",
                        "created_at": self.tick(),
                    }
                )
                if n <= 3 and i % 2 == 0:
                    receipts.append(
                        {
                            "document_id": self.document_id,
                            "account_id": self.client_account,
                            "first_at": now,
                            "last_at": now,
                            "count": 1,
                        }
                    )
            if n % 4 == 0:  # a submitted checklist; every other one with a "not available"
                self.checklist_id += 1
                at = self.tick()
                lists.append(
                    {
                        "id": self.checklist_id,
                        "dossier_id": n,
                        "template_id": 1,
                        "status": "submitted",
                        "locked": True,
                        "assigned_at": at,
                        "submitted_at": at,
                        "submitted_channel": INCOMING_CHANNELS[n % 5],
                    }
                )
                if n % 8 == 0:
                    answers.append(
                        {
                            "checklist_id": self.checklist_id,
                            "question_key": "jaaropgave",
                            "value": None,
                            "not_available": True,
                            "not_available_reason": "Nog niet ontvangen",
                            "channel": INCOMING_CHANNELS[n % 5],
                            "review_state": "none",
                            "updated_at": at,
                        }
                    )
            if len(msgs) >= 50_000:
                await self._flush(msgs, reads, docs, receipts, lists, answers)
                msgs, reads, docs, receipts, lists, answers = [], [], [], [], [], []
        await self._flush(msgs, reads, docs, receipts, lists, answers)

    async def _flush(self, *rows: list) -> None:
        for model, batch in zip(
            (Message, MessageRead, Document, DownloadReceipt, Checklist, Answer), rows, strict=True
        ):
            await self._insert(model, batch)


def _copyable(table: Any) -> bool:
    """Whether COPY takes the rows as they are: JSON columns would need encoding first (and a
    None there is JSON's null, not SQL's)."""
    return not any(isinstance(c.type, JSON) for c in table.columns)


class StatementCounter:
    def __init__(self, db: Database) -> None:
        self.count = 0
        self.active = False
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._on)

    def _on(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        head = statement.lstrip()[:8].upper()
        if self.active and not head.startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            self.count += 1


async def measure(
    db: Database, counter: StatementCounter, call: Callable[[Any], Awaitable[Any]], repeat: int
) -> tuple[float, float, int]:
    """CPU and wall milliseconds per call (the faster half's mean), and statements per call."""
    async with db.read() as s:  # warm-up
        await call(s)
    counter.count, counter.active = 0, True
    async with db.read() as s:
        await call(s)
    statements = counter.count
    counter.active = False
    cpu, wall = [], []
    for _ in range(repeat):
        started, started_wall = time.process_time(), time.perf_counter()
        async with db.read() as s:
            await call(s)
        cpu.append(time.process_time() - started)
        wall.append(time.perf_counter() - started_wall)
    # The faster half: what the work costs, without the moments other processes took the CPU.
    return _faster_half(cpu), _faster_half(wall), statements


def _faster_half(times: list[float]) -> float:
    times = sorted(times)
    return statistics.mean(times[: max(1, len(times) // 2)]) * 1000


BENCH_SCHEMA = "bench_dossier_queries"


async def _database(url: str | None, tmp: Path) -> Database:
    if not url:
        return Database.connect(f"sqlite+aiosqlite:///{tmp / 'bench.sqlite3'}")
    if not url.startswith("postgresql"):
        return Database.connect(url)  # an empty database, the bench's to fill
    # A schema of the bench's own, made afresh: the database may hold other things.
    setup = Database.connect(url)
    async with setup.engine.begin() as conn:
        await conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE")
        await conn.exec_driver_sql(f"CREATE SCHEMA {BENCH_SCHEMA}")
    await setup.dispose()
    settings = {"search_path": BENCH_SCHEMA}
    return Database.connect(url, connect_args={"server_settings": settings})


# What issue 14 rates (the client's list and page, the staff's list with its totals, the
# search), then the staff inbox, rated as before.
def cases(client: Actor, staff: Actor) -> dict[str, Callable[[Any], Awaitable[Any]]]:
    return {
        "client: dossier list": lambda s: dossiers.list_dossiers(s, client),
        "client: dossier page": lambda s: dossiers.open_dossier(s, client, number="B-0000001"),
        # As the web page asks: the first page, capped, the firm's totals from kept counts.
        "staff: dossier list, with totals": lambda s: dossiers.list_dossiers(
            s, staff, page=1, capped=True
        ),
        "staff: dossier page": lambda s: dossiers.open_dossier(s, staff, number="B-0000500"),
        "search: a dossier number": lambda s: search.search(s, staff, "B-00000"),
        "search: a text found nowhere": lambda s: search.search(s, staff, "zzzz"),
        # Two letters make no trigram: searched among each kind's newest rows (information).
        "search: two letters found nowhere (information)": lambda s: search.search(s, staff, "zq"),
        "staff inbox": lambda s: inbox.inbox(s, staff),
        "staff inbox, email unread only": lambda s: inbox.inbox(
            s, staff, Filters(channel=Channel.EMAIL, unread_only=True)
        ),
        "staff inbox, by handler": lambda s: inbox.inbox(s, staff, Filters(handler_id=1)),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory()
    db = await _database(args.database_url, Path(tmp.name))
    postgres = db.engine.dialect.name == "postgresql"
    await schema.upgrade(db.engine)
    counter = StatementCounter(db)
    filler = Filler(db, args.messages_per_dossier)
    await filler.start()

    client = Actor(account_id=2, role=Role.CLIENT, channel=Channel.WEB, client_id=1)
    staff = Actor(account_id=1, role=Role.STAFF, channel=Channel.WEB)
    calls = cases(client, staff)
    results: dict[str, Any] = {"checkpoints": [], "database": db.engine.dialect.name}
    rated = "wall" if postgres else "cpu"
    for size in args.at:
        started = time.perf_counter()
        await filler.grow_to(size)
        fill_seconds = time.perf_counter() - started
        point: dict[str, Any] = {
            "dossiers": size,
            "messages": filler.message_id,
            "documents": filler.document_id,
            "fill_seconds": round(fill_seconds, 1),
        }
        if postgres:
            # The planner's statistics, and the vacuum that PostgreSQL would otherwise start
            # by itself after millions of new rows, in the middle of the measurements.
            auto = db.engine.execution_options(isolation_level="AUTOCOMMIT")
            async with auto.connect() as conn:
                await conn.exec_driver_sql("VACUUM ANALYZE")
                await conn.exec_driver_sql("CHECKPOINT")
        else:
            async with db.engine.begin() as conn:  # the planner's statistics
                await conn.exec_driver_sql("ANALYZE")
        async with db.read() as s:  # what the staff list shows is what is there
            listing = await dossiers.list_dossiers(s, staff, page=1, capped=True)
        assert listing.total == size and listing.matching == size, listing
        for name, call in calls.items():
            cpu, wall, statements = await measure(db, counter, call, args.repeat)
            point[name] = {"cpu": round(cpu, 3), "wall": round(wall, 3), "statements": statements}
        results["checkpoints"].append(point)
        print(
            f"{db.engine.dialect.name}: filled to {size:,} dossiers, {filler.message_id:,}"
            f" messages, {filler.document_id:,} documents in {fill_seconds:.1f}s"
        )
        for name in calls:
            p = point[name]
            print(
                f"  {name:<48} cpu {p['cpu']:8.3f} ms  wall {p['wall']:8.3f} ms"
                f"  {p['statements']} statements"
            )
    first, last = results["checkpoints"][0], results["checkpoints"][-1]
    results["ratios"] = {}
    print(
        f"\n{db.engine.dialect.name}, from {first['dossiers']:,} to {last['dossiers']:,}"
        f" dossiers ({rated} time rated; target: time <= {TARGET}x, statements equal):"
    )
    for name in calls:
        ratio = last[name][rated] / first[name][rated]
        other = "cpu" if rated == "wall" else "wall"
        other_ratio = last[name][other] / first[name][other]
        same = last[name]["statements"] == first[name]["statements"]
        results["ratios"][name] = {
            rated: round(ratio, 2),
            other: round(other_ratio, 2),
            "statements_equal": same,
        }
        if "information" in name:
            verdict, same_verdict = "", ""
        else:
            verdict = f" [{'met' if ratio <= TARGET else 'missed'}]"
            same_verdict = f" [{'met' if same else 'missed'}]"
        print(
            f"  {name:<48} time x{ratio:.2f}{verdict}  ({other} x{other_ratio:.2f})"
            f"  statements {first[name]['statements']} -> {last[name]['statements']}"
            f"{same_verdict}"
        )
    await db.dispose()
    if postgres:
        setup = Database.connect(args.database_url)
        async with setup.engine.begin() as conn:
            await conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE")
        await setup.dispose()
    tmp.cleanup()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--at", default="1000,100000", help="checkpoints (dossiers), comma-separated"
    )
    parser.add_argument("--messages-per-dossier", type=int, default=20)
    parser.add_argument("--dossiers", type=int, help="one final size instead of --at's largest")
    parser.add_argument("--messages", type=int, help="total messages at --dossiers")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument(
        "--database-url",
        help="default: a fresh SQLite file in a temp dir; PostgreSQL: a schema of its own",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.at = sorted({int(x) for x in args.at.split(",") if x.strip()})
    if args.dossiers:
        args.at = sorted({min(1000, args.dossiers), args.dossiers})
        if args.messages:
            args.messages_per_dossier = max(1, args.messages // args.dossiers)
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
