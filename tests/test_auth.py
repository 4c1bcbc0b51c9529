"""The account lifecycle in core: invitation → verify address → set password → confirmation,
forgot password, links that die, login with throttling, and two-step verification."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select, update

from core import outbox
from core.db import Database
from core.errors import (
    AuthenticationFailed,
    LinkExpired,
    PermissionDenied,
    TooManyAttempts,
    ValidationError,
)
from core.models import Account, OutboxItem, OutboxStatus, Token, TwoFactorMethod, WebSession
from core.services import auth, sessions, twofactor
from core.sms import OutboxSmsGateway
from mailbridge.smtp import SmtpSender

from .conftest import SYSTEM, Firm, SmtpServer, mail_settings


def link_token(body: str, path: str) -> str:
    found = re.search(rf"http://portal\.test/{path}/([A-Za-z0-9_-]+)", body)
    assert found, body
    return found.group(1)


async def send_all(db: Database, settings) -> outbox.PassResult:
    return await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)


async def test_invitation_runs_in_three_mails(
    db: Database, firm: Firm, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port)
    async with db.begin() as s:
        alice = await s.get(Account, firm.alice.id)
        await auth.invite(s, SYSTEM, settings, alice)
    assert (await send_all(db, settings)).sent == 1
    first = smtp.messages[-1]
    assert first["To"] == "alice@example.nl"
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["Message-ID"] and first["Date"]
    assert "uitnodiging" in first["Subject"].lower()  # Alice reads Dutch
    invite = link_token(first.get_body(("plain",)).get_content(), "invite")

    async with db.begin() as s:
        assert (await auth.invitation_account(s, invite)).username == "alice"
        assert await auth.verify_email(s, settings, invite, "ALICE@example.nl") is None
    assert (await send_all(db, settings)).sent == 1
    second = smtp.messages[-1]
    password_link = link_token(second.get_body(("plain",)).get_content(), "password")

    async with db.begin() as s:
        account = await auth.set_password_with_link(
            s, settings, password_link, "Zomer2026!x", "Zomer2026!x"
        )
        assert account.email_verified_at is not None
    assert (await send_all(db, settings)).sent == 1
    third = smtp.messages[-1]
    assert "wachtwoord" in third["Subject"].lower()
    assert [m["To"] for m in smtp.messages] == ["alice@example.nl"] * 3

    # Both links are dead now; and the sent items keep no usable link.
    async with db.begin() as s:
        with pytest.raises(LinkExpired):
            await auth.invitation_account(s, invite)
        with pytest.raises(LinkExpired):
            await auth.password_link_account(s, password_link)
        payloads = [i.payload for i in await s.scalars(select(OutboxItem))]
    assert all(p.get("secret_link", "(sent)") == "(sent)" for p in payloads)


async def test_wrong_address_counts_and_kills_the_link_at_five(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path)
    async with db.begin() as s:
        raw = await auth.invite(s, SYSTEM, settings, await s.get(Account, firm.alice.id))
    for _ in range(4):
        async with db.begin() as s:
            error = await auth.verify_email(s, settings, raw, "someone@else.nl")
        assert isinstance(error, ValidationError)
    async with db.begin() as s:
        assert isinstance(await auth.verify_email(s, settings, raw, "x@y.nl"), LinkExpired)
    with pytest.raises(LinkExpired):
        async with db.begin() as s:
            await auth.verify_email(s, settings, raw, "alice@example.nl")


async def test_a_newer_invitation_kills_the_older(db: Database, firm: Firm, tmp_path) -> None:
    settings = mail_settings(tmp_path)
    async with db.begin() as s:
        alice = await s.get(Account, firm.alice.id)
        old = await auth.invite(s, SYSTEM, settings, alice)
        new = await auth.invite(s, SYSTEM, settings, alice)
    async with db.begin() as s:
        with pytest.raises(LinkExpired):
            await auth.invitation_account(s, old)
        assert (await auth.invitation_account(s, new)).id == alice.id


async def test_a_newer_invitation_withdraws_the_unsent_older_mail(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path)
    async with db.begin() as s:
        alice = await s.get(Account, firm.alice.id)
        await auth.invite(s, SYSTEM, settings, alice)
    async with db.begin() as s:
        await auth.invite(s, SYSTEM, settings, await s.get(Account, firm.alice.id))
    async with db.read() as s:
        old, new = await s.scalars(
            select(OutboxItem)
            .where(OutboxItem.account_id == firm.alice.id, OutboxItem.kind == "invitation")
            .order_by(OutboxItem.id)
        )
    assert (old.status, old.last_error) == (OutboxStatus.FAILED, auth.WITHDRAWN)
    assert "/invite/" not in str(old.payload)  # the dead link is not kept either
    assert new.status == OutboxStatus.PENDING and "/invite/" in new.payload["secret_link"]


async def test_expired_link_is_refused(db: Database, firm: Firm, tmp_path: Path) -> None:
    settings = mail_settings(tmp_path)
    async with db.begin() as s:
        raw = await auth.send_password_link(s, settings, await s.get(Account, firm.alice.id))
        await s.execute(
            update(Token).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    with pytest.raises(LinkExpired):
        async with db.begin() as s:
            await auth.set_password_with_link(s, settings, raw, "Zomer2026!x", "Zomer2026!x")


async def test_reused_link_is_refused(db: Database, firm: Firm, tmp_path: Path) -> None:
    settings = mail_settings(tmp_path)
    async with db.begin() as s:
        raw = await auth.send_password_link(s, settings, await s.get(Account, firm.alice.id))
    async with db.begin() as s:
        await auth.set_password_with_link(s, settings, raw, "Zomer2026!x", "Zomer2026!x")
    with pytest.raises(LinkExpired):
        async with db.begin() as s:
            await auth.set_password_with_link(s, settings, raw, "Herfst2026!y", "Herfst2026!y")


@pytest.mark.parametrize(
    "password,repeat,words",
    [
        ("Kort1a", "Kort1a", "at least 8"),
        ("zomer2026x", "zomer2026x", "capital"),
        ("Zomerzonx", "Zomerzonx", "digit"),
        ("Password1", "Password1", "most common"),
        ("Zomer2026!x", "Zomer2026!y", "not the same"),
    ],
)
async def test_weak_password_is_refused_with_the_reason_and_link_stays(
    db: Database, firm: Firm, tmp_path: Path, password: str, repeat: str, words: str
) -> None:
    settings = mail_settings(tmp_path)
    async with db.begin() as s:
        raw = await auth.send_password_link(s, settings, await s.get(Account, firm.alice.id))
    with pytest.raises(ValidationError) as info:
        async with db.begin() as s:
            await auth.set_password_with_link(s, settings, raw, password, repeat)
    assert words in info.value.message
    async with db.begin() as s:  # a refused try does not use the link up
        await auth.set_password_with_link(s, settings, raw, "Zomer2026!x", "Zomer2026!x")


async def test_long_unicode_passphrase_is_accepted_whole(
    db: Database, firm: Firm, tmp_path
) -> None:
    settings = mail_settings(tmp_path)
    phrase = "één lange zin met ümlauts en emoji 🐟 " * 3  # > 64 characters, no capital or digit
    async with db.begin() as s:
        raw = await auth.send_password_link(s, settings, await s.get(Account, firm.alice.id))
        await auth.set_password_with_link(s, settings, raw, phrase, phrase)
    result = await auth.login(db, settings, "alice", phrase, "127.0.0.1")
    assert result.complete
    with pytest.raises(AuthenticationFailed):  # never truncated: a prefix is not enough
        await auth.login(db, settings, "alice", phrase[:64], "127.0.0.1")


async def test_setting_a_password_ends_every_other_session(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path)
    async with db.begin() as s:
        raw = await auth.send_password_link(s, settings, await s.get(Account, firm.alice.id))
        await auth.set_password_with_link(s, settings, raw, "Zomer2026!x", "Zomer2026!x")
    first = await auth.login(db, settings, "alice", "Zomer2026!x", "10.0.0.1")
    async with db.begin() as s:
        raw = await auth.send_password_link(s, settings, await s.get(Account, firm.alice.id))
        await auth.set_password_with_link(s, settings, raw, "Herfst2026!y", "Herfst2026!y")
    async with db.read() as s:
        assert await sessions.load(s, settings, first.cookie) is None


async def test_forgot_password_answers_the_same_for_unknown(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path)
    async with db.begin() as s:
        await auth.forgot_password(s, settings, "nobody@nowhere.example", address="1.2.3.4")
        await auth.forgot_password(s, settings, "alice@example.nl", address="1.2.3.4")
    async with db.read() as s:
        items = list(await s.scalars(select(OutboxItem)))
    assert [(i.kind, i.recipient) for i in items] == [("set_password", "alice@example.nl")]


async def test_only_staff_or_the_company_main_account_invite(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path)
    async with db.begin() as s:
        extra = await s.get(Account, firm.bv_extra.id)
        await auth.invite(s, firm.actor(firm.bv_main), settings, extra)
    for who in (firm.alice, firm.bv_extra, firm.office):
        with pytest.raises(PermissionDenied):
            async with db.begin() as s:
                await auth.invite(
                    s, firm.actor(who), settings, await s.get(Account, firm.bv_extra.id)
                )


async def with_password(db: Database, account_id: int, password: str = "Zomer2026!x") -> None:
    from core.passwords import hash_password

    async with db.begin() as s:
        (await s.get(Account, account_id)).password_hash = await hash_password(password)


async def test_login_by_username_or_unambiguous_email(db: Database, firm: Firm, tmp_path) -> None:
    settings = mail_settings(tmp_path)
    await with_password(db, firm.alice.id)
    assert (await auth.login(db, settings, "Alice", "Zomer2026!x", "1.2.3.4")).account.id == (
        firm.alice.id
    )
    assert (await auth.login(db, settings, "alice@example.nl", "Zomer2026!x", "1.2.3.4")).complete
    with pytest.raises(AuthenticationFailed) as info:
        await auth.login(db, settings, "alice", "wrong", "1.2.3.4")
    assert "username or password" in info.value.message


async def test_brute_force_is_refused_per_address_but_not_for_the_client(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, login_failures_per_account=4)
    await with_password(db, firm.alice.id)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            await auth.login(db, settings, "alice", "guess", "6.6.6.6")
    with pytest.raises(TooManyAttempts) as info:
        await auth.login(db, settings, "alice", "Zomer2026!x", "6.6.6.6")
    assert info.value.retry_after > 0 and "Try again in" in info.value.message
    # The real client, from her own address, still gets in (slowed, not locked out).
    assert (await auth.login(db, settings, "alice", "Zomer2026!x", "10.1.1.1")).complete
    async with db.read() as s:
        audit = await s.scalar(
            select(func.count())
            .select_from(WebSession)
            .where(WebSession.account_id == firm.alice.id)
        )
    assert audit == 1


async def test_totp_enrol_login_reuse_and_recovery(db: Database, firm: Firm, tmp_path) -> None:
    settings = mail_settings(tmp_path)
    await with_password(db, firm.alice.id)
    alice = firm.actor(firm.alice)
    async with db.begin() as s:
        secret = await twofactor.begin_totp(s, alice, settings)
    totp = pyotp.TOTP(secret)
    async with db.begin() as s:
        with pytest.raises(ValidationError):
            await twofactor.confirm_totp(
                s, alice, settings, "000000" if totp.now() != "000000" else "111111"
            )
    async with db.begin() as s:
        codes = await twofactor.confirm_totp(
            s, alice, settings, totp.at(dt.datetime.now() - dt.timedelta(seconds=30))
        )
    assert len(codes) == 10 and len(set(codes)) == 10

    first = await auth.login(db, settings, "alice", "Zomer2026!x", "1.1.1.1")
    assert not first.complete
    async with db.begin() as s:
        live = await sessions.load(s, settings, first.cookie)
        assert not live.complete
        used = totp.now()
        outcome = await twofactor.second_step(s, settings, live, used)
    assert outcome.cookie and outcome.cookie != first.cookie  # a new id after the second step
    async with db.read() as s:
        assert await sessions.load(s, settings, first.cookie) is None
        assert (await sessions.load(s, settings, outcome.cookie)).complete

    # The same code again, in a new login: refused (a code is used once). The code is the
    # one used above, not totp.now() again: a 30-second step may have passed since.
    second = await auth.login(db, settings, "alice", "Zomer2026!x", "1.1.1.1")
    async with db.begin() as s:
        live = await sessions.load(s, settings, second.cookie)
        reused = await twofactor.second_step(s, settings, live, used)
    assert reused.cookie is None
    assert reused.error.message == "This code was just used. Wait for the next one in your app."

    # A recovery code works once.
    async with db.begin() as s:
        live = await sessions.load(s, settings, second.cookie)
        assert (await twofactor.second_step(s, settings, live, codes[0].upper())).cookie
    third = await auth.login(db, settings, "alice", "Zomer2026!x", "1.1.1.1")
    async with db.begin() as s:
        live = await sessions.load(s, settings, third.cookie)
        assert (await twofactor.second_step(s, settings, live, codes[0])).cookie is None
        assert await twofactor.recovery_codes_left(s, firm.alice.id) == 9


async def test_five_wrong_codes_end_the_half_login(db: Database, firm: Firm, tmp_path) -> None:
    settings = mail_settings(tmp_path)
    await with_password(db, firm.alice.id)
    async with db.begin() as s:
        secret = await twofactor.begin_totp(s, firm.actor(firm.alice), settings)
        await twofactor.confirm_totp(s, firm.actor(firm.alice), settings, pyotp.TOTP(secret).now())
    result = await auth.login(db, settings, "alice", "Zomer2026!x", "1.1.1.1")
    outcomes = []
    for _ in range(5):
        async with db.begin() as s:
            live = await sessions.load(s, settings, result.cookie)
            outcomes.append(await twofactor.second_step(s, settings, live, "123456"))
    assert [o.restart for o in outcomes] == [False] * 4 + [True]
    async with db.read() as s:
        assert await sessions.load(s, settings, result.cookie) is None


async def test_sms_second_step_through_the_gateway(db: Database, firm: Firm, tmp_path) -> None:
    settings = mail_settings(tmp_path)
    await with_password(db, firm.alice.id)
    gateway = OutboxSmsGateway()
    alice = firm.actor(firm.alice)
    async with db.begin() as s:
        await twofactor.begin_sms(s, alice, gateway, "+31 6 1234 5678")

    async def last_code() -> str:
        async with db.read() as s:
            item = await s.scalar(
                select(OutboxItem).where(OutboxItem.channel == "sms").order_by(OutboxItem.id.desc())
            )
        assert item.recipient == "+31612345678"
        return item.payload["secret_text"].split()[-1]

    async with db.begin() as s:
        await twofactor.confirm_sms(s, alice, await last_code())
        assert (await s.get(Account, firm.alice.id)).two_factor is TwoFactorMethod.SMS
    result = await auth.login(db, settings, "alice", "Zomer2026!x", "1.1.1.1")
    assert not result.complete
    async with db.begin() as s:
        await twofactor.send_sms_code(s, gateway, await s.get(Account, firm.alice.id))
    code = await last_code()
    async with db.begin() as s:
        live = await sessions.load(s, settings, result.cookie)
        assert (await twofactor.second_step(s, settings, live, code)).cookie


async def test_outbox_survives_the_smtp_server_going_away(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    server = SmtpServer()
    settings = mail_settings(tmp_path, server.port)
    async with db.begin() as s:
        for account_id in (firm.alice.id, firm.bv_main.id, firm.carol.id):
            await auth.invite(s, SYSTEM, settings, await s.get(Account, account_id))
    # Server away: every item stays, to be retried.
    away = await send_all(db, settings)
    assert (away.sent, away.retrying, away.failed) == (0, 3, 0)
    async with db.begin() as s:
        items = list(await s.scalars(select(OutboxItem)))
        assert {i.status for i in items} == {OutboxStatus.PENDING}
        ids = {i.id: i.email_message_id for i in items}
        # Time passes: make them due again.
        await s.execute(update(OutboxItem).values(next_try_at=dt.datetime.now(dt.UTC)))
    server.start()
    try:
        back = await send_all(db, settings)
        again = await send_all(db, settings)
    finally:
        server.stop()
    assert (back.sent, again.sent) == (3, 0)
    assert sorted(m["To"] for m in server.messages) == [
        "alice@example.nl",
        "carol@example.nl",
        "info@bakkerij.example",
    ]
    # The Message-ID given on the first try is the one that went out.
    assert sorted(m["Message-ID"] for m in server.messages) == sorted(ids.values())


async def test_outbox_5xx_fails_at_once_4xx_retries(
    db: Database, firm: Firm, smtp, tmp_path
) -> None:
    settings = mail_settings(tmp_path, smtp.port)
    async with db.begin() as s:
        await auth.invite(s, SYSTEM, settings, await s.get(Account, firm.alice.id))
    smtp.catcher.refuse_with = "451 4.3.0 try again later"
    assert (await send_all(db, settings)).retrying == 1
    async with db.begin() as s:
        await s.execute(update(OutboxItem).values(next_try_at=dt.datetime.now(dt.UTC)))
    smtp.catcher.refuse_with = "550 5.1.1 no such user"
    result = await send_all(db, settings)
    assert result.failed == 1
    async with db.read() as s:
        item = await s.scalar(select(OutboxItem))
    assert item.status is OutboxStatus.FAILED and "550" in item.last_error and item.attempts == 2


async def test_many_failures_from_everywhere_slow_down_but_never_lock_out(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    from core import throttle

    settings = mail_settings(tmp_path, login_failures_per_account=10)
    alice = throttle.account_key(firm.alice.id, "alice")
    async with db.begin() as s:
        for n in range(12):  # from twelve different addresses
            await throttle.count_login(s, settings, alice, f"10.9.9.{n}")
    async with db.begin() as s:
        fresh = await throttle.count_login(s, settings, alice, "10.1.1.1")
        guilty = await throttle.count_login(s, settings, alice, "10.9.9.0")
    assert fresh.refuse_for == 0 and fresh.delay > 0  # slowed, not refused
    assert guilty.refuse_for == 0  # two tries from that address: not refused either
