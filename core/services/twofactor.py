"""Two-step verification: an authenticator app (TOTP) or a code by SMS, with recovery codes.

TOTP allows one time step of clock drift either way, and remembers the last accepted step so
a code cannot be used twice. Five wrong codes end the half-logged-in session; wrong codes are
also counted per account across logins, so a new password login buys no new guesses (limits in
core.throttle). Recovery codes are random, shown once, stored hashed, and each works once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from .. import audit, throttle, tokens
from ..actor import Actor
from ..clock import happened_now
from ..errors import AuthenticationFailed, LoketError, TooManyAttempts, ValidationError
from ..i18n import N_
from ..models import (
    Account,
    Channel,
    RecoveryCode,
    Role,
    Token,
    TwoFactorMethod,
    WebSession,
    utcnow,
)
from ..notifications import Kind, account_mail
from ..passwords import verify_password
from ..settings import Settings
from ..sms import SmsGateway
from . import sessions, totpsecrets

MAX_WRONG_CODES = 5
# The secret key changed and the old one is not set as LOKET_SECRET_KEY_PREVIOUS (logged).
SECRET_UNREADABLE = N_(
    "Codes from your authenticator app cannot be checked at the moment. Use one of your "
    "recovery codes, or ask the firm for help."
)
RECOVERY_CODES = 10
SMS_CODE_MINUTES = 10
STEP = 30
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)


def _hash_code(code: str) -> str:
    # Recovery codes carry about 50 random bits: a fast hash is enough.
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def provisioning_uri(account: Account, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account.username, issuer_name=issuer)


async def _account(session: AsyncSession, actor: Actor) -> Account:
    account = await session.get(Account, actor.account_id)
    if account is None:
        raise AuthenticationFailed("There is no such account.")
    return account


async def begin_totp(session: AsyncSession, actor: Actor, settings: Settings) -> str:
    """Start setting up an authenticator app: a new secret, not active until confirmed.
    Returns the secret in plain text, for the app; it is stored sealed."""
    account = await _account(session, actor)
    if account.two_factor is not TwoFactorMethod.NONE:
        raise ValidationError("Two-step verification is already on; switch it off first.")
    secret = pyotp.random_base32()
    totpsecrets.store(settings, account, secret)
    return secret


def _totp_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side), or None."""
    code = normalise_code(code)
    if not (code.isdigit() and len(code) == 6):
        return None
    now = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    for drift in (0, -1, 1):
        at = now + drift * STEP
        if hmac.compare_digest(totp.at(at), code):
            return int(at // STEP)
    return None


async def _new_recovery_codes(session: AsyncSession, account: Account) -> list[str]:
    old = await session.scalars(select(RecoveryCode).where(RecoveryCode.account_id == account.id))
    for row in old:
        await session.delete(row)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(account_id=account.id, code_hash=_hash_code(c)) for c in codes)
    return codes


async def confirm_totp(
    session: AsyncSession, actor: Actor, settings: Settings, code: str
) -> list[str]:
    """Switch TOTP on with a first code from the app; returns the recovery codes (once)."""
    account = await _account(session, actor)
    secret = totpsecrets.readable(settings, account)
    if account.two_factor is not TwoFactorMethod.NONE or not secret:
        raise ValidationError("Start setting up the authenticator app first.")
    step = _totp_step(secret, code)
    if step is None:
        raise ValidationError("That code is not right. Check the time on your phone.", field="code")
    account.two_factor = TwoFactorMethod.TOTP
    account.totp_last_step = step
    audit.record(session, actor, "twofactor.enable", method="totp")
    return await _new_recovery_codes(session, account)


def _sms_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


async def send_sms_code(
    session: AsyncSession, gateway: SmsGateway, account: Account, phone: str | None = None
) -> None:
    """Text a fresh code to the account's phone (or ``phone`` while setting SMS up)."""
    phone = phone or account.phone
    if not phone:
        raise ValidationError("There is no phone number to send a code to.", field="phone")
    # Before the new code is issued: a refused send leaves the last code texted working.
    sent = await throttle.count(session, throttle.account_key(account.id, ""), throttle.SMS_LIMITS)
    if sent.refuse_for:
        raise throttle.too_many(
            N_("Too many codes sent. Try again in %(minutes)d minutes."), sent.refuse_for
        )
    code = _sms_code()
    raw = await tokens.issue(
        session,
        account,
        tokens.SMS_CODE,
        dt.timedelta(minutes=SMS_CODE_MINUTES),
        data={"phone": phone},
        raw=f"{account.id}:{code}",
    )
    await gateway.send(
        session,
        phone,
        f"Loket: {code}",
        account_id=account.id,
        key=tokens.digest(raw)[:16],
        valid_for=dt.timedelta(minutes=SMS_CODE_MINUTES),
    )


def clean_phone(phone: str) -> str:
    digits = "".join(ch for ch in (phone or "") if ch.isdigit() or ch == "+")
    if len(digits.lstrip("+")) < 9 or len(digits) > 16 or "+" in digits[1:]:
        raise ValidationError("Enter a mobile number such as +31 6 12345678.", field="phone")
    return digits


async def begin_sms(session: AsyncSession, actor: Actor, gateway: SmsGateway, phone: str) -> None:
    account = await _account(session, actor)
    if account.two_factor is not TwoFactorMethod.NONE:
        raise ValidationError("Two-step verification is already on; switch it off first.")
    await send_sms_code(session, gateway, account, clean_phone(phone))


async def _take_sms_code(session: AsyncSession, account: Account, code: str) -> str | None:
    """Use up the SMS code if right; returns the phone it was sent to."""
    code = normalise_code(code)
    if not code.isdigit():
        return None
    try:
        token = await tokens.consume(session, f"{account.id}:{code}", tokens.SMS_CODE)
    except Exception:  # LinkExpired: wrong, used or old code
        return None
    return str(token.data.get("phone") or "")


async def _wrong_setup_code(session: AsyncSession, account: Account) -> LoketError:
    """Count a wrong set-up code on the code texted last; the fifth kills it. Returned, not
    raised, so that the count is committed."""
    stmt = (
        select(Token)
        .where(
            Token.account_id == account.id,
            Token.purpose == tokens.SMS_CODE,
            Token.used_at.is_(None),
            Token.expires_at > utcnow(),
        )
        .order_by(Token.id.desc())
        .limit(1)
        .with_for_update()  # two wrong codes at once both count (SQLite: one writer anyway)
    )
    token = await session.scalar(stmt)
    if token is not None:
        tries = int(token.data.get("wrong", 0)) + 1
        token.data = {**token.data, "wrong": tries}
        if tries >= MAX_WRONG_CODES:
            token.used_at = utcnow()
            token = None
    if token is None:
        return TooManyAttempts(
            "Too many wrong codes: this code no longer works. Ask for a new one.", retry_after=0
        )
    return ValidationError("That code is not right.", field="code")


async def confirm_sms(session: AsyncSession, actor: Actor, code: str) -> list[str] | LoketError:
    """Switch SMS on with the code texted by ``begin_sms``; returns the recovery codes (once),
    or the error for a wrong code (returned so that its count is committed)."""
    account = await _account(session, actor)
    phone = await _take_sms_code(session, account, code)
    if not phone:
        return await _wrong_setup_code(session, account)
    account.phone = phone
    account.two_factor = TwoFactorMethod.SMS
    await throttle.clear(session, throttle.account_key(account.id, ""), throttle.SMS_LIMITS)
    audit.record(session, actor, "twofactor.enable", method="sms")
    return await _new_recovery_codes(session, account)


def setup_required(account: Account, settings: Settings) -> bool:
    """Whether ``account`` must set up two-step verification before anything else: a staff
    account without it, where the firm requires it for staff (on by default)."""
    return (
        settings.staff_two_factor_required
        and account.role is Role.STAFF
        and account.two_factor is TwoFactorMethod.NONE
    )


STAFF_MUST_KEEP = N_(
    "The firm requires two-step verification for staff: it cannot be switched off."
)


async def disable(session: AsyncSession, actor: Actor, settings: Settings, password: str) -> None:
    account = await _account(session, actor)
    if settings.staff_two_factor_required and account.role is Role.STAFF:
        raise ValidationError(STAFF_MUST_KEEP, field="password")
    if not await verify_password(account.password_hash, password):
        raise ValidationError("The password is not right.", field="password")
    account.two_factor = TwoFactorMethod.NONE
    account.totp_secret = None
    account.totp_last_step = None
    for row in await session.scalars(
        select(RecoveryCode).where(RecoveryCode.account_id == account.id)
    ):
        await session.delete(row)
    audit.record(session, actor, "twofactor.disable")


async def _use_recovery_code(session: AsyncSession, account: Account, code: str) -> bool:
    row = await session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.account_id == account.id,
            RecoveryCode.code_hash == _hash_code(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = utcnow()
    return True


async def _claim_step(session: AsyncSession, account: Account, step: int) -> bool:
    """Use up a TOTP time step, if no login has used it or a later one. Conditional, so of two
    logins sending one code at once (PostgreSQL runs them side by side) only one gets in."""
    claimed = await session.execute(
        update(Account)
        .where(
            Account.id == account.id,
            or_(Account.totp_last_step.is_(None), Account.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    set_committed_value(account, "totp_last_step", step)
    return True


async def check_code(
    session: AsyncSession, settings: Settings, account: Account, code: str
) -> str | None:
    """Which way ``code`` is right for ``account`` ("totp", "sms", "recovery"), or None.
    A right code is used up."""
    totp = account.two_factor is TwoFactorMethod.TOTP
    secret = totpsecrets.readable(settings, account) if totp else None
    if secret:
        step = _totp_step(secret, code)
        if step is not None and await _claim_step(session, account, step):
            totpsecrets.refresh(settings, account, secret)
            return "totp"
    if account.two_factor is TwoFactorMethod.SMS and await _take_sms_code(session, account, code):
        return "sms"
    if await _use_recovery_code(session, account, code):
        return "recovery"
    return None


@dataclass
class StepOutcome:
    """The result of a second-step code. A wrong code is returned, not raised, so that its
    count is committed with the unit of work."""

    cookie: str | None = None  # the new session id when the code was right
    error: LoketError | None = None  # TooManyAttempts while the account's codes are paused
    restart: bool = False  # the half-logged-in session has ended


ACCOUNT_PAUSED = N_("Too many wrong codes for this account. Try again in %(minutes)d minutes.")


async def second_step(
    session: AsyncSession, settings: Settings, live: sessions.LiveSession, code: str
) -> StepOutcome:
    """Finish logging in with a code. The fifth wrong code ends the half-logged-in session;
    wrong codes are also counted per account across logins (see core.throttle), and at the
    limit the second step pauses, whatever the code, and the account holder is told by mail."""
    # Work on this unit of work's own copies: ``live`` may come from another (read) session.
    row = await session.get(WebSession, live.row.id, with_for_update=True)
    account = await session.get(Account, live.account.id, populate_existing=True)
    if row is None or account is None:
        return StepOutcome(
            error=AuthenticationFailed("Too many wrong codes. Log in again."), restart=True
        )
    actor = Actor.of(account, Channel.WEB)
    key = throttle.account_key(account.id, "")
    # Counted before the code is checked, so codes sent in parallel cannot pass the limit.
    counted = await throttle.count(session, key, throttle.CODE_LIMITS)
    if counted.refuse_for:
        return StepOutcome(error=throttle.too_many(ACCOUNT_PAUSED, counted.refuse_for))
    way = await check_code(session, settings, account, code)
    if way is None:
        row.failed_codes += 1
        ended = row.failed_codes >= MAX_WRONG_CODES
        if ended:
            await sessions.end(session, row.id)
        audit.record(session, actor, "login.code_lockout" if ended else "login.code_failed")
        if counted.pause_for:
            error: LoketError = await _pause_codes(session, actor, account, counted)
        elif ended:
            error = AuthenticationFailed("Too many wrong codes. Log in again.")
        elif account.two_factor is TwoFactorMethod.TOTP and totpsecrets.unreadable(
            settings, account
        ):
            error = AuthenticationFailed(SECRET_UNREADABLE, field="code")
        elif _just_used(settings, account, code):
            error = AuthenticationFailed(JUST_USED, field="code")
        else:
            error = AuthenticationFailed("That code is not right.", field="code")
        return StepOutcome(error=error, restart=ended)
    # Texts that led to a login were no abuse: only codes texted for nothing use up the limit.
    await throttle.clear(session, key, throttle.CODE_LIMITS + throttle.SMS_LIMITS)
    audit.record(session, actor, "login.second_step", method=way)
    return StepOutcome(cookie=await sessions.rotate(session, row, stage=sessions.FULL))


JUST_USED = N_("This code was just used. Wait for the next one in your app.")


def _just_used(settings: Settings, account: Account, code: str) -> bool:
    """A right TOTP code of a time step a login has used already: the person is not wrong,
    only early (a code works once), so they are told to wait rather than "not right"."""
    if account.two_factor is not TwoFactorMethod.TOTP or account.totp_last_step is None:
        return False
    secret = totpsecrets.readable(settings, account)
    step = _totp_step(secret, code) if secret else None
    return step is not None and step <= account.totp_last_step


async def _pause_codes(
    session: AsyncSession, actor: Actor, account: Account, counted: throttle.Counted
) -> LoketError:
    """The wrong code that reached a per-account limit: from now on the second step waits,
    and the account holder hears of it, once for this pause."""
    audit.record(session, actor, "login.code_pause", seconds=counted.pause_for)
    account_mail(session, Kind.WRONG_CODES, account, data=happened_now(), key=counted.pause)
    return throttle.too_many(ACCOUNT_PAUSED, counted.pause_for)


async def recovery_codes_left(session: AsyncSession, account_id: int) -> int:
    rows = await session.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(list(rows))
