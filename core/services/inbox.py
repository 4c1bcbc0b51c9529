"""The staff inbox: everything that came in across all dossiers, newest first, with read marks
per staff member.

An entry is a message (by web, mail or Telegram), a document that came on its own (delivered
by the client, or published by the firm), a submitted checklist or a "not available" answer.
The firm's own messages and documents are listed too, so that a colleague's reply shows, but
are never unread for staff.

One statement reads a page: each kind's newest rows by its own index (as many as the page
needs), the union of those in time order, then the dossier, client and author of the page's
rows. A few more read the page's checklist titles and question labels. Nothing runs per entry.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access, walker
from ..actor import Actor
from ..db import dialect_insert
from ..errors import NotFound, ValidationError
from ..i18n import N_
from ..models import (
    Account,
    Answer,
    Channel,
    Checklist,
    ChecklistTemplate,
    Client,
    Direction,
    Document,
    DocumentCategory,
    Dossier,
    DownloadReceipt,
    InboxRead,
    InboxReadUntil,
    Message,
    MessageRead,
    Role,
    utcnow,
)

PAGE_SIZE = 50
MAX_PAGES = 200  # deeper than this is a search's work, not an inbox's
UNREAD_CAP = 100  # "99+": counting further would read the whole history
MARK_ALL_FILTERED_MAX = 1000


class Kind(enum.StrEnum):
    MESSAGE = "message"
    DOCUMENT = "document"  # delivered by the client on its own (not attached to a message)
    CHECKLIST = "checklist"  # submitted
    NOT_AVAILABLE = "not_available"  # an answer "I do not have this (yet)"
    PUBLISHED = "published"  # a letter or document the firm published


KIND_LABELS = {
    Kind.MESSAGE: N_("Message"),
    Kind.DOCUMENT: N_("Delivered document"),
    Kind.CHECKLIST: N_("Submitted checklist"),
    Kind.NOT_AVAILABLE: N_("Not available"),
    Kind.PUBLISHED: N_("Published by the firm"),
}
# PostgreSQL reads an untyped NULL in a UNION as text.
_NO_ID = cast(null(), Integer)
_NO_TEXT = cast(null(), String)
CHANNEL_LABELS = {
    Channel.WEB: N_("Web"),
    Channel.EMAIL: N_("Email"),
    Channel.TELEGRAM: N_("Telegram"),
}


@dataclass(frozen=True)
class Filters:
    handler_id: int | None = None
    channel: Channel | None = None
    kind: Kind | None = None
    dossier_id: int | None = None
    unread_only: bool = False

    @property
    def narrowed(self) -> bool:
        return self != Filters()


@dataclass
class Entry:
    kind: Kind
    item_id: int
    at: dt.datetime
    dossier_number: str
    client_name: str
    channel: Channel | None
    from_firm: bool
    title: str
    author: str | None
    unread: bool
    # Where the entry leads: the checklist of an answer, a message, a dossier tab.
    checklist_id: int | None = None
    category: DocumentCategory | None = None
    detail: str | None = None  # a "not available" answer's reason

    @property
    def key(self) -> str:
        return f"{self.kind.value}-{self.item_id}"


@dataclass
class InboxPage:
    entries: list[Entry]
    offset: int
    limit: int
    has_more: bool
    unread: int  # at most UNREAD_CAP


def _require_staff(actor: Actor) -> int:
    access.require(access.can_manage_firm(actor), "Only staff have an inbox.")
    # The system (the CLI) has no inbox of its own: it reads as nobody.
    return actor.account_id if actor.account_id is not None else -1


def _newer(at: Any, read_until: bool) -> ColumnElement[bool]:
    return at > _P.read_until if read_until else literal(True)


def _unmarked(kind: Kind, item_id: Any, at: Any) -> ColumnElement[bool]:
    return ~(
        select(InboxRead.id)
        .where(
            InboxRead.account_id == _P.me,
            InboxRead.kind == kind.value,
            InboxRead.item_id == item_id,
            InboxRead.read_at >= at,
        )
        .exists()
    )


class _P:
    """The values a statement is run with; the statement itself is built once per shape."""

    me = bindparam("me", type_=Integer)
    read_until = bindparam("read_until", type_=Message.created_at.type)
    handler = bindparam("handler", type_=Integer)
    channel = bindparam("channel", type_=Message.channel.type)
    dossier = bindparam("dossier", type_=Integer)
    depth = bindparam("depth", type_=Integer)
    offset = bindparam("offset", type_=Integer)
    limit = bindparam("limit", type_=Integer)
    until = bindparam("until", type_=Message.created_at.type)


@dataclass(frozen=True)
class _Shape:
    """Which filters a statement has (not their values): the key of the statement cache."""

    kind: Kind | None
    handler: bool
    channel: bool
    dossier: bool
    unread_only: bool
    read_until: bool

    @classmethod
    def of(cls, f: Filters, read_until: dt.datetime | None) -> _Shape:
        return cls(
            f.kind,
            f.handler_id is not None,
            f.channel is not None,
            f.dossier_id is not None,
            f.unread_only,
            read_until is not None,
        )


def _params(
    me: int, read_until: dt.datetime | None, f: Filters, depth: int, **more: Any
) -> dict[str, Any]:
    values = {"me": me, "read_until": read_until, "depth": depth} | more
    values |= {"handler": f.handler_id, "channel": f.channel, "dossier": f.dossier_id}
    return {k: v for k, v in values.items() if v is not None}


def _branches(shape: _Shape) -> list[Select]:
    """Per kind, its newest ``depth`` rows that pass the filters, each with the same columns."""
    out: list[Select] = []

    def finish(stmt: Select, dossier_col: Any, at: Any, item: Any, unread: Any) -> Select:
        if shape.dossier:
            stmt = stmt.where(dossier_col == _P.dossier)
        if shape.handler:
            # As a check per row, not a join: a handler has a large share of the dossiers, and
            # the planner would otherwise read all their rows and sort them, instead of
            # walking the kind's newest rows and stopping at ``depth``.
            stmt = stmt.where(
                select(Dossier.id)
                .where(Dossier.id == dossier_col, Dossier.handler_id == _P.handler)
                .exists()
            )
        if shape.unread_only:
            stmt = stmt.where(unread)
        return stmt.order_by(at.desc(), item.desc()).limit(_P.depth)

    def wanted(*kinds: Kind) -> bool:
        return shape.kind is None or shape.kind in kinds

    if wanted(Kind.MESSAGE):
        incoming = Message.direction == Direction.INCOMING
        unread = and_(
            incoming,
            _newer(Message.created_at, shape.read_until),
            ~select(MessageRead.id)
            .where(MessageRead.message_id == Message.id, MessageRead.account_id == _P.me)
            .exists(),
        )
        stmt = select(
            literal(Kind.MESSAGE.value, String).label("kind"),
            Message.id.label("item_id"),
            Message.created_at.label("at"),
            Message.dossier_id.label("dossier_id"),
            Message.channel.label("channel"),
            case((incoming, 0), else_=1).label("from_firm"),
            Message.author_id.label("author_id"),
            Message.subject.label("title"),
            _NO_TEXT.label("category"),
            _NO_ID.label("checklist_id"),
            case((unread, 1), else_=0).label("unread"),
        )
        if shape.channel:
            stmt = stmt.where(Message.channel == _P.channel)
        out.append(finish(stmt, Message.dossier_id, Message.created_at, Message.id, unread))

    if wanted(Kind.DOCUMENT, Kind.PUBLISHED):
        delivered = Document.category == DocumentCategory.DELIVERED
        unread = and_(
            delivered,
            _newer(Document.created_at, shape.read_until),
            _unmarked(Kind.DOCUMENT, Document.id, Document.created_at),
            # Downloading it from the dossier page is reading it too.
            ~select(DownloadReceipt.id)
            .where(DownloadReceipt.document_id == Document.id, DownloadReceipt.account_id == _P.me)
            .exists(),
        )
        stmt = select(
            case((delivered, Kind.DOCUMENT.value), else_=Kind.PUBLISHED.value).label("kind"),
            Document.id.label("item_id"),
            Document.created_at.label("at"),
            Document.dossier_id.label("dossier_id"),
            Document.source_channel.label("channel"),
            case((delivered, 0), else_=1).label("from_firm"),
            Document.uploaded_by_id.label("author_id"),
            Document.filename.label("title"),
            Document.category.label("category"),
            _NO_ID.label("checklist_id"),
            case((unread, 1), else_=0).label("unread"),
        ).where(
            Document.message_id.is_(None),
            # A checklist's PDF is part of the submission's own entry.
            Document.checklist_id.is_(None),
        )
        if shape.kind is Kind.DOCUMENT:
            stmt = stmt.where(delivered)
        elif shape.kind is Kind.PUBLISHED:
            stmt = stmt.where(~delivered)
        if shape.channel:
            stmt = stmt.where(Document.source_channel == _P.channel)
        out.append(finish(stmt, Document.dossier_id, Document.created_at, Document.id, unread))

    if wanted(Kind.CHECKLIST):
        unread = and_(
            _newer(Checklist.submitted_at, shape.read_until),
            _unmarked(Kind.CHECKLIST, Checklist.id, Checklist.submitted_at),
        )
        stmt = (
            select(
                literal(Kind.CHECKLIST.value, String).label("kind"),
                Checklist.id.label("item_id"),
                Checklist.submitted_at.label("at"),
                Checklist.dossier_id.label("dossier_id"),
                Checklist.submitted_channel.label("channel"),
                literal(0, Integer).label("from_firm"),
                _NO_ID.label("author_id"),
                ChecklistTemplate.name.label("title"),
                _NO_TEXT.label("category"),
                Checklist.id.label("checklist_id"),
                case((unread, 1), else_=0).label("unread"),
            )
            .join(ChecklistTemplate, ChecklistTemplate.id == Checklist.template_id)
            .where(Checklist.submitted_at.is_not(None))
        )
        if shape.channel:
            stmt = stmt.where(Checklist.submitted_channel == _P.channel)
        out.append(finish(stmt, Checklist.dossier_id, Checklist.submitted_at, Checklist.id, unread))

    if wanted(Kind.NOT_AVAILABLE):
        unread = and_(
            _newer(Answer.updated_at, shape.read_until),
            _unmarked(Kind.NOT_AVAILABLE, Answer.id, Answer.updated_at),
        )
        stmt = (
            select(
                literal(Kind.NOT_AVAILABLE.value, String).label("kind"),
                Answer.id.label("item_id"),
                Answer.updated_at.label("at"),
                Checklist.dossier_id.label("dossier_id"),
                Answer.channel.label("channel"),
                literal(0, Integer).label("from_firm"),
                Answer.answered_by_id.label("author_id"),
                Answer.question_key.label("title"),
                _NO_TEXT.label("category"),
                Answer.checklist_id.label("checklist_id"),
                case((unread, 1), else_=0).label("unread"),
            )
            .join(Checklist, Checklist.id == Answer.checklist_id)
            # Written as the index's condition, so that SQLite uses the partial index.
            .where(Answer.not_available.is_(True))
        )
        if shape.channel:
            stmt = stmt.where(Answer.channel == _P.channel)
        out.append(finish(stmt, Checklist.dossier_id, Answer.updated_at, Answer.id, unread))
    return out


def _union(shape: _Shape) -> Any:
    # Each branch ordered and limited on its own (SQLite wants that inside a subquery).
    return union_all(*(select(b.subquery()) for b in _branches(shape))).subquery("inbox")


# Building one of these statements costs more than running it: each shape is built once, and
# SQLAlchemy's compiled cache then finds it by the key it memoises on the statement.
@functools.cache
def _page_statement(shape: _Shape) -> Select:
    u = _union(shape)
    author_name = func.coalesce(func.nullif(Account.name, ""), Account.username)
    return (
        select(u, Dossier.number, Client.name, author_name)
        .join(Dossier, Dossier.id == u.c.dossier_id)
        .join(Client, Client.id == Dossier.client_id)
        .outerjoin(Account, Account.id == u.c.author_id)
        .order_by(u.c.at.desc(), u.c.kind, u.c.item_id.desc())
        .offset(_P.offset)
        .limit(_P.limit)
    )


@functools.cache
def _count_statement(shape: _Shape) -> Select:
    u = _union(shape)
    return select(func.count()).select_from(select(u).limit(_P.depth).subquery())


@functools.cache
def _unread_items_statement(shape: _Shape) -> Select:
    u = _union(shape)
    return select(u.c.kind, u.c.item_id).where(u.c.at <= _P.until).limit(_P.depth)


async def _read_until(session: AsyncSession, me: int) -> dt.datetime | None:
    return await session.scalar(
        select(InboxReadUntil.read_until).where(InboxReadUntil.account_id == me)
    )


async def inbox(
    session: AsyncSession,
    actor: Actor,
    filters: Filters = Filters(),  # noqa: B008 (frozen: never changed)
    *,
    offset: int = 0,
    limit: int = PAGE_SIZE,
    language: str = "nl",
) -> InboxPage:
    """One page of the inbox for ``actor`` (staff), newest first."""
    me = _require_staff(actor)
    offset = max(0, min(offset, limit * MAX_PAGES))
    read_until = await _read_until(session, me)
    rows = (
        await session.execute(
            _page_statement(_Shape.of(filters, read_until)),
            _params(me, read_until, filters, offset + limit + 1, offset=offset, limit=limit + 1),
        )
    ).all()
    entries = [
        Entry(
            kind=Kind(r.kind),
            item_id=r.item_id,
            at=_utc(r.at),
            dossier_number=r.number,
            client_name=r.name,
            channel=Channel(r.channel) if r.channel else None,
            from_firm=bool(r.from_firm),
            title=r.title or "",
            author=r[-1],
            unread=bool(r.unread),
            checklist_id=r.checklist_id,
            category=DocumentCategory(r.category) if r.category else None,
        )
        for r in rows[:limit]
    ]
    await _describe(session, entries, language)
    return InboxPage(
        entries=entries,
        offset=offset,
        limit=limit,
        has_more=len(rows) > limit,
        unread=await unread_count(session, actor, read_until=read_until),
    )


def _utc(value: Any) -> dt.datetime:
    # A union's column has no model type to turn SQLite's text back into an aware datetime.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


async def _describe(session: AsyncSession, entries: list[Entry], language: str) -> None:
    """Checklist titles and question labels, in the reader's language, for the whole page."""
    checklist_ids = {e.checklist_id for e in entries if e.checklist_id is not None}
    if not checklist_ids:
        return
    templates = {
        cid: (title, definition)
        for cid, title, definition in await session.execute(
            select(Checklist.id, ChecklistTemplate.title, ChecklistTemplate.definition)
            .join(ChecklistTemplate, ChecklistTemplate.id == Checklist.template_id)
            .where(Checklist.id.in_(checklist_ids))
        )
    }
    answer_ids = [e.item_id for e in entries if e.kind is Kind.NOT_AVAILABLE]
    reasons: dict[int, str | None] = {}
    if answer_ids:
        found = await session.execute(
            select(Answer.id, Answer.not_available_reason).where(Answer.id.in_(answer_ids))
        )
        reasons = {answer_id: reason for answer_id, reason in found}
    for e in entries:
        if e.checklist_id not in templates:
            continue
        title, definition = templates[e.checklist_id]
        name = _in(title, language) or e.title
        if e.kind is Kind.CHECKLIST:
            e.title = name
        elif e.kind is Kind.NOT_AVAILABLE:
            try:
                label = _in(walker.question(definition, e.title).get("label"), language)
            except ValidationError:  # a key the template no longer has: show the key itself
                label = None
            e.title = f"{name}: {label or e.title}"
            e.detail = reasons.get(e.item_id)


def _in(text: dict[str, str] | str | None, language: str) -> str | None:
    if isinstance(text, str) or text is None:
        return text
    return text.get(language) or text.get("nl") or next(iter(text.values()), None)


async def unread_count(
    session: AsyncSession,
    actor: Actor,
    *,
    read_until: dt.datetime | None = None,
    cap: int = UNREAD_CAP,
) -> int:
    """How many entries ``actor`` has not read, counted up to ``cap``."""
    me = _require_staff(actor)
    if read_until is None:
        read_until = await _read_until(session, me)
    wanted = Filters(unread_only=True)
    return await session.scalar(
        _count_statement(_Shape.of(wanted, read_until)), _params(me, read_until, wanted, cap)
    )


# --- read marks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What an entry opens: a message, a checklist, or a dossier's tab."""

    kind: Kind
    item_id: int
    dossier_number: str
    checklist_id: int | None = None
    category: DocumentCategory | None = None


async def open_entry(session: AsyncSession, actor: Actor, kind: Kind, item_id: int) -> Target:
    """Mark the entry read for ``actor`` and say where it leads."""
    me = _require_staff(actor)
    found: Any
    if kind is Kind.MESSAGE:
        found = (
            await session.execute(
                select(Dossier.number, null(), null())
                .join(Message, Message.dossier_id == Dossier.id)
                .where(Message.id == item_id)
            )
        ).first()
    elif kind in (Kind.DOCUMENT, Kind.PUBLISHED):
        found = (
            await session.execute(
                select(Dossier.number, null(), Document.category)
                .join(Document, Document.dossier_id == Dossier.id)
                .where(Document.id == item_id, Document.message_id.is_(None))
            )
        ).first()
        if found is not None:
            delivered = found[2] == DocumentCategory.DELIVERED
            if delivered != (kind is Kind.DOCUMENT):
                found = None
    elif kind is Kind.CHECKLIST:
        found = (
            await session.execute(
                select(Dossier.number, Checklist.id, null())
                .join(Checklist, Checklist.dossier_id == Dossier.id)
                .where(Checklist.id == item_id, Checklist.submitted_at.is_not(None))
            )
        ).first()
    else:
        found = (
            await session.execute(
                select(Dossier.number, Checklist.id, null())
                .join(Checklist, Checklist.dossier_id == Dossier.id)
                .join(Answer, Answer.checklist_id == Checklist.id)
                .where(Answer.id == item_id, Answer.not_available.is_(True))
            )
        ).first()
    if found is None:
        raise NotFound("This item was not found.")
    number, checklist_id, category = found
    if me > 0:
        await _mark(session, me, [(kind, item_id)])
    return Target(
        kind,
        item_id,
        number,
        checklist_id=checklist_id,
        category=DocumentCategory(category) if category else None,
    )


async def _mark(session: AsyncSession, me: int, items: Iterable[tuple[Kind, int]]) -> None:
    now = utcnow()
    items = list(items)
    messages = [
        {"message_id": i, "account_id": me, "read_at": now} for k, i in items if k is Kind.MESSAGE
    ]
    others = [
        {"account_id": me, "kind": k.value, "item_id": i, "read_at": now}
        for k, i in items
        if k is not Kind.MESSAGE
    ]
    if messages:
        await session.execute(
            dialect_insert(session, MessageRead)
            .values(messages)
            .on_conflict_do_nothing(index_elements=["message_id", "account_id"])
        )
    if others:
        insert = dialect_insert(session, InboxRead).values(others)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["account_id", "kind", "item_id"],
                set_={"read_at": insert.excluded.read_at},
            )
        )


async def mark_all_read(
    session: AsyncSession,
    actor: Actor,
    filters: Filters = Filters(),  # noqa: B008 (frozen: never changed)
    *,
    until: dt.datetime | None = None,
) -> int | None:
    """Mark read what the inbox shows under ``filters`` up to ``until`` (the newest entry the
    staff member saw, so that what came in meanwhile stays unread). Unfiltered: one row for
    everything, returns None. Filtered: a mark per entry, at most MARK_ALL_FILTERED_MAX at
    once; returns how many were marked."""
    me = _require_staff(actor)
    if me < 0:
        return 0
    now = utcnow()
    until = min(until, now) if until is not None else now
    if not filters.narrowed:
        current = await _read_until(session, me)
        if current is None:
            session.add(InboxReadUntil(account_id=me, read_until=until))
        elif current < until:
            await session.execute(
                InboxReadUntil.__table__.update()
                .where(InboxReadUntil.account_id == me)
                .values(read_until=until)
            )
        return None
    read_until = await _read_until(session, me)
    wanted = replace(filters, unread_only=True)
    rows = (
        await session.execute(
            _unread_items_statement(_Shape.of(wanted, read_until)),
            _params(me, read_until, wanted, MARK_ALL_FILTERED_MAX, until=until),
        )
    ).all()
    await _mark(session, me, [(Kind(k), i) for k, i in rows])
    return len(rows)


async def handlers(session: AsyncSession, actor: Actor) -> list[tuple[int, str]]:
    """The staff members, for the handler filter."""
    _require_staff(actor)
    rows = await session.execute(
        select(Account.id, func.coalesce(func.nullif(Account.name, ""), Account.username))
        .where(Account.role == Role.STAFF, Account.active.is_(True))
        .order_by(Account.username)
    )
    return [(i, n) for i, n in rows]
