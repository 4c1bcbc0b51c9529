"""A content-addressed file store.

Files are streamed in: hashed while they are written to a temporary file, then renamed to their
sha256. The size limit is enforced by counting bytes as they arrive, and a write that fails or
goes over the limit leaves nothing behind. A client's filename never becomes a path: the key is
the content hash, checked to be exactly that before it touches the disk.

File I/O runs in worker threads so the event loop never blocks on the disk.

Identical uploads share one object, so an object can only be removed when no record refers to
it, and no upload in progress is about to. Each put gives the object it creates, or the one it
finds already there, a fresh modification time (its stamp); a removal moves the object aside
and goes through with it only when the stamp is still the one it knew. An upload that comes
after the move finds no object and writes its own. The stamps need a file system that keeps
modification times to the nanosecond (ext4, xfs, btrfs, tmpfs, APFS, NTFS do).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

from .errors import NotFound, TooLarge
from .store_cipher import HEADER, DamagedFile, Sealing, StoreCipher, opened

CHUNK = 64 * 1024
# What a put hands to its writing thread at once: a hop to a thread costs about as much as
# hashing and writing 64 KB, so a large upload in 64 KB hops spends half its time hopping.
BATCH = 1024 * 1024
# Batches a put may have in its threads at once: each is hashed in one thread and written in
# another (both let go of the GIL), so that a write the kernel holds up (it throttles a
# writer with many dirty pages) stops neither the hashing nor, until this many wait, the
# reading of the upload. What a put holds grows by as many batches.
DEPTH = 2
# A download's reads: large enough that the hops to the reading thread cost little beside
# sending, small enough that the socket's buffer takes one at once.
TRANSFER_CHUNK = 256 * 1024
_KEY = re.compile(r"[0-9a-f]{64}")
_T = TypeVar("_T")


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str
    # The stamp this put gave the object it created; None when the content was stored
    # already (then the object is someone else's to remove).
    created: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StoredObject:
    """An object as the sweep sees it: its key, size and stamp (modification time)."""

    key: str
    size: int
    stamp: int


# The objects that puts within ``recording_created()`` created, so that the edge of a unit of
# work (a web request, a command) can remove those that no record came to refer to.
_CREATED: ContextVar[list[StoredFile] | None] = ContextVar("loket_store_created", default=None)


@contextlib.contextmanager
def recording_created() -> Iterator[list[StoredFile]]:
    """Collect the objects created by puts in this context (tasks started in it included)."""
    created: list[StoredFile] = []
    token = _CREATED.set(created)
    try:
        yield created
    finally:
        _CREATED.reset(token)


def _noted(stored: StoredFile) -> StoredFile:
    recording = _CREATED.get()
    if recording is not None and stored.created is not None:
        recording.append(stored)
    return stored


class FileStore(Protocol):
    """What the services need of a store; an S3-compatible one can stand in for the local one."""

    limit: int

    async def put(
        self, chunks: AsyncIterable[bytes], *, limit: int | None = None
    ) -> StoredFile: ...

    async def put_bytes(self, data: bytes, *, limit: int | None = None) -> StoredFile: ...

    async def put_file(self, path: Path, *, limit: int | None = None) -> StoredFile: ...

    def open(self, key: str, *, chunk_size: int = CHUNK) -> AsyncIterator[bytes]: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def release(self, stored: StoredFile) -> bool: ...

    async def objects(self, *, older_than: float) -> list[StoredObject]: ...

    async def remove_unchanged(self, key: str, stamp: int) -> bool: ...

    async def sweep_temporary(self, *, older_than: float) -> tuple[int, int]: ...

    async def check(self) -> None:
        """Raise OSError if new files cannot be stored now (for /healthz)."""

    async def reseal(self, key: str) -> bool: ...

    async def close(self) -> None: ...


def check_key(key: str) -> str:
    """``key`` when it is a content hash. Keys come from our own database, never from a
    request; checked anyway, so that no key can ever point outside the store's objects."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise NotFound("No such file.")
    return key


async def rechunk(stream: AsyncIterable[bytes], chunk_size: int) -> AsyncIterator[bytes]:
    """``stream`` in chunks of exactly ``chunk_size`` bytes (the last one may be shorter)."""
    buffer = bytearray()
    async for piece in stream:
        buffer += piece
        while len(buffer) >= chunk_size:
            yield bytes(buffer[:chunk_size])
            del buffer[:chunk_size]
    if buffer:
        yield bytes(buffer)


async def decrypted(
    raw: AsyncGenerator[bytes, None], cipher: StoreCipher | None, chunk_size: int | None = None
) -> AsyncIterator[bytes]:
    """``raw``, an object's bytes as stored, opened with ``cipher`` (see
    ``store_cipher.opened``), in chunks of ``chunk_size`` if given. Closing this closes every
    stream in the chain at once, also when one of them fails (a damaged file): left to the
    garbage collector, their finalizers run in any order and can find a stream still running."""
    async with contextlib.aclosing(raw), contextlib.aclosing(opened(raw, cipher)) as plain:
        if chunk_size is None:
            async for chunk in plain:
                yield chunk
            return
        async with contextlib.aclosing(rechunk(plain, chunk_size)) as chunks:
            async for chunk in chunks:
                yield chunk


async def first_bytes(stream: AsyncIterator[bytes]) -> bytes:
    """The first chunk of ``stream`` (empty for an empty one); the rest is never read."""
    async with contextlib.aclosing(stream):
        async for chunk in stream:
            return chunk
    return b""


def describe_limit(limit: int) -> str:
    if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KB"
    return f"{limit} bytes"


def _too_large(limit: int) -> TooLarge:
    return TooLarge("The file is larger than the limit of %(limit)s.", limit=describe_limit(limit))


async def aiter_bytes(data: bytes, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
    """``data`` as a stream of chunks, for callers that already hold the bytes."""
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]


async def _settled(func: Callable[..., _T], *args: object) -> _T:
    """``func(*args)`` in a worker thread, waited for to the end even if the task is cancelled
    meanwhile; the cancellation is passed on once the thread is done.

    A thread cannot be stopped, so without this a cancelled ``put`` could clean up while the
    thread is still creating, writing or renaming the file, and leave it behind."""
    return await _waited(_in_thread(func, *args))


def _in_thread(func: Callable[..., _T], *args: object) -> asyncio.Future[_T]:
    """``func(*args)`` started in a worker thread; wait for it with ``_waited``."""
    return asyncio.ensure_future(asyncio.to_thread(func, *args))


async def _waited(task: asyncio.Future[_T]) -> _T:
    """The result of ``task`` (started by ``_in_thread``), waited for to the end even if this
    is cancelled meanwhile (see ``_settled``)."""
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            # asyncio.wait, unlike a plain await, does not cancel the task it waits for.
            await asyncio.wait({task})
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never seen
        raise cancelled
    return task.result()


class _TempFile:
    """One write in progress under ``tmp/``. Blocking: each method runs in a worker thread.

    The open handle lives on the object, not in a return value, so that a cancellation that
    arrives while the file is being created still finds it to close and remove."""

    def __init__(self, tmp_dir: Path) -> None:
        self.path = tmp_dir / f"{secrets.token_hex(16)}.part"
        self.fh: BinaryIO | None = None

    def create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = self.path.open("xb")

    def write(self, chunk: bytes) -> None:
        assert self.fh is not None
        self.fh.write(chunk)

    def seal(self) -> None:
        assert self.fh is not None
        self.fh.flush()
        # On disk before the rename: otherwise a crash could leave an empty object under a
        # hash, and every later upload of that content would be deduplicated against it.
        os.fsync(self.fh.fileno())
        self.fh.close()

    def place(self, target: Path) -> int | None:
        """Make the finished file the object at ``target``: its stamp when this created the
        object, None when the same content was stored already (that object is stamped
        instead, and this file goes)."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            stamp = new_stamp()
            os.utime(self.path, ns=(stamp, stamp))
            while True:
                try:
                    # A link, unlike a rename, never replaces an object that a concurrent
                    # upload placed and stamped first.
                    _link(self.path, target)
                except FileExistsError:
                    if _stamp(target):
                        return None
                    continue  # removed in the meantime: this file takes its place
                return stamp
        finally:
            self.discard()  # the temporary name goes in every case

    def replace(self, target: Path) -> int:
        """Put the finished file in the place of the object at ``target``, with a fresh stamp
        (a removal that looked before now leaves it)."""
        try:
            stamp = new_stamp()
            os.utime(self.path, ns=(stamp, stamp))
            os.replace(self.path, target)
            return stamp
        finally:
            self.discard()

    def discard(self) -> None:
        if self.fh is not None:
            with contextlib.suppress(OSError):
                self.fh.close()
        _unlink(self.path)


class _Sink:
    """What a put writes, in batches, in worker threads: hashed (hashlib lets go of the GIL
    for large buffers, so the event loop goes on meanwhile), sealed when there is a key, and
    written to the temporary file."""

    def __init__(self, temp: _TempFile, sealing: Sealing | None) -> None:
        self.temp = temp
        self.sealing = sealing
        self.digest = hashlib.sha256()

    def hash(self, batch: _Batch) -> None:
        for piece in batch.pieces:
            self.digest.update(piece)

    def write(self, batch: _Batch) -> None:
        for piece in batch.pieces:
            self.temp.write(self.sealing.update(bytes(piece)) if self.sealing else piece)

    def finish(self, batch: _Batch) -> None:
        """The last batch (which may be empty), then the file sealed (see ``_TempFile``)."""
        self.hash(batch)
        self.write(batch)
        if self.sealing:
            self.temp.write(self.sealing.finish())
        self.temp.seal()


# A piece under this size is copied into the one before (when that is a small one as well), so
# that a client sending a byte at a time does not make a batch a million objects.
SMALL = 16 * 1024


class _Batch:
    """The chunks of a put, kept as they came until they make up BATCH bytes: copying them
    into one buffer cost the event loop a fifth of its time in a large upload. Chunks that
    could still change (a bytearray) are copied, and small ones joined."""

    def __init__(self) -> None:
        self.pieces: list[bytes | bytearray | memoryview] = []
        self.size = 0

    def add(self, chunk: bytes | bytearray | memoryview) -> None:
        if isinstance(chunk, memoryview):
            chunk = chunk.cast("B")  # its length in bytes, whatever its items
        self.size += len(chunk)
        if len(chunk) < SMALL:
            last = self.pieces[-1] if self.pieces else None
            if isinstance(last, bytearray) and len(last) < SMALL:
                last += chunk
            else:
                self.pieces.append(bytearray(chunk))
        elif isinstance(chunk, bytes) or _of_bytes(chunk):
            self.pieces.append(chunk)
        else:
            self.pieces.append(bytes(chunk))


def byte_length(chunk: bytes | bytearray | memoryview) -> int:
    """How many bytes a chunk holds (a view's len counts its items, which may be wider)."""
    return chunk.nbytes if isinstance(chunk, memoryview) else len(chunk)


def _of_bytes(chunk: bytes | bytearray | memoryview) -> bool:
    """A view of a bytes object, which nobody can change. A read-only view of a bytearray
    can still change under it, when its owner fills the bytearray again."""
    return isinstance(chunk, memoryview) and isinstance(chunk.obj, bytes)


class _Lane:
    """Calls that run one after another, in the order given, in a thread of their own (started
    with the first call, ended by ``close``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pool: ThreadPoolExecutor | None = None

    def submit(self, func: Callable[..., _T], *args: object) -> asyncio.Future[_T]:
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        return asyncio.wrap_future(self.pool.submit(func, *args))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False)


class _Reader:
    """Blocking reads of one file, each method run in a worker thread (see ``_TempFile``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh: BinaryIO | None = None

    def open(self) -> None:
        self.fh = self.path.open("rb")

    def read(self, size: int) -> bytes:
        assert self.fh is not None
        return self.fh.read(size)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


async def _stream(path: Path, chunk_size: int) -> AsyncIterator[bytes]:
    """The file's chunks; the next one is read in a worker thread while the caller sends or
    decrypts this one."""
    reader = _Reader(path)
    reading: asyncio.Future[bytes] | None = None
    try:
        await _settled(reader.open)
        reading = _in_thread(reader.read, chunk_size)
        while chunk := await _waited(reading):
            reading = _in_thread(reader.read, chunk_size)
            yield chunk
        reading = None
    finally:
        if reading is not None:
            with contextlib.suppress(BaseException):
                await _waited(reading)
        await _settled(reader.close)


async def read_chunks(path: Path, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
    """A local file as a stream of chunks, read in a worker thread."""
    async for chunk in _stream(Path(path), chunk_size):
        yield chunk


class LocalFileStore:
    """Objects under ``root/objects/ab/cd/<sha256>``; writes in progress under ``root/tmp``.

    ``tmp`` is inside ``root`` so that the final rename stays on one file system and is atomic:
    a reader sees a whole object or none."""

    def __init__(self, root: Path, *, limit: int, cipher: StoreCipher | None = None) -> None:
        self.root = Path(root)
        self.limit = limit
        self.cipher = cipher

    async def check(self) -> None:
        # A store whose folder is gone or read-only takes no upload: the first write (tmp/)
        # is where it would fail.
        def writable() -> None:
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            if not os.access(self.root / "tmp", os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "not writable", str(self.root))

        await asyncio.to_thread(writable)

    def path_for(self, key: str) -> Path:
        check_key(key)
        return self.root / "objects" / key[:2] / key[2:4] / key

    async def put(self, chunks: AsyncIterable[bytes], *, limit: int | None = None) -> StoredFile:
        """Store a stream. Over ``limit`` bytes (default: the store's): ``TooLarge``. On any
        failure, cancellation included, nothing of the upload stays on disk.

        One exception: a cancellation that arrives while the finished file is being renamed
        into place waits for the rename, so the (complete) object stays. It is never removed
        afterwards, because a concurrent upload of the same content may already share it."""
        limit = self.limit if limit is None else limit
        key, size, created = await self._write(chunks, limit)
        return _noted(StoredFile(key=key, size=size, sha256=key, created=created))

    async def _write(
        self, chunks: AsyncIterable[bytes], limit: int, *, replacing: str | None = None
    ) -> tuple[str, int, int | None]:
        """Hash the plaintext, encrypt it when there is a key, and place it under its hash;
        ``replacing``: that object is written anew (a rotation), and must keep its hash."""
        temp = _TempFile(self.root / "tmp")
        sink = _Sink(temp, self.cipher.sealing() if self.cipher else None)
        size = 0
        batch = _Batch()
        # Full batches are hashed in one thread and written in another while the next ones
        # arrive; at most DEPTH of them at a time (their hashing and writing, in turn).
        hashing, writing = _Lane("loket-hash"), _Lane("loket-write")
        pending: deque[asyncio.Future[None]] = deque()
        try:
            await _settled(temp.create)
            async for chunk in chunks:
                size += byte_length(chunk)
                if size > limit:
                    raise _too_large(limit)
                batch.add(chunk)
                if batch.size >= BATCH:
                    while len(pending) >= 2 * DEPTH:
                        await _waited(pending.popleft())
                    pending.append(hashing.submit(sink.hash, batch))
                    pending.append(writing.submit(sink.write, batch))
                    batch = _Batch()
            while pending:
                await _waited(pending.popleft())
            await _settled(sink.finish, batch)
            if replacing is not None and sink.digest.hexdigest() != replacing:
                raise DamagedFile("The stored file does not match its name; it was not rewritten.")
        except BaseException:
            # The threads cannot be stopped: the file is removed once they are done with it.
            while pending:
                with contextlib.suppress(BaseException):
                    await _waited(pending.popleft())
            await _settled(temp.discard)
            await _close_source(chunks)
            raise
        finally:
            hashing.close()
            writing.close()
        key = sink.digest.hexdigest()
        if replacing is not None:
            return key, size, await _settled(temp.replace, self.path_for(key))
        return key, size, await _settled(temp.place, self.path_for(key))

    async def put_bytes(self, data: bytes, *, limit: int | None = None) -> StoredFile:
        """Bytes already in memory (a mail, its attachments): hashed and written in one trip
        to a worker thread."""
        limit = self.limit if limit is None else limit
        if len(data) > limit:
            raise _too_large(limit)
        return _noted(await _settled(self._put_bytes, data))

    def _put_bytes(self, data: bytes) -> StoredFile:
        key = hashlib.sha256(data).hexdigest()
        target = self.path_for(key)
        created = None
        if not _stamp(target):
            temp = _TempFile(self.root / "tmp")
            try:
                temp.create()
                temp.write(self.cipher.seal_bytes(data) if self.cipher else data)
                temp.seal()
            except BaseException:
                temp.discard()
                raise
            created = temp.place(target)
        return StoredFile(key=key, size=len(data), sha256=key, created=created)

    async def put_file(self, path: Path, *, limit: int | None = None) -> StoredFile:
        return await self.put(read_chunks(path), limit=limit)

    def open(self, key: str, *, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        """The object's bytes in chunks. ``NotFound`` (on the first iteration, as this is a
        generator) for a key that is not stored or not a key at all."""
        return decrypted(self._raw(key, chunk_size), self.cipher, chunk_size)

    async def _raw(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        """The object's bytes as stored (encrypted or not)."""
        path = self.path_for(key)
        stream = _stream(path, chunk_size)
        try:
            try:
                first = await anext(stream)
            except FileNotFoundError:
                raise NotFound("No such file.") from None
            except StopAsyncIteration:
                return  # an empty file
            yield first
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()

    async def reseal(self, key: str) -> bool:
        """Write the object anew under the current key (see ``loket store rotate-key``);
        False when it is sealed with that key already."""
        if self.cipher is None or self.cipher.is_current(await first_bytes(self._raw(key, HEADER))):
            return False
        await self._write(decrypted(self._raw(key, CHUNK), self.cipher), 2**63, replacing=key)
        return True

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path_for(key).is_file)

    async def delete(self, key: str) -> None:
        """Remove an object; one that is already gone is fine. The caller must know no record
        refers to it any more: identical uploads share one object."""
        await _settled(_unlink, self.path_for(key))

    async def release(self, stored: StoredFile) -> bool:
        """Remove the object that ``stored``'s put created, unless another put has stamped it
        since (it is shared now). The caller must know that no record refers to it. True when
        it was removed."""
        if stored.created is None:
            return False
        return await self.remove_unchanged(stored.key, stored.created)

    async def remove_unchanged(self, key: str, stamp: int) -> bool:
        """Remove an object that still has ``stamp``, that is: no put has come for its content
        since the caller looked (see the module's docstring). True when it was removed."""
        return await _settled(self._remove_unchanged, self.path_for(key), stamp)

    def _remove_unchanged(self, path: Path, stamp: int) -> bool:
        try:
            if path.stat().st_mtime_ns != stamp:
                return False
        except FileNotFoundError:
            return False
        aside = self.root / "tmp" / f"{secrets.token_hex(16)}.gone"
        aside.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(path, aside)  # from here on, a put writes its own object
        except FileNotFoundError:
            return False
        try:
            if aside.stat().st_mtime_ns == stamp:
                return True
            # A put stamped it just before the move: it is shared, put it back (unless a put
            # has already written it anew).
            with contextlib.suppress(FileExistsError):
                _link(aside, path)
            return False
        finally:
            _unlink(aside)

    async def objects(self, *, older_than: float) -> list[StoredObject]:
        """The objects last stamped before ``older_than`` (seconds since the epoch)."""
        return await asyncio.to_thread(self._objects, int(older_than * 1e9))

    def _objects(self, before: int) -> list[StoredObject]:
        found = []
        for path in (self.root / "objects").glob("??/??/*"):
            if not _KEY.fullmatch(path.name):
                continue
            with contextlib.suppress(FileNotFoundError):
                st = path.stat()
                if st.st_mtime_ns < before:
                    found.append(StoredObject(path.name, st.st_size, st.st_mtime_ns))
        return found

    async def sweep_temporary(self, *, older_than: float) -> tuple[int, int]:
        """Remove what writes left under ``tmp/`` before ``older_than`` (a crash mid-write):
        how many files, and how many bytes."""
        return await asyncio.to_thread(self._sweep_temporary, int(older_than * 1e9))

    async def close(self) -> None:
        pass  # nothing held open between calls

    def _sweep_temporary(self, before: int) -> tuple[int, int]:
        count = size = 0
        tmp = self.root / "tmp"
        for path in tmp.iterdir() if tmp.is_dir() else ():
            with contextlib.suppress(FileNotFoundError):
                st = path.stat()
                if path.is_file() and st.st_mtime_ns < before:
                    path.unlink()
                    count, size = count + 1, size + st.st_size
        return count, size


async def _close_source(chunks: AsyncIterable[bytes]) -> None:
    # Stop the source at once (a multipart reader, an open file) instead of leaving it to the
    # garbage collector; its own errors are secondary to the one being raised.
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


_stamps = threading.Lock()
_last_stamp = 0


def new_stamp() -> int:
    """A modification time, in nanoseconds, that no other put of this process uses."""
    global _last_stamp
    with _stamps:
        _last_stamp = max(time.time_ns(), _last_stamp + 1)
        return _last_stamp


def _stamp(path: Path) -> bool:
    """Give an existing object a fresh stamp: a removal under way sees it and leaves it.
    False when there is no object (any more)."""
    stamp = new_stamp()
    try:
        os.utime(path, ns=(stamp, stamp))
    except FileNotFoundError:
        return False
    return True


# What link(2) answers on a file system without hard links.
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


def _link(source: Path, target: Path) -> None:
    """``target`` as a new name of ``source``; FileExistsError when it exists already."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        # Without hard links: a rename, after a look (which a concurrent put can race).
        if target.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
        os.replace(source, target)
