"""A content-addressed file store.

Files are streamed in: hashed while they are written to a temporary file, then renamed to their
sha256. The size limit is enforced by counting bytes as they arrive, and a write that fails or
goes over the limit leaves nothing behind. A client's filename never becomes a path: the key is
the content hash, checked to be exactly that before it touches the disk.

File I/O runs in worker threads so the event loop never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from .errors import NotFound, TooLarge

CHUNK = 64 * 1024
_KEY = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


class FileStore(Protocol):
    """What the services need of a store; an S3-compatible one can stand in for the local one."""

    limit: int

    async def put(
        self, chunks: AsyncIterable[bytes], *, limit: int | None = None
    ) -> StoredFile: ...

    async def put_bytes(self, data: bytes, *, limit: int | None = None) -> StoredFile: ...

    def open(self, key: str, *, chunk_size: int = CHUNK) -> AsyncIterator[bytes]: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...


def describe_limit(limit: int) -> str:
    if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KB"
    return f"{limit} bytes"


async def aiter_bytes(data: bytes, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
    """``data`` as a stream of chunks, for callers that already hold the bytes."""
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]


class LocalFileStore:
    """Objects under ``root/objects/ab/cd/<sha256>``; writes in progress under ``root/tmp``."""

    def __init__(self, root: Path, *, limit: int) -> None:
        self.root = Path(root)
        self.limit = limit

    def path_for(self, key: str) -> Path:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise NotFound("No such file.")
        return self.root / "objects" / key[:2] / key[2:4] / key

    async def put(self, chunks: AsyncIterable[bytes], *, limit: int | None = None) -> StoredFile:
        limit = self.limit if limit is None else limit
        tmp_dir = self.root / "tmp"
        await asyncio.to_thread(tmp_dir.mkdir, parents=True, exist_ok=True)
        tmp = tmp_dir / f"{secrets.token_hex(16)}.part"
        digest = hashlib.sha256()
        size = 0
        fh: BinaryIO = await asyncio.to_thread(tmp.open, "xb")
        try:
            try:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(
                            "The file is larger than the limit of %(limit)s.",
                            limit=describe_limit(limit),
                        )
                    digest.update(chunk)
                    await asyncio.to_thread(fh.write, chunk)
                await asyncio.to_thread(fh.flush)
            finally:
                await asyncio.to_thread(fh.close)
            key = digest.hexdigest()
            await asyncio.to_thread(self._place, tmp, self.path_for(key))
        except BaseException:
            # Also on cancellation: a half-written upload must not stay on disk.
            await asyncio.shield(asyncio.to_thread(_unlink, tmp))
            raise
        return StoredFile(key=key, size=size, sha256=key)

    @staticmethod
    def _place(tmp: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            tmp.unlink()  # same content is already stored
        else:
            os.replace(tmp, target)

    async def put_bytes(self, data: bytes, *, limit: int | None = None) -> StoredFile:
        """Bytes already in memory (a mail, its attachments): hashed and written in one trip
        to a worker thread."""
        limit = self.limit if limit is None else limit
        if len(data) > limit:
            raise TooLarge(
                "The file is larger than the limit of %(limit)s.", limit=describe_limit(limit)
            )
        return await asyncio.to_thread(self._put_bytes, data)

    def _put_bytes(self, data: bytes) -> StoredFile:
        key = hashlib.sha256(data).hexdigest()
        target = self.path_for(key)
        if not target.exists():
            tmp_dir = self.root / "tmp"
            tmp_dir.mkdir(parents=True, exist_ok=True)
            tmp = tmp_dir / f"{secrets.token_hex(16)}.part"
            try:
                tmp.write_bytes(data)
                self._place(tmp, target)
            except BaseException:
                _unlink(tmp)
                raise
        return StoredFile(key=key, size=len(data), sha256=key)

    async def put_file(self, path: Path, *, limit: int | None = None) -> StoredFile:
        return await self.put(read_chunks(path), limit=limit)

    async def open(self, key: str, *, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        path = self.path_for(key)
        try:
            fh: BinaryIO = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise NotFound("No such file.") from None
        try:
            while chunk := await asyncio.to_thread(fh.read, chunk_size):
                yield chunk
        finally:
            await asyncio.to_thread(fh.close)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path_for(key).is_file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(_unlink, self.path_for(key))


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def read_chunks(path: Path, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
    """A local file as a stream of chunks, read in a worker thread."""
    fh: BinaryIO = await asyncio.to_thread(Path(path).open, "rb")
    try:
        while chunk := await asyncio.to_thread(fh.read, chunk_size):
            yield chunk
    finally:
        await asyncio.to_thread(fh.close)
