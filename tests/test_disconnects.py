"""A client that goes away in the middle of an upload or a download is an INFO line in the
log, not an ERROR with a traceback and a 500 (it is not Loket's fault, and nobody need look
at it), and an upload cut off leaves nothing in the store. Against the web view as
``loket serve`` runs it, which (unlike the test client's server) lets the handler run on
and meet the closed connection."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.models import Message
from core.services import documents
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes
from web.views import dossiers as dossier_views

from .conftest import PASSWORD, SYSTEM, Firm, set_password
from .served import logged_in, served
from .webclient import Browser

PATIENCE = 20  # a guard against hanging, not a measurement


def objects(store: LocalFileStore) -> set[Path]:
    return {p for p in (store.root / "objects").rglob("*") if p.is_file()}


async def soon(condition) -> None:
    """Wait until ``condition()`` holds: something the server does on its own time."""

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 (a state of the disk or the log: no event)
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), PATIENCE)


def went_away(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "went away" in r.getMessage()]


def trouble(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]


async def test_a_client_gone_mid_upload_is_an_info_line_and_leaves_nothing(
    db: Database,
    firm: Firm,
    store: LocalFileStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await set_password(db, firm.alice.id)
    async with served(db, store, tmp_path, http_body_timeout_seconds=60) as port:
        cookie, token = await logged_in(port, "alice", PASSWORD, "/dossiers/2026-0001/messages/new")
        caplog.set_level(logging.INFO)
        head = (
            f"POST /dossiers/2026-0001/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Origin: http://127.0.0.1\r\nCookie: {cookie}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 900000\r\n\r\n"
        ).encode()
        body = (
            f'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
            '--b\r\nContent-Disposition: form-data; name="subject"\r\n\r\nStukken\r\n'
            '--b\r\nContent-Disposition: form-data; name="body"\r\n\r\nHierbij.\r\n'
            '--b\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n\r\n'
            "%PDF een heel bestand\r\n"
            '--b\r\nContent-Disposition: form-data; name="files"; filename="b.pdf"\r\n\r\n'
            "%PDF de helft van"
        ).encode()
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head + body + b"x" * 200_000)
        await writer.drain()
        await soon(lambda: objects(store))  # the first file is stored
        writer.transport.abort()  # and the client is gone, in the middle of the second
        await soon(lambda: went_away(caplog) and not objects(store))

    [line] = went_away(caplog)
    assert (line.levelname, line.exc_info) == ("INFO", None)
    assert line.getMessage() == "the client went away during POST /dossiers/{number}/messages"
    assert trouble(caplog) == []
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert access[-1].startswith("POST /dossiers/{number}/messages 499 ")
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Message)) == 0


async def test_a_client_gone_mid_download_is_an_info_line(
    db: Database,
    firm: Firm,
    store: LocalFileStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    big = b"%PDF" + b"x" * (store.limit - 4)  # more than the socket buffers take at once
    async with db.begin() as s:
        document = await documents.publish_document(
            s, store, SYSTEM, number="2026-0001", upload=Upload("groot.pdf", aiter_bytes(big))
        )
    await set_password(db, firm.alice.id)
    async with served(db, store, tmp_path) as port:
        cookie, _ = await logged_in(port, "alice", PASSWORD, "/dossiers/2026-0001")
        caplog.set_level(logging.INFO)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /documents/{document.id}/download HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Cookie: {cookie}\r\n\r\n".encode()
        )
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b"\r\n"), PATIENCE)
        assert first.startswith(b"HTTP/1.1 200")
        writer.transport.abort()  # gone, in the middle of the download
        await soon(lambda: went_away(caplog))

    [line] = went_away(caplog)
    assert (line.levelname, line.exc_info) == ("INFO", None)
    assert line.getMessage() == "the client went away during GET /documents/{id}/download"
    assert trouble(caplog) == []


async def test_a_connection_error_of_our_own_is_still_an_error(
    browser: Browser, db: Database, firm: Firm, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    # A server of ours that does not answer (a gateway, say) while the client waits.
    async def refused(*args, **kwargs):
        raise ConnectionRefusedError("the gateway does not answer")

    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    monkeypatch.setattr(dossier_views.dossiers, "list_dossiers", refused)
    caplog.set_level(logging.INFO)
    response = await browser.get("/")
    assert response.status == 500
    assert went_away(caplog) == []
    [error] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert error.getMessage() == "unexpected error on GET /" and error.exc_info
