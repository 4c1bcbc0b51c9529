"""The one place that decides who may see or change what.

Every service asks here; no adapter decides on its own. The rules:

- staff see and change everything;
- a client's accounts (a person's one account, or a company's main and extra accounts) see the
  client's dossiers, except those an intermediary keeps hidden from the client;
- an intermediary's accounts see every dossier of their office;
- whoever sees a dossier may read it, download its documents, write messages in it and deliver
  documents to it; only staff change its status or steps and publish documents;
- a company's main account manages the company's extra accounts;
- clients and intermediaries may link a Telegram chat to their own account; staff may not;
- checklists and questionnaires go by who they are given to (their assignees): staff read,
  answer and review every one; any other account reads and answers only a checklist given to
  that very account, and only while it sees the dossier. One exception: an intermediary
  office's accounts answer for their clients, so they read and answer every checklist on a
  dossier of their office, whoever it is given to. Nobody else's rules add to that: a
  company's main account does not see what is given to an extra account (nor the other way
  round), a client does not see what is given to the office, and one office sees nothing of
  another's. Only staff approve or send back a submission. Given to nobody in particular, a
  checklist goes to whoever is to fill it in and can see the dossier: the client's accounts,
  or, on a dossier hidden from the client, the intermediary office's accounts.

A dossier or a checklist someone may not see is reported as not found, never as forbidden, so
that its existence does not leak.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, and_, bindparam, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.interfaces import ORMOption

from .actor import Actor
from .errors import NotFound, PermissionDenied
from .i18n import N_
from .models import Checklist, ChecklistAssignee, Client, ClientKind, Dossier, Role


def visible_dossiers(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause on Dossier selecting what ``actor`` may see."""
    return _dossier_rule(actor.role, actor.client_id, actor.intermediary_id)


def _dossier_rule(role: Role, client_id: Any, intermediary_id: Any) -> ColumnElement[bool]:
    if role is Role.STAFF:
        return true()
    if role is Role.INTERMEDIARY and intermediary_id is not None:
        return Dossier.intermediary_id == intermediary_id
    if role is Role.CLIENT and client_id is not None:
        return and_(Dossier.client_id == client_id, Dossier.visible_to_client.is_(True))
    return false()


VISIBLE_CLIENT = "visible_client_id"
VISIBLE_OFFICE = "visible_intermediary_id"


def visible_dossiers_bound(actor: Actor) -> tuple[Any, ColumnElement[bool], dict[str, int]]:
    """visible_dossiers(actor) with the actor's ids as named parameters, given when the
    statement runs: ``(key, clause, parameters)``. Every actor of a kind gets the same clause
    (the same ``key``), so a statement built on it can be built once for all of them:
    building one costs more than running it."""
    key = (actor.role, actor.client_id is not None, actor.intermediary_id is not None)
    parameters = {
        name: value
        for name, value in (
            (VISIBLE_CLIENT, actor.client_id),
            (VISIBLE_OFFICE, actor.intermediary_id),
        )
        if value is not None
    }
    return key, _bound_rule(*key), parameters


@functools.cache
def _bound_rule(role: Role, has_client: bool, has_office: bool) -> ColumnElement[bool]:
    return _dossier_rule(
        role,
        bindparam(VISIBLE_CLIENT, type_=Integer) if has_client else None,
        bindparam(VISIBLE_OFFICE, type_=Integer) if has_office else None,
    )


def sees_every_dossier(actor: Actor) -> bool:
    """Whether visible_dossiers(actor) is every dossier (hidden ones and every office's
    included): then the firm's dossier counts are the actor's."""
    return actor.role is Role.STAFF


def visible_checklists(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause on Checklist (joined with its Dossier) selecting the checklists ``actor``
    may open: staff (and the system) and an intermediary's accounts every one on a dossier
    they see; a client's account the ones given to that account. The same rule as
    can_open_checklist."""
    return _checklist_rule(actor.role, actor.account_id, visible_dossiers(actor))


def _checklist_rule(
    role: Role, account_id: Any, dossiers: ColumnElement[bool]
) -> ColumnElement[bool]:
    if role is Role.STAFF:
        return dossiers
    if account_id is None:
        return false()
    if role is Role.INTERMEDIARY:
        # The office answers for its clients: every checklist on its own dossiers.
        return dossiers
    assigned = (
        select(ChecklistAssignee.id)
        .where(
            ChecklistAssignee.checklist_id == Checklist.id,
            ChecklistAssignee.account_id == account_id,
        )
        .exists()
    )
    return and_(dossiers, assigned)


VISIBLE_ACCOUNT = "visible_account_id"


def visible_checklists_bound(actor: Actor) -> tuple[Any, ColumnElement[bool], dict[str, int]]:
    """visible_checklists(actor) as visible_dossiers_bound gives visible_dossiers(actor): the
    same clause for every actor of a kind, the actor's ids given when the statement runs."""
    rule, _, parameters = visible_dossiers_bound(actor)
    key = (*rule, actor.account_id is not None)
    if actor.account_id is not None:
        parameters = {**parameters, VISIBLE_ACCOUNT: actor.account_id}
    return key, _bound_checklist_rule(*key), parameters


@functools.cache
def _bound_checklist_rule(
    role: Role, has_client: bool, has_office: bool, has_account: bool
) -> ColumnElement[bool]:
    return _checklist_rule(
        role,
        bindparam(VISIBLE_ACCOUNT, type_=Integer) if has_account else None,
        _bound_rule(role, has_client, has_office),
    )


def can_see_dossier(actor: Actor, dossier: Dossier) -> bool:
    if actor.role is Role.STAFF:
        return True
    if actor.role is Role.INTERMEDIARY:
        return (
            actor.intermediary_id is not None and dossier.intermediary_id == actor.intermediary_id
        )
    if actor.role is Role.CLIENT:
        return (
            actor.client_id is not None
            and dossier.client_id == actor.client_id
            and dossier.visible_to_client
        )
    return False


def can_open_checklist(actor: Actor, dossier: Dossier, assignee_ids: Collection[int]) -> bool:
    """Read and answer a checklist on ``dossier`` given to the accounts ``assignee_ids``."""
    if not can_see_dossier(actor, dossier):
        return False
    if actor.role is Role.STAFF:
        return True
    if actor.role is Role.INTERMEDIARY:
        return actor.account_id is not None
    return actor.account_id is not None and actor.account_id in assignee_ids


def can_manage_dossier(actor: Actor, dossier: Dossier) -> bool:
    """Status, progress steps, publishing documents: the firm's work."""
    return actor.role is Role.STAFF


def can_manage_company_accounts(actor: Actor, client: Client) -> bool:
    """A company's main account manages its extra accounts; a private person has one account
    and nothing to manage."""
    if actor.role is Role.STAFF:
        return True
    return (
        actor.role is Role.CLIENT
        and actor.is_main
        and actor.client_id == client.id
        and client.kind is ClientKind.COMPANY
    )


def can_link_telegram(actor: Actor) -> bool:
    """Link a Telegram chat to one's own account: the bot is the clients' channel (a client's
    accounts, an intermediary's logins), not the firm's."""
    return actor.account_id is not None and actor.role in (Role.CLIENT, Role.INTERMEDIARY)


def can_manage_firm(actor: Actor) -> bool:
    """Creating clients, intermediaries, staff and dossiers."""
    return actor.role is Role.STAFF


NOT_ALLOWED = N_("You may not do that.")


def require(allowed: bool, message: str = NOT_ALLOWED) -> None:
    if not allowed:
        raise PermissionDenied(message)


_DOSSIER_BY: dict[Any, Any] = {}
_DOSSIER_BY_MOST = 64


async def visible_dossier(
    session: AsyncSession,
    actor: Actor,
    *,
    dossier_id: int | None = None,
    number: str | None = None,
    options: Sequence[ORMOption] = (),
    for_update: bool = False,
) -> Dossier:
    """Load a dossier the actor may see, by id or number; NotFound otherwise."""
    if (dossier_id is None) == (number is None):
        raise ValueError("give exactly one of dossier_id and number")
    if dossier_id is not None and not options and not for_update:
        # A page opens the dossier and then asks each service for its part by id: the
        # session's identity map has it by then, so there is no second query.
        # can_see_dossier is the same rule as visible_dossiers (tests/test_access.py).
        dossier = await session.get(Dossier, dossier_id)
        if dossier is not None and not can_see_dossier(actor, dossier):
            dossier = None
    else:
        rule, visible, parameters = visible_dossiers_bound(actor)
        by_number = number is not None
        # Built once per kind of actor and way of asking: options given as a tuple (a
        # module's constant) take part; a list, made anew per call, would make a new key
        # each time.
        cached = isinstance(options, tuple)
        key = (rule, by_number, options, for_update) if cached else None
        stmt = _DOSSIER_BY.get(key) if cached else None
        if stmt is None:
            wanted = (
                Dossier.number == bindparam("dossier_number", type_=String)
                if by_number
                else Dossier.id == bindparam("dossier_key", type_=Integer)
            )
            stmt = select(Dossier).where(wanted, visible).options(*options)
            if for_update:
                stmt = stmt.with_for_update()
            if cached and len(_DOSSIER_BY) < _DOSSIER_BY_MOST:
                _DOSSIER_BY[key] = stmt
        if by_number:
            parameters = {**parameters, "dossier_number": number}
        else:
            parameters = {**parameters, "dossier_key": dossier_id}
        dossier = (await session.execute(stmt, parameters)).unique().scalar_one_or_none()
    if dossier is None:
        shown = number if number is not None else f"#{dossier_id}"
        raise NotFound("Dossier %(number)s was not found.", number=shown)
    return dossier


# Built once (every checklist page runs them; building one cost more than running it).
_CHECKLIST = (
    select(Checklist, Dossier)
    .join(Dossier, Dossier.id == Checklist.dossier_id)
    .where(Checklist.id == bindparam("checklist_id", type_=Integer))
)
_ASSIGNEES = select(ChecklistAssignee.account_id).where(
    ChecklistAssignee.checklist_id == bindparam("checklist_id", type_=Integer)
)


async def visible_checklist(
    session: AsyncSession, actor: Actor, checklist_id: int
) -> tuple[Checklist, Dossier, set[int]]:
    """Load a checklist the actor may open, with its dossier and the ids of the accounts it
    is given to; NotFound otherwise (also when only the dossier is visible)."""
    found = (await session.execute(_CHECKLIST, {"checklist_id": checklist_id})).first()
    if found is not None:
        checklist, dossier = found
        assignees = set(await session.scalars(_ASSIGNEES, {"checklist_id": checklist.id}))
        if can_open_checklist(actor, dossier, assignees):
            return checklist, dossier, assignees
    raise NotFound("This checklist was not found.")
