"""Second-step codes cannot be guessed by logging in again and again: wrong codes are counted
per account across logins, pause the second step (longer the second time) and tell the
account holder by mail; and one TOTP code lets in one login, even when two send it at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from core.db import Database
from core.errors import AuthenticationFailed, TooManyAttempts
from core.models import Account, OutboxItem
from core.services import auth, sessions, twofactor
from mailbridge.compose import render

from .conftest import PASSWORD, Firm, mail_settings, set_password
from .throttle_clock import Clock
from .webclient import Browser

# The secret is sealed with the settings' secret key, which every mail_settings() shares.
SEALING = mail_settings(Path("."))


async def with_totp(db: Database, firm: Firm) -> pyotp.TOTP:
    await set_password(db, firm.alice.id)
    async with db.begin() as s:
        secret = await twofactor.begin_totp(s, firm.actor(firm.alice), SEALING)
    totp = pyotp.TOTP(secret)
    async with db.begin() as s:
        # A step back, so that this step's code is still to be used by a login.
        await twofactor.confirm_totp(s, firm.actor(firm.alice), SEALING, totp.at(time.time() - 30))
    return totp


def wrong_code(totp: pyotp.TOTP) -> str:
    # Not the code of any step near now (the clock drift allowed, and the test's own time).
    near = {totp.at(time.time() + seconds) for seconds in range(-60, 121, 30)}
    return next(c for c in ("111111", "222222", "333333", "444444", "555555") if c not in near)


class Login:
    """One password login, half-done, on which codes are tried."""

    def __init__(self, db: Database, settings) -> None:
        self.db, self.settings, self.cookie = db, settings, ""

    async def start(self) -> Login:
        result = await auth.login(self.db, self.settings, "alice", PASSWORD, "10.0.0.1")
        assert not result.complete
        self.cookie = result.cookie
        return self

    async def code(self, code: str) -> twofactor.StepOutcome:
        async with self.db.begin() as s:
            live = await sessions.load(s, self.settings, self.cookie)
            if live is None:
                return twofactor.StepOutcome(restart=True)
            return await twofactor.second_step(s, self.settings, live, code)


async def mails(db: Database) -> list[OutboxItem]:
    async with db.read() as s:
        return list(await s.scalars(select(OutboxItem).where(OutboxItem.kind == "wrong_codes")))


async def test_wrong_codes_across_fresh_logins_pause_the_account_and_mail_once(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    clock = Clock(monkeypatch)
    settings = mail_settings(tmp_path)
    totp = await with_totp(db, firm)
    wrong = wrong_code(totp)
    first = await Login(db, settings).start()
    errors = [(await first.code(wrong)).error for _ in range(5)]
    assert [type(e) for e in errors] == [AuthenticationFailed] * 5  # the fifth ends it
    second = await Login(db, settings).start()  # was: a fresh five, and so on for ever
    for _ in range(4):
        assert isinstance((await second.code(wrong)).error, AuthenticationFailed)
    tenth = await second.code(wrong)
    assert isinstance(tenth.error, TooManyAttempts) and tenth.restart
    assert "for this account" in tenth.error.message and tenth.error.retry_after > 0

    # Paused: even the right code is refused (and not used up), however the login is new.
    third = await Login(db, settings).start()
    refused = await third.code(totp.now())
    assert refused.cookie is None and isinstance(refused.error, TooManyAttempts)
    assert isinstance((await third.code(wrong)).error, TooManyAttempts)

    sent = await mails(db)
    assert [(m.recipient, m.account_id) for m in sent] == [("alice@example.nl", firm.alice.id)]
    composed = render(sent[0], settings)  # Alice reads Dutch
    assert "verkeerde verificatiecodes" in composed.text
    assert "wijzig dan meteen uw wachtwoord" in composed.text
    assert "Tijdstip: " in composed.text  # when it happened, on the firm's clock

    clock.advance(15)  # the pause is over with its window
    assert (await third.code(totp.now())).cookie


async def test_a_right_code_clears_the_account_count(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    Clock(monkeypatch)
    settings = mail_settings(tmp_path)
    totp = await with_totp(db, firm)
    wrong = wrong_code(totp)
    login = await Login(db, settings).start()
    for _ in range(4):
        await login.code(wrong)
    assert (await login.code(totp.now())).cookie
    again = await Login(db, settings).start()
    for _ in range(4):
        await again.code(wrong)
    another = await Login(db, settings).start()
    for _ in range(4):  # twelve wrong in all, but never ten since the right one
        outcome = await another.code(wrong)
        assert isinstance(outcome.error, AuthenticationFailed)
    assert await mails(db) == []


async def test_the_second_pause_lasts_the_rest_of_the_day(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    clock = Clock(monkeypatch)  # one minute into the day
    settings = mail_settings(tmp_path)
    totp = await with_totp(db, firm)
    wrong = wrong_code(totp)
    pauses = []
    for _ in range(2):
        for _ in range(2):
            login = await Login(db, settings).start()
            for _ in range(5):
                outcome = await login.code(wrong)
        pauses.append(outcome.error.retry_after)
        clock.advance(15)
    assert pauses[0] <= 15 * 60 and pauses[1] > 23 * 3600  # the back-off
    later = await Login(db, settings).start()
    assert isinstance((await later.code(totp.now())).error, TooManyAttempts)
    assert len(await mails(db)) == 2  # once for each pause


async def test_codes_refused_during_a_pause_do_not_lengthen_the_next(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    """A client who keeps trying while paused is not pushed into the day-long pause."""
    clock = Clock(monkeypatch)
    settings = mail_settings(tmp_path)
    totp = await with_totp(db, firm)
    wrong = wrong_code(totp)
    for _ in range(2):
        login = await Login(db, settings).start()
        for _ in range(5):
            await login.code(wrong)
    waiting = await Login(db, settings).start()
    for _ in range(12):
        assert isinstance((await waiting.code(totp.now())).error, TooManyAttempts)
    clock.advance(15)
    login = await Login(db, settings).start()
    outcome = await login.code(wrong)  # the eleventh wrong code today, not the twenty-third
    assert isinstance(outcome.error, AuthenticationFailed)
    assert (await login.code(totp.now())).cookie


async def test_one_code_sent_by_two_logins_at_once_lets_in_one(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path)
    totp = await with_totp(db, firm)
    one, two = await Login(db, settings).start(), await Login(db, settings).start()
    code = totp.now()
    outcomes = await asyncio.gather(one.code(code), two.code(code))
    assert sorted(bool(o.cookie) for o in outcomes) == [False, True]


async def test_a_step_taken_while_another_login_holds_it_is_refused(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    """The race above, made certain: both logins have read the account before either has
    written. PostgreSQL runs them side by side (SQLite lets one writer in at a time)."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite runs one write transaction at a time")
    totp = await with_totp(db, firm)
    code = totp.now()
    async with db.writer() as first, db.writer() as second:
        first_account = await first.get(Account, firm.alice.id)
        second_account = await second.get(Account, firm.alice.id)
        assert await twofactor.check_code(first, SEALING, first_account, code) == "totp"
        await first.commit()
        # Was "totp": the stale totp_last_step said the step was still free.
        assert await twofactor.check_code(second, SEALING, second_account, code) is None


async def test_the_code_page_says_when_to_come_back(
    browser: Browser, db: Database, firm: Firm, monkeypatch
) -> None:
    Clock(monkeypatch)
    totp = await with_totp(db, firm)
    wrong = wrong_code(totp)
    statuses = []
    for _ in range(2):
        await browser.login("alice", PASSWORD)
        for _ in range(5):
            statuses.append((await browser.post("/login/code", {"code": wrong})).status)
    assert statuses == [401] * 9 + [429]
    assert "Te veel verkeerde codes voor dit account" in browser.last_html
    await browser.login("alice", PASSWORD)
    refused = await browser.post("/login/code", {"code": totp.now()})
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    assert (await browser.get("/dossiers")).url.path == "/login/code"  # not in
