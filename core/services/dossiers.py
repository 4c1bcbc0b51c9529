"""Dossiers: creating them, their status and progress steps, and what a user sees of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, NotFound, ValidationError
from ..i18n import N_
from ..models import (
    FINISHED_STATUSES,
    Account,
    Client,
    Document,
    Dossier,
    DossierStatus,
    DossierStep,
    DownloadReceipt,
    IntermediaryOffice,
    Message,
    MessageRead,
    Role,
    utcnow,
)
from ..notifications import Kind, notify
from ..paging import capped_count
from ..validation import check_line, optional_text, required_text
from . import dossiercounts

NUMBER_MAX = 64
DESCRIPTION_MAX = 500
KIND_MAX = 100
PAGE_SIZE = 50

STATUS_LABELS = {
    DossierStatus.NEW: N_("New"),
    DossierStatus.IN_TREATMENT: N_("In treatment"),
    DossierStatus.WAITING_FOR_CLIENT: N_("Waiting for you"),
    DossierStatus.REPORT_READY: N_("Report ready"),
    DossierStatus.COMPLETED: N_("Completed"),
    DossierStatus.ARCHIVED: N_("Archived"),
}

# Status changes the client is told about.
_STATUS_NOTICES = {
    DossierStatus.IN_TREATMENT: Kind.DOSSIER_IN_TREATMENT,
    DossierStatus.REPORT_READY: Kind.REPORT_READY,
}


def parse_status(value: str) -> DossierStatus:
    try:
        return DossierStatus(value.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in DossierStatus)
        raise ValidationError(
            "'%(value)s' is not a dossier status; use one of: %(known)s.",
            field="status",
            value=value,
            known=known,
        ) from None


async def create_dossier(
    session: AsyncSession,
    actor: Actor,
    *,
    number: str,
    description: str,
    client_id: int,
    intermediary_id: int | None = None,
    visible_to_client: bool = True,
    handler_id: int | None = None,
    steps: list[str] | None = None,
    kind: str = "",
) -> Dossier:
    access.require(access.can_manage_firm(actor), "Only staff may add dossiers.")
    number = required_text(number, field="number", max_length=NUMBER_MAX)
    description = _description(description)
    kind = optional_text(kind, field="kind", max_length=KIND_MAX)
    if await session.get(Client, client_id) is None:
        raise NotFound("There is no client with id %(id)s.", id=client_id)
    await _check_intermediary(session, intermediary_id, visible_to_client)
    if handler_id is not None:
        await _check_handler(session, handler_id)
    if await session.scalar(select(Dossier.id).where(Dossier.number == number)) is not None:
        raise Conflict(
            "A dossier with number %(number)s already exists.", field="number", number=number
        )
    dossier = Dossier(
        number=number,
        description=description,
        kind=kind,
        client_id=client_id,
        intermediary_id=intermediary_id,
        visible_to_client=visible_to_client,
        handler_id=handler_id if handler_id is not None else actor.account_id,
    )
    session.add(dossier)
    await session.flush()
    await dossiercounts.add(session, {dossier.status: 1})
    for position, title in enumerate(steps or [], start=1):
        session.add(DossierStep(dossier_id=dossier.id, position=position, title=title))
    audit.record(session, actor, "dossier.create", dossier_id=dossier.id, subject=dossier)
    return dossier


def _description(value: str | None) -> str:
    description = check_line((value or "").strip(), field="description")
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(
            "The description may be at most %(max)d characters long.",
            field="description",
            max=DESCRIPTION_MAX,
        )
    return description


async def _check_intermediary(
    session: AsyncSession, intermediary_id: int | None, visible_to_client: bool
) -> None:
    if (
        intermediary_id is not None
        and await session.get(IntermediaryOffice, intermediary_id) is None
    ):
        raise NotFound("There is no intermediary with id %(id)s.", id=intermediary_id)
    # Without an office nobody but the firm would see the dossier: it is the client's.
    if not visible_to_client and intermediary_id is None:
        raise ValidationError(
            "Only a dossier with an intermediary can be hidden from the client.",
            field="visible_to_client",
        )


async def _check_handler(session: AsyncSession, handler_id: int) -> None:
    """A dossier is handled by one of the firm's active staff: they get its mail."""
    handler = await session.get(Account, handler_id)
    if handler is None or handler.role is not Role.STAFF or not handler.active:
        raise ValidationError(NOT_A_HANDLER, field="handler")


NOT_A_HANDLER = N_("The handler must be an active staff account.")


async def update_dossier(
    session: AsyncSession,
    actor: Actor,
    dossier_id: int,
    *,
    kind: str,
    description: str,
    handler_id: int | None,
    intermediary_id: int | None,
    visible_to_client: bool | None = None,
) -> Dossier:
    """Change what a dossier is about and who handles it, and (``visible_to_client``, None
    to leave it) whether the client sees a dossier of an intermediary office. Its number
    stays: mail and links carry it."""
    dossier = await access.visible_dossier(session, actor, dossier_id=dossier_id, for_update=True)
    access.require(access.can_manage_dossier(actor, dossier), "Only staff may change a dossier.")
    kind = optional_text(kind, field="kind", max_length=KIND_MAX)
    description = _description(description)
    if visible_to_client is None:
        visible_to_client = dossier.visible_to_client
    await _check_intermediary(session, intermediary_id, visible_to_client)
    if handler_id is not None and handler_id != dossier.handler_id:
        await _check_handler(session, handler_id)
    old = {
        "kind": dossier.kind,
        "description": dossier.description,
        "handler_id": dossier.handler_id,
        "intermediary_id": dossier.intermediary_id,
        "visible_to_client": dossier.visible_to_client,
    }
    new = {
        "kind": kind,
        "description": description,
        "handler_id": handler_id,
        "intermediary_id": intermediary_id,
        "visible_to_client": visible_to_client,
    }
    if new == old:
        return dossier
    dossier.kind, dossier.description = kind, description
    dossier.handler_id, dossier.intermediary_id = handler_id, intermediary_id
    dossier.visible_to_client = visible_to_client
    dossier.updated_at = utcnow()
    changed = {k: v for k, v in old.items() if new[k] != v}
    audit.record(session, actor, "dossier.update", dossier_id=dossier.id, old=changed)
    return dossier


async def kinds_in_use(session: AsyncSession, actor: Actor) -> list[str]:
    """The dossier kinds the firm uses, to suggest in the form."""
    access.require(access.can_manage_firm(actor), "Only staff may add dossiers.")
    return list(
        await session.scalars(
            select(Dossier.kind)
            .where(Dossier.kind != "")
            .distinct()
            .order_by(Dossier.kind)
            .limit(200)
        )
    )


async def set_status(
    session: AsyncSession, actor: Actor, number: str, status: DossierStatus | str
) -> Dossier:
    dossier = await access.visible_dossier(session, actor, number=number, for_update=True)
    new = status if isinstance(status, DossierStatus) else parse_status(status)
    await change_status(session, actor, dossier, new)
    return dossier


async def change_status(
    session: AsyncSession,
    actor: Actor,
    dossier: Dossier,
    new: DossierStatus,
    *,
    notify_client: bool = True,
) -> DossierStatus | None:
    """Move ``dossier`` (one ``actor`` sees) to ``new``; the new status, or None when it was
    there already. Moving to "in treatment" or "report ready" tells the client (or their
    intermediary) unless the caller tells them itself (``notify_client``)."""
    access.require(access.can_manage_dossier(actor, dossier), "Only staff may change a status.")
    old = dossier.status
    if new is old:
        return None
    dossier.status = new
    dossier.updated_at = utcnow()
    await dossiercounts.add(session, {old: -1, new: 1})
    audit.record(
        session, actor, "dossier.status", dossier_id=dossier.id, old=old.value, new=new.value
    )
    kind = _STATUS_NOTICES.get(new)
    if kind is not None and notify_client:
        await notify(
            session,
            kind,
            dossier,
            subject_key=f"dossier:{dossier.id}:{new.value}:{dossier.updated_at.isoformat()}",
            data={"status": new.value},
        )
    return new


async def add_step(session: AsyncSession, actor: Actor, number: str, title: str) -> DossierStep:
    dossier = await access.visible_dossier(session, actor, number=number)
    access.require(access.can_manage_dossier(actor, dossier), "Only staff may add steps.")
    title = required_text(title, field="title", max_length=500)
    last = await session.scalar(
        select(func.max(DossierStep.position)).where(DossierStep.dossier_id == dossier.id)
    )
    step = DossierStep(dossier_id=dossier.id, position=(last or 0) + 1, title=title)
    session.add(step)
    await session.flush()
    audit.record(session, actor, "step.add", dossier_id=dossier.id, subject=step)
    return step


async def tick_step(
    session: AsyncSession, actor: Actor, number: str, position: int, *, done: bool = True
) -> DossierStep:
    dossier = await access.visible_dossier(session, actor, number=number)
    access.require(access.can_manage_dossier(actor, dossier), "Only staff may tick steps.")
    step = await session.scalar(
        select(DossierStep).where(
            DossierStep.dossier_id == dossier.id, DossierStep.position == position
        )
    )
    if step is None:
        raise NotFound(
            "Dossier %(number)s has no step %(position)d.", number=number, position=position
        )
    _tick(session, actor, step, done)
    dossier.updated_at = utcnow()
    return step


def _tick(session: AsyncSession, actor: Actor, step: DossierStep, done: bool) -> None:
    step.done_at = (step.done_at or utcnow()) if done else None
    step.done_by_id = (step.done_by_id or actor.account_id) if done else None
    audit.record(session, actor, "step.tick", dossier_id=step.dossier_id, subject=step, done=done)


async def tick_titled(
    session: AsyncSession, actor: Actor, dossier: Dossier, titles: list[str]
) -> list[int]:
    """Tick the dossier's steps with these titles (any case) that are not done yet; their
    positions. A title the dossier has no step for is passed over: a template serves dossiers
    with different steps."""
    access.require(access.can_manage_dossier(actor, dossier), "Only staff may tick steps.")
    wanted = {t.strip().casefold() for t in titles}
    if not wanted:
        return []
    ticked = []
    for step in await session.scalars(
        select(DossierStep)
        .where(DossierStep.dossier_id == dossier.id, DossierStep.done_at.is_(None))
        .order_by(DossierStep.position)
    ):
        if step.title.strip().casefold() in wanted:
            _tick(session, actor, step, True)
            ticked.append(step.position)
    return ticked


@dataclass
class DossierRow:
    dossier: Dossier
    steps_done: int
    steps_total: int
    client_name: str = ""


@dataclass
class DossierList:
    rows: list[DossierRow]
    in_progress: int
    total: int
    matching: int
    # Where counts are capped (a search over the whole firm): more than ``matching`` match.
    more_than: bool = False
    page: int = 1
    size: int = PAGE_SIZE

    @property
    def has_next(self) -> bool:
        return self.more_than or self.page * self.size < self.matching


_LIMIT = "page_limit"
_OFFSET = "page_offset"
_PLAIN: dict[Any, tuple[Any, Any]] = {}


def _counts_statement(visible: Any, matching_filter: Any) -> Any:
    """How many dossiers the actor sees, how many of them are in progress, how many match."""
    in_progress_case = case((Dossier.status.not_in(list(FINISHED_STATUSES)), 1), else_=0)
    return select(
        func.count(Dossier.id),
        func.coalesce(func.sum(in_progress_case), 0),
        func.count(Dossier.id).filter(matching_filter),
    ).where(visible)


def _page_statement(matching_filter: Any, limit: Any, offset: Any) -> Any:
    """The page's rows with their progress and client name in one statement: the step
    counts are correlated subqueries over dossier_steps' index, probed for the page only."""
    steps = select(func.count(DossierStep.id)).where(DossierStep.dossier_id == Dossier.id)
    done = steps.where(DossierStep.done_at.is_not(None))
    return (
        select(Dossier, done.scalar_subquery(), steps.scalar_subquery(), Client.name)
        .outerjoin(Client, Client.id == Dossier.client_id)
        .where(matching_filter)
        .order_by(Dossier.updated_at.desc(), Dossier.id.desc())
        .limit(limit)
        .offset(offset)
    )


async def list_dossiers(
    session: AsyncSession,
    actor: Actor,
    *,
    search: str | None = None,
    status: DossierStatus | str | None = None,
    limit: int = PAGE_SIZE,
    offset: int = 0,
    page: int | None = None,
    client_id: int | None = None,
    capped: bool = False,
) -> DossierList:
    """The dossiers ``actor`` may see, newest activity first, with the tile's counts.

    ``search`` matches the number, the description, the kind and the client's name;
    ``page`` (from 1) takes the place of ``offset``. ``capped``: count the dossiers a search
    or a client's page matches up to paging.COUNT_CAP only (others: skip the tile's counts),
    so a page over a big firm never counts every dossier. The staff's totals, and what a
    status alone matches, come from the kept counts (dossiercounts). A fixed number of
    statements whatever the size of the database.
    """
    visible = access.visible_dossiers(actor)
    filters = [visible]
    narrowed = False  # by more than a status: the kept counts cannot say how many match
    if search and search.strip():
        term = search.strip()
        named = select(Client.id).where(Client.name.icontains(term, autoescape=True))
        filters.append(
            or_(
                Dossier.number.icontains(term, autoescape=True),
                Dossier.description.icontains(term, autoescape=True),
                Dossier.kind.icontains(term, autoescape=True),
                Dossier.client_id.in_(named),
            )
        )
        narrowed = True
    wanted = None
    if status:
        wanted = status if isinstance(status, DossierStatus) else parse_status(status)
        filters.append(Dossier.status == wanted)
    if client_id is not None:
        filters.append(Dossier.client_id == client_id)
        narrowed = True
    if page is not None:
        offset = (page - 1) * limit
    matching_filter = and_(*filters)
    more_than = False
    counts: tuple[Any, ...]
    # The list as most pages show it (no search, no status): its statements built once for
    # every actor of a kind (see access.visible_dossiers_bound), the actor's ids and the
    # page given when they run.
    plain: tuple[Any, Any] | None = None
    parameters: dict[str, Any] = {}
    if not narrowed and wanted is None:
        key, bound, parameters = access.visible_dossiers_bound(actor)
        plain = _PLAIN.get(key)
        if plain is None:
            plain = _PLAIN[key] = (
                _counts_statement(bound, and_(bound)),
                _page_statement(
                    and_(bound), bindparam(_LIMIT, type_=Integer), bindparam(_OFFSET, type_=Integer)
                ),
            )
        parameters = {**parameters, _LIMIT: limit, _OFFSET: offset}
    if access.sees_every_dossier(actor):
        per_status = await dossiercounts.by_status(session)
        total = sum(per_status.values())
        in_progress = sum(n for s, n in per_status.items() if s not in FINISHED_STATUSES)
        if not narrowed:
            matching = per_status.get(wanted, 0) if wanted is not None else total
        elif capped:
            ids = select(Dossier.id).where(matching_filter)
            matching, more_than = await capped_count(session, ids)
        else:
            matching = await session.scalar(select(func.count(Dossier.id)).where(matching_filter))
        counts = (total, in_progress, matching or 0)
    elif capped:
        matching, more_than = await capped_count(session, select(Dossier.id).where(matching_filter))
        counts = (0, 0, matching)
    elif plain is not None:
        counts = tuple((await session.execute(plain[0], parameters)).one())
    else:
        counts = tuple((await session.execute(_counts_statement(visible, matching_filter))).one())
    rows = [
        DossierRow(dossier, n_done, n_total, client_name=name or "")
        for dossier, n_done, n_total, name in await session.execute(
            plain[1] if plain is not None else _page_statement(matching_filter, limit, offset),
            parameters,
        )
    ]
    return DossierList(
        rows=rows,
        total=counts[0],
        in_progress=int(counts[1]),
        matching=counts[2],
        more_than=more_than,
        page=page or 1,
        size=limit,
    )


TABS = ("correspondence", "document", "delivered", "messages")


@dataclass
class DossierView:
    dossier: Dossier
    steps: list[DossierStep]
    unread: dict[str, int] = field(default_factory=dict)
    client_name: str = ""
    office_name: str = ""  # the intermediary office's, if any

    @property
    def steps_done(self) -> int:
        return sum(1 for s in self.steps if s.done_at is not None)


def _unread_statement() -> Any:
    me = bindparam("reader_id", type_=Integer)
    dossier_id = bindparam("in_dossier", type_=Integer)
    # Both in one statement: the documents per category, and the messages under "messages".
    documents = (
        select(cast(Document.category, String), func.count(Document.id))
        .outerjoin(
            DownloadReceipt,
            and_(DownloadReceipt.document_id == Document.id, DownloadReceipt.account_id == me),
        )
        .where(
            Document.dossier_id == dossier_id,
            DownloadReceipt.id.is_(None),
            or_(Document.uploaded_by_id.is_(None), Document.uploaded_by_id != me),
        )
        .group_by(Document.category)
    )
    messages = (
        select(literal("messages", String), func.count(Message.id))
        .outerjoin(
            MessageRead,
            and_(MessageRead.message_id == Message.id, MessageRead.account_id == me),
        )
        .where(
            Message.dossier_id == dossier_id,
            MessageRead.id.is_(None),
            or_(Message.author_id.is_(None), Message.author_id != me),
        )
    )
    return union_all(documents, messages)


# Built once: every dossier page runs it, and building it cost more than running it.
_UNREAD = _unread_statement()


async def unread_counts(session: AsyncSession, actor: Actor, dossier_id: int) -> dict[str, int]:
    """Per tab, what ``actor`` has not opened yet: documents not downloaded (other than their
    own uploads) and messages not read (other than their own)."""
    counts = dict.fromkeys(TABS, 0)
    if actor.account_id is None:
        return counts
    parameters = {"reader_id": actor.account_id, "in_dossier": dossier_id}
    for tab, n in await session.execute(_UNREAD, parameters):
        counts[tab] = n or 0
    return counts


@dataclass
class News:
    """What is new for someone across the dossiers they see (the Home tiles)."""

    messages: int = 0
    documents: int = 0


async def news(session: AsyncSession, actor: Actor) -> News:
    """Messages not read and documents not downloaded by ``actor``, other than their own, in
    every dossier they see: the same rule as a dossier's tabs (unread_counts). Staff have
    their inbox instead; they get nothing here."""
    if actor.account_id is None or actor.is_staff:
        return News()
    me = actor.account_id
    seen = select(Dossier.id).where(access.visible_dossiers(actor))
    documents = await session.scalar(
        select(func.count(Document.id))
        .outerjoin(
            DownloadReceipt,
            and_(DownloadReceipt.document_id == Document.id, DownloadReceipt.account_id == me),
        )
        .where(
            Document.dossier_id.in_(seen),
            DownloadReceipt.id.is_(None),
            or_(Document.uploaded_by_id.is_(None), Document.uploaded_by_id != me),
        )
    )
    messages = await session.scalar(
        select(func.count(Message.id))
        .outerjoin(
            MessageRead, and_(MessageRead.message_id == Message.id, MessageRead.account_id == me)
        )
        .where(
            Message.dossier_id.in_(seen),
            MessageRead.id.is_(None),
            or_(Message.author_id.is_(None), Message.author_id != me),
        )
    )
    return News(messages=messages or 0, documents=documents or 0)


# Its steps in the same statement (a tuple: access.visible_dossier builds the statement once).
_WITH_STEPS = (joinedload(Dossier.steps),)


async def open_dossier(
    session: AsyncSession,
    actor: Actor,
    *,
    number: str | None = None,
    dossier_id: int | None = None,
) -> DossierView:
    """A dossier with its progress steps and its tabs' unread counts."""
    dossier = await access.visible_dossier(
        session,
        actor,
        number=number,
        dossier_id=dossier_id,
        options=_WITH_STEPS,
    )
    return DossierView(
        dossier=dossier,
        steps=list(dossier.steps),
        unread=await unread_counts(session, actor, dossier.id),
        **await party_names(session, dossier),
    )


async def party_names(session: AsyncSession, dossier: Dossier) -> dict[str, str]:
    """The client's name and the intermediary office's, which every page about a dossier
    shows beside its number (for whoever may see the dossier)."""
    client = await session.get(Client, dossier.client_id)
    office = (
        await session.get(IntermediaryOffice, dossier.intermediary_id)
        if dossier.intermediary_id is not None
        else None
    )
    return {
        "client_name": client.name if client is not None else "",
        "office_name": office.name if office is not None else "",
    }
