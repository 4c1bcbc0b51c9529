"""Password guessing is bounded whatever the timing and whatever name is typed: tries are
counted before the password is checked, per account (not per typed name) and per address, and
the slowing-down is really awaited."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import Database
from core.errors import AuthenticationFailed, TooManyAttempts
from core.models import LoginAttempt
from core.services import auth

from .conftest import PASSWORD, Firm, mail_settings, set_password
from .throttle_clock import Clock
from .webclient import Browser

# Tries race real argon2 hashes here: they are counted while hashes of the same cost run.
pytestmark = pytest.mark.real_argon2


def outcomes(results: list) -> dict[str, int]:
    names = [type(r).__name__ for r in results]
    return {name: names.count(name) for name in sorted(set(names))}


async def test_thirty_parallel_wrong_passwords_let_only_ten_be_checked(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    Clock(monkeypatch)
    settings = mail_settings(tmp_path)  # ten per account and address
    await set_password(db, firm.alice.id)
    tries = [
        auth.login(db, settings, "alice", f"guess-{n}", "6.6.6.6") for n in range(30)
    ]  # real argon2, all at once
    results = await asyncio.gather(*tries, return_exceptions=True)
    # Was: 30 AuthenticationFailed, each try read the count before any had raised it.
    assert outcomes(results) == {"AuthenticationFailed": 10, "TooManyAttempts": 20}
    refused = next(r for r in results if isinstance(r, TooManyAttempts))
    assert "Too many failed attempts" in refused.message and refused.retry_after > 0
    with pytest.raises(TooManyAttempts):  # the right password too, from this address
        await auth.login(db, settings, "alice", PASSWORD, "6.6.6.6")
    assert (await auth.login(db, settings, "alice", PASSWORD, "10.0.0.1")).complete


async def test_thirty_parallel_wrong_logins_in_the_web_view(
    browser: Browser, db: Database, firm: Firm, monkeypatch
) -> None:
    Clock(monkeypatch)
    await set_password(db, firm.alice.id)
    await browser.get("/login")
    token = browser.csrf()
    responses = await asyncio.gather(
        *(
            browser.client.post(
                "/login",
                data={"username": "alice", "password": f"guess-{n}", "csrf": token},
                headers={"Origin": browser.origin},
                allow_redirects=False,
            )
            for n in range(30)
        )
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [401] * 10 + [429] * 20  # was: 30 × 401
    refused = next(r for r in responses if r.status == 429)
    assert "Te veel mislukte pogingen" in await refused.text()
    assert int(refused.headers["Retry-After"]) > 0


async def test_a_username_that_is_locked_locks_its_email_address_too(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    Clock(monkeypatch)
    settings = mail_settings(tmp_path, login_failures_per_account=3)
    await set_password(db, firm.alice.id)
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            await auth.login(db, settings, "alice", "guess", "6.6.6.6")
    # Was: the address went on with a count of its own (and its own ten guesses).
    for name in ("alice@example.nl", "ALICE@EXAMPLE.NL", " Alice "):
        with pytest.raises(TooManyAttempts):
            await auth.login(db, settings, name, PASSWORD, "6.6.6.6")


async def test_a_name_that_is_no_account_is_counted_under_that_name(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    Clock(monkeypatch)
    settings = mail_settings(tmp_path, login_failures_per_account=3)
    await set_password(db, firm.alice.id)
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            await auth.login(db, settings, "nobody", "guess", "6.6.6.6")
    with pytest.raises(TooManyAttempts):  # refused as an account would be: nothing told
        await auth.login(db, settings, "Nobody", "guess", "6.6.6.6")
    # Another name from the same address is not locked by it.
    assert (await auth.login(db, settings, "alice", PASSWORD, "6.6.6.6")).complete


async def test_the_right_password_starts_the_count_again(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    Clock(monkeypatch)
    settings = mail_settings(tmp_path, login_failures_per_account=3)
    await set_password(db, firm.alice.id)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            await auth.login(db, settings, "alice", "typo", "10.0.0.1")
    assert (await auth.login(db, settings, "alice", PASSWORD, "10.0.0.1")).complete
    for _ in range(3):  # a fresh three: her own success did not count against her
        with pytest.raises(AuthenticationFailed):
            await auth.login(db, settings, "alice", "typo", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        await auth.login(db, settings, "alice", "typo", "10.0.0.1")


async def test_logins_that_succeed_do_not_count_against_the_address(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    """An office behind one address, where colleagues log in all day."""
    Clock(monkeypatch)
    settings = mail_settings(tmp_path, login_failures_per_address=3)
    for account in (firm.alice, firm.bv_main, firm.bv_extra, firm.carol):
        await set_password(db, account.id)
        assert (await auth.login(db, settings, account.username, PASSWORD, "10.0.0.1")).complete
    with pytest.raises(AuthenticationFailed):  # not TooManyAttempts: no failure yet
        await auth.login(db, settings, "alice", "typo", "10.0.0.1")


async def test_the_slowing_down_is_awaited(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    Clock(monkeypatch)
    settings = mail_settings(tmp_path, login_failures_per_account=10, login_max_delay_seconds=8.0)
    await set_password(db, firm.alice.id)
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    for n in range(8):  # from eight addresses: none is refused, the account is slowed
        with pytest.raises(AuthenticationFailed):
            await auth.login(db, settings, "alice", "guess", f"10.9.9.{n}", sleep=sleep)
    # Past half the limit (five failures), each further try waits twice as long.
    assert waited == [1.0, 2.0]
    result = await auth.login(db, settings, "alice", PASSWORD, "10.1.1.1", sleep=sleep)
    assert result.complete and waited == [1.0, 2.0, 4.0]  # the real client is slowed too


async def test_spraying_many_accounts_from_one_address_is_refused(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    Clock(monkeypatch)
    settings = mail_settings(tmp_path, login_failures_per_address=5)
    await set_password(db, firm.alice.id)
    for name in ("alice", "bakkerij", "carol", "sanne", "tussen"):  # one guess each
        with pytest.raises(AuthenticationFailed):
            await auth.login(db, settings, name, "Welkom2026!", "6.6.6.6")
    for name in ("ander", "bakkerij.boekhouding", "alice"):
        with pytest.raises(TooManyAttempts):
            await auth.login(db, settings, name, PASSWORD, "6.6.6.6")
    assert (await auth.login(db, settings, "alice", PASSWORD, "10.0.0.1")).complete


async def test_refused_tries_are_not_counted(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    """A client locked out at the office, trying again and again, does not lock the office's
    address for everyone else."""
    Clock(monkeypatch)
    settings = mail_settings(tmp_path, login_failures_per_account=2, login_failures_per_address=5)
    await set_password(db, firm.carol.id)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            await auth.login(db, settings, "alice", "typo", "10.0.0.1")
    for _ in range(6):
        with pytest.raises(TooManyAttempts):
            await auth.login(db, settings, "alice", "typo", "10.0.0.1")
    assert (await auth.login(db, settings, "carol", PASSWORD, "10.0.0.1")).complete
    async with db.read() as s:  # and a success leaves no count behind
        rows = list(await s.scalars(select(LoginAttempt.key)))
    assert sorted(rows) == sorted(
        [f"id:{firm.alice.id}", f"id:{firm.alice.id}|10.0.0.1", "10.0.0.1"]
    )
