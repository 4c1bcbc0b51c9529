"""What a stranger or a thief can make Loket send is bounded: "forgot password" mails per
address and per account (without telling who has an account), codes texted per account, and
guesses at an SMS set-up code."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import Database
from core.errors import TooManyAttempts, ValidationError
from core.models import Account, OutboxItem, Token, TwoFactorMethod
from core.services import auth, sessions, twofactor
from core.sms import OutboxSmsGateway

from .conftest import PASSWORD, Firm, mail_settings, open_browser, set_password
from .throttle_clock import Clock
from .webclient import Browser


@pytest.fixture
async def browser(aiohttp_client, db: Database, store, tmp_path, smtp) -> Browser:
    """The web view with SMS offered: its codes are queued in the outbox."""
    return await open_browser(aiohttp_client, db, store, tmp_path, smtp, sms=OutboxSmsGateway())


async def outbox(db: Database, kind: str) -> list[OutboxItem]:
    async with db.read() as s:
        return list(
            await s.scalars(select(OutboxItem).where(OutboxItem.kind == kind).order_by("id"))
        )


async def last_code(db: Database) -> str:
    return (await outbox(db, "sms_code"))[-1].payload["secret_text"].split()[-1]


async def forgot(db: Database, settings, identifier: str, address: str) -> None:
    async with db.begin() as s:
        await auth.forgot_password(s, settings, identifier, address=address)


async def test_forgot_password_is_refused_to_an_address_that_asks_too_often(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    clock = Clock(monkeypatch)
    settings = mail_settings(tmp_path)
    for identifier in ("alice", "nobody@nowhere.example", "carol"):
        await forgot(db, settings, identifier, "6.6.6.6")
    # The fourth is refused whether or not the account exists: the refusal tells nothing.
    for identifier in ("bakkerij", "niemand@nergens.example"):
        with pytest.raises(TooManyAttempts) as info:
            await forgot(db, settings, identifier, "6.6.6.6")
        assert "Try again in" in info.value.message and info.value.retry_after > 0
    await forgot(db, settings, "bakkerij", "10.0.0.1")  # another address is not held up
    assert [m.recipient for m in await outbox(db, "set_password")] == [
        "alice@example.nl",
        "carol@example.nl",
        "info@bakkerij.example",
    ]
    clock.advance(60)
    await forgot(db, settings, "tussen", "6.6.6.6")
    assert len(await outbox(db, "set_password")) == 4


async def test_forgot_password_mails_an_account_three_times_an_hour_at_most(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    clock = Clock(monkeypatch)
    settings = mail_settings(tmp_path)
    for n in range(5):  # from five addresses, by name and by address alike
        await forgot(db, settings, "alice" if n % 2 else "alice@example.nl", f"10.0.0.{n}")
    assert len(await outbox(db, "set_password")) == 3  # and no word about the other two
    clock.advance(60)
    await forgot(db, settings, "alice", "10.0.0.9")
    assert len(await outbox(db, "set_password")) == 4


async def test_forgot_password_page_refuses_the_same_way_for_anyone(
    browser: Browser, db: Database, firm: Firm, monkeypatch
) -> None:
    Clock(monkeypatch)
    for identifier in ("alice", "alice", "alice"):
        await browser.get("/password/forgot")
        assert (await browser.post("/password/forgot", {"identifier": identifier})).status == 200
    pages = []
    for identifier in ("alice", "niemand@nergens.example"):
        await browser.get("/password/forgot")
        token = browser.csrf()
        response = await browser.post("/password/forgot", {"identifier": identifier})
        assert response.status == 429 and int(response.headers["Retry-After"]) > 0
        pages.append(browser.last_html.replace(token, ""))
    assert "Te veel pogingen. Probeer het over" in pages[0]
    assert pages[0] == pages[1]


async def test_codes_texted_per_account_are_bounded(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    clock = Clock(monkeypatch)
    gateway = OutboxSmsGateway()
    alice = firm.actor(firm.alice)
    texted = 0
    for _window in range(4):
        for _ in range(3):
            if texted < 10:
                async with db.begin() as s:
                    await twofactor.begin_sms(s, alice, gateway, "+31 6 1234 5678")
                texted += 1
        with pytest.raises(TooManyAttempts) as info:  # the fourth in a quarter of an hour
            async with db.begin() as s:
                await twofactor.begin_sms(s, alice, gateway, "+31 6 1234 5678")
        clock.advance(15)
    assert "Too many codes sent" in info.value.message
    assert info.value.retry_after > 20 * 3600  # ten a day: the rest of the day
    assert len(await outbox(db, "sms_code")) == 10


async def test_a_login_that_would_text_one_code_too_many_keeps_the_last_one(
    browser: Browser, db: Database, firm: Firm, monkeypatch
) -> None:
    Clock(monkeypatch)
    await set_password(db, firm.alice.id)
    async with db.begin() as s:
        account = await s.get(Account, firm.alice.id)
        account.two_factor, account.phone = TwoFactorMethod.SMS, "+31612345678"
    for _ in range(3):
        assert (await browser.login("alice", PASSWORD)).url.path == "/login/code"
    refused = await browser.login("alice", PASSWORD)
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Te veel codes verstuurd" in browser.last_html
    texts = await outbox(db, "sms_code")
    assert len(texts) == 3
    right = await browser.post(
        "/login/code", {"code": texts[-1].payload["secret_text"].split()[-1]}
    )
    assert right.url.path == "/"  # the code texted last still works


async def test_five_wrong_set_up_codes_kill_the_code(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    gateway = OutboxSmsGateway()
    alice = firm.actor(firm.alice)
    async with db.begin() as s:
        await twofactor.begin_sms(s, alice, gateway, "+31 6 1234 5678")
    (item,) = await outbox(db, "sms_code")
    code = item.payload["secret_text"].split()[-1]
    wrong = "000000" if code != "000000" else "111111"
    errors = []
    for _ in range(5):
        async with db.begin() as s:
            errors.append(await twofactor.confirm_sms(s, alice, wrong))
    assert [type(e) for e in errors] == [ValidationError] * 4 + [TooManyAttempts]
    assert "Ask for a new one" in errors[-1].message
    async with db.begin() as s:  # was: a million tries in the ten minutes the code lives
        assert isinstance(await twofactor.confirm_sms(s, alice, code), TooManyAttempts)
        assert (await s.get(Account, firm.alice.id)).two_factor is TwoFactorMethod.NONE
        await twofactor.begin_sms(s, alice, gateway, "+31 6 1234 5678")
    fresh = (await outbox(db, "sms_code"))[-1].payload["secret_text"].split()[-1]
    async with db.begin() as s:
        assert len(await twofactor.confirm_sms(s, alice, fresh)) == 10  # recovery codes
    async with db.read() as s:
        wrong_counts = [t.data.get("wrong", 0) for t in await s.scalars(select(Token))]
    assert sorted(wrong_counts) == [0, 5]


async def test_set_up_code_page_refuses_after_five_wrong(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/me")
    await browser.post("/me/2fa/sms", {"phone": "+31 6 1234 5678"})
    (item,) = await outbox(db, "sms_code")
    code = item.payload["secret_text"].split()[-1]
    wrong = "000000" if code != "000000" else "111111"
    statuses = [
        (await browser.post("/me/2fa/sms/confirm", {"code": wrong})).status for _ in range(5)
    ]
    assert statuses == [400] * 4 + [429]
    assert "deze code werkt niet meer" in browser.last_html
    assert (await browser.post("/me/2fa/sms/confirm", {"code": code})).status == 429


async def test_texts_that_led_to_a_login_do_not_count(
    db: Database, firm: Firm, tmp_path: Path, monkeypatch
) -> None:
    """Staff with SMS who log in a dozen times a day are not held up; only codes texted for
    nothing use up the limit."""
    Clock(monkeypatch)
    settings = mail_settings(tmp_path)
    gateway = OutboxSmsGateway()
    alice = firm.actor(firm.alice)
    await set_password(db, firm.alice.id)
    async with db.begin() as s:
        await twofactor.begin_sms(s, alice, gateway, "+31 6 1234 5678")
    async with db.begin() as s:
        await twofactor.confirm_sms(s, alice, await last_code(db))
    for _ in range(11):
        result = await auth.login(db, settings, "alice", PASSWORD, "10.0.0.1")
        async with db.begin() as s:
            await twofactor.send_sms_code(s, gateway, await s.get(Account, firm.alice.id))
        async with db.begin() as s:
            live = await sessions.load(s, settings, result.cookie)
            assert (await twofactor.second_step(s, settings, live, await last_code(db))).cookie
    assert len(await outbox(db, "sms_code")) == 12
