"""Slow and idle clients against the web view as ``loket serve`` starts it (here in this
process, with timeouts of a second): a request's head that never ends, a body that stops or
trickles, and more connections than the cap are all cut off by Loket itself. Was: partial
headers and a body at a byte per 10 s held connections for minutes, and 300 half-open
connections were accepted."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

from core.db import Database
from core.storage import LocalFileStore

from .conftest import PASSWORD, Firm, set_password
from .served import logged_in, served

# How long a test waits for what the server should do within a second or two: a guard
# against hanging, not a measurement.
PATIENCE = 20
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def serve(db: Database, store: LocalFileStore, tmp_path: Path):
    """``await serve(**settings)``: the web view as loket serve starts it; its port."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**limits: int) -> int:
            return await stack.enter_async_context(served(db, store, tmp_path, **limits))

        yield start


async def connect(port: int) -> Connection:
    return await asyncio.open_connection("127.0.0.1", port)


async def closed_after(conn: Connection, data: bytes = b"") -> bytes:
    """Send ``data``, then read until the server closes the connection: what it sent."""
    reader, writer = conn
    if data:
        writer.write(data)
        await writer.drain()
    received = await asyncio.wait_for(reader.read(), PATIENCE)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return received


async def test_a_request_head_that_never_ends_is_cut_off(serve) -> None:
    port = await serve()
    answer = await closed_after(await connect(port), b"GET /healthz HTTP/1.1\r\nHost: a\r\n")
    assert answer == b""  # closed, with no request to answer


async def test_a_connection_that_sends_nothing_is_cut_off(serve) -> None:
    port = await serve()
    assert await closed_after(await connect(port)) == b""


async def test_a_kept_alive_connection_is_closed_when_idle(serve) -> None:
    port = await serve()
    reader, writer = await connect(port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
    answer = await closed_after((reader, writer))
    assert answer.startswith(b"HTTP/1.1 200")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["status"] == "ok"  # all of it came


def form_head(port: int, length: int, content_type: str, cookie: str = "") -> bytes:
    return (
        f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Origin: http://127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n{cookie}\r\n"
    ).encode()


async def trickle(writer: asyncio.StreamWriter, data: bytes, every: float) -> None:
    for i in range(len(data)):
        writer.write(data[i : i + 1])
        try:
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(every)


async def test_a_body_that_stops_is_cut_off_with_408(serve) -> None:
    # 100 KB at once (at 500 bytes a second, time enough for 200 seconds), then nothing.
    port = await serve()
    body = b"username=alice&password=" + b"x" * 200_000
    answer = await closed_after(
        await connect(port),
        form_head(port, len(body), "application/x-www-form-urlencoded") + body[:100_000],
    )
    assert answer.startswith(b"HTTP/1.1 408")
    assert "De verbinding was te traag" in answer.decode()


async def test_a_body_that_trickles_is_cut_off_with_408(serve) -> None:
    # A byte every 0.2 s never pauses as long as the timeout of a second, but comes at 5 bytes
    # a second where 500 are asked for.
    port = await serve()
    body = b"username=alice&password=" + b"x" * 100
    reader, writer = await connect(port)
    writer.write(form_head(port, len(body), "application/x-www-form-urlencoded"))
    sender = asyncio.create_task(trickle(writer, body, every=0.2))
    try:
        status = await asyncio.wait_for(reader.readline(), PATIENCE)
        # Then the server closes: an end of file, or a reset when the trickle's next byte
        # meets the closed socket (which can also come before the answer was read: hence the
        # status line first). A connection kept open fails here with a timeout.
        with contextlib.suppress(ConnectionResetError):
            await asyncio.wait_for(reader.read(), PATIENCE)
    finally:
        sender.cancel()
        writer.close()
    assert status.startswith(b"HTTP/1.1 408")


async def test_a_streamed_upload_that_stops_is_cut_off_with_408(
    serve, db: Database, firm: Firm
) -> None:
    port = await serve()
    await set_password(db, firm.alice.id)
    cookie, token = await logged_in(port, "alice", PASSWORD, "/dossiers/2026-0001/messages/new")
    head = (
        f"POST /dossiers/2026-0001/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Origin: http://127.0.0.1\r\nCookie: {cookie}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    part = (
        f'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
        '--b\r\nContent-Disposition: form-data; name="subject"\r\n\r\nStukken\r\n'
        '--b\r\nContent-Disposition: form-data; name="body"\r\n\r\nHierbij.\r\n'
        '--b\r\nContent-Disposition: form-data; name="files"; filename="scan.pdf"\r\n\r\n%PDF'
    ).encode()
    answer = await closed_after(await connect(port), head + part)
    assert answer.startswith(b"HTTP/1.1 408")
    assert "De verbinding was te traag" in answer.decode()


async def test_connections_over_the_cap_are_refused(serve) -> None:
    port = await serve(http_max_connections=3, http_header_timeout_seconds=30)
    held = []
    for _ in range(3):  # each served once, then kept alive: open and counted
        reader, writer = await connect(port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"}"), PATIENCE)).startswith(
            b"HTTP/1.1 200"
        )
        held.append((reader, writer))
    answer = await closed_after(await connect(port), b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 503")
    # One closes: there is room again.
    await closed_after(held.pop(), b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    answer = await closed_after(
        await connect(port), b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 200")
    for _, writer in held:
        writer.close()


def test_the_limits_are_settings() -> None:
    from loket.config import ConfigError, load_settings

    settings = load_settings(
        {"LOKET_HTTP_HEADER_TIMEOUT_SECONDS": "5", "LOKET_HTTP_MAX_CONNECTIONS": "50"}
    )
    assert (settings.http_header_timeout_seconds, settings.http_max_connections) == (5, 50)
    assert (settings.http_body_timeout_seconds, settings.http_body_min_bytes_per_second) == (
        30,
        500,
    )
    with pytest.raises(ConfigError, match="LOKET_HTTP_BODY_TIMEOUT_SECONDS must be at least 1"):
        load_settings({"LOKET_HTTP_BODY_TIMEOUT_SECONDS": "0"})
