"""Crash safety: the bridge is killed (SIGKILL, a real process) at random moments while 300 mails
wait in the mailbox, and started again until the mailbox is empty. Every mail is handled
exactly once: none lost, none doubled."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import Database
from core.models import InboundMail, Message

from .dovecot import PASSWORD, USER, Dovecot
from .mails import reply_mail
from .test_cli import Loket

MAILS = int(os.environ.get("LOKET_CRASH_MAILS", "300"))


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot()
    server.start()
    yield server
    server.stop()


async def _stored(url: str) -> tuple[list[str], list[InboundMail]]:
    db = Database.connect(url)
    async with db.read() as s:
        bodies = list(await s.scalars(select(Message.body)))
        records = list(await s.scalars(select(InboundMail)))
    await db.dispose()
    return bodies, records


@pytest.mark.slow
def test_killed_at_random_every_mail_is_handled_exactly_once(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    import imaplib

    cli = Loket(tmp_path / "data")
    cli.env |= {
        "LOKET_IMAP_HOST": "127.0.0.1",
        "LOKET_IMAP_PORT": str(dovecot.port),
        "LOKET_IMAP_USER": USER,
        "LOKET_IMAP_PASSWORD": PASSWORD,
        # One client sending 300 mails would otherwise be cut off as a storm.
        "LOKET_MAIL_RATE_PER_SENDER": "100000",
    }
    cli("init")
    client = cli.json("client", "add", "--name", "Alice", "--email", "alice@example.nl")
    cli("dossier", "add", "--number", "D1", "--description", "d", "--client", str(client["id"]))

    with imaplib.IMAP4("127.0.0.1", dovecot.port) as imap:
        imap.login(USER, PASSWORD)
        for n in range(MAILS):
            raw = reply_mail(
                sender="alice@example.nl",
                to="in@kantoor.example",
                subject=f"[D1] stuk {n}",
                text=f"Mail nummer {n}.",
            )
            imap.append("INBOX", None, None, raw.replace(b"\n", b"\r\n"))

    rng = random.Random(20261124)
    kills = 0
    deadline = time.monotonic() + 600
    while dovecot.count("INBOX") and time.monotonic() < deadline:
        proc = subprocess.Popen(
            [sys.executable, "-m", "loket.cli", "mail", "fetch"],
            env=cli.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if kills < 12:
            time.sleep(rng.uniform(0.5, 1.1))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        proc.wait(timeout=300)
    assert dovecot.count("INBOX") == 0, "the mailbox was not emptied in time"
    assert kills >= 3  # the bridge really died mid-batch, several times

    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'loket.sqlite3'}"
    bodies, records = asyncio.run(_stored(url))
    assert Counter(bodies) == Counter(f"Mail nummer {n}." for n in range(MAILS))
    assert len(records) == MAILS and {r.outcome for r in records} == {"stored"}
    assert dovecot.count("Processed") == MAILS
