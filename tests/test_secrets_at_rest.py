"""TOTP secrets are stored sealed with a key derived from the secret key: a copy of the
database makes no second-step codes. A key rotation keeps everyone able to log in, a changed
key without the previous one is said plainly, and secrets from before sealing are sealed."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re

import pyotp
import pytest
from sqlalchemy import text

from core.db import Database
from core.errors import Conflict
from core.models import Account, TwoFactorMethod
from core.secretbox import TOTP_SECRET, SecretBox
from core.services import auth, sessions, totpsecrets, twofactor
from core.settings import Settings
from loket.commands import secrets, setup
from loket.runtime import Runtime

from .conftest import PASSWORD, SYSTEM, Firm, mail_settings, set_password
from .webclient import Browser

NEW_KEY = "a-new-secret-key-after-rotation"


async def stored(db: Database, account_id: int) -> str:
    """What the database itself holds, as a dump or a backup would show it."""
    async with db.read() as s:
        return await s.scalar(
            text("SELECT totp_secret FROM accounts WHERE id = :id"), {"id": account_id}
        )


async def enrol(db: Database, firm: Firm, account: Account, settings: Settings) -> str:
    await set_password(db, account.id)
    async with db.begin() as s:
        secret = await twofactor.begin_totp(s, firm.actor(account), settings)
        await twofactor.confirm_totp(s, firm.actor(account), settings, pyotp.TOTP(secret).now())
    return secret


async def second_step(
    db: Database, settings: Settings, account: Account, code: str
) -> twofactor.StepOutcome:
    """Log in with the password, then give ``code`` as the second step."""
    async with db.begin() as s:
        # Each login here may use the same 30-second step; reuse is refused elsewhere.
        (await s.get(Account, account.id)).totp_last_step = None
    first = await auth.login(db, settings, account.username, PASSWORD, "192.0.2.7")
    assert not first.complete
    async with db.begin() as s:
        live = await sessions.load(s, settings, first.cookie)
        return await twofactor.second_step(s, settings, live, code)


async def run_command(command, db: Database, settings: Settings, tmp_path, capsys) -> dict:
    """A `loket` command in this process, on the test's database (SQLite and PostgreSQL)."""
    capsys.readouterr()
    rt = Runtime(settings=settings, db=db, store=None)  # type: ignore[arg-type]
    await command(rt, argparse.Namespace(json=True))
    return json.loads(capsys.readouterr().out)


def opens_with_only(key: str, account: Account, value: str) -> str:
    return SecretBox(TOTP_SECRET, key).open(value, context=f"account:{account.id}")


async def test_the_database_holds_the_secret_sealed_and_login_works(
    db: Database, firm: Firm, tmp_path
) -> None:
    settings = mail_settings(tmp_path)
    secret = await enrol(db, firm, firm.alice, settings)
    raw = await stored(db, firm.alice.id)
    assert raw.startswith("v1.") and secret not in raw and secret.lower() not in raw.lower()
    assert opens_with_only(settings.secret_key, firm.alice, raw) == secret
    outcome = await second_step(db, settings, firm.alice, pyotp.TOTP(secret).now())
    assert outcome.cookie and outcome.error is None


async def test_the_setup_page_shows_the_secret_and_stores_it_sealed(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/me")
    await browser.post("/me/2fa/totp")
    shown = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', browser.last_html).group(1)
    assert shown not in await stored(db, firm.alice.id)
    code = pyotp.TOTP(shown).now()
    wrong = "000000" if code != "000000" else "111111"
    assert (await browser.post("/me/2fa/totp/confirm", {"code": wrong})).status == 400
    # The page shown again still offers the same secret, read back through the seal.
    assert f'data-testid="totp-secret">{shown}<' in browser.last_html
    assert (await browser.post("/me/2fa/totp/confirm", {"code": code})).status == 200


async def test_a_sealed_secret_copied_to_another_account_does_not_open(
    db: Database, firm: Firm, tmp_path
) -> None:
    settings = mail_settings(tmp_path)
    secret = await enrol(db, firm, firm.alice, settings)
    await set_password(db, firm.bv_main.id)
    async with db.begin() as s:
        other = await s.get(Account, firm.bv_main.id)
        other.two_factor = TwoFactorMethod.TOTP
        other.totp_secret = await stored(db, firm.alice.id)
    outcome = await second_step(db, settings, firm.bv_main, pyotp.TOTP(secret).now())
    assert outcome.cookie is None


async def test_rotation_keeps_logins_working_and_reseals_every_secret(
    db: Database, firm: Firm, tmp_path, capsys
) -> None:
    settings = mail_settings(tmp_path)
    alice_secret = await enrol(db, firm, firm.alice, settings)
    bv_secret = await enrol(db, firm, firm.bv_main, settings)
    rotated = dataclasses.replace(
        settings, secret_key=NEW_KEY, secret_key_previous=settings.secret_key
    )

    # Alice logs in during the rotation: her code is right, and her secret is sealed anew.
    outcome = await second_step(db, rotated, firm.alice, pyotp.TOTP(alice_secret).now())
    assert outcome.cookie
    assert opens_with_only(NEW_KEY, firm.alice, await stored(db, firm.alice.id)) == alice_secret

    # `loket secrets rotate` seals the rest with the new key.
    before = await stored(db, firm.bv_main.id)
    out = await run_command(secrets.rotate, db, rotated, tmp_path, capsys)
    assert out == {"resealed": 1, "unchanged": 1}
    after = await stored(db, firm.bv_main.id)
    assert after != before and opens_with_only(NEW_KEY, firm.bv_main, after) == bv_secret

    # Once the old key is gone, both still log in.
    new_only = dataclasses.replace(settings, secret_key=NEW_KEY)
    for account, secret in ((firm.alice, alice_secret), (firm.bv_main, bv_secret)):
        assert (await second_step(db, new_only, account, pyotp.TOTP(secret).now())).cookie
    assert await run_command(secrets.rotate, db, new_only, tmp_path, capsys) == {
        "resealed": 0,
        "unchanged": 2,
    }


async def test_a_changed_key_without_the_previous_one_is_said_plainly(
    db: Database, firm: Firm, tmp_path, capsys, caplog
) -> None:
    settings = mail_settings(tmp_path)
    secret = await enrol(db, firm, firm.alice, settings)
    async with db.begin() as s:
        codes = await twofactor._new_recovery_codes(s, await s.get(Account, firm.alice.id))
    wrong_key = dataclasses.replace(settings, secret_key=NEW_KEY)

    outcome = await second_step(db, wrong_key, firm.alice, pyotp.TOTP(secret).now())
    assert outcome.cookie is None and not outcome.restart
    assert outcome.error.template == twofactor.SECRET_UNREADABLE
    assert "LOKET_SECRET_KEY_PREVIOUS" in caplog.text  # the operator learns what to do
    # A recovery code still lets Alice in.
    assert (await second_step(db, wrong_key, firm.alice, codes[0])).cookie

    before = await stored(db, firm.alice.id)
    with pytest.raises(Conflict, match="alice") as refused:
        await run_command(secrets.rotate, db, wrong_key, tmp_path, capsys)
    assert "nothing was changed" in str(refused.value)
    assert await stored(db, firm.alice.id) == before


async def test_secrets_stored_before_sealing_are_read_and_then_sealed(
    db: Database, firm: Firm, tmp_path, capsys
) -> None:
    settings = mail_settings(tmp_path)
    plain = {firm.alice.id: pyotp.random_base32(), firm.bv_main.id: pyotp.random_base32()}
    for account in (firm.alice, firm.bv_main):
        await set_password(db, account.id)
        async with db.begin() as s:
            row = await s.get(Account, account.id)
            row.two_factor = TwoFactorMethod.TOTP
            row.totp_secret = plain[account.id]  # as the schema before 0006 held it

    # Alice logs in with the old plain secret; it is sealed on the way.
    outcome = await second_step(db, settings, firm.alice, pyotp.TOTP(plain[firm.alice.id]).now())
    assert outcome.cookie
    assert plain[firm.alice.id] not in await stored(db, firm.alice.id)

    # `loket init` (run after every upgrade) seals the one left.
    out = await run_command(setup.init, db, settings, tmp_path, capsys)
    assert out["secrets_sealed"] == 1
    raw = await stored(db, firm.bv_main.id)
    assert raw.startswith("v1.") and plain[firm.bv_main.id] not in raw
    bv_code = pyotp.TOTP(plain[firm.bv_main.id]).now()
    assert (await second_step(db, settings, firm.bv_main, bv_code)).cookie
    assert (await run_command(setup.init, db, settings, tmp_path, capsys))["secrets_sealed"] == 0


async def test_rotation_is_for_staff_only(db: Database, firm: Firm, tmp_path) -> None:
    from core.errors import PermissionDenied

    async with db.begin() as s:
        with pytest.raises(PermissionDenied):
            await totpsecrets.rotate(s, firm.actor(firm.alice), mail_settings(tmp_path))
        assert (await totpsecrets.rotate(s, SYSTEM, mail_settings(tmp_path))).resealed == 0


def test_the_secret_key_is_not_shown_in_the_settings() -> None:
    shown = repr(Settings(secret_key="k-one-1234567", secret_key_previous="k-two-7654321"))
    assert "k-one" not in shown and "k-two" not in shown
