"""Mail is parsed in a worker process: a big mail does not stall the event loop, and a worker
that dies fails only the mail it was reading."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest

from mailbridge.reader import MailReader

from .mails import reply_mail

BIG = 30 * 1024 * 1024


async def test_a_30_mb_mail_is_parsed_while_the_loop_keeps_turning() -> None:
    raw = reply_mail(
        sender="alice@example.nl",
        to="portaal@kantoor.example",
        text="Grote scan.",
        attachments=[("scan.tiff", "image/tiff", b"\x49" * BIG)],
    )
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            await asyncio.sleep(0.01)
            beats += 1

    reader = MailReader()
    ticking = asyncio.create_task(heartbeat())
    try:
        await reader.read(b"From: warm@up.example\r\n\r\nstart the worker\r\n")
        beats = 0
        mail = await reader.read(raw)
        # Parsed on the loop itself, not one beat could happen until it was done.
        assert beats > 0
    finally:
        ticking.cancel()
        reader.close()
    assert mail.sender == "alice@example.nl" and mail.text.startswith("Grote scan.")
    [scan] = mail.attachments
    assert scan.filename == "scan.tiff" and scan.content() == b"\x49" * BIG


async def test_a_worker_that_dies_fails_that_mail_and_the_next_one_gets_a_new_worker() -> None:
    raw = reply_mail(sender="bob@example.nl", to="portaal@kantoor.example", text="Hallo.")
    reader = MailReader()
    try:
        assert (await reader.read(raw)).sender == "bob@example.nl"
        [pid] = list(reader._pool._processes)  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            for _ in range(50):  # until the pool has noticed its worker is gone
                await reader.read(raw)
                await asyncio.sleep(0.05)
        assert (await reader.read(raw)).sender == "bob@example.nl"
    finally:
        reader.close()


async def test_a_worker_killed_while_reading_a_batch_fails_none_of_its_mails() -> None:
    """A batch is one job: when its worker dies, each of its mails is read again on its own
    (in a fresh worker), so that at most the mail that kills a worker fails."""
    raws = [
        reply_mail(
            sender=f"c{i}@example.nl",
            to="portaal@kantoor.example",
            text=f"Scan {i}.",
            attachments=[("scan.tiff", "image/tiff", bytes([i]) * (8 * 1024 * 1024))],
        )
        for i in range(4)
    ]
    reader = MailReader()
    try:
        await reader.read(b"From: warm@up.example\r\n\r\nstart the worker\r\n")
        [pid] = list(reader._pool._processes)  # type: ignore[union-attr]
        readings = reader.read_all(raws)
        await asyncio.sleep(0.2)  # the worker is busy with the batch
        assert not any(r.done() for r in readings)
        os.kill(pid, signal.SIGKILL)
        mails = await asyncio.gather(*readings)
    finally:
        reader.close()
    assert [m.sender for m in mails] == [f"c{i}@example.nl" for i in range(4)]
    # Files this large come spooled (mailbridge/parse.py): their bytes are read back.
    assert [m.attachments[0].content() for m in mails] == [
        bytes([i]) * (8 * 1024 * 1024) for i in range(4)
    ]
