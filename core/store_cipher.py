"""Documents encrypted at rest, in either store (``LOKET_STORE_KEY``).

An encrypted object is a header and then the plaintext in segments of ``SEGMENT`` bytes, each
sealed with AES-256-GCM, so that it can be written and read as a stream:

    b"LOKETENC" | version (1 byte) | key id (8 bytes) | salt (16 bytes) | segments…

Each object gets its own key, derived with HKDF-SHA256 from the store key and the object's
random salt; a segment's nonce is its number and whether it is the last one, so segments can
be neither reordered nor dropped, and a cut-off object fails on its (missing) last segment.
The header is authenticated with every segment. The key id (a hash of the key, not the key)
says which key sealed the object, so ``loket store rotate-key`` can skip what is done already
and resume after an interruption.

Objects without the header are read as they are: files stored before encryption was turned
on stay readable until ``rotate-key`` encrypts them.

The object's name stays the sha256 of the plaintext, so identical uploads still share one
object. That name is not secret: whoever can list the store (or read the database) learns
the hash of every document, and so can confirm that the firm holds a file they have a copy
of themselves; the contents stay unreadable without the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import LoketError

MAGIC = b"LOKETENC"
VERSION = 1
HEADER = len(MAGIC) + 1 + 8 + 16
SEGMENT = 64 * 1024
TAG = 16


class DamagedFile(LoketError):
    """A stored file fails its check: changed, cut off, or sealed with a key we lack."""

    code = "damaged"


class StoreKey:
    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise ValueError("it must be 32 bytes, base64-encoded")
        self._raw = raw
        self.id = hashlib.sha256(b"loket store key id\0" + raw).digest()[:8]

    @classmethod
    def from_text(cls, text: str) -> StoreKey:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("it is not base64") from None
        return cls(raw)

    def aead(self, salt: bytes) -> AESGCM:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"loket store v1")
        return AESGCM(hkdf.derive(self._raw))

    def __repr__(self) -> str:
        return f"StoreKey(id={self.id.hex()})"


def new_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _nonce(number: int, last: bool) -> bytes:
    return number.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class Sealing:
    """One object being encrypted: feed plaintext to ``update``, then ``finish``; each
    returns the bytes to store next (the header comes with the first)."""

    def __init__(self, key: StoreKey) -> None:
        salt = os.urandom(16)
        self._header = MAGIC + bytes([VERSION]) + key.id + salt
        self._aead = key.aead(salt)
        self._pending = self._header
        self._buffer = bytearray()
        self._number = 0

    def _seal(self, plain: bytes, last: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._number, last), plain, self._header)
        self._number += 1
        return sealed

    def update(self, plain: bytes) -> bytes:
        self._buffer += plain
        out = bytearray(self._pending)
        self._pending = b""
        # A full segment is sealed only once more follows: the last one must be marked so.
        while len(self._buffer) > SEGMENT:
            out += self._seal(bytes(self._buffer[:SEGMENT]), last=False)
            del self._buffer[:SEGMENT]
        return bytes(out)

    def finish(self) -> bytes:
        out = self._pending + self._seal(bytes(self._buffer), last=True)
        self._pending, self._buffer = b"", bytearray()
        return out


def key_id_of(head: bytes) -> bytes | None:
    """The id of the key that sealed an object, from its first bytes; None for plaintext."""
    if len(head) >= HEADER and head.startswith(MAGIC):
        return head[len(MAGIC) + 1 : len(MAGIC) + 9]
    return None


@dataclass(frozen=True)
class StoreCipher:
    """The store key, and during a rotation the previous one (only ever used to open)."""

    current: StoreKey | None
    previous: StoreKey | None = None

    @classmethod
    def from_settings(cls, current: str | None, previous: str | None) -> StoreCipher | None:
        if not current and not previous:
            return None
        return cls(
            StoreKey.from_text(current) if current else None,
            StoreKey.from_text(previous) if previous else None,
        )

    def sealing(self) -> Sealing | None:
        return Sealing(self.current) if self.current is not None else None

    def seal_bytes(self, data: bytes) -> bytes:
        sealing = self.sealing()
        return data if sealing is None else sealing.update(data) + sealing.finish()

    def is_current(self, head: bytes) -> bool:
        """Whether an object starting with ``head`` is sealed with the current key (or,
        without one, is plaintext): nothing for a rotation to do."""
        found = key_id_of(head)
        return found == (self.current.id if self.current else None)

    def _key(self, key_id: bytes) -> StoreKey:
        for key in (self.current, self.previous):
            if key is not None and key.id == key_id:
                return key
        raise DamagedFile(
            "The stored file was encrypted with a key that is not configured "
            "(LOKET_STORE_KEY, or LOKET_STORE_KEY_PREVIOUS during a rotation)."
        )


async def opened(stored: AsyncIterable[bytes], cipher: StoreCipher | None) -> AsyncIterator[bytes]:
    """The plaintext of a stored object: decrypted when it carries the header (a cipher is
    then needed), as it is when it does not."""
    source = aiter(stored)
    head = bytearray()
    while len(head) < HEADER:
        try:
            head += await anext(source)
        except StopAsyncIteration:
            break
    if key_id_of(bytes(head)) is None:
        if head:
            yield bytes(head)
        async for chunk in source:
            yield chunk
        return
    if cipher is None:
        raise DamagedFile(
            "The stored file is encrypted and no key is configured (LOKET_STORE_KEY)."
        )
    header = bytes(head[:HEADER])
    aead = cipher._key(key_id_of(header) or b"").aead(header[-16:])
    buffer = bytearray(head[HEADER:])
    number = 0

    def open_segment(sealed: bytes, last: bool) -> bytes:
        nonlocal number
        try:
            plain = aead.decrypt(_nonce(number, last), sealed, header)
        except InvalidTag:
            raise DamagedFile(
                "The stored file is damaged or was changed since it was stored; "
                "it cannot be opened."
            ) from None
        number += 1
        return plain

    async for chunk in source:
        buffer += chunk
        while len(buffer) > SEGMENT + TAG:
            yield open_segment(bytes(buffer[: SEGMENT + TAG]), last=False)
            del buffer[: SEGMENT + TAG]
    final = open_segment(bytes(buffer), last=True)
    if final:
        yield final
