"""A large mail is fetched from the IMAP server in pieces into a file (``BODY.PEEK[]<o.n>``),
parsed from that file in the parsing worker and kept from it in the store: it is filed as it
came, and whatever happens on the way (the mail gone meanwhile, the connection lost halfway)
files nothing half and leaves no file behind. Against a real Dovecot."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import aioimaplib
import pytest
from sqlalchemy import select

from core.db import Database
from core.models import Document, InboundMail, Message
from core.storage import LocalFileStore
from mailbridge import imap
from mailbridge.imap import ImapSource
from mailbridge.pipeline import Pipeline
from mailbridge.reader import MailReader

from .conftest import Firm
from .dovecot import Dovecot
from .mails import reply_mail
from .test_mail_imap import imap_settings

PIECE = 64 * 1024
SPOOL_ABOVE = 1024 * 1024
SIZE = 2 * 1024 * 1024  # as mailed, with the small one, less than FETCH_BYTES


def scan() -> bytes:
    return b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(SIZE // 32))


def large_mail(data: bytes, *, pieces_exactly: bool = False) -> bytes:
    """The mail as Dovecot serves it (CRLF); ``pieces_exactly``: padded to a whole number of
    pieces, so that the last piece asked for is past its end."""
    raw = reply_mail(
        sender="alice@example.nl",
        to="portaal@kantoor.example",
        subject="Re: [2026-0001] Stukken",
        text="Hierbij de scan.",
        attachments=[("scan.pdf", "application/pdf", data), ("klein.pdf", "application/pdf", b"%")],
    ).replace(b"\n", b"\r\n")
    if not pieces_exactly:
        return raw
    missing = (-len(raw)) % PIECE or PIECE
    pad = [b"X-Pad: " + b"x" * (n - 9) + b"\r\n" for n in [900] * (missing // 900)]
    rest = missing % 900
    if rest:
        if rest < 10:  # the shortest pad line is 10 bytes: one of the others gives some
            pad[-1] = pad[-1][: -(10 - rest) - 2] + b"\r\n"
            rest = 10
        pad.append(b"X-Pad: " + b"x" * (rest - 9) + b"\r\n")
    raw = b"".join(pad) + raw
    assert len(raw) % PIECE == 0
    return raw


@pytest.fixture
def spool(temp_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder, with mails fetched in pieces of PIECE."""
    monkeypatch.setattr(imap, "FETCH_PIECE", PIECE)
    return temp_folder


def asked_for(source: ImapSource) -> list[str]:
    """What the source asks the server to fetch from now on (what each UID FETCH names)."""
    assert source.client is not None
    asked: list[str] = []
    real = source.client.uid

    async def uid(command: str, *criteria: str) -> aioimaplib.Response:
        if command.lower() == "fetch":
            asked.append(criteria[-1])
        return await real(command, *criteria)

    source.client.uid = uid  # type: ignore[method-assign]
    return asked


async def read(store: LocalFileStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.open(key)])


@pytest.mark.parametrize("pieces_exactly", [False, True], ids=["ends-in-a-piece", "whole-pieces"])
async def test_a_large_mail_is_fetched_in_pieces_and_filed_as_it_came(
    db: Database, firm: Firm, dovecot: Dovecot, tmp_path: Path, spool: Path, pieces_exactly: bool
) -> None:
    data = scan()
    raw = large_mail(data, pieces_exactly=pieces_exactly)
    small = reply_mail(sender="alice@example.nl", to="portaal@kantoor.example", text="Klein.")
    dovecot.append(small)  # small enough to share a batch with the large one, were it not large
    dovecot.append(raw)
    settings = imap_settings(tmp_path, dovecot)
    store = LocalFileStore(tmp_path / "store", limit=2 * len(raw))
    reader = MailReader()  # a worker process, as `loket serve` runs it
    source = ImapSource(
        settings, Pipeline(db, store, settings, reader=reader), spool_above=SPOOL_ABOVE
    )
    try:
        await source.connect()
        asked = asked_for(source)
        counts = await source.fetch_once()
    finally:
        await source.close()
        reader.close()
    assert counts == {"stored": 2}
    # The small mail fetched whole, the large one in pieces only.
    pieces = len(raw) // PIECE + 1
    assert asked[1:] == ["(BODY.PEEK[])"] + [
        f"(BODY.PEEK[]<{n * PIECE}.{PIECE}>)" for n in range(pieces)
    ]
    async with db.read() as s:
        [row] = list(
            await s.scalars(
                select(InboundMail).where(InboundMail.subject == "Re: [2026-0001] Stukken")
            )
        )
        docs = list(await s.scalars(select(Document).order_by(Document.id)))
        [message] = list(await s.scalars(select(Message).where(Message.id == row.message_id)))
    assert message.body == "Hierbij de scan."
    assert [(d.filename, d.size) for d in docs] == [("scan.pdf", SIZE), ("klein.pdf", 1)]
    assert docs[0].sha256 == hashlib.sha256(data).hexdigest()
    assert await read(store, docs[0].storage_key) == data
    # The original, byte for byte, and its hashes as for a mail fetched whole.
    assert row.raw_storage_key is not None and await read(store, row.raw_storage_key) == raw
    assert row.sha256 == hashlib.sha256(raw).hexdigest()
    assert row.body_sha256 == hashlib.sha256(raw[raw.index(b"\r\n\r\n") + 4 :]).hexdigest()
    assert dovecot.count("INBOX") == 0 and dovecot.count("Processed") == 2
    assert os.listdir(spool) == []


async def test_a_large_mail_gone_before_it_is_fetched_is_left_alone(
    db: Database, firm: Firm, dovecot: Dovecot, tmp_path: Path, spool: Path
) -> None:
    dovecot.append(large_mail(scan()))
    settings = imap_settings(tmp_path, dovecot)
    store = LocalFileStore(tmp_path / "store", limit=4 * SIZE)
    source = ImapSource(settings, Pipeline(db, store, settings), spool_above=SPOOL_ABOVE)
    sized = source._batches

    async def batches(uids: list[int]) -> list[list[int]]:
        found = await sized(uids)
        dovecot.empty()  # another client deletes it, after its size was read
        return found

    source._batches = batches  # type: ignore[method-assign]
    try:
        counts = await source.fetch_once()
    finally:
        await source.close()
    assert counts == {}
    async with db.read() as s:
        assert list(await s.scalars(select(InboundMail))) == []
    assert os.listdir(spool) == []


async def test_a_connection_lost_halfway_files_nothing_and_the_mail_is_fetched_again(
    db: Database,
    firm: Firm,
    dovecot: Dovecot,
    tmp_path: Path,
    spool: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = scan()
    raw = large_mail(data)
    dovecot.append(raw)
    settings = imap_settings(tmp_path, dovecot)
    store = LocalFileStore(tmp_path / "store", limit=2 * len(raw))
    monkeypatch.setattr(imap, "TIMEOUT", 2)  # how long the lost connection takes to notice
    real = aioimaplib.IMAP4.uid
    pieces = 0
    seen: dict[str, int] = {}

    async def uid(self: aioimaplib.IMAP4, command: str, *criteria: str) -> aioimaplib.Response:
        nonlocal pieces
        if "BODY.PEEK[]<" in criteria[-1]:
            pieces += 1
            if pieces == 3:  # the connection drops on the third piece
                async with db.read() as s:
                    seen["rows"] = len(list(await s.scalars(select(InboundMail))))
                seen["files"] = len(os.listdir(spool))
                self.protocol.transport.abort()
        return await real(self, command, *criteria)

    monkeypatch.setattr(aioimaplib.IMAP4, "uid", uid)
    source = ImapSource(settings, Pipeline(db, store, settings), spool_above=SPOOL_ABOVE)
    stop = asyncio.Event()
    task = asyncio.create_task(source.run(stop))
    try:
        for _ in range(300):
            if dovecot.count("Processed"):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert seen == {"rows": 0, "files": 1}  # halfway: the mail in its file, nothing filed
    assert pieces > len(raw) // PIECE + 3  # fetched again from its start
    async with db.read() as s:
        [row] = list(await s.scalars(select(InboundMail)))
        docs = list(await s.scalars(select(Document).order_by(Document.id)))
    assert row.outcome == "stored" and row.sha256 == hashlib.sha256(raw).hexdigest()
    assert [(d.filename, d.sha256) for d in docs][:1] == [
        ("scan.pdf", hashlib.sha256(data).hexdigest())
    ]
    assert dovecot.count("INBOX") == 0
    assert os.listdir(spool) == []


def test_an_empty_piece_ends_the_mail_and_nil_is_a_mail_gone() -> None:
    """Past a mail's end Dovecot sends a literal of 0 bytes; RFC 3501 allows ``""`` too.
    NIL (Dovecot's answer for a mail expunged meanwhile) or no answer: gone."""
    assert imap._past_end([b'3 FETCH (UID 7 BODY[]<65536> "")', b"done"], 7)
    assert not imap._past_end([b"3 FETCH (UID 7 BODY[]<0> NIL)", b"done"], 7)
    assert not imap._past_end([b'3 FETCH (UID 8 BODY[]<65536> "")', b"done"], 7)
    assert not imap._past_end([b"Fetch completed."], 7)


def test_a_piece_past_the_end_may_be_nil_and_one_short_of_it_is_an_error() -> None:
    # Some servers answer NIL past a mail's end: a mail of exactly four pieces ends there,
    # and is not taken for one expunged (which would leave it in the inbox, fetched for ever).
    nil = [b"3 FETCH (UID 7 BODY[]<4194304> NIL)", b"done"]
    assert imap._piece(nil, 7, 4 * 1024 * 1024, 4 * 1024 * 1024) == b""
    assert imap._piece([b"Fetch completed."], 7, 0, 5 * 1024 * 1024) is None  # gone
    with pytest.raises(imap.ImapError, match="no piece at 1048576 of a mail of 5242880"):
        imap._piece(nil, 7, 1024 * 1024, 5 * 1024 * 1024)
