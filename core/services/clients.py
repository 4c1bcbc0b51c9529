"""Clients (persons and companies) and intermediary offices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, NotFound, ValidationError
from ..models import Account, Client, ClientKind, Dossier, IntermediaryOffice, Language, Role
from ..paging import PAGE_SIZE, Page, capped_count
from ..validation import clean_email, required_text
from .accounts import EMAIL_TAKEN, create_account, email_taken


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


# --- for staff: lists, details, changes -----------------------------------------------------


@dataclass
class ClientRow:
    client: Client
    main: Account | None  # the first (main) account, for its address
    dossiers: int


@dataclass
class OfficeRow:
    office: IntermediaryOffice
    accounts: int
    dossiers: int


def _like(column: Any, term: str) -> ColumnElement[bool]:
    return column.icontains(term, autoescape=True)


async def _page_of(
    session: AsyncSession, ids: Select[Any], number: int, size: int
) -> tuple[list[int], int, bool]:
    count, more = await capped_count(session, ids)
    page_ids = list(await session.scalars(ids.limit(size).offset((number - 1) * size)))
    return page_ids, count, more


async def list_clients(
    session: AsyncSession,
    actor: Actor,
    *,
    search: str | None = None,
    number: int = 1,
    size: int = PAGE_SIZE,
) -> Page[ClientRow]:
    """Clients by name, a page at a time; ``search`` matches the name or an account's
    address or username."""
    access.require(access.can_manage_firm(actor), "Only staff may list clients.")
    ids = select(Client.id).order_by(func.lower(Client.name), Client.id)
    term = (search or "").strip()
    if term:
        by_account = select(Account.id).where(
            Account.client_id == Client.id,
            or_(_like(Account.email, term), _like(Account.username, term)),
        )
        ids = ids.where(or_(_like(Client.name, term), by_account.exists()))
    page_ids, count, more = await _page_of(session, ids, number, size)
    rows: list[ClientRow] = []
    if page_ids:
        found = {
            c.id: c for c in await session.scalars(select(Client).where(Client.id.in_(page_ids)))
        }
        mains: dict[int, Account] = {}
        for account in await session.scalars(
            select(Account)
            .where(Account.client_id.in_(page_ids))
            .order_by(Account.is_main.desc(), Account.id)
        ):
            mains.setdefault(account.client_id or 0, account)
        dossier_counts = dict(
            (
                await session.execute(
                    select(Dossier.client_id, func.count(Dossier.id))
                    .where(Dossier.client_id.in_(page_ids))
                    .group_by(Dossier.client_id)
                )
            ).all()
        )
        rows = [ClientRow(found[i], mains.get(i), dossier_counts.get(i, 0)) for i in page_ids]
    return Page(rows=rows, number=number, size=size, count=count, more_than=more)


async def list_intermediaries(
    session: AsyncSession,
    actor: Actor,
    *,
    search: str | None = None,
    number: int = 1,
    size: int = PAGE_SIZE,
) -> Page[OfficeRow]:
    access.require(access.can_manage_firm(actor), "Only staff may list intermediaries.")
    ids = select(IntermediaryOffice.id).order_by(
        func.lower(IntermediaryOffice.name), IntermediaryOffice.id
    )
    term = (search or "").strip()
    if term:
        ids = ids.where(
            or_(_like(IntermediaryOffice.name, term), _like(IntermediaryOffice.email, term))
        )
    page_ids, count, more = await _page_of(session, ids, number, size)
    rows: list[OfficeRow] = []
    if page_ids:
        found = {
            o.id: o
            for o in await session.scalars(
                select(IntermediaryOffice).where(IntermediaryOffice.id.in_(page_ids))
            )
        }
        accounts = dict(
            (
                await session.execute(
                    select(Account.intermediary_id, func.count(Account.id))
                    .where(Account.intermediary_id.in_(page_ids))
                    .group_by(Account.intermediary_id)
                )
            ).all()
        )
        dossier_counts = dict(
            (
                await session.execute(
                    select(Dossier.intermediary_id, func.count(Dossier.id))
                    .where(Dossier.intermediary_id.in_(page_ids))
                    .group_by(Dossier.intermediary_id)
                )
            ).all()
        )
        rows = [OfficeRow(found[i], accounts.get(i, 0), dossier_counts.get(i, 0)) for i in page_ids]
    return Page(rows=rows, number=number, size=size, count=count, more_than=more)


async def all_intermediaries(session: AsyncSession, actor: Actor) -> list[IntermediaryOffice]:
    """Every office by name, for choosing one on a dossier (firms work with a few)."""
    access.require(access.can_manage_firm(actor), "Only staff may list intermediaries.")
    return list(
        await session.scalars(
            select(IntermediaryOffice).order_by(func.lower(IntermediaryOffice.name)).limit(500)
        )
    )


async def get_client(session: AsyncSession, actor: Actor, client_id: int) -> Client:
    access.require(access.can_manage_firm(actor), "Only staff may open clients.")
    client = await session.get(Client, client_id)
    if client is None:
        raise NotFound("There is no client with id %(id)s.", id=client_id)
    return client


async def get_intermediary(
    session: AsyncSession, actor: Actor, office_id: int
) -> IntermediaryOffice:
    access.require(access.can_manage_firm(actor), "Only staff may open intermediaries.")
    office = await session.get(IntermediaryOffice, office_id)
    if office is None:
        raise NotFound("There is no intermediary with id %(id)s.", id=office_id)
    return office


async def client_accounts(session: AsyncSession, actor: Actor, client_id: int) -> list[Account]:
    """Every account of the client, disabled ones too, the main account first."""
    await get_client(session, actor, client_id)
    return list(
        await session.scalars(
            select(Account)
            .where(Account.client_id == client_id)
            .order_by(Account.is_main.desc(), Account.id)
        )
    )


async def office_accounts(session: AsyncSession, actor: Actor, office_id: int) -> list[Account]:
    await get_intermediary(session, actor, office_id)
    return list(
        await session.scalars(
            select(Account).where(Account.intermediary_id == office_id).order_by(Account.id)
        )
    )


async def update_client(
    session: AsyncSession, actor: Actor, client_id: int, *, name: str, kind: ClientKind
) -> Client:
    client = await get_client(session, actor, client_id)
    name = required_text(name, field="name", max_length=200)
    kind = ClientKind(kind)
    if kind is ClientKind.PERSON and client.kind is ClientKind.COMPANY:
        accounts = await session.scalar(
            select(func.count(Account.id)).where(Account.client_id == client.id)
        )
        if (accounts or 0) > 1:
            raise ValidationError(
                "A company with extra accounts cannot become a private person: disable "
                "the extra accounts first.",
                field="kind",
            )
    old = {"name": client.name, "kind": client.kind.value}
    client.name, client.kind = name, kind
    audit.record(session, actor, "client.update", subject=client, old=old)
    return client


async def add_client_account(
    session: AsyncSession,
    actor: Actor,
    client_id: int,
    *,
    name: str,
    email: str,
    username: str | None = None,
    language: Language = Language.NL,
) -> Account:
    """An extra account of a company (a private person has one account)."""
    client = await get_client(session, actor, client_id)
    if client.kind is not ClientKind.COMPANY:
        raise ValidationError(
            "Only a company has extra accounts; a private person has one.", field="email"
        )
    account = await create_account(
        session,
        actor,
        email=email,
        username=username or None,
        name=required_text(name, field="name", max_length=200),
        role=Role.CLIENT,
        client_id=client.id,
        language=language,
    )
    audit.record(session, actor, "company.add_account", subject=account, client_id=client.id)
    return account


async def update_intermediary(
    session: AsyncSession, actor: Actor, office_id: int, *, name: str, email: str
) -> IntermediaryOffice:
    """Rename an office or change its general address; the office's login account, which
    has that address, moves with it."""
    office = await get_intermediary(session, actor, office_id)
    name = required_text(name, field="name", max_length=200)
    email = clean_email(email)
    old = {"name": office.name, "email": office.email}
    if email.lower() != office.email.lower():
        login = await session.scalar(
            select(Account).where(
                Account.intermediary_id == office.id,
                func.lower(Account.email) == office.email.lower(),
            )
        )
        if await email_taken(session, email):
            raise Conflict(EMAIL_TAKEN, field="email")
        if login is not None:
            login.email = email
            login.email_verified_at = None
            login.email_failing_since = None
            login.email_failure_reason = None
    office.name, office.email = name, email
    audit.record(session, actor, "intermediary.update", subject=office, old=old)
    return office


async def add_intermediary_account(
    session: AsyncSession,
    actor: Actor,
    office_id: int,
    *,
    name: str,
    email: str,
    username: str | None = None,
    language: Language = Language.NL,
) -> Account:
    """Another login of an office, with its own address (its notifications still go to the
    office's general address)."""
    office = await get_intermediary(session, actor, office_id)
    account = await create_account(
        session,
        actor,
        email=email,
        username=username or None,
        name=required_text(name, field="name", max_length=200),
        role=Role.INTERMEDIARY,
        intermediary_id=office.id,
        language=language,
    )
    audit.record(session, actor, "intermediary.add_account", subject=account, office_id=office.id)
    return account
