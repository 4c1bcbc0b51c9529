"""The content-addressed file store: streams, hashes while writing, enforces the limit, and
leaves nothing behind when a write fails."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from core.errors import NotFound, TooLarge
from core.storage import LocalFileStore, aiter_bytes


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def leftovers(store: LocalFileStore) -> list[Path]:
    """Everything, files and folders, under tmp/ and objects/: empty after a failed put."""
    return [p for part in ("tmp", "objects") for p in (store.root / part).rglob("*")]


@pytest.fixture
def store(tmp_path: Path) -> LocalFileStore:
    return LocalFileStore(tmp_path / "store", limit=1000)


async def read_all(store: LocalFileStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.open(key)])


async def test_round_trip_under_the_content_hash(store: LocalFileStore) -> None:
    data = b"jaaropgave 2025"
    stored = await store.put(aiter_bytes(data, chunk_size=4))
    assert stored.key == stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert await read_all(store, stored.key) == data
    assert await store.exists(stored.key)
    [path] = files_under(store.root)
    assert path == store.path_for(stored.key) and path.name == stored.key


async def test_same_content_is_stored_once(store: LocalFileStore) -> None:
    a = await store.put_bytes(b"same")
    b = await store.put_bytes(b"same")
    c = await store.put(aiter_bytes(b"same", chunk_size=1))
    assert a == b == c and len(files_under(store.root)) == 1
    assert list((store.root / "tmp").iterdir()) == []


async def test_a_stream_of_many_chunks(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "store", limit=10 * 1024 * 1024)
    data = os.urandom(3 * 64 * 1024 + 123)  # more than the default chunk size, not a multiple
    stored = await store.put(aiter_bytes(data, chunk_size=10_000))
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    chunks = [chunk async for chunk in store.open(stored.key)]
    assert len(chunks) == 4 and b"".join(chunks) == data
    small = [chunk async for chunk in store.open(stored.key, chunk_size=1000)]
    assert max(map(len, small)) == 1000 and b"".join(small) == data


async def test_an_empty_file(store: LocalFileStore) -> None:
    stored = await store.put(aiter_bytes(b""))
    assert stored.size == 0 and stored.key == hashlib.sha256(b"").hexdigest()
    assert await read_all(store, stored.key) == b""


async def test_exactly_at_the_limit_is_accepted(store: LocalFileStore) -> None:
    stored = await store.put(aiter_bytes(b"x" * 1000, chunk_size=300))
    assert stored.size == 1000


async def test_over_the_limit_leaves_nothing(store: LocalFileStore) -> None:
    with pytest.raises(TooLarge) as info:
        await store.put(aiter_bytes(b"x" * 1001, chunk_size=300))
    assert info.value.message == "The file is larger than the limit of 1000 bytes."
    assert leftovers(store) == []


async def test_reading_stops_at_the_limit(store: LocalFileStore) -> None:
    sent: list[int] = []
    closed = False

    async def endless():
        nonlocal closed
        try:
            while True:
                sent.append(1)
                yield b"x" * 100
        finally:
            closed = True

    with pytest.raises(TooLarge):
        await store.put(endless())
    assert len(sent) == 11 and closed
    assert leftovers(store) == []


async def test_the_limit_is_shown_in_megabytes(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "store", limit=50 * 1024 * 1024)
    with pytest.raises(TooLarge) as info:
        await store.put_bytes(b"x" * (50 * 1024 * 1024 + 1))
    assert info.value.message == "The file is larger than the limit of 50 MB."


async def test_per_call_limit(store: LocalFileStore) -> None:
    with pytest.raises(TooLarge):
        await store.put(aiter_bytes(b"x" * 20), limit=10)
    assert (await store.put(aiter_bytes(b"x" * 2000), limit=5000)).size == 2000


async def test_a_failing_source_leaves_nothing(store: LocalFileStore) -> None:
    async def broken():
        yield b"first part"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put(broken())
    assert leftovers(store) == []


async def test_a_cancelled_put_leaves_nothing(store: LocalFileStore) -> None:
    started = asyncio.Event()

    async def stalled():
        yield b"first part"
        started.set()
        await asyncio.Event().wait()  # the client stops sending
        yield b"never"

    task = asyncio.create_task(store.put(stalled()))
    await started.wait()
    assert len(files_under(store.root / "tmp")) == 1  # the write in progress
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(store) == []


async def test_a_timeout_during_a_put_leaves_nothing(store: LocalFileStore) -> None:
    async def slow():
        while True:
            yield b"x"
            await asyncio.sleep(0.01)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await store.put(slow())
    assert leftovers(store) == []


async def test_put_file_streams_a_local_file(store: LocalFileStore, tmp_path: Path) -> None:
    source = tmp_path / "scan.pdf"
    source.write_bytes(b"%PDF" + os.urandom(200_000))  # several 64 KiB reads
    stored = await store.put_file(source, limit=300_000)
    assert stored.size == source.stat().st_size
    assert await read_all(store, stored.key) == source.read_bytes()


async def test_put_file_over_the_limit(store: LocalFileStore, tmp_path: Path) -> None:
    source = tmp_path / "big.pdf"
    source.write_bytes(b"0" * 1001)
    with pytest.raises(TooLarge):
        await store.put_file(source)
    assert leftovers(store) == []


@pytest.mark.parametrize("key", ["../../etc/passwd", "abc", "A" * 64, "0" * 63 + "/", ""])
async def test_keys_that_are_not_hashes_are_refused(store: LocalFileStore, key: str) -> None:
    with pytest.raises(NotFound):
        store.path_for(key)
    with pytest.raises(NotFound):
        await read_all(store, key)
    with pytest.raises(NotFound):
        await store.delete(key)


async def test_missing_object(store: LocalFileStore) -> None:
    with pytest.raises(NotFound):
        await read_all(store, "0" * 64)


async def test_delete(store: LocalFileStore) -> None:
    stored = await store.put_bytes(b"weg")
    await store.delete(stored.key)
    assert not await store.exists(stored.key)
    await store.delete(stored.key)  # deleting twice is fine


async def test_a_large_stream_is_never_held_in_memory(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "big", limit=64 * 1024 * 1024)
    size = 20 * 1024 * 1024
    chunk = b"\x00" * (64 * 1024)

    async def generate():
        for _ in range(size // len(chunk)):
            yield chunk

    tracemalloc.start()
    try:
        stored = await store.put(generate())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == size
    assert peak < 5 * 1024 * 1024, f"peak {peak} bytes while storing {size}"
