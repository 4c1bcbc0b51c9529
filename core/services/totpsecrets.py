"""Accounts' TOTP secrets at rest: sealed with the secret key (core.secretbox), never stored
in plain text, and re-sealed when the secret key is rotated.

Secrets stored before sealing existed are plain base32. They are still read, so nobody is
locked out by the upgrade; `loket init` seals them all right after migrating, and a right code
seals any that remain. A secret sealed with LOKET_SECRET_KEY_PREVIOUS is re-sealed with the
current key by a right code, or all at once by `loket secrets rotate`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict
from ..models import Account
from ..secretbox import TOTP_SECRET, SecretBox, SecretUnreadable
from ..settings import Settings

log = logging.getLogger(__name__)


def _box(settings: Settings) -> SecretBox:
    return SecretBox.from_settings(settings, TOTP_SECRET)


def _context(account: Account) -> str:
    # Bound into the seal: a value copied into another account's row does not open there.
    return f"account:{account.id}"


def store(settings: Settings, account: Account, secret: str) -> None:
    account.totp_secret = _box(settings).seal(secret, context=_context(account))


def read(settings: Settings, account: Account) -> str | None:
    """The account's secret in plain text (None when it has none); SecretUnreadable when no
    configured key opens it."""
    stored = account.totp_secret
    if not stored:
        return None
    if not SecretBox.is_sealed(stored):
        return stored  # from before sealing: accepted, and sealed at the next write
    return _box(settings).open(stored, context=_context(account))


def readable(settings: Settings, account: Account) -> str | None:
    """The secret, or None when it cannot be read (logged for the operator, who can fix it
    with LOKET_SECRET_KEY_PREVIOUS)."""
    try:
        return read(settings, account)
    except SecretUnreadable:
        log.error(
            "the TOTP secret of account %s opens with neither LOKET_SECRET_KEY nor "
            "LOKET_SECRET_KEY_PREVIOUS",
            account.id,
        )
        return None


def unreadable(settings: Settings, account: Account) -> bool:
    try:
        read(settings, account)
    except SecretUnreadable:
        return True
    return False


def refresh(settings: Settings, account: Account, secret: str) -> None:
    """Re-seal ``secret`` (just read) when it is plain or sealed with the previous key."""
    if not _box(settings).is_current(account.totp_secret or ""):
        store(settings, account, secret)


@dataclass
class RotationResult:
    resealed: int  # written again with the current key
    unchanged: int  # already sealed with the current key


async def rotate(
    session: AsyncSession, actor: Actor, settings: Settings, *, plaintext_only: bool = False
) -> RotationResult:
    """Seal every stored secret with the current key. All or nothing: when one cannot be
    read, none is changed and Conflict names the accounts. ``plaintext_only`` seals only the
    secrets stored before sealing existed (what `loket init` does after migrating)."""
    access.require(access.can_manage_firm(actor), "Only staff may rotate the secret key.")
    box = _box(settings)
    rows = await session.scalars(
        select(Account).where(Account.totp_secret.is_not(None)).order_by(Account.id)
    )
    resealed: list[tuple[Account, str]] = []
    failed: list[str] = []
    unchanged = 0
    for account in rows:
        stored = account.totp_secret or ""
        if box.is_current(stored) or (plaintext_only and SecretBox.is_sealed(stored)):
            unchanged += 1
            continue
        try:
            resealed.append((account, read(settings, account) or ""))
        except SecretUnreadable:
            failed.append(account.username)
    if failed:
        raise Conflict(
            "The two-step secrets of %(count)d account(s) open with neither LOKET_SECRET_KEY "
            "nor LOKET_SECRET_KEY_PREVIOUS: %(usernames)s. Set LOKET_SECRET_KEY_PREVIOUS to the "
            "key they were sealed with and try again; nothing was changed.",
            count=len(failed),
            usernames=", ".join(failed),
        )
    for account, secret in resealed:
        store(settings, account, secret)
    if resealed:
        audit.record(session, actor, "secrets.rotate", resealed=len(resealed))
    return RotationResult(resealed=len(resealed), unchanged=unchanged)
