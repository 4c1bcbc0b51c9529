"""The message form's file is read straight from the request's stream (web.multipart): the
stored document holds exactly the bytes sent, however the body is cut into pieces on the way
and whatever look-alikes of the boundary and line breaks the file holds; a body that is
malformed or ends before its closing boundary is a clear error that leaves no message and no
stored file; the size limit holds to the byte. (A client that goes away mid-upload:
tests/test_disconnects.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import itertools

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.models import Document, Message
from core.storage import LocalFileStore
from web.multipart import FormReader

from .conftest import PASSWORD, Firm, set_password
from .webclient import Browser

BOUNDARY = "----LoketTestBoundaryQx7"
UNREADABLE = "Dit formulier kon niet worden gelezen"
TOO_LARGE = "groter dan de limiet"


@pytest.fixture
async def alice(browser: Browser, db: Database, firm: Firm) -> Browser:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    return browser


def form_body(token: str, content: bytes, *, closed: bool = True) -> bytes:
    """The message form as a browser sends it, with ``content`` as its one file."""
    head = b""
    for name, value in (("csrf", token), ("subject", "Stukken"), ("body", "Hierbij.")):
        head += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    head += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="scan.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    return head + content + (f"\r\n--{BOUNDARY}--\r\n".encode() if closed else b"")


async def post_pieces(browser: Browser, pieces: list[bytes], *, length: int | None = None):
    """Post the body in ``pieces``, each sent on its own (a pause between them), so that the
    server reads them apart."""

    async def body():
        for piece in pieces:
            yield piece
            await asyncio.sleep(0.02)

    response = await browser.client.post(
        "/dossiers/2026-0001/messages",
        data=body(),
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(sum(map(len, pieces)) if length is None else length),
            "Origin": browser.origin,
        },
        allow_redirects=False,
    )
    browser.last_html = await response.text()
    return response


async def stored_documents(db: Database) -> list[tuple[int, str]]:
    async with db.read() as s:
        return [tuple(row) for row in (await s.execute(select(Document.size, Document.sha256)))]


async def message_count(db: Database) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(Message))


def objects(store: LocalFileStore) -> list[bytes]:
    return [p.read_bytes() for p in (store.root / "objects").rglob("*") if p.is_file()]


def cut(body: bytes, at: list[int]) -> list[bytes]:
    edges = [0, *sorted(at), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


# Files that hold what a reader could take for the end of the part: a boundary without its
# last byte, its line break alone, dashes, a carriage return at the very end, a line break
# at the very start.
TRICKY = [
    b"\r\n%PDF body\r\n",
    b"%PDF " + f"\r\n--{BOUNDARY[:-1]}".encode() + b" not the boundary\r",
    b"%PDF \r\n--\r\n-" + f"--{BOUNDARY}".encode() + b" no line break before it",
    b"\r",
    b"\n",
]


@pytest.mark.parametrize("content", TRICKY)
async def test_a_file_is_stored_byte_for_byte_whatever_it_holds(
    alice: Browser, db: Database, store: LocalFileStore, content: bytes
) -> None:
    response = await post_pieces(alice, [form_body(alice.csrf(), content)])
    assert response.status == 303, alice.last_html
    assert await stored_documents(db) == [(len(content), hashlib.sha256(content).hexdigest())]
    assert objects(store) == [content]


async def test_a_boundary_cut_in_two_between_reads_is_found(
    alice: Browser, db: Database, store: LocalFileStore
) -> None:
    content = b"%PDF " + bytes(range(256)) * 400 + b"\r\n-"
    body = form_body(alice.csrf(), content)
    end = body.rindex(f"\r\n--{BOUNDARY}--".encode())
    # Cut within the closing boundary's line break, its dashes, and its name; and within
    # the file just before it.
    pieces = cut(body, [end - 3, end + 1, end + 3, end + 10])
    response = await post_pieces(alice, pieces)
    assert response.status == 303, alice.last_html
    assert await stored_documents(db) == [(len(content), hashlib.sha256(content).hexdigest())]
    assert objects(store) == [content]


async def test_a_body_cut_into_bytes_is_read_whole(
    alice: Browser, db: Database, store: LocalFileStore
) -> None:
    content = b"%PDF\r\n--\r\n"
    body = form_body(alice.csrf(), content)
    start = body.index(b"%PDF")
    # Every byte from the file's start to the end on its own.
    pieces = cut(body, list(range(start, len(body))))
    response = await post_pieces(alice, pieces)
    assert response.status == 303, alice.last_html
    assert objects(store) == [content]


async def test_a_file_without_its_closing_boundary_is_refused_and_leaves_nothing(
    alice: Browser, db: Database, store: LocalFileStore
) -> None:
    body = form_body(alice.csrf(), b"%PDF " * 50_000, closed=False)
    response = await post_pieces(alice, cut(body, [len(body) // 2]))
    assert response.status == 400 and UNREADABLE in alice.last_html
    assert await message_count(db) == 0 and objects(store) == []


async def test_a_boundary_followed_by_garbage_is_refused_and_leaves_nothing(
    alice: Browser, db: Database, store: LocalFileStore
) -> None:
    body = form_body(alice.csrf(), b"%PDF " * 50_000).replace(
        f"--{BOUNDARY}--".encode(), f"--{BOUNDARY}xyz".encode()
    )
    response = await post_pieces(alice, [body])
    assert response.status == 400 and UNREADABLE in alice.last_html
    assert await message_count(db) == 0 and objects(store) == []


async def test_a_file_exactly_at_the_limit_is_stored(
    alice: Browser, db: Database, store: LocalFileStore
) -> None:
    content = b"x" * store.limit
    body = form_body(alice.csrf(), content)
    response = await post_pieces(alice, cut(body, [len(body) // 3, 2 * len(body) // 3]))
    assert response.status == 303, alice.last_html
    assert await stored_documents(db) == [(store.limit, hashlib.sha256(content).hexdigest())]


async def test_a_file_one_byte_over_the_limit_is_refused_and_leaves_nothing(
    alice: Browser, db: Database, store: LocalFileStore
) -> None:
    body = form_body(alice.csrf(), b"x" * (store.limit + 1))
    response = await post_pieces(alice, cut(body, [len(body) // 3, 2 * len(body) // 3]))
    assert response.status == 413 and TOO_LARGE in alice.last_html
    assert await message_count(db) == 0 and objects(store) == []


class Pieces:
    """A stream that hands out the given pieces, one per read, then the end."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = list(pieces)

    async def readany(self) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""


async def test_every_cut_of_a_body_into_two_reads_gives_the_same_parts() -> None:
    parts = [(b"a", b"\r\n--x"), (b"b", b""), (b"c", b"\r\r\n-\r\n--"), (b"d", b"--x-")]
    body = b"".join(
        b'--xy\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % part for part in parts
    )
    body += b"--xy--\r\n"
    for at in range(1, len(body)):
        reader = FormReader(Pieces([body[:at], body[at:]]), "multipart/form-data; boundary=xy")
        got = []
        while (part := await reader.next()) is not None:
            got.append((part.name.encode(), b"".join([bytes(c) async for c in part.read()])))
        assert got == parts, at
