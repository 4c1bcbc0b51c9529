"""Accounts' lifecycle: invitation, verifying the address, setting a password, logging in.

The invitation runs in three mails: (1) a link to verify the address; (2) once the client has
typed the address the invitation went to, a link to set a password; (3) once set, a
confirmation. "Forgot password" sends mail (2) again and answers the same whether or not the
address is known.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access, audit, throttle, tokens
from ..actor import Actor
from ..clock import HAPPENED_AT
from ..db import Database
from ..errors import (
    AuthenticationFailed,
    LinkExpired,
    LoketError,
    NotFound,
    ValidationError,
)
from ..i18n import N_
from ..models import (
    Account,
    Channel,
    Client,
    OutboxItem,
    OutboxStatus,
    TwoFactorMethod,
    utcnow,
)
from ..notifications import INVITATION_LINK, Kind, account_mail, join_invitation
from ..outbox import withdraw_pending
from ..passwords import check_password_rule, hash_password, verify_password
from ..settings import Settings
from . import sessions

MAX_EMAIL_TRIES = 5
# A hash to verify against when the account is unknown, so both cases take as long.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$cVhIrmLor37oJeGlUWskYA$"
    "6b3m+5TbtIGoAVVHeKTa9y2YZ7maOm0oiGsXkMzPpkI"
)


def _link(settings: Settings, path: str) -> str:
    return settings.public_url.rstrip("/") + path


WITHDRAWN = "withdrawn: a newer invitation replaced it"


async def _unjoin_invitation(session: AsyncSession, account: Account) -> None:
    """An invitation joined with a waiting notification leaves it (its link dies with the new
    invitation); the notification still goes."""
    joined = select(OutboxItem).where(
        OutboxItem.account_id == account.id,
        OutboxItem.kind != Kind.INVITATION.value,
        OutboxItem.status == OutboxStatus.PENDING,
    )
    if session.get_bind().dialect.name == "postgresql":
        joined = joined.with_for_update(skip_locked=True)
    for item in await session.scalars(joined):
        if INVITATION_LINK in (item.payload or {}):
            item.payload = {
                k: v
                for k, v in item.payload.items()
                if k not in (INVITATION_LINK, tokens.LINK_TOKEN)
            }


async def invite(session: AsyncSession, actor: Actor, settings: Settings, account: Account) -> str:
    """Send (or resend) the invitation; a resent one kills the earlier link. Returns the raw
    token (for the caller's tests and the demo; it is only ever mailed to the client)."""
    if account.role.value == "client":
        client = await session.get(Client, account.client_id) if account.client_id else None
        allowed = client is not None and access.can_manage_company_accounts(actor, client)
    else:
        allowed = access.can_manage_firm(actor)
    access.require(allowed, "You may not invite this account.")
    await withdraw_pending(session, account.id, WITHDRAWN, kind=Kind.INVITATION.value)
    await _unjoin_invitation(session, account)
    raw = await tokens.issue(
        session, account, tokens.INVITATION, dt.timedelta(hours=settings.invitation_ttl_hours)
    )
    link = _link(settings, f"/invite/{raw}")
    # A notification for the account still waiting in the outbox carries the invitation:
    # one mail, not two at the same moment.
    if not await join_invitation(session, account, link, tokens.digest(raw)):
        account_mail(
            session,
            Kind.INVITATION,
            account,
            data={"secret_link": link},
            key=tokens.digest(raw)[:16],
            token=raw,
        )
    audit.record(session, actor, "account.invite", subject=account)
    return raw


async def invitation_account(session: AsyncSession, raw: str) -> Account:
    token = await tokens.find(session, raw, tokens.INVITATION)
    account = await session.get(Account, token.account_id)
    if account is None or not account.active:
        raise LinkExpired("This link is no longer valid.")
    return account


async def verify_email(
    session: AsyncSession, settings: Settings, raw: str, email: str
) -> LoketError | None:
    """Step two of the invitation: the client types the address the invitation went to.

    None when it matches (the set-password mail is queued). A wrong address is returned, not
    raised, so that its count is committed; the fifth kills the link.
    """
    token = await tokens.find(session, raw, tokens.INVITATION)
    account = await session.get(Account, token.account_id)
    if account is None or not account.active:
        raise LinkExpired("This link is no longer valid.")
    if (email or "").strip().lower() != account.email.lower():
        tries = int(token.data.get("wrong", 0)) + 1
        token.data = {**token.data, "wrong": tries}
        if tries >= MAX_EMAIL_TRIES:
            token.used_at = utcnow()
            return LinkExpired(
                "Too many wrong addresses: this link no longer works. Ask us for a new one."
            )
        return ValidationError(
            "That is not the address this invitation was sent to.", field="email"
        )
    await tokens.consume(session, raw, tokens.INVITATION)
    account.email_verified_at = utcnow()
    await send_password_link(session, settings, account)
    audit.record(session, Actor.of(account, Channel.WEB), "account.verify_email", subject=account)
    return None


async def send_password_link(session: AsyncSession, settings: Settings, account: Account) -> str:
    raw = await tokens.issue(
        session,
        account,
        tokens.SET_PASSWORD,
        dt.timedelta(minutes=settings.password_link_ttl_minutes),
    )
    account_mail(
        session,
        Kind.SET_PASSWORD,
        account,
        data={
            "secret_link": _link(settings, f"/password/{raw}"),
            "minutes": settings.password_link_ttl_minutes,
        },
        key=tokens.digest(raw)[:16],
        token=raw,
    )
    return raw


async def forgot_password(
    session: AsyncSession, settings: Settings, identifier: str, *, address: str
) -> None:
    """Mail a set-password link if ``identifier`` names one active account; silent otherwise,
    so the answer does not tell who has an account.

    Bounded so that nobody can bury an inbox in links: an address that asks too often is told
    to wait (counted whether or not the account exists, so the refusal tells nothing); an
    account asked for too often quietly gets no more mail for a while."""
    refused = await throttle.count(session, address[:200], (throttle.FORGOT_PER_ADDRESS,))
    if refused.refuse_for:
        raise throttle.too_many(
            N_("Too many attempts. Try again in %(minutes)d minutes."), refused.refuse_for
        )
    try:
        account = await find_login_account(session, identifier)
    except NotFound:
        return
    key = throttle.account_key(account.id, identifier)
    if (await throttle.count(session, key, (throttle.FORGOT_PER_ACCOUNT,))).refuse_for:
        return
    await send_password_link(session, settings, account)
    audit.record(session, Actor.of(account, Channel.WEB), "account.forgot_password")


async def password_link_account(session: AsyncSession, raw: str) -> Account:
    token = await tokens.find(session, raw, tokens.SET_PASSWORD)
    account = await session.get(Account, token.account_id)
    if account is None or not account.active:
        raise LinkExpired("This link is no longer valid.")
    return account


def check_new_password(password: str, repeat: str) -> None:
    if password != repeat:
        raise ValidationError("The two passwords are not the same.", field="repeat")
    check_password_rule(password)


async def _store_password(
    session: AsyncSession, account: Account, password: str, *, keep_session: int | None
) -> None:
    account.password_hash = await hash_password(password)
    account.password_changed_at = utcnow()
    # A new password kills every outstanding link and every other login.
    await tokens.revoke(session, account.id, tokens.INVITATION, tokens.SET_PASSWORD)
    await sessions.end_all(session, account.id, keep=keep_session)
    account_mail(
        session,
        Kind.PASSWORD_SET,
        account,
        data={HAPPENED_AT: account.password_changed_at.isoformat()},
        key=account.password_changed_at.isoformat(),
    )


async def set_password_with_link(
    session: AsyncSession, settings: Settings, raw: str, password: str, repeat: str
) -> Account:
    """Step three: set the password through the mailed link. The caller then logs the
    account in (asking the second step first if it has one)."""
    account = await password_link_account(session, raw)
    check_new_password(password, repeat)
    await tokens.consume(session, raw, tokens.SET_PASSWORD)
    if account.email_verified_at is None:
        account.email_verified_at = utcnow()
    await _store_password(session, account, password, keep_session=None)
    audit.record(session, Actor.of(account, Channel.WEB), "account.set_password", subject=account)
    return account


async def change_password(
    session: AsyncSession,
    actor: Actor,
    current: str,
    password: str,
    repeat: str,
    *,
    keep_session: int | None,
) -> None:
    account = await session.get(Account, actor.account_id)
    if account is None:
        raise NotFound("There is no such account.")
    if not await verify_password(account.password_hash, current):
        raise ValidationError("The current password is not right.", field="current")
    check_new_password(password, repeat)
    await _store_password(session, account, password, keep_session=keep_session)
    audit.record(session, actor, "account.change_password", subject=account)


async def find_login_account(session: AsyncSession, identifier: str) -> Account:
    """The active account named by username, or by email address where exactly one account
    has it."""
    identifier = (identifier or "").strip()
    if not identifier or len(identifier) > 320:
        raise NotFound("There is no such account.")
    active = Account.active.is_(True)
    account = await session.scalar(
        select(Account).where(func.lower(Account.username) == identifier.lower(), active)
    )
    if account is None and "@" in identifier:
        found = list(
            await session.scalars(
                select(Account)
                .where(func.lower(Account.email) == identifier.lower(), active)
                .limit(2)
            )
        )
        account = found[0] if len(found) == 1 else None
    if account is None:
        raise NotFound("There is no such account.")
    return account


@dataclass
class LoginResult:
    account: Account
    cookie: str
    session_id: int
    complete: bool  # False: the second step is still to come


Sleep = Callable[[float], Awaitable[object]]


async def login(
    db: Database,
    settings: Settings,
    identifier: str,
    password: str,
    address: str,
    *,
    sleep: Sleep = asyncio.sleep,
) -> LoginResult:
    """Check a username and password and open a session.

    Unlike other services this one runs its own short units of work: the try is counted (and
    committed) before the password is checked, so parallel guesses cannot all pass on the same
    count; and the deliberately slow hash must not run while a (SQLite) write lock is held.
    ``sleep`` waits out the slowing-down (tests pass a recorder).
    """
    async with db.read() as s:
        try:
            account: Account | None = await find_login_account(s, identifier)
        except NotFound:
            account = None
    key = throttle.account_key(account.id if account else None, identifier)
    async with db.begin() as s:
        verdict = await throttle.count_login(s, settings, key, address)
    if verdict.refuse_for:
        raise throttle.too_many(
            N_(
                "Too many failed attempts. Try again in %(minutes)d minutes, or set a new "
                "password through 'Forgot password'."
            ),
            verdict.refuse_for,
        )
    if verdict.delay:
        await sleep(verdict.delay)
    ok = await verify_password(account.password_hash if account else _DUMMY_HASH, password or "")
    if not ok or account is None:
        async with db.begin() as s:
            audit.record(
                s,
                Actor.system(Channel.WEB),
                "login.failed",
                identifier=(identifier or "").strip().lower()[:64],
                address=address,
            )
        raise AuthenticationFailed("The username or password is not right.")
    async with db.begin() as s:
        await throttle.login_succeeded(s, verdict, key, address)
        complete = account.two_factor is TwoFactorMethod.NONE
        cookie, row = await sessions.create(
            s,
            settings,
            account,
            stage=sessions.FULL if complete else sessions.PASSWORD_ONLY,
            address=address,
        )
        audit.record(s, Actor.of(account, Channel.WEB), "login.password", address=address)
    return LoginResult(account=account, cookie=cookie, session_id=row.id, complete=complete)
