"""The staff's search across dossiers, clients, messages and document names.

For the firm's staff only: to anyone else the search does not exist (NotFound, as a page
that is not there), so it can tell nobody what is in the firm's dossiers. What is typed is
matched as text (``%`` and ``_`` are no wildcards), each kind at most ``LIMIT`` rows, newest
first.

A text inside a word can use no ordinary index, so a search would read whole tables. Where a
text of at least three characters is looked for in a dossier's description, a client's name,
a login's email or a document's name, a trigram index finds it among all rows (migration
0015: FTS5 on SQLite, pg_trgm on PostgreSQL), at a cost that does not grow with the firm. A
dossier is found by the start of its number among all of them, through the number's index.
Messages, whose bodies would make the trigram index many times the size of the text, and
texts of two characters, are searched among the newest ``WINDOW`` rows of their kind only (a
range of the primary key, however large the table). At 10,000 dossiers a search for what is
not there read all 200,000 messages (240 ms in SQLite itself); now at most ``WINDOW`` of them,
and an index lookup for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from .. import access
from ..actor import Actor
from ..errors import NotFound
from ..models import Account, Client, Document, Dossier, Message

LIMIT = 20
MIN_LENGTH = 2
MAX_LENGTH = 100
WINDOW = 10_000  # rows per kind searched for a text inside a word, the newest
INDEXED = 3  # characters a text needs for the trigram index: a trigram


@dataclass
class Results:
    query: str
    dossiers: list[tuple[Dossier, str]] = field(default_factory=list)  # with the client's name
    clients: list[Client] = field(default_factory=list)
    messages: list[tuple[Message, str]] = field(default_factory=list)  # with the dossier number
    documents: list[tuple[Document, str]] = field(default_factory=list)  # with the dossier number

    @property
    def empty(self) -> bool:
        return not (self.dossiers or self.clients or self.messages or self.documents)


def usable(query: str | None) -> str:
    """The query as searched: trimmed, at most MAX_LENGTH characters; "" when too short."""
    text = " ".join((query or "").split())[:MAX_LENGTH]
    return text if len(text) >= MIN_LENGTH else ""


async def search(
    session: AsyncSession, actor: Actor, query: str | None, *, limit: int = LIMIT
) -> Results:
    if not access.can_manage_firm(actor):
        raise NotFound("This page does not exist.")
    term = usable(query)
    results = Results(query=term)
    if not term:
        return results

    def like(column):  # noqa: ANN001, ANN202 - a column expression in, a clause out
        return column.icontains(term, autoescape=True)

    indexed = _Indexed(session, term, limit)
    # The dossiers whose number starts with the text (by the number's index, among all),
    # those with it in their description, and those of the clients with it in their name.
    by_number = (
        select(Dossier.id)
        .where(
            Dossier.number >= term,
            Dossier.number < term + "\U0010ffff",
            Dossier.number.startswith(term, autoescape=True),
        )
        .limit(limit)
    )
    if indexed:
        by_text = indexed.ids("dossiers", Dossier.id, Dossier.description)
        named = indexed.ids("clients", Client.id, Client.name)
        with_email = indexed.ids("accounts", Account.id, Account.email)
    else:  # too short for a trigram: in the number too, among the newest
        by_text = (
            select(Dossier.id)
            .where(_newest(Dossier.id), or_(like(Dossier.number), like(Dossier.description)))
            .order_by(Dossier.id.desc())
            .limit(limit)
        )
        named = select(Client.id).where(_newest(Client.id), like(Client.name)).limit(limit)
        with_email = (
            select(Account.id)
            .where(_newest(Account.id), like(Account.email))
            .order_by(Account.id.desc())
            .limit(limit)
        )
    by_client = (
        select(Dossier.id)
        .where(Dossier.client_id.in_(_all(named)))
        .order_by(Dossier.id.desc())
        .limit(limit)
    )
    found = union(*(_all(q) for q in (by_number, by_text, by_client))).subquery()
    results.dossiers = [
        (d, name)
        for d, name in await session.execute(
            select(Dossier, Client.name)
            .join(Client, Client.id == Dossier.client_id)
            .where(Dossier.id.in_(select(found)), access.visible_dossiers(actor))
            .order_by(Dossier.updated_at.desc(), Dossier.id.desc())
            .limit(limit)
        )
    ]
    with_account = select(Account.client_id).where(
        Account.id.in_(_all(with_email)), Account.client_id.is_not(None)
    )
    results.clients = list(
        await session.scalars(
            select(Client)
            # One set of ids, not two INs joined by OR: PostgreSQL read every client for that.
            .where(Client.id.in_(union(_all(named), with_account)))
            .order_by(Client.id.desc())
            .limit(limit)
        )
    )
    newest = _newest_messages(indexed.sqlite)
    results.messages = [
        (m, number)
        for m, number in await session.execute(
            select(newest, Dossier.number)
            .join(Dossier, Dossier.id == newest.dossier_id)
            .where(
                *([_newest(newest.id)] if indexed.sqlite else []),
                access.visible_dossiers(actor),
                or_(like(newest.subject), like(newest.body)),
            )
            .order_by(newest.id.desc())
            .limit(limit)
        )
    ]
    if indexed:
        named_documents = indexed.ids("documents", Document.id, Document.filename)
    else:
        named_documents = (
            select(Document.id)
            .where(_newest(Document.id), like(Document.filename))
            .order_by(Document.id.desc())
            .limit(limit)
        )
    results.documents = [
        (doc, number)
        for doc, number in await session.execute(
            select(Document, Dossier.number)
            .join(Dossier, Dossier.id == Document.dossier_id)
            .where(Document.id.in_(_all(named_documents)), access.visible_dossiers(actor))
            .order_by(Document.id.desc())
            .limit(limit)
        )
    ]
    return results


class _Indexed:
    """The rows of a kind with ``term`` in a column, by the column's trigram index: the newest
    ``limit``, whatever the size of the table."""

    def __init__(self, session: AsyncSession, term: str, limit: int) -> None:
        self.term, self.limit = term, limit
        self.sqlite = session.get_bind().dialect.name == "sqlite"

    def __bool__(self) -> bool:
        return len(self.term) >= INDEXED

    def ids(self, kind: str, key: Any, text: Any) -> Select[Any]:
        if self.sqlite:
            # FTS5's trigram table of the kind (content: the table itself, rowid: its id). A
            # phrase in double quotes is matched as it is, in any case, anywhere in the text.
            fts = table(f"search_{kind}", column("rowid"))
            phrase = '"' + self.term.replace('"', '""') + '"'
            return (
                select(fts.c.rowid)
                .where(literal_column(fts.name).op("MATCH")(phrase))
                .order_by(fts.c.rowid.desc())
                .limit(self.limit)
            )
        # pg_trgm's index on lower(column). The pattern goes into the statement as a literal:
        # a prepared statement's generic plan would not know it, and could read the table
        # backwards by id for a text that is nowhere.
        escaped = self.term.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
        pattern = bindparam(f"pattern_{kind}", f"%{escaped}%", literal_execute=True)
        return (
            select(key)
            .where(func.lower(text).like(pattern, escape="/"))
            .order_by(key.desc())
            .limit(self.limit)
        )


def _newest_messages(sqlite: bool) -> Any:
    """Message, or on PostgreSQL the newest WINDOW messages as rows of their own. There, a
    range of ids above a computed bound (``_newest``) leaves the planner guessing a third of
    the table, and at 2 million messages it planned a parallel scan for what is 10,000 rows
    at any size; SQLite reads such a range directly, and copying the rows out first cost it
    three times as much."""
    if sqlite:
        return Message
    return aliased(Message, select(Message).order_by(Message.id.desc()).limit(WINDOW).subquery())


def _all(query: Select[Any]) -> Select[Any]:
    """A limited select usable inside IN or UNION on both databases: as a subquery."""
    inner = query.subquery()
    return select(inner.c[0])


def _newest(key: Any) -> ColumnElement[bool]:
    """The table's newest WINDOW rows: a range of its primary key, read from the end."""
    return key > select(func.coalesce(func.max(key), 0)).scalar_subquery() - WINDOW
