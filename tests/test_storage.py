"""The content-addressed file store, the local one and the S3 one alike: streams, hashes
while writing, enforces the limit, and leaves nothing behind when a write fails."""

from __future__ import annotations

import array
import asyncio
import datetime as dt
import hashlib
import os
import time
import tracemalloc
from pathlib import Path

import pytest

from core import storekeeping
from core.db import Database
from core.errors import NotFound, TooLarge
from core.storage import FileStore, LocalFileStore, aiter_bytes, check_key
from core.storage_s3 import PART, S3FileStore

from .s3server import S3Server, bucket_contents, unfinished_uploads


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


class Kept:
    """What a store holds, looked at from outside it: its folders or its bucket."""

    def __init__(self, store: FileStore, server: S3Server | None = None) -> None:
        self.store, self.server = store, server

    def objects(self) -> dict[str, bytes]:
        """The finished objects, by key, with their bytes as stored."""
        if isinstance(self.store, LocalFileStore):
            return {p.name: p.read_bytes() for p in files_under(self.store.root / "objects")}
        assert self.server is not None and isinstance(self.store, S3FileStore)
        contents = bucket_contents(self.server, self.store.bucket)
        prefix = f"{self.store.prefix}objects/"
        return {n.removeprefix(prefix): b for n, b in contents.items() if n.startswith(prefix)}

    def leftovers(self) -> list[str]:
        """Everything under tmp/ and objects/ (for S3: unfinished uploads too): empty after a
        failed put."""
        if isinstance(self.store, LocalFileStore):
            root = self.store.root
            return [str(p) for part in ("tmp", "objects") for p in (root / part).rglob("*")]
        assert self.server is not None and isinstance(self.store, S3FileStore)
        bucket = self.store.bucket
        return [*bucket_contents(self.server, bucket), *unfinished_uploads(self.server, bucket)]


@pytest.fixture(params=["local", "s3"])
async def kept(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "local":
        yield Kept(LocalFileStore(tmp_path / "store", limit=1000))
        return
    server: S3Server = request.getfixturevalue("s3_server")
    store = server.store(server.new_bucket(), limit=1000)
    try:
        yield Kept(store, server)
    finally:
        await store.close()


@pytest.fixture
def store(kept: Kept) -> FileStore:
    return kept.store


async def read_all(store: FileStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.open(key)])


def with_limit(store: FileStore, limit: int) -> FileStore:
    store.limit = limit
    return store


async def test_round_trip_under_the_content_hash(store: FileStore, kept: Kept) -> None:
    data = b"jaaropgave 2025"
    stored = await store.put(aiter_bytes(data, chunk_size=4))
    assert stored.key == stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert await read_all(store, stored.key) == data
    assert await store.exists(stored.key)
    assert kept.objects() == {stored.key: data}


async def test_same_content_is_stored_once(store: FileStore, kept: Kept) -> None:
    a = await store.put_bytes(b"same")
    b = await store.put_bytes(b"same")
    c = await store.put(aiter_bytes(b"same", chunk_size=1))
    assert a == b == c and a.created is not None and b.created is None
    assert kept.objects() == {a.key: b"same"}
    if isinstance(store, LocalFileStore):
        assert list((store.root / "tmp").iterdir()) == []


async def test_a_stream_of_many_chunks(store: FileStore) -> None:
    with_limit(store, 10 * 1024 * 1024)
    data = os.urandom(3 * 64 * 1024 + 123)  # more than the default chunk size, not a multiple
    stored = await store.put(aiter_bytes(data, chunk_size=10_000))
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    chunks = [chunk async for chunk in store.open(stored.key)]
    assert len(chunks) == 4 and b"".join(chunks) == data
    small = [chunk async for chunk in store.open(stored.key, chunk_size=1000)]
    assert max(map(len, small)) == 1000 and b"".join(small) == data


async def test_an_empty_file(store: FileStore) -> None:
    stored = await store.put(aiter_bytes(b""))
    assert stored.size == 0 and stored.key == hashlib.sha256(b"").hexdigest()
    assert await read_all(store, stored.key) == b""


async def test_exactly_at_the_limit_is_accepted(store: FileStore) -> None:
    stored = await store.put(aiter_bytes(b"x" * 1000, chunk_size=300))
    assert stored.size == 1000


async def test_over_the_limit_leaves_nothing(store: FileStore, kept: Kept) -> None:
    with pytest.raises(TooLarge) as info:
        await store.put(aiter_bytes(b"x" * 1001, chunk_size=300))
    assert info.value.message == "The file is larger than the limit of 1000 bytes."
    assert kept.leftovers() == []


async def test_reading_stops_at_the_limit(store: FileStore, kept: Kept) -> None:
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
    assert kept.leftovers() == []


async def test_the_limit_is_shown_in_megabytes(store: FileStore) -> None:
    with_limit(store, 50 * 1024 * 1024)
    with pytest.raises(TooLarge) as info:
        await store.put_bytes(b"x" * (50 * 1024 * 1024 + 1))
    assert info.value.message == "The file is larger than the limit of 50 MB."


async def test_per_call_limit(store: FileStore) -> None:
    with pytest.raises(TooLarge):
        await store.put(aiter_bytes(b"x" * 20), limit=10)
    assert (await store.put(aiter_bytes(b"x" * 2000), limit=5000)).size == 2000


async def test_a_failing_source_leaves_nothing(store: FileStore, kept: Kept) -> None:
    async def broken():
        yield b"first part"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put(broken())
    assert kept.leftovers() == []


async def test_a_cancelled_put_leaves_nothing(store: FileStore, kept: Kept) -> None:
    started = asyncio.Event()

    async def stalled():
        yield b"first part"
        started.set()
        await asyncio.Event().wait()  # the client stops sending
        yield b"never"

    task = asyncio.create_task(store.put(stalled()))
    await started.wait()
    if isinstance(store, LocalFileStore):
        assert len(files_under(store.root / "tmp")) == 1  # the write in progress
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert kept.leftovers() == []


async def test_a_timeout_during_a_put_leaves_nothing(store: FileStore, kept: Kept) -> None:
    async def slow():
        while True:
            yield b"x"
            await asyncio.sleep(0.01)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await store.put(slow())
    assert kept.leftovers() == []


async def test_put_file_streams_a_local_file(store: FileStore, tmp_path: Path) -> None:
    source = tmp_path / "scan.pdf"
    source.write_bytes(b"%PDF" + os.urandom(200_000))  # several 64 KiB reads
    stored = await store.put_file(source, limit=300_000)
    assert stored.size == source.stat().st_size
    assert await read_all(store, stored.key) == source.read_bytes()


async def test_put_file_over_the_limit(store: FileStore, kept: Kept, tmp_path: Path) -> None:
    source = tmp_path / "big.pdf"
    source.write_bytes(b"0" * 1001)
    with pytest.raises(TooLarge):
        await store.put_file(source)
    assert kept.leftovers() == []


@pytest.mark.parametrize("key", ["../../etc/passwd", "abc", "A" * 64, "0" * 63 + "/", ""])
async def test_keys_that_are_not_hashes_are_refused(store: FileStore, key: str) -> None:
    with pytest.raises(NotFound):
        check_key(key)
    with pytest.raises(NotFound):
        await read_all(store, key)
    with pytest.raises(NotFound):
        await store.delete(key)


async def test_missing_object(store: FileStore) -> None:
    with pytest.raises(NotFound):
        await read_all(store, "0" * 64)


async def test_delete(store: FileStore) -> None:
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


@pytest.mark.parametrize(
    "given",
    [lambda buffer: buffer, lambda buffer: memoryview(buffer).toreadonly()],
    ids=["bytearray", "read-only-view"],
)
async def test_a_source_that_reuses_its_buffer_is_stored_as_it_was_sent(
    tmp_path: Path, given
) -> None:
    # The store keeps a batch's chunks until it is written: one that could change meanwhile
    # (a bytearray the source fills anew for each chunk, or a read-only view of one) is
    # copied first.
    store = LocalFileStore(tmp_path / "store", limit=8 * 1024 * 1024)
    buffer = bytearray(64 * 1024)
    sent = []

    async def refilled():
        for n in range(40):  # more than one batch
            buffer[:] = bytes([n]) * len(buffer)
            sent.append(bytes(buffer))
            yield given(buffer)

    stored = await store.put(refilled())
    assert await read_all(store, stored.key) == b"".join(sent)
    assert stored.sha256 == hashlib.sha256(b"".join(sent)).hexdigest()


async def test_a_view_of_wider_items_is_counted_in_bytes(tmp_path: Path) -> None:
    words = array.array("I", range(100_000))  # 4 bytes an item
    store = LocalFileStore(tmp_path / "store", limit=len(words) * 4)
    stored = await store.put(aiter_bytes_of(memoryview(words)))
    assert stored.size == len(words) * 4
    assert await read_all(store, stored.key) == words.tobytes()


async def aiter_bytes_of(view: memoryview):
    yield view


async def test_release_removes_only_what_is_not_shared(store: FileStore, kept: Kept) -> None:
    alone = await store.put_bytes(b"alleen")
    shared = await store.put_bytes(b"gedeeld")
    again = await store.put(aiter_bytes(b"gedeeld"))  # an upload of the same bytes since
    assert again.created is None and not await store.release(again)
    assert await store.release(alone) and not await store.exists(alone.key)
    assert not await store.release(shared)  # stamped by the second put: shared now
    assert set(kept.objects()) == {shared.key}


async def test_objects_lists_by_stamp_and_removal_checks_it(store: FileStore) -> None:
    stored = await store.put_bytes(b"lijst")
    assert await store.objects(older_than=time.time() - 3600) == []
    [listed] = await store.objects(older_than=time.time() + 3600)
    assert (listed.key, listed.stamp) == (stored.key, stored.created) and listed.size >= 5
    assert not await store.remove_unchanged(stored.key, listed.stamp - 1)
    await store.put_bytes(b"lijst")  # a put since the listing: a fresh stamp
    assert not await store.remove_unchanged(stored.key, listed.stamp)
    [relisted] = await store.objects(older_than=time.time() + 3600)
    assert relisted.stamp > listed.stamp
    assert await store.remove_unchanged(stored.key, relisted.stamp)
    assert not await store.exists(stored.key)


async def test_the_sweep_removes_what_no_record_refers_to(
    db: Database, store: FileStore, kept: Kept
) -> None:
    orphan = await store.put_bytes(b"niemand")
    # A negative grace period: everything stored so far counts as old.
    result = await storekeeping.sweep(db, store, grace=dt.timedelta(hours=-1))
    assert (result.objects, result.object_bytes >= 7, result.kept) == (1, True, 0)
    assert not await store.exists(orphan.key)
    assert kept.objects() == {}


async def test_the_sweep_clears_unfinished_writes_in_the_bucket(
    db: Database, s3_server: S3Server
) -> None:
    store = s3_server.store(s3_server.new_bucket(), limit=1000)
    s3 = s3_server.client()
    s3.put_object(Bucket=store.bucket, Key="loket/tmp/crashed.part", Body=b"x" * 10)
    s3.create_multipart_upload(Bucket=store.bucket, Key="loket/tmp/abandoned.part")
    try:
        result = await storekeeping.sweep(db, store, grace=dt.timedelta(hours=-1))
    finally:
        await store.close()
    assert (result.temporary, result.temporary_bytes) == (2, 10)
    assert bucket_contents(s3_server, store.bucket) == {}
    assert unfinished_uploads(s3_server, store.bucket) == []


async def test_a_large_file_goes_up_in_parts(s3_server: S3Server) -> None:
    store = s3_server.store(s3_server.new_bucket(), limit=4 * PART)
    data = os.urandom(2 * PART + 12345)
    try:
        stored = await store.put(aiter_bytes(data, chunk_size=1024 * 1024))
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        assert (
            hashlib.sha256(await read_all(store, stored.key)).digest()
            == hashlib.sha256(data).digest()
        )
        assert unfinished_uploads(s3_server, store.bucket) == []
        names = set(bucket_contents(s3_server, store.bucket))
        assert names == {f"loket/objects/{stored.key}"}  # the temporary copy went
    finally:
        await store.close()


async def test_a_large_file_that_breaks_off_leaves_nothing(s3_server: S3Server) -> None:
    store = s3_server.store(s3_server.new_bucket(), limit=4 * PART)

    async def broken():
        yield os.urandom(PART + 10)  # one part is up already
        raise ConnectionResetError("client went away")

    try:
        with pytest.raises(ConnectionResetError):
            await store.put(broken())
        assert unfinished_uploads(s3_server, store.bucket) == []
        assert bucket_contents(s3_server, store.bucket) == {}
    finally:
        await store.close()
