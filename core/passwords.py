"""Password rules and argon2id hashing.

Hashing is deliberately slow, so it runs in a worker thread, with a bound on how many run at
once so a burst of logins cannot starve the event loop's other work of threads and memory.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import ValidationError

MIN_LENGTH = 8
PASSPHRASE_LENGTH = 15  # from here on, no composition rules (ASVS 5.0 §6.2, NIST 800-63B r4)
MAX_LENGTH = 1024  # far above the 64 we promise; only guards against absurd inputs

_hasher = PasswordHasher()  # argon2-cffi defaults: argon2id, RFC 9106 low-memory profile
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt"
HASHES_AT_ONCE = 4
# One semaphore per event loop: an asyncio.Semaphore is bound to the loop it first waits on.
_slots_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _slots_by_loop.get(loop)
    if slots is None:
        slots = _slots_by_loop[loop] = asyncio.Semaphore(HASHES_AT_ONCE)
    return slots


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def check_password_rule(password: str) -> None:
    """Raise ValidationError with the reason if ``password`` breaks the firm's rule."""
    if len(password) < MIN_LENGTH:
        raise ValidationError(
            "The password must be at least %(min)d characters long.",
            field="password",
            min=MIN_LENGTH,
        )
    if len(password) > MAX_LENGTH:
        raise ValidationError(
            "The password may be at most %(max)d characters long.", field="password", max=MAX_LENGTH
        )
    if len(password) < PASSPHRASE_LENGTH:
        if not any(c.isupper() for c in password):
            raise ValidationError(
                "The password needs at least one capital letter "
                "(or use a passphrase of %(passphrase)d characters or more).",
                field="password",
                passphrase=PASSPHRASE_LENGTH,
            )
        if not any(c.isdigit() for c in password):
            raise ValidationError(
                "The password needs at least one digit "
                "(or use a passphrase of %(passphrase)d characters or more).",
                field="password",
                passphrase=PASSPHRASE_LENGTH,
            )
    if password.lower() in common_passwords():
        raise ValidationError(
            "This password is one of the most common ones and easy to guess; choose another.",
            field="password",
        )


async def hash_password(password: str) -> str:
    async with _slots():
        return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    async with _slots():
        try:
            return await asyncio.to_thread(_hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
