"""The staff's search across dossiers, clients, messages and document names.

For the firm's staff only: to anyone else the search does not exist (NotFound, as a page
that is not there), so it can tell nobody what is in the firm's dossiers. What is typed is
matched as text (``%`` and ``_`` are no wildcards), each kind at most ``LIMIT`` rows, newest
first.

A text inside a word can use no index, so each kind is searched among its newest ``WINDOW``
rows only (a range of the primary key, however large the table); a dossier is also found by
the start of its number among all of them, through the number's index. A search thus costs
the same on a large database as on a small one: at 10,000 dossiers a search for what is not
there read all 200,000 messages (240 ms in SQLite itself), now at most ``WINDOW`` of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access
from ..actor import Actor
from ..errors import NotFound
from ..models import Account, Client, Document, Dossier, Message

LIMIT = 20
MIN_LENGTH = 2
MAX_LENGTH = 100
WINDOW = 10_000  # rows per kind searched for a text inside a word, the newest


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

    # The dossiers whose number starts with the text (by the number's index, among all),
    # those among the newest with it in their number or description, and those of the
    # clients with it in their name (by the client's index, no join per dossier read).
    by_number = (
        select(Dossier.id)
        .where(
            Dossier.number >= term,
            Dossier.number < term + "\U0010ffff",
            Dossier.number.startswith(term, autoescape=True),
        )
        .limit(limit)
    )
    by_text = (
        select(Dossier.id)
        .where(_newest(Dossier.id), or_(like(Dossier.number), like(Dossier.description)))
        .order_by(Dossier.id.desc())
        .limit(limit)
    )
    named = select(Client.id).where(_newest(Client.id), like(Client.name)).limit(limit)
    by_client = (
        select(Dossier.id)
        .where(Dossier.client_id.in_(named))
        .order_by(Dossier.id.desc())
        .limit(limit)
    )
    found = union(*(select(q.subquery()) for q in (by_number, by_text, by_client))).subquery()
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
        _newest(Account.id), Account.client_id.is_not(None), like(Account.email)
    )
    results.clients = list(
        await session.scalars(
            select(Client)
            .where(_newest(Client.id), or_(like(Client.name), Client.id.in_(with_account)))
            .order_by(Client.id.desc())
            .limit(limit)
        )
    )
    results.messages = [
        (m, number)
        for m, number in await session.execute(
            select(Message, Dossier.number)
            .join(Dossier, Dossier.id == Message.dossier_id)
            .where(
                _newest(Message.id),
                access.visible_dossiers(actor),
                or_(like(Message.subject), like(Message.body)),
            )
            .order_by(Message.id.desc())
            .limit(limit)
        )
    ]
    results.documents = [
        (doc, number)
        for doc, number in await session.execute(
            select(Document, Dossier.number)
            .join(Dossier, Dossier.id == Document.dossier_id)
            .where(_newest(Document.id), access.visible_dossiers(actor), like(Document.filename))
            .order_by(Document.id.desc())
            .limit(limit)
        )
    ]
    return results


def _newest(key: Any) -> ColumnElement[bool]:
    """The table's newest WINDOW rows: a range of its primary key, read from the end."""
    return key > select(func.coalesce(func.max(key), 0)).scalar_subquery() - WINDOW
