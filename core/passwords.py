"""Password rules and argon2id hashing.

Hashing is deliberately slow, so it runs in threads of its own, with a bound on how many run
at once so a burst of logins cannot starve the event loop's other work of threads and memory.
argon2 lets go of the GIL, but each hash keeps four cores busy (its four lanes): on a machine
with fewer, the event loop's thread would wait its turn for a core behind them, and every other
request, chat update and mail with it. So the hashing threads run at a lower priority (a higher
nice value, which the lanes' threads inherit), and the loop's thread gets a core when it wakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import ValidationError

_T = TypeVar("_T")

MIN_LENGTH = 8
PASSPHRASE_LENGTH = 15  # from here on, no composition rules (ASVS 5.0 §6.2, NIST 800-63B r4)
MAX_LENGTH = 1024  # far above the 64 we promise; only guards against absurd inputs

_hasher = PasswordHasher()  # argon2-cffi defaults: argon2id, RFC 9106 low-memory profile
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt"
HASHES_AT_ONCE = 4
# Nice 10: a thread at nice 0 weighs ten times as much with the kernel's scheduler.
HASHING_NICE = 10
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


def _lower_priority() -> None:
    # On Linux the nice value is the thread's own (and argon2's lane threads inherit it).
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICE)


_hashing = ThreadPoolExecutor(
    HASHES_AT_ONCE, thread_name_prefix="loket-argon2", initializer=_lower_priority
)


async def _in_hashing_thread(func: Callable[..., _T], *args: str) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_hashing, func, *args)


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
        return await _in_hashing_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    async with _slots():
        try:
            return await _in_hashing_thread(_hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
