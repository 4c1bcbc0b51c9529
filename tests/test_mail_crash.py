"""Crash safety: the bridge is killed (SIGKILL, a real process) in the middle of a batch, again
and again, and started again until every mail is in. Every mail is handled exactly once: none
lost, none doubled.

A kill from outside lands wherever the bridge happens to be, so it is timed by progress, not by
the clock (starting a process takes seconds): the test watches the database and kills once some,
but not all, mails are stored. The narrowest window, a mail committed but not yet acknowledged
(still in the IMAP inbox; no "250" yet over SMTP), is hit on purpose: a wrapper around the real
command kills its own process right after the pipeline has recorded the n-th mail."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import smtplib
import socket
import sqlite3
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
from .mailcatcher import free_port
from .mails import AUTHSERV, reply_mail
from .test_cli import Loket

# Enough for five kills mid-batch (the wrapper's two fall at mail 29 and 8 of a run, by the
# seeded choice below) with a run left over; LOKET_CRASH_MAILS sends more.
MAILS = int(os.environ.get("LOKET_CRASH_MAILS", "80"))
# `loket …` with the pipeline's recording of the n-th mail (argv[1]) as the last thing the
# process does: it dies before the mail leaves the inbox or the sender hears "250".
DIES_AFTER_RECORDING = """
import os, signal, sys
from mailbridge.pipeline import Pipeline
from loket.cli import main

last, handle, recorded = int(sys.argv[1]), Pipeline.handle, 0

async def handle_then_die(self, *args, **kwargs):
    global recorded
    result = await handle(self, *args, **kwargs)
    recorded += 1
    if recorded == last:
        os.kill(os.getpid(), signal.SIGKILL)
    return result

Pipeline.handle = handle_then_die
sys.exit(main(sys.argv[2:]))
"""


def _loket(tmp_path: Path, **env: str) -> Loket:
    cli = Loket(tmp_path / "data")
    cli.env |= {
        "LOKET_MAIL_AUTHSERV_ID": AUTHSERV,
        # One client sending hundreds of mails would otherwise be cut off as a storm.
        "LOKET_MAIL_RATE_PER_SENDER": "100000",
        **env,
    }
    cli("init")
    client = cli.json("client", "add", "--name", "Alice", "--email", "alice@example.nl")
    cli("dossier", "add", "--number", "D1", "--description", "d", "--client", str(client["id"]))
    return cli


def _mails() -> list[bytes]:
    """The mails, made once: a server that sends one again sends the same bytes."""
    return [
        reply_mail(
            sender="alice@example.nl",
            to="in@kantoor.example",
            subject=f"[D1] stuk {n}",
            text=f"Mail nummer {n}.",
        ).replace(b"\n", b"\r\n")
        for n in range(MAILS)
    ]


def _recorded(tmp_path: Path) -> int:
    """How many mails the bridge has recorded so far (read beside it, as SQLite allows)."""
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "loket.sqlite3", timeout=10)) as c:
        return c.execute("SELECT count(*) FROM inbound_mails").fetchone()[0]


async def _stored(url: str) -> tuple[list[str], list[InboundMail]]:
    db = Database.connect(url)
    async with db.read() as s:
        bodies = list(await s.scalars(select(Message.body)))
        records = list(await s.scalars(select(InboundMail)))
    await db.dispose()
    return bodies, records


def _assert_each_stored_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'loket.sqlite3'}"
    bodies, records = asyncio.run(_stored(url))
    assert Counter(bodies) == Counter(f"Mail nummer {n}." for n in range(MAILS))
    assert len(records) == MAILS and {r.outcome for r in records} == {"stored"}


def _kill_when_stored(proc: subprocess.Popen, tmp_path: Path, before: int) -> None:
    """Kill ``proc`` as soon as it has stored a mail more than ``before``."""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if _recorded(tmp_path) > before:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)


@contextlib.contextmanager
def _bridge(cli: Loket, command: list[str], log: Path) -> Iterator[subprocess.Popen]:
    """``loket`` in a process group of its own. A killed bridge leaves its parse worker
    behind (a service manager ends the whole group); here it goes with the group."""
    with log.open("ab") as stderr:
        proc = subprocess.Popen(
            [sys.executable, *command],
            env=cli.env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_killed_mid_batch_every_mail_is_handled_exactly_once(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    import imaplib

    cli = _loket(
        tmp_path,
        LOKET_IMAP_HOST="127.0.0.1",
        LOKET_IMAP_PORT=str(dovecot.port),
        LOKET_IMAP_USER=USER,
        LOKET_IMAP_PASSWORD=PASSWORD,
    )
    with imaplib.IMAP4("127.0.0.1", dovecot.port) as imap:
        imap.login(USER, PASSWORD)
        for raw in _mails():
            imap.append("INBOX", None, None, raw)

    rng = random.Random(20261124)
    fetch = ["mail", "fetch"]
    # Killed from outside at a moment the test does not choose, and by the wrapper right
    # after recording, before the move; then runs that are left alone until the inbox is empty.
    plan = ["outside", "recorded", "outside", "recorded", "outside"]
    mid_batch = unacknowledged = 0
    log = tmp_path / "stderr.log"
    deadline = time.monotonic() + 600
    while dovecot.count("INBOX") and time.monotonic() < deadline:
        before = _recorded(tmp_path)
        how = plan.pop(0) if plan else "alone"
        if how == "recorded":
            command = ["-c", DIES_AFTER_RECORDING, str(rng.randint(3, 30)), *fetch]
        else:
            command = ["-m", "loket.cli", *fetch]
        with _bridge(cli, command, log) as proc:
            if how == "outside":
                _kill_when_stored(proc, tmp_path, before)
            proc.wait(timeout=300)
        if how == "alone":
            assert proc.returncode == 0, log.read_text()
            continue
        assert proc.returncode == -signal.SIGKILL, log.read_text()
        after = _recorded(tmp_path)
        if before < after < MAILS:
            mid_batch += 1
        if dovecot.count("INBOX") > MAILS - after:
            unacknowledged += 1  # recorded, but still in the inbox: the next run only moves it
    assert dovecot.count("INBOX") == 0, "the mailbox was not emptied in time"
    assert mid_batch >= 3  # the bridge really died with some but not all mails stored
    assert unacknowledged >= 2  # …and between recording a mail and acknowledging it
    _assert_each_stored_once(tmp_path)
    assert dovecot.count("Processed") == MAILS


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise AssertionError("the SMTP endpoint did not start")


@pytest.mark.slow
def test_killed_before_the_250_the_resent_mail_is_stored_once(tmp_path: Path) -> None:
    port = free_port()
    cli = _loket(tmp_path, LOKET_SMTP_IN_HOST="127.0.0.1", LOKET_SMTP_IN_PORT=str(port))
    serve = ["serve", "--only", "mail"]
    mails = _mails()
    log = tmp_path / "stderr.log"
    rng = random.Random(20261125)
    kills = 0
    sent = 0
    while sent < MAILS:
        # Twice the wrapper dies right after recording a mail, before its "250"; then the
        # endpoint runs on until the end.
        if kills < 2:
            command = ["-c", DIES_AFTER_RECORDING, str(rng.randint(3, 30)), *serve]
        else:
            command = ["-m", "loket.cli", *serve]
        with _bridge(cli, command, log) as proc:
            _wait_for_port(port, proc, log)
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
                    while sent < MAILS:
                        # As a sending server does: a mail without its 250 is sent again.
                        smtp.sendmail("alice@example.nl", ["in@kantoor.example"], mails[sent])
                        sent += 1
            except smtplib.SMTPServerDisconnected:
                assert proc.wait(timeout=30) == -signal.SIGKILL, log.read_text()
                kills += 1
                # The mail was recorded, and its sender never heard so: it sends it again.
                assert _recorded(tmp_path) == sent + 1
    assert kills == 2
    _assert_each_stored_once(tmp_path)
