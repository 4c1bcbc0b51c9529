"""A stored file that cannot be read is never handed out as if it were whole: one that does not
open at all (its key is not configured) is an error page in the reader's language; one found
damaged part-way cuts the download off, so the browser reports it unfinished."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from core.db import Database
from core.services import documents
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes
from core.store_cipher import SEGMENT, DamagedFile, StoreCipher, new_key_text
from web.downloads import send_stored

from .conftest import PASSWORD, SYSTEM, Firm, set_password
from .served import logged_in, served

KEY = new_key_text()
SCAN = b"%PDF-1.4 paspoort " + os.urandom(8 * SEGMENT + 77)  # more than one read of 256 KB


async def stored_scan(db: Database, root: Path) -> tuple[int, Path]:
    sealed = LocalFileStore(root, limit=16 * SEGMENT, cipher=StoreCipher.from_settings(KEY, None))
    async with db.begin() as s:
        doc = await documents.publish_document(
            s, sealed, SYSTEM, number="2026-0001", upload=Upload("paspoort.pdf", aiter_bytes(SCAN))
        )
    [path] = [p for p in (root / "objects").rglob("*") if p.is_file()]
    return doc.id, path


@contextlib.asynccontextmanager
async def downloading(port: int, doc_id: int) -> AsyncIterator[aiohttp.ClientResponse]:
    """Alice logged in, and the document's download asked for: the response, body unread."""
    cookie, _ = await logged_in(port, "alice", PASSWORD, "/dossiers/2026-0001")
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"http://127.0.0.1:{port}/documents/{doc_id}/download", headers={"Cookie": cookie}
        ) as response,
    ):
        yield response


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_file_whose_key_is_not_configured_is_an_error_page(
    db: Database, firm: Firm, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    doc_id, _ = await stored_scan(db, tmp_path / "store")
    keyless = LocalFileStore(tmp_path / "store", limit=16 * SEGMENT)
    await set_password(db, firm.alice.id)
    async with served(db, keyless, tmp_path) as port, downloading(port, doc_id) as response:
        body = await response.text()
    assert response.status == 500
    assert response.content_type == "text/html"
    assert "Dit bestand kan nu niet worden geopend. Vraag het kantoor erom." in body
    assert "LOKET_STORE_KEY" not in body  # what to do about it is for the log, not the client
    [line] = errors(caplog)
    assert "no key is configured (LOKET_STORE_KEY)" in line


async def test_a_file_damaged_part_way_cuts_the_download_off(
    db: Database, firm: Firm, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    doc_id, path = await stored_scan(db, tmp_path / "store")
    data = bytearray(path.read_bytes())
    data[6 * SEGMENT] ^= 0x01  # a bit flipped on disk in the middle of the file
    path.write_bytes(bytes(data))
    sealed = LocalFileStore(
        tmp_path / "store", limit=16 * SEGMENT, cipher=StoreCipher.from_settings(KEY, None)
    )
    await set_password(db, firm.alice.id)
    async with served(db, sealed, tmp_path) as port, downloading(port, doc_id) as response:
        assert response.status == 200
        assert response.content_length == len(SCAN)
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    [line] = errors(caplog)
    assert "broke off on GET /documents/{id}/download" in line
    assert "damaged or was changed" in line


async def test_a_body_without_a_length_damaged_part_way_is_cut_off_too(
    aiohttp_client, caplog: pytest.LogCaptureFixture
) -> None:
    # A mail's original goes out chunked (no Content-Length): ended properly, the part before
    # the damage would look like the whole mail.
    async def damaged_after_a_while() -> AsyncIterator[bytes]:
        yield b"Received: from mx.example\r\n" * 100
        raise DamagedFile("The stored file is damaged or was changed since it was stored.")

    async def original(request: web.Request) -> web.StreamResponse:
        return await send_stored(request, {"Content-Type": "text/plain"}, damaged_after_a_while())

    app = web.Application()
    app.router.add_get("/original", original)
    client = await aiohttp_client(app)
    async with client.get("/original") as response:
        assert response.status == 200 and "Content-Length" not in response.headers
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    [line] = errors(caplog)
    assert "broke off" in line
