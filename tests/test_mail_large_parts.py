"""A large file in a mail is written to a spool file as soon as it is decoded: the parsed mail
that travels from the parsing worker to the bridge does not carry it (nor the mail's encoded
copy of it), and the bridge streams it into the store from there."""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import Database
from core.models import Document
from core.storage import LocalFileStore
from mailbridge.parse import SPOOL_MIN, parse, parse_file
from mailbridge.pipeline import Pipeline

from .conftest import Firm, mail_settings
from .mails import AUTHSERV, reply_mail

SIZE = 3 * SPOOL_MIN


def scan() -> bytes:
    return b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(SIZE // 32))


@pytest.fixture
def spool(temp_folder: Path) -> Path:
    return temp_folder


def big_mail(sender: str, data: bytes) -> bytes:
    return reply_mail(
        sender=sender,
        to="portaal@kantoor.example",
        subject="Re: [2026-0001] Stukken",
        text="Hierbij de scan.",
        attachments=[("scan.pdf", "application/pdf", data), ("klein.pdf", "application/pdf", b"%")],
    )


def test_the_parsed_mail_carries_no_copy_of_a_large_file(spool: Path) -> None:
    data = scan()
    mail = parse(big_mail("alice@example.nl", data))
    big, small = mail.attachments
    assert (big.filename, big.data, big.size) == ("scan.pdf", b"", SIZE)
    assert big.content() == data
    assert (small.data, small.spooled) == (b"%", None)
    # What goes from the worker to the bridge: the text, headers and small files only.
    assert len(pickle.dumps(mail)) < SPOOL_MIN / 4
    assert mail.text.startswith("Hierbij de scan.") and mail.sender == "alice@example.nl"


def test_the_spool_file_belongs_to_the_copy_that_was_unpickled(spool: Path) -> None:
    mail = parse(big_mail("alice@example.nl", scan()))
    copy = pickle.loads(pickle.dumps(mail))
    [path] = os.listdir(spool)
    del mail
    gc.collect()
    assert os.listdir(spool) == [path]  # the worker's copy let it go
    del copy
    gc.collect()
    assert os.listdir(spool) == []


async def test_a_large_file_is_stored_whole_and_its_spool_file_goes(
    db: Database, firm: Firm, tmp_path: Path, spool: Path
) -> None:
    data = scan()
    settings = mail_settings(tmp_path, mail_authserv_id=AUTHSERV)
    store = LocalFileStore(tmp_path / "store", limit=2 * SIZE)
    result = await Pipeline(db, store, settings).handle(big_mail("alice@example.nl", data))
    assert result.outcome == "stored", result.reason
    async with db.read() as s:
        docs = list(await s.scalars(select(Document).order_by(Document.id)))
    assert [(d.filename, d.size) for d in docs] == [("scan.pdf", SIZE), ("klein.pdf", 1)]
    assert docs[0].sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join([c async for c in store.open(docs[0].storage_key)]) == data
    assert os.listdir(spool) == []


async def test_a_large_file_over_the_limit_leaves_no_spool_file(
    db: Database, firm: Firm, tmp_path: Path, spool: Path
) -> None:
    settings = mail_settings(tmp_path, mail_authserv_id=AUTHSERV)
    store = LocalFileStore(tmp_path / "store", limit=SIZE // 2)
    result = await Pipeline(db, store, settings).handle(big_mail("alice@example.nl", scan()))
    assert result.outcome == "stored", result.reason
    async with db.read() as s:
        docs = list(await s.scalars(select(Document)))
    assert [d.filename for d in docs] == ["klein.pdf"]
    assert os.listdir(spool) == []


def test_the_standard_parser_is_given_no_large_file(
    spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import email as stdlib_email

    given: list[int] = []
    real = stdlib_email.message_from_bytes

    def measured(raw: bytes, *args, **kw):
        given.append(len(raw))
        return real(raw, *args, **kw)

    monkeypatch.setattr(stdlib_email, "message_from_bytes", measured)
    data = scan()
    mail = parse(big_mail("alice@example.nl", data))
    assert given and max(given) < SPOOL_MIN / 4
    assert mail.attachments[0].content() == data


def test_odd_base64_lines_and_large_text_read_as_the_standard_library_reads_them(
    spool: Path,
) -> None:
    import base64
    import email as stdlib_email
    import email.policy

    data = scan()
    encoded = base64.b64encode(data)
    odd = b"\r\n".join(encoded[i : i + 75] for i in range(0, len(encoded), 75))  # 75: not 4n
    text = ("Regel van de brief. " * 60_000).encode()
    raw = (
        b'From: alice@example.nl\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary="B"\r\n'
        b"\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64"
        b"\r\n\r\n" + base64.encodebytes(text).replace(b"\n", b"\r\n") + b"--B\r\n"
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=scan.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + odd + b"\r\n--B--\r\n"
    )
    mail = parse(raw)
    [scan_pdf] = mail.attachments
    assert scan_pdf.spooled is not None and scan_pdf.content() == data
    assert mail.text == text.decode()
    whole = stdlib_email.message_from_bytes(raw, policy=email.policy.default)
    assert [p.get_payload(decode=True) for p in whole.iter_attachments()] == [data]


def test_a_mail_in_a_file_is_read_without_holding_it_whole(
    spool: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the IMAP source hands a large mail to the parser: the large file goes from the mail's
    file to its own a block at a time, and only the rest of the mail is read into memory."""
    import email as stdlib_email
    import tracemalloc

    given: list[int] = []
    real = stdlib_email.message_from_bytes

    def measured(raw: bytes, *args, **kw):
        given.append(len(raw))
        return real(raw, *args, **kw)

    monkeypatch.setattr(stdlib_email, "message_from_bytes", measured)
    data = scan() * 3
    raw = big_mail("alice@example.nl", data).replace(b"\n", b"\r\n")
    path = tmp_path / "mail.eml"
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        mail = parse_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(raw) / 4
    assert given and max(given) < SPOOL_MIN / 4
    big, small = mail.attachments
    assert (big.filename, big.size, small.filename, small.data) == (
        "scan.pdf",
        len(data),
        "klein.pdf",
        b"%",
    )
    assert big.content() == data
    assert mail.text.startswith("Hierbij de scan.") and mail.sender == "alice@example.nl"
    assert path.read_bytes() == raw  # the mail's file is the caller's, as it was
    del mail, big
    gc.collect()
    assert os.listdir(spool) == []
