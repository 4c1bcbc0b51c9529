"""Accounts: creating them, finding them, naming them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access, audit, tokens
from ..actor import Actor
from ..errors import Conflict, NotFound, ValidationError
from ..i18n import N_
from ..models import Account, Language, Role, Token, utcnow
from ..outbox import withdraw_pending
from ..passwords import check_password_rule, hash_password
from ..validation import (
    USERNAME_MAX,
    clean_email,
    clean_username,
    optional_text,
    required_text,
)
from . import sessions
from .telegram import NOT_LINKED, TelegramStatus, telegram_status

USERNAME_TAKEN = N_("The username '%(username)s' is already taken.")
# Said to whoever adds the account, a company's main account too: it names no other account.
EMAIL_TAKEN = N_("This email address is already used by another account.")


async def email_taken(session: AsyncSession, email: str) -> bool:
    """Whether an account (active or not) has this address, whatever its case."""
    found = await session.scalar(
        select(Account.id).where(func.lower(Account.email) == email.lower()).limit(1)
    )
    return found is not None


async def username_taken(session: AsyncSession, username: str) -> bool:
    found = await session.scalar(
        select(Account.id).where(func.lower(Account.username) == username.lower())
    )
    return found is not None


async def free_username(session: AsyncSession, wish: str) -> str:
    """A free username built from ``wish`` (an email address: people recognise it)."""
    ascii_wish = unicodedata.normalize("NFKD", wish).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9._-]+", ".", ascii_wish.split("@")[0]).strip("._-").lower()
    base = (base or "user")[: USERNAME_MAX - 4]
    candidate, n = base, 1
    while await username_taken(session, candidate):
        n += 1
        candidate = f"{base}{n}"
    return candidate


async def create_account(
    session: AsyncSession,
    actor: Actor,
    *,
    email: str,
    role: Role,
    username: str | None = None,
    name: str = "",
    client_id: int | None = None,
    intermediary_id: int | None = None,
    is_main: bool = False,
    language: Language = Language.NL,
    password: str | None = None,
) -> Account:
    email = clean_email(email)
    if await email_taken(session, email):
        raise Conflict(EMAIL_TAKEN, field="email")
    name = optional_text(name, field="name", max_length=200)
    language = Language(language)
    if username is None:
        username = await free_username(session, email)
    else:
        username = clean_username(username)
        if await username_taken(session, username):
            raise Conflict(USERNAME_TAKEN, field="username", username=username)
    password_hash = None
    if password is not None:
        check_password_rule(password)
        password_hash = await hash_password(password)
    account = Account(
        username=username,
        email=email,
        name=name,
        role=role,
        language=language,
        client_id=client_id,
        intermediary_id=intermediary_id,
        is_main=is_main,
        password_hash=password_hash,
        notifications={},
    )
    try:
        async with session.begin_nested():
            session.add(account)
    except IntegrityError:
        # Another unit of work added the address or the username between our checks and this
        # insert (PostgreSQL; SQLite lets one writer in at a time), and a unique index refused
        # ours. Its row is committed now; the savepoint keeps this unit able to ask which.
        if await email_taken(session, email):
            raise Conflict(EMAIL_TAKEN, field="email") from None
        if await username_taken(session, username):
            raise Conflict(USERNAME_TAKEN, field="username", username=username) from None
        raise
    audit.record(session, actor, "account.create", subject=account, role=role.value)
    return account


async def create_staff(
    session: AsyncSession,
    actor: Actor,
    *,
    username: str,
    email: str,
    name: str = "",
    password: str | None = None,
    language: Language = Language.NL,
) -> Account:
    access.require(access.can_manage_firm(actor), "Only staff may add staff accounts.")
    # The username first: without a name it is also the name, and an empty one is the
    # username's fault, not the name's.
    username = clean_username(username)
    name = required_text(name or username, field="name", max_length=200)
    return await create_account(
        session,
        actor,
        username=username,
        email=email,
        name=name,
        role=Role.STAFF,
        password=password,
        language=language,
    )


async def account_by_username(session: AsyncSession, username: str) -> Account:
    account = await session.scalar(
        select(Account).where(func.lower(Account.username) == username.strip().lower())
    )
    if account is None:
        raise NotFound("There is no account '%(username)s'.", username=username)
    return account


async def list_accounts(session: AsyncSession, actor: Actor) -> list[Account]:
    """Every account (active or not), for staff and scripts."""
    access.require(access.can_manage_firm(actor), "Only staff may list accounts.")
    return list(await session.scalars(select(Account).order_by(Account.id)))


@dataclass(frozen=True)
class AccountState:
    """What staff see of an account at a glance."""

    account: Account
    invited: bool  # an invitation link is out and not used yet
    telegram: TelegramStatus

    @property
    def activated(self) -> bool:
        """A password is set: the account can log in (unless disabled)."""
        return self.account.password_hash is not None

    @property
    def disabled(self) -> bool:
        return not self.account.active

    @property
    def mail_failing(self) -> bool:
        return self.account.email_failing_since is not None


async def account_states(
    session: AsyncSession, actor: Actor, accounts: Sequence[Account]
) -> list[AccountState]:
    """The state of each account, in a fixed number of statements."""
    access.require(access.can_manage_firm(actor), "Only staff may list accounts.")
    ids = [a.id for a in accounts]
    invited: set[int] = set()
    if ids:
        invited = set(
            await session.scalars(
                select(Token.account_id).where(
                    Token.account_id.in_(ids),
                    Token.purpose == tokens.INVITATION,
                    Token.used_at.is_(None),
                    Token.expires_at > utcnow(),
                )
            )
        )
    chats = await telegram_status(session, accounts)
    return [AccountState(a, a.id in invited, chats.get(a.id, NOT_LINKED)) for a in accounts]


async def set_active(session: AsyncSession, actor: Actor, account_id: int, active: bool) -> Account:
    """Disable an account, or enable it again. A disabled account cannot log in (its sessions
    end now), gets no mail (what waits in the outbox is withdrawn) and its links (invitation,
    password) die; enabling it again restores the logins it had, not the links."""
    access.require(access.can_manage_firm(actor), "Only staff may disable accounts.")
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound("There is no such account.")
    if not active and account.id == actor.account_id:
        raise ValidationError(CANNOT_DISABLE_SELF)
    if account.active is active:
        return account
    account.active = active
    if not active:
        await sessions.end_all(session, account.id)
        await tokens.revoke(session, account.id)
        await withdraw_pending(session, account.id, DISABLED)
    audit.record(session, actor, "account.enable" if active else "account.disable", subject=account)
    return account


CANNOT_DISABLE_SELF = N_("You cannot disable your own account.")
DISABLED = "withdrawn: the account was disabled"


async def staff_accounts(session: AsyncSession, actor: Actor) -> list[Account]:
    """Active staff, by name: who can handle a dossier."""
    access.require(access.can_manage_firm(actor), "Only staff may list staff.")
    return list(
        await session.scalars(
            select(Account)
            .where(Account.role == Role.STAFF, Account.active.is_(True))
            .order_by(func.lower(Account.name), Account.id)
        )
    )
