"""Slowing down password guessing without letting an attacker lock a client out for good.

Failures are counted in fixed windows (default 15 minutes) under three keys:

- the account and address together: at the limit (default 10) that address gets "too many
  attempts" for that account until the window ends;
- the address alone (default 50, across accounts): one address spraying many accounts is
  refused;
- the account alone, from anywhere: past half the limit every further try is slowed down, but
  never refused, so an attacker elsewhere cannot keep the real client out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .db import dialect_insert
from .models import LoginAttempt, utcnow
from .settings import Settings


@dataclass(frozen=True)
class Verdict:
    refuse_for: int  # seconds; 0 means go ahead
    delay: float  # seconds to wait before answering


def window_start(settings: Settings, now: dt.datetime | None = None) -> dt.datetime:
    now = now or utcnow()
    size = settings.login_window_minutes * 60
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % size, dt.UTC)


def _keys(account_key: str, address: str) -> dict[str, str]:
    return {
        "pair": f"{account_key}|{address}",
        "address": address,
        "account": account_key,
    }


async def assess(
    session: AsyncSession, settings: Settings, account_key: str, address: str
) -> Verdict:
    start = window_start(settings)
    keys = _keys(account_key, address)
    rows = await session.execute(
        select(LoginAttempt.kind, LoginAttempt.failures).where(
            LoginAttempt.window_start == start,
            LoginAttempt.kind.in_(list(keys)),
            LoginAttempt.key.in_(list(keys.values())),
        )
    )
    counts = {kind: 0 for kind in keys}
    for kind, failures in rows:
        counts[kind] = max(counts[kind], failures)
    retry = int(
        (start + dt.timedelta(minutes=settings.login_window_minutes) - utcnow()).total_seconds()
    )
    if (
        counts["pair"] >= settings.login_failures_per_account
        or counts["address"] >= settings.login_failures_per_address
    ):
        return Verdict(refuse_for=max(retry, 1), delay=0.0)
    half = settings.login_failures_per_account // 2
    over = counts["account"] - half
    delay = min(2.0 ** (over - 1), settings.login_max_delay_seconds) if over > 0 else 0.0
    return Verdict(refuse_for=0, delay=delay)


async def record_failure(
    session: AsyncSession, settings: Settings, account_key: str, address: str
) -> None:
    start = window_start(settings)
    for kind, key in _keys(account_key, address).items():
        insert = dialect_insert(session, LoginAttempt).values(
            kind=kind, key=key, window_start=start, failures=1
        )
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["kind", "key", "window_start"],
                set_={"failures": LoginAttempt.failures + 1},
            )
        )


async def record_success(session: AsyncSession, account_key: str, address: str) -> None:
    """The right password from this address clears that address's count for the account."""
    await session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.kind == "pair", LoginAttempt.key == f"{account_key}|{address}"
        )
    )


async def purge_old(session: AsyncSession, settings: Settings) -> None:
    await session.execute(
        delete(LoginAttempt).where(LoginAttempt.window_start < window_start(settings))
    )
