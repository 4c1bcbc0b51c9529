"""The content-addressed file store on an S3-compatible object store (``LOKET_STORE_URL =
s3://bucket/prefix``), for Loket on several machines.

The same contract as ``core.storage.LocalFileStore``: streamed in and out, hashed while it
arrives, the size limit counted as bytes arrive, nothing left behind by a failed write.

Layout under the prefix: ``objects/<sha256>`` and, for writes in progress that are too large
for one request, ``tmp/<random>.part`` (a multipart upload in parts of ``PART`` bytes, so at
most one part is held in memory). The hash is only known at the end, so a large write goes to
``tmp/`` first and is then copied into place inside the store (no bytes travel back).

Stamps: S3 keeps modification times to the second, too coarse to tell two puts apart, so
each object carries its stamp (nanoseconds) in its metadata (``x-amz-meta-stamp``); a put
that finds its content stored already gives that object a fresh stamp by copying it onto
itself. A removal looks at the stamp and then deletes: unlike the local store's move aside,
these are two requests, so a put of the very same content that lands between them (a window
of one round trip, on an object that no record refers to and, for the sweep, that nobody
uploaded for the grace period) can lose its object. The document then fails to open
("No such file") instead of being served wrong.

aiobotocore is imported only when this store is used (the ``s3`` extra).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Any

from .errors import NotFound
from .storage import (
    CHUNK,
    StoredFile,
    StoredObject,
    _close_source,
    _noted,
    _too_large,
    aiter_bytes,
    byte_length,
    check_key,
    decrypted,
    first_bytes,
    new_stamp,
    read_chunks,
)
from .store_cipher import HEADER, DamagedFile, StoreCipher

# S3's smallest part (but the last) is 5 MiB; a part is what one write holds in memory.
PART = 8 * 1024 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchUpload"}


def parse_store_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` as (bucket, prefix ending in "/" or empty)."""
    if not url.startswith("s3://"):
        raise ValueError("it must start with s3://")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError("it names no bucket")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code")) in _MISSING


class S3FileStore:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        limit: int,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        cipher: StoreCipher | None = None,
    ) -> None:
        self.cipher = cipher
        self.bucket = bucket
        self.prefix = prefix
        self.limit = limit
        self._config = {
            "endpoint_url": endpoint_url or None,
            "region_name": region or "us-east-1",
            "aws_access_key_id": access_key or None,
            "aws_secret_access_key": secret_key or None,
        }
        self._stack: contextlib.AsyncExitStack | None = None
        self._s3: Any = None

    async def _client(self) -> Any:
        if self._s3 is None:
            from aiobotocore.session import get_session

            stack = contextlib.AsyncExitStack()
            self._s3 = await stack.enter_async_context(
                get_session().create_client("s3", **self._config)
            )
            self._stack = stack
        return self._s3

    async def close(self) -> None:
        if self._stack is not None:
            stack, self._stack, self._s3 = self._stack, None, None
            await stack.aclose()

    async def check(self) -> None:
        """Raise if the bucket cannot be reached now (for /healthz): one HEAD on the bucket."""
        s3 = await self._client()
        await s3.head_bucket(Bucket=self.bucket)

    def object_name(self, key: str) -> str:
        return f"{self.prefix}objects/{check_key(key)}"

    def _tmp_name(self) -> str:
        return f"{self.prefix}tmp/{secrets.token_hex(16)}.part"

    # -- writing ----------------------------------------------------------------------------

    async def put(self, chunks: AsyncIterable[bytes], *, limit: int | None = None) -> StoredFile:
        limit = self.limit if limit is None else limit
        key, size, created = await self._write(chunks, limit)
        return _noted(StoredFile(key=key, size=size, sha256=key, created=created))

    async def _write(
        self, chunks: AsyncIterable[bytes], limit: int, *, replacing: str | None = None
    ) -> tuple[str, int, int | None]:
        """Hash the plaintext, encrypt it when there is a key, and place it under its hash;
        ``replacing``: that object is written anew (a rotation), and must keep its hash."""
        s3 = await self._client()
        sealing = self.cipher.sealing() if self.cipher else None
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload: _Multipart | None = None

        async def send_parts(at_least: int) -> None:
            nonlocal upload
            while len(buffer) >= at_least and buffer:
                if upload is None:
                    upload = await _Multipart.start(s3, self.bucket, self._tmp_name())
                await upload.part(bytes(buffer[:PART]))
                del buffer[:PART]

        try:
            async for chunk in chunks:
                size += byte_length(chunk)
                if size > limit:
                    raise _too_large(limit)
                digest.update(chunk)
                buffer += sealing.update(chunk) if sealing else chunk
                await send_parts(PART)
            if sealing:
                buffer += sealing.finish()
                await send_parts(PART)
            if upload is not None:
                await send_parts(1)  # the last, shorter part
                await upload.complete()
            if replacing is not None and digest.hexdigest() != replacing:
                raise DamagedFile("The stored file does not match its name; it was not rewritten.")
        except BaseException:
            if upload is not None:
                await upload.abort()
            await _close_source(chunks)
            raise
        key = digest.hexdigest()
        fresh = replacing is not None
        if upload is None:
            return key, size, await self._place_bytes(key, bytes(buffer), fresh=fresh)
        try:
            return key, size, await self._place_copy(key, upload.name, fresh=fresh)
        finally:
            await _quietly_delete(s3, self.bucket, upload.name)

    async def put_bytes(self, data: bytes, *, limit: int | None = None) -> StoredFile:
        limit = self.limit if limit is None else limit
        if len(data) > limit:
            raise _too_large(limit)
        if len(data) >= PART:
            return await self.put(aiter_bytes(data, PART), limit=limit)
        key = hashlib.sha256(data).hexdigest()
        sealed = self.cipher.seal_bytes(data) if self.cipher else data
        created = await self._place_bytes(key, sealed)
        return _noted(StoredFile(key=key, size=len(data), sha256=key, created=created))

    async def put_file(self, path: Path, *, limit: int | None = None) -> StoredFile:
        return await self.put(read_chunks(path), limit=limit)

    async def _restamp(self, name: str) -> bool:
        """A fresh stamp on an existing object (see the module's docstring); False when
        there is none."""
        s3 = await self._client()
        try:
            await s3.copy_object(
                Bucket=self.bucket,
                Key=name,
                CopySource={"Bucket": self.bucket, "Key": name},
                Metadata={"stamp": str(new_stamp())},
                MetadataDirective="REPLACE",
            )
        except Exception as exc:
            if _missing(exc):
                return False
            raise
        return True

    async def _place_bytes(self, key: str, data: bytes, *, fresh: bool = False) -> int | None:
        """Store ``data`` as the object ``key``, unless it is there already (then: a fresh
        stamp on it, and None); ``fresh``: write it anew in any case (a rotation)."""
        name = self.object_name(key)
        if not fresh and await self._restamp(name):
            return None
        stamp = new_stamp()
        s3 = await self._client()
        await s3.put_object(Bucket=self.bucket, Key=name, Body=data, Metadata={"stamp": str(stamp)})
        return stamp

    async def _place_copy(self, key: str, source: str, *, fresh: bool = False) -> int | None:
        name = self.object_name(key)
        if not fresh and await self._restamp(name):
            return None
        stamp = new_stamp()
        s3 = await self._client()
        # One copy request takes objects up to 5 GB, far above any upload limit Loket allows.
        await s3.copy_object(
            Bucket=self.bucket,
            Key=name,
            CopySource={"Bucket": self.bucket, "Key": source},
            Metadata={"stamp": str(stamp)},
            MetadataDirective="REPLACE",
        )
        return stamp

    # -- reading ----------------------------------------------------------------------------

    def open(self, key: str, *, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        """The object's bytes in chunks of ``chunk_size``, as they come from the store.
        ``NotFound`` (on the first iteration) when there is no such object."""
        return decrypted(self._get(self.object_name(key), chunk_size), self.cipher, chunk_size)

    async def reseal(self, key: str) -> bool:
        """Write the object anew under the current key (see ``loket store rotate-key``);
        False when it is sealed with that key already."""
        name = self.object_name(key)
        head = await first_bytes(self._get(name, HEADER))
        if self.cipher is None or self.cipher.is_current(head):
            return False
        await self._write(decrypted(self._get(name, CHUNK), self.cipher), 2**63, replacing=key)
        return True

    async def _get(self, name: str, chunk_size: int) -> AsyncIterator[bytes]:
        s3 = await self._client()
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=name)
        except Exception as exc:
            if _missing(exc):
                raise NotFound("No such file.") from None
            raise
        async with response["Body"] as body:
            while chunk := await body.read(chunk_size):
                yield chunk

    async def _head(self, name: str) -> dict[str, Any] | None:
        s3 = await self._client()
        try:
            return await s3.head_object(Bucket=self.bucket, Key=name)
        except Exception as exc:
            if _missing(exc):
                return None
            raise

    async def exists(self, key: str) -> bool:
        return await self._head(self.object_name(key)) is not None

    # -- removing ---------------------------------------------------------------------------

    async def delete(self, key: str) -> None:
        s3 = await self._client()
        await s3.delete_object(Bucket=self.bucket, Key=self.object_name(key))

    async def release(self, stored: StoredFile) -> bool:
        if stored.created is None:
            return False
        return await self.remove_unchanged(stored.key, stored.created)

    async def remove_unchanged(self, key: str, stamp: int) -> bool:
        name = self.object_name(key)
        head = await self._head(name)
        if head is None or _stamp_of(head) != stamp:
            return False
        s3 = await self._client()
        await s3.delete_object(Bucket=self.bucket, Key=name)
        return True

    async def _listed(self, folder: str) -> AsyncIterator[dict[str, Any]]:
        s3 = await self._client()
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + folder):
            for item in page.get("Contents", ()):
                yield item

    async def objects(self, *, older_than: float) -> list[StoredObject]:
        """The objects last stamped before ``older_than`` (seconds since the epoch): those
        the listing shows as older (to the second), then each one's exact stamp."""
        before = int(older_than * 1e9)
        found = []
        async for item in self._listed("objects/"):
            key = item["Key"].rsplit("/", 1)[-1]
            if not check_key_quietly(key):
                continue
            if item["LastModified"].timestamp() > older_than + 1:
                continue
            head = await self._head(item["Key"])
            if head is None:
                continue
            stamp = _stamp_of(head)
            if stamp < before:
                found.append(StoredObject(key, int(item["Size"]), stamp))
        return found

    async def sweep_temporary(self, *, older_than: float) -> tuple[int, int]:
        """Remove copies and unfinished multipart uploads that writes left under ``tmp/``
        before ``older_than``: how many, and how many bytes (of finished copies)."""
        s3 = await self._client()
        count = size = 0
        async for item in self._listed("tmp/"):
            if item["LastModified"].timestamp() < older_than:
                await _quietly_delete(s3, self.bucket, item["Key"])
                count, size = count + 1, size + int(item["Size"])
        paginator = s3.get_paginator("list_multipart_uploads")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + "tmp/"):
            for upload in page.get("Uploads", ()):
                if upload["Initiated"].timestamp() < older_than:
                    with contextlib.suppress(Exception):
                        await s3.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        count += 1
        return count, size


def check_key_quietly(key: str) -> bool:
    try:
        check_key(key)
    except NotFound:
        return False
    return True


def _stamp_of(head: dict[str, Any]) -> int:
    """An object's stamp: from its metadata, or (put there by other means) its modification
    time."""
    raw = (head.get("Metadata") or {}).get("stamp")
    if raw and raw.isdigit():
        return int(raw)
    return int(head["LastModified"].timestamp() * 1e9)


async def _quietly_delete(s3: Any, bucket: str, name: str) -> None:
    # Cleanup after the outcome is decided; what fails here is the sweep's.
    with contextlib.suppress(Exception):
        await s3.delete_object(Bucket=bucket, Key=name)


class _Multipart:
    """One multipart upload to a temporary name."""

    def __init__(self, s3: Any, bucket: str, name: str, upload_id: str) -> None:
        self.s3, self.bucket, self.name, self.upload_id = s3, bucket, name, upload_id
        self.parts: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, s3: Any, bucket: str, name: str) -> _Multipart:
        response = await s3.create_multipart_upload(Bucket=bucket, Key=name)
        return cls(s3, bucket, name, response["UploadId"])

    async def part(self, data: bytes) -> None:
        number = len(self.parts) + 1
        response = await self.s3.upload_part(
            Bucket=self.bucket, Key=self.name, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        self.parts.append({"ETag": response["ETag"], "PartNumber": number})

    async def complete(self) -> None:
        await self.s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.name,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )

    async def abort(self) -> None:
        with contextlib.suppress(Exception):
            await self.s3.abort_multipart_upload(
                Bucket=self.bucket, Key=self.name, UploadId=self.upload_id
            )
        await _quietly_delete(self.s3, self.bucket, self.name)
