"""My details: language, notification settings, and a company's extra accounts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access, audit
from ..actor import Actor
from ..errors import NotFound, ValidationError
from ..models import Account, Client, Language, Role
from ..notifications import CHANNELS, OPTIONAL_KINDS
from . import sessions
from .accounts import create_account


async def my_account(session: AsyncSession, actor: Actor) -> Account:
    account = await session.get(Account, actor.account_id)
    if account is None or not account.active:
        raise NotFound("There is no such account.")
    return account


async def set_language(session: AsyncSession, actor: Actor, language: str) -> Account:
    try:
        chosen = Language(language)
    except ValueError:
        raise ValidationError("Choose Dutch or English.", field="language") from None
    account = await my_account(session, actor)
    account.language = chosen
    audit.record(session, actor, "profile.language", language=chosen.value)
    return account


async def set_notifications(
    session: AsyncSession, actor: Actor, wanted: set[tuple[str, str]]
) -> Account:
    """``wanted`` holds (kind, channel) pairs that are on; every other optional pair is off.
    Without a linked chat the Telegram choices cannot be made (the page shows them disabled),
    so they stay as they were rather than all turning off."""
    account = await my_account(session, actor)
    before = account.notifications or {}

    def on(kind: str, channel: str) -> bool:
        if channel == "telegram" and account.telegram_chat_id is None:
            return bool(before.get(kind, {}).get(channel, True))
        return (kind, channel) in wanted

    account.notifications = {
        kind.value: {channel: on(kind.value, channel) for channel in CHANNELS}
        for kind in OPTIONAL_KINDS
    }
    audit.record(session, actor, "profile.notifications")
    return account


async def _own_client(session: AsyncSession, actor: Actor) -> Client:
    client = await session.get(Client, actor.client_id) if actor.client_id else None
    if client is None:
        raise NotFound("There is no such account.")
    return client


async def manages_company_accounts(session: AsyncSession, actor: Actor) -> bool:
    """Whether the actor may manage the accounts of their own company (its main account)."""
    if actor.client_id is None:
        return False
    return access.can_manage_company_accounts(actor, await _own_client(session, actor))


async def company_accounts(session: AsyncSession, actor: Actor) -> list[Account]:
    """The accounts of the actor's company, for its main account (and staff)."""
    client = await _own_client(session, actor)
    access.require(access.can_manage_company_accounts(actor, client))
    return list(
        await session.scalars(
            select(Account)
            .where(Account.client_id == actor.client_id, Account.active.is_(True))
            .order_by(Account.is_main.desc(), Account.id)
        )
    )


async def add_company_account(
    session: AsyncSession, actor: Actor, *, name: str, email: str, username: str | None = None
) -> Account:
    client = await _own_client(session, actor)
    access.require(
        access.can_manage_company_accounts(actor, client),
        "Only the company's main account may add accounts.",
    )
    account = await create_account(
        session,
        actor,
        email=email,
        username=username or None,
        name=name,
        role=Role.CLIENT,
        client_id=actor.client_id,
        language=actor.language,
    )
    audit.record(session, actor, "company.add_account", subject=account)
    return account


async def remove_company_account(session: AsyncSession, actor: Actor, account_id: int) -> None:
    account = await session.get(Account, account_id)
    if (
        account is None
        or not account.active
        or actor.client_id is None
        or account.client_id != actor.client_id
    ):
        raise NotFound("There is no such account.")
    access.require(
        access.can_manage_company_accounts(actor, await _own_client(session, actor)),
        "Only the company's main account may remove accounts.",
    )
    if account.is_main:
        raise ValidationError("The main account cannot be removed.")
    account.active = False
    await sessions.end_all(session, account.id)
    audit.record(session, actor, "company.remove_account", subject=account)


async def dossier_accounts(session: AsyncSession, actor: Actor, dossier_id: int) -> list[Account]:
    """The client's accounts on a dossier, for staff (to invite them, for instance)."""
    dossier = await access.visible_dossier(session, actor, dossier_id=dossier_id)
    access.require(access.can_manage_dossier(actor, dossier))
    return list(
        await session.scalars(
            select(Account)
            .where(Account.client_id == dossier.client_id, Account.active.is_(True))
            .order_by(Account.is_main.desc(), Account.id)
        )
    )
