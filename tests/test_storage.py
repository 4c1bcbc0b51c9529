"""The content-addressed file store: streams, hashes while writing, enforces the limit, and
leaves nothing behind when a write fails."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import pytest

from core.errors import NotFound, TooLarge
from core.storage import LocalFileStore, aiter_bytes


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


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
    assert a == b and len(files_under(store.root)) == 1


async def test_exactly_at_the_limit_is_accepted(store: LocalFileStore) -> None:
    stored = await store.put(aiter_bytes(b"x" * 1000, chunk_size=300))
    assert stored.size == 1000


async def test_over_the_limit_leaves_nothing(store: LocalFileStore) -> None:
    with pytest.raises(TooLarge) as info:
        await store.put(aiter_bytes(b"x" * 1001, chunk_size=300))
    assert "limit of 1000 bytes" in info.value.message
    assert files_under(store.root) == []


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
    assert files_under(store.root) == []


async def test_put_file_streams_a_local_file(store: LocalFileStore, tmp_path: Path) -> None:
    source = tmp_path / "scan.pdf"
    source.write_bytes(b"%PDF" + b"0" * 500)
    stored = await store.put_file(source)
    assert await read_all(store, stored.key) == source.read_bytes()


@pytest.mark.parametrize("key", ["../../etc/passwd", "abc", "A" * 64, "0" * 63 + "/", ""])
async def test_keys_that_are_not_hashes_are_refused(store: LocalFileStore, key: str) -> None:
    with pytest.raises(NotFound):
        store.path_for(key)
    with pytest.raises(NotFound):
        await read_all(store, key)


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
