"""Bounds on guessing and on what a stranger can make Loket send, without letting an attacker
lock a client out for good.

Everything is counted in the login_attempts table, in fixed windows, by one atomic upsert that
returns the new count. A try is counted BEFORE the password or code is checked, so tries sent
in parallel cannot all slip through on a count that none of them has raised yet; a try that is
refused is taken off again, so waiting out the window is enough.

Passwords (windows of ``login_window_minutes``), under three keys:

- the account and address together: at the limit (``login_failures_per_account``) that address
  gets "too many attempts" for that account until the window ends;
- the address alone (``login_failures_per_address``, across accounts): one address spraying
  many accounts is refused;
- the account alone, from anywhere: past half the limit every further try is slowed down, but
  never refused, so an attacker elsewhere cannot keep the real client out.

The account is its id once the typed name is resolved (so its username and its address count
as one); a name that is no account is counted under a digest of the name.

Second-step codes, per account across sessions (a new login must not buy new guesses):
``CODE_LIMITS`` wrong codes end in a pause, first until the quarter of an hour ends, then for
the rest of the day, each telling the account holder by mail once. A right code clears them.

Sending: codes texted per account (``SMS_LIMITS``; a text that led to a right code no longer
counts, so a client who logs in often is not held up); "forgot password" mails per address
and per account (``FORGOT_PER_ADDRESS``, ``FORGOT_PER_ACCOUNT``); mails with a code to link
Telegram per chat and per address (``TELEGRAM_LINK_PER_CHAT``, ``TELEGRAM_LINK_PER_ADDRESS``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from .db import dialect_insert
from .errors import TooManyAttempts
from .models import LoginAttempt, utcnow
from .settings import Settings

DAY = 24 * 60


@dataclass(frozen=True)
class Limit:
    """At most ``most`` counted tries of ``kind`` per key in each window of ``minutes``."""

    kind: str  # at most 16 characters (the column)
    minutes: int
    most: int


CODE_LIMITS = (Limit("code", 15, 10), Limit("code_day", DAY, 20))
SMS_LIMITS = (Limit("sms", 15, 3), Limit("sms_day", DAY, 10))
FORGOT_PER_ADDRESS = Limit("forgot_address", 60, 3)
FORGOT_PER_ACCOUNT = Limit("forgot_account", 60, 3)
# Telegram linking by email (core.services.telegram): mails asked for per chat and per address.
TELEGRAM_LINK_PER_CHAT = Limit("tg_link_chat", 60, 3)
TELEGRAM_LINK_PER_ADDRESS = Limit("tg_link_address", 60, 3)


@dataclass(frozen=True)
class Verdict:
    refuse_for: int  # seconds; 0 means go ahead
    delay: float  # seconds to wait before answering
    window: dt.datetime  # the window this try was counted in


def window_start(minutes: int, now: dt.datetime | None = None) -> dt.datetime:
    now = now or utcnow()
    size = minutes * 60
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % size, dt.UTC)


def _seconds_left(start: dt.datetime, minutes: int) -> int:
    left = (start + dt.timedelta(minutes=minutes) - utcnow()).total_seconds()
    return max(math.ceil(left), 1)


def too_many(message: str, seconds: int) -> TooManyAttempts:
    """The refusal every throttle shows: ``message`` says "Try again in %(minutes)d minutes"."""
    return TooManyAttempts(message, retry_after=seconds, minutes=max(1, math.ceil(seconds / 60)))


def account_key(account_id: int | None, identifier: str) -> str:
    """What a login is counted under: the account, or a typed name that is no account (as a
    digest: a password typed into the name field is not kept)."""
    if account_id is not None:
        return f"id:{account_id}"
    typed = (identifier or "").strip().lower().encode("utf-8", "replace")
    return "name:" + hashlib.sha256(typed).hexdigest()[:40]


async def _bump(session: AsyncSession, kind: str, key: str, start: dt.datetime) -> int:
    """Add one to a count and return the new value, in one statement (atomic on both
    databases: the row is locked on PostgreSQL, the database on SQLite)."""
    insert = dialect_insert(session, LoginAttempt).values(
        kind=kind, key=key, window_start=start, failures=1
    )
    stmt = insert.on_conflict_do_update(
        index_elements=["kind", "key", "window_start"],
        set_={"failures": LoginAttempt.failures + 1},
    ).returning(LoginAttempt.failures)
    return int(await session.scalar(stmt) or 0)


async def _take_back(session: AsyncSession, kind: str, key: str, start: dt.datetime) -> None:
    row = (
        LoginAttempt.kind == kind,
        LoginAttempt.key == key,
        LoginAttempt.window_start == start,
    )
    await session.execute(
        update(LoginAttempt)
        .where(*row, LoginAttempt.failures > 0)
        .values(failures=LoginAttempt.failures - 1)
    )
    # Every login is counted first: without this, each success would leave a row behind.
    await session.execute(delete(LoginAttempt).where(*row, LoginAttempt.failures <= 0))


@dataclass(frozen=True)
class Counted:
    refuse_for: int  # seconds; 0: the try was counted and may go ahead
    # When this try brought a count to its limit: how long the next ones will be refused, and
    # a name for that pause (the same for every try that could see it), else 0 and "".
    pause_for: int = 0
    pause: str = ""


async def count(session: AsyncSession, key: str, limits: tuple[Limit, ...]) -> Counted:
    """Count one try under each limit; if that takes any over its limit, take them all back
    and say how long to wait."""
    counted = []
    for limit in limits:
        start = window_start(limit.minutes)
        counted.append((limit, start, await _bump(session, limit.kind, key, start)))
    over = [_seconds_left(start, lim.minutes) for lim, start, n in counted if n > lim.most]
    if over:
        for limit, start, _n in counted:
            await _take_back(session, limit.kind, key, start)
        return Counted(refuse_for=max(over))
    reached = [(lim, start) for lim, start, n in counted if n == lim.most]
    if not reached:
        return Counted(refuse_for=0)
    return Counted(
        refuse_for=0,
        pause_for=max(_seconds_left(start, lim.minutes) for lim, start in reached),
        pause=" ".join(f"{lim.kind}@{start:%Y%m%dT%H%M}" for lim, start in reached),
    )


async def clear(session: AsyncSession, key: str, limits: tuple[Limit, ...]) -> None:
    await session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.kind.in_([limit.kind for limit in limits]), LoginAttempt.key == key
        )
    )


def _login_keys(account: str, address: str) -> dict[str, str]:
    address = address[:200]
    return {"pair": f"{account}|{address}", "address": address, "account": account}


async def count_login(
    session: AsyncSession, settings: Settings, account: str, address: str
) -> Verdict:
    """Count a password try before it is checked. A refused try is not counted."""
    minutes = settings.login_window_minutes
    start = window_start(minutes)
    keys = _login_keys(account, address)
    counts = {kind: await _bump(session, kind, key, start) for kind, key in keys.items()}
    if (
        counts["pair"] > settings.login_failures_per_account
        or counts["address"] > settings.login_failures_per_address
    ):
        for kind, key in keys.items():
            await _take_back(session, kind, key, start)
        return Verdict(refuse_for=_seconds_left(start, minutes), delay=0.0, window=start)
    earlier = counts["account"] - 1  # failures (or tries still being checked) before this one
    over = earlier - settings.login_failures_per_account // 2
    delay = min(2.0 ** (over - 1), settings.login_max_delay_seconds) if over > 0 else 0.0
    return Verdict(refuse_for=0, delay=delay, window=start)


async def login_succeeded(
    session: AsyncSession, verdict: Verdict, account: str, address: str
) -> None:
    """The right password: this try was no failure, and the address's count for the account
    starts again, so a client is never locked out by their own success."""
    keys = _login_keys(account, address)
    await session.execute(
        delete(LoginAttempt).where(LoginAttempt.kind == "pair", LoginAttempt.key == keys["pair"])
    )
    for kind in ("address", "account"):
        await _take_back(session, kind, keys[kind], verdict.window)


async def purge_old(session: AsyncSession) -> None:
    """Counts whose window (a day at most) is over."""
    await session.execute(delete(LoginAttempt).where(LoginAttempt.window_start < window_start(DAY)))
