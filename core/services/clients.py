"""Clients (persons and companies) and intermediary offices."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .. import access, audit
from ..actor import Actor
from ..models import Account, Client, ClientKind, IntermediaryOffice, Language, Role
from ..validation import clean_email, required_text
from .accounts import create_account


async def create_client(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    email: str,
    kind: ClientKind = ClientKind.PERSON,
    username: str | None = None,
    language: Language = Language.NL,
) -> tuple[Client, Account]:
    """A client with its first account (for a company: the main account)."""
    access.require(access.can_manage_firm(actor), "Only staff may add clients.")
    name = required_text(name, field="name", max_length=200)
    client = Client(name=name, kind=kind)
    session.add(client)
    await session.flush()
    account = await create_account(
        session,
        actor,
        username=username,
        email=email,
        name=name,
        role=Role.CLIENT,
        client_id=client.id,
        is_main=True,
        language=language,
    )
    audit.record(session, actor, "client.create", subject=client, kind=kind.value)
    return client, account


async def create_intermediary(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    email: str,
    username: str | None = None,
) -> tuple[IntermediaryOffice, Account]:
    """An intermediary office with its general address and the office's login account."""
    access.require(access.can_manage_firm(actor), "Only staff may add intermediaries.")
    name = required_text(name, field="name", max_length=200)
    office = IntermediaryOffice(name=name, email=clean_email(email))
    session.add(office)
    await session.flush()
    account = await create_account(
        session,
        actor,
        username=username,
        email=office.email,
        name=name,
        role=Role.INTERMEDIARY,
        intermediary_id=office.id,
    )
    audit.record(session, actor, "intermediary.create", subject=office)
    return office, account
