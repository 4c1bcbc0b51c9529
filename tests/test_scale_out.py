"""Several Loket processes on one database: each process is its own engine (its own
connections), as a second machine would be. Two outbox workers send every item exactly once;
two reminder passes at once queue one digest; two mail processes on one mailbox file each
mail once while the second waits; two web processes share the login throttle; and on SQLite
a second `loket serve` on a data dir is refused."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import outbox, reminders
from core.db import Database
from core.models import InboundMail, OutboxItem, OutboxStatus
from core.services import checklists
from core.storage import LocalFileStore
from loket.runtime import Runtime
from loket.serve import read_mailbox
from mailbridge.imap import ImapSource
from mailbridge.pipeline import Pipeline

from .conftest import PASSWORD, SYSTEM, Firm, mail_settings, open_browser, set_password
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)
from .test_mail_imap import imap_settings
from .test_outbox import queue
from .test_reminders import AMS, SETTINGS, TEMPLATES

PG_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


class Recorder:
    """A channel that notes each item it is given, and lets the other worker run between."""

    def __init__(self, sent: Counter[int]) -> None:
        self.sent = sent

    async def send(self, item: OutboxItem) -> None:
        await asyncio.sleep(0)
        self.sent[item.id] += 1


async def drain(db: Database, sent: Counter[int], settings) -> None:
    """A worker: small passes until it finds nothing due."""
    while True:
        result = await outbox.run_once(db, {"email": Recorder(sent)}, settings, limit=5)
        if not (result.sent or result.retrying or result.failed):
            return


async def test_two_workers_send_every_item_exactly_once(
    db: Database, second_db: Database, tmp_path: Path, monkeypatch
) -> None:
    settings = mail_settings(tmp_path)
    ids = await queue(db, 200)
    # Both workers' first claims read the outbox at the same moment: each waits after its
    # read until the other has read too (a worker whose read waits for the other's claim to
    # end, as under a plain FOR UPDATE, goes on after a while).
    together = asyncio.Barrier(2)
    waited: set[asyncio.Task] = set()
    scalars = AsyncSession.scalars

    async def read_together(self, *args, **kwargs):
        result = await scalars(self, *args, **kwargs)
        task = asyncio.current_task()
        if task not in waited:
            waited.add(task)
            with contextlib.suppress(TimeoutError, asyncio.BrokenBarrierError):
                await asyncio.wait_for(together.wait(), 5)
        return result

    postgresql = db.engine.dialect.name == "postgresql"
    if postgresql:  # on SQLite a claim holds the one write lock: the other cannot read
        monkeypatch.setattr(AsyncSession, "scalars", read_together)
    sent: Counter[int] = Counter()
    await asyncio.gather(drain(db, sent, settings), drain(second_db, sent, settings))
    monkeypatch.undo()
    assert len(waited) == (2 if postgresql else 0) and together.n_waiting == 0
    assert sorted(sent) == ids
    assert set(sent.values()) == {1}, [i for i, n in sent.items() if n > 1][:10]
    async with db.read() as s:
        statuses = Counter(await s.scalars(select(OutboxItem.status)))
    assert statuses == {OutboxStatus.SENT: 200}


async def assigned_checklist(db: Database):
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        return await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting"
        )


@PG_ONLY
async def test_a_reminder_pass_under_way_makes_a_second_one_skip(
    db: Database, second_db: Database, firm: Firm
) -> None:
    first = await assigned_checklist(db)
    day3 = first.assigned_at.astimezone(AMS).replace(hour=10) + reminders.dt.timedelta(days=3)
    async with db.begin() as s:
        assert await reminders.send_due(s, SETTINGS, day3) == 1
        # Meanwhile, on another machine, the same pass; this one has not committed yet.
        async with second_db.begin() as other:
            # Was: it queued the same digest, and blocked on its key until the first ended.
            assert await asyncio.wait_for(reminders.send_due(other, SETTINGS, day3), 30) == 0
    async with db.read() as s:
        assert await s.scalar(select(func.count()).where(OutboxItem.kind == "reminder")) == 1


class CountingPipeline(Pipeline):
    """The mail process's pipeline, counting what it handles."""

    handled = 0

    async def handle(self, raw: bytes, **kwargs):
        self.handled += 1
        return await super().handle(raw, **kwargs)


async def until(check, what: str, seconds: float = 30) -> None:
    """Wait for something another task does (not a timing assertion: a bound on a hang)."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"waited in vain for {what}"
        await asyncio.sleep(0.05)


@PG_ONLY
async def test_two_mail_processes_on_one_mailbox_file_each_mail_once(
    db: Database,
    second_db: Database,
    firm: Firm,
    store: LocalFileStore,
    dovecot,
    tmp_path: Path,
    mail_reader,
    caplog,
) -> None:
    from .mails import reply_mail

    caplog.set_level(logging.INFO, logger="loket")
    settings = imap_settings(tmp_path, dovecot)

    def mail(n: int) -> bytes:
        return reply_mail(sender="alice@example.nl", to="x@k.example", subject=f"[2026-0001] {n}")

    async def filed() -> int:
        async with db.read() as s:
            return await s.scalar(select(func.count(InboundMail.id)))

    def process(database: Database) -> tuple[Runtime, CountingPipeline, asyncio.Event]:
        pipeline = CountingPipeline(database, store, settings, reader=mail_reader)
        return Runtime(settings, database, store), pipeline, asyncio.Event()

    for n in range(3):
        dovecot.append(mail(n))
    (rt_a, pipe_a, stop_a), (rt_b, pipe_b, stop_b) = process(db), process(second_db)
    a = asyncio.create_task(read_mailbox(rt_a, ImapSource(settings, pipe_a), stop_a))
    await until(lambda: _equals(filed, 3), "the first process to file three mails")
    b = asyncio.create_task(
        read_mailbox(rt_b, ImapSource(settings, pipe_b), stop_b, poll_seconds=0.05)
    )
    await until(lambda: _said(caplog, "being read by another Loket process"), "the second to wait")
    for n in range(3, 5):
        dovecot.append(mail(n))
    await until(lambda: _equals(filed, 5), "two more mails, read by the first")
    assert (pipe_a.handled, pipe_b.handled) == (5, 0)

    stop_a.set()
    await a
    dovecot.append(mail(5))
    await until(lambda: _equals(filed, 6), "the second to take over")
    stop_b.set()
    await b
    assert (pipe_a.handled, pipe_b.handled) == (5, 1)
    async with db.read() as s:
        per_mail = Counter(await s.scalars(select(InboundMail.message_id_header)))
    assert len(per_mail) == 6 and set(per_mail.values()) == {1}
    assert dovecot.count("INBOX") == 0


async def _equals(count, n: int) -> bool:
    return await count() == n


async def _said(caplog, words: str) -> bool:
    return any(words in r.getMessage() for r in caplog.records)


@PG_ONLY
async def test_two_web_processes_share_the_login_throttle(
    aiohttp_client, db: Database, second_db: Database, firm: Firm, store, tmp_path, smtp
) -> None:
    await set_password(db, firm.alice.id)
    one = await open_browser(aiohttp_client, db, store, tmp_path, smtp)
    two = await open_browser(aiohttp_client, second_db, store, tmp_path, smtp)
    limit = one.settings.login_failures_per_account
    statuses = []
    for n in range(limit):
        browser = (one, two)[n % 2]
        statuses.append((await browser.login("alice", f"guess-{n}")).status)
    assert statuses == [401] * limit
    # The next try, on either process, is the one too many.
    assert (await one.login("alice", PASSWORD)).status == 429
    assert (await two.login("alice", PASSWORD)).status == 429


def test_a_second_serve_on_a_sqlite_data_dir_is_refused(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    from loket.cli import main
    from loket.config import load_settings
    from loket.datadirlock import serving_alone

    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LOKET_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    capsys.readouterr()
    settings = load_settings()
    with serving_alone(settings):  # a first `loket serve`, running
        assert main(["serve", "--only", "worker"]) == 1
        said = capsys.readouterr().err
        assert said.startswith("loket: another `loket serve`")
        assert f"(process {os.getpid()})" in said and "PostgreSQL" in said
    # Its lock ends with it (closing the file, as the kernel does when a process ends).
    with serving_alone(settings):
        pass


@PG_ONLY
async def test_when_the_readers_database_connection_breaks_the_waiting_one_takes_over(
    db: Database,
    second_db: Database,
    firm: Firm,
    store: LocalFileStore,
    dovecot,
    tmp_path: Path,
    mail_reader,
    caplog,
) -> None:
    from sqlalchemy import text

    from .mails import reply_mail

    caplog.set_level(logging.INFO, logger="loket")
    settings = imap_settings(tmp_path, dovecot)
    pipes = [CountingPipeline(d, store, settings, reader=mail_reader) for d in (db, second_db)]
    stops = [asyncio.Event(), asyncio.Event()]

    def reading(n: int) -> asyncio.Task:
        rt = Runtime(settings, pipes[n].db, store)
        source = ImapSource(settings, pipes[n])
        return asyncio.create_task(
            read_mailbox(rt, source, stops[n], poll_seconds=0.05, check_seconds=0.1)
        )

    async def filed(n: int) -> bool:
        async with db.read() as s:
            return await s.scalar(select(func.count(InboundMail.id))) == n

    first = reading(0)
    await until(lambda: _said(caplog, "fetching mail from IMAP"), "the first to read")
    second = reading(1)
    await until(lambda: _said(caplog, "being read by another"), "the second to wait")
    # The first one's lock connection dies (a network cut, a restarted pgbouncer).
    async with second_db.begin() as s:
        await s.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
            )
        )
    await until(lambda: _said(caplog, "lost the database lock"), "the first to notice")
    dovecot.append(reply_mail(sender="alice@example.nl", to="x@k.example", subject="[2026-0001]"))
    await until(lambda: filed(1), "the mail to be filed")
    for stop in stops:
        stop.set()
    await asyncio.gather(first, second)
    assert sorted(p.handled for p in pipes) == [0, 1]


@PG_ONLY
async def test_a_second_polling_bot_waits_for_the_first(
    db: Database, second_db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram, caplog
) -> None:
    import dataclasses

    from .botkit import bot_settings
    from .conftest import pg_url
    from .test_bot_serve import WELCOME, serving

    caplog.set_level(logging.INFO, logger="loket")
    # On PostgreSQL (not SQLite, whose data dir one serve owns), as two machines would run.
    settings = dataclasses.replace(bot_settings(tmp_path, fake_telegram), database_url=pg_url())
    anna = fake_telegram.private_chat("Anna")
    async with serving(Runtime(settings, db, store), {"bot"}):
        anna.command("start")
        assert (await anna.next_message()).text.startswith(WELCOME)
        async with serving(Runtime(settings, second_db, store), {"bot"}):
            await until(lambda: _said(caplog, "polls Telegram for this bot; waiting"), "a wait")
            polls = fake_telegram.count("getUpdates", done=None)
            anna.command("start")
            assert (await anna.next_message()).text.startswith(WELCOME)
        assert not any("Conflict" in r.getMessage() for r in caplog.records)
    assert polls >= 1
