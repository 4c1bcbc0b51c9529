"""Secrets the database must keep readable (a TOTP secret), sealed with the secret key.

A copy of the database (a backup, a dump, a replica) must not be enough to make someone's
second-step codes. Each purpose gets its own key, derived from the secret key with
HKDF-SHA256, and values are sealed with AES-GCM (authenticated: a changed value is refused,
not decrypted to garbage). The context (e.g. the account's id) is bound in as associated data,
so a sealed value copied into another row does not open there.

A sealed value reads ``v1.<key id>.<nonce and ciphertext, base64url>``. The key id (derived
too, it reveals nothing of the key) says which key sealed it, so that during a rotation the
previous key (``LOKET_SECRET_KEY_PREVIOUS``) still opens old values while new ones are sealed
with the current key. Base32 TOTP secrets never contain a dot, so a value without the prefix is
recognisably one stored before sealing existed.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .settings import Settings

VERSION = "v1"
NONCE_BYTES = 12
TOTP_SECRET = "loket totp secret"


class SecretUnreadable(Exception):
    """A sealed value that no configured key opens: the secret key changed without
    LOKET_SECRET_KEY_PREVIOUS, or the value was altered."""


def _derive(secret_key: str, info: str, length: int) -> bytes:
    return HKDF(algorithm=SHA256(), length=length, salt=None, info=info.encode()).derive(
        secret_key.encode()
    )


@dataclass(frozen=True)
class _Key:
    id: str
    aead: AESGCM

    @classmethod
    def derive(cls, secret_key: str, purpose: str) -> _Key:
        key_id = _derive(secret_key, f"{purpose} key id", 4).hex()
        return cls(key_id, AESGCM(_derive(secret_key, purpose, 32)))


class SecretBox:
    """Seals and opens the values of one purpose with the current and previous secret key."""

    def __init__(self, purpose: str, current: str, previous: str | None = None) -> None:
        if not current:
            raise ValueError("a secret key is needed to seal secrets")
        self._current = _Key.derive(current, purpose)
        self._keys = {self._current.id: self._current}
        if previous and previous != current:
            old = _Key.derive(previous, purpose)
            self._keys.setdefault(old.id, old)

    @classmethod
    def from_settings(cls, settings: Settings, purpose: str) -> SecretBox:
        return cls(purpose, settings.secret_key, settings.secret_key_previous)

    @staticmethod
    def is_sealed(stored: str) -> bool:
        return stored.startswith(VERSION + ".")

    def is_current(self, stored: str) -> bool:
        """Sealed with the current key (nothing to do in a rotation)."""
        return stored.startswith(f"{VERSION}.{self._current.id}.")

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.aead.encrypt(nonce, plaintext.encode(), context.encode())
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{VERSION}.{self._current.id}.{payload}"

    def open(self, stored: str, *, context: str) -> str:
        version, _, rest = stored.partition(".")
        key_id, _, payload = rest.partition(".")
        key = self._keys.get(key_id)
        if version != VERSION or key is None:
            raise SecretUnreadable("sealed with a key that is not configured")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            plain = key.aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
            return plain.decode()
        except (InvalidTag, ValueError, binascii.Error):
            raise SecretUnreadable("the sealed value does not open") from None
