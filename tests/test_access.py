"""The access matrix: for every service that reads or changes a dossier or a document, each kind
of user gets exactly the allowed answer. Not allowed to see → "not found" (the dossier's
existence does not leak); allowed to see but not to change → "forbidden"."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from core import access
from core.db import Database
from core.errors import NotFound, PermissionDenied
from core.models import DocumentCategory, Dossier
from core.services import documents, dossiers, messages
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes

from .conftest import SYSTEM, Firm

# (who, which dossier, may see it)
MATRIX = [
    ("alice", "alice_1", True),  # the client, own dossier
    ("alice", "bv_1", False),  # another client's dossier
    ("bv_main", "alice_1", False),  # another client
    ("bv_main", "bv_1", True),  # a company's main account
    ("bv_extra", "bv_1", True),  # a company's extra account
    ("bv_extra", "alice_2", False),
    ("office", "carol_visible", True),  # intermediary with the dossier
    ("office", "carol_hidden", True),  # …also the one hidden from the client
    ("office", "alice_1", False),  # intermediary without the dossier
    ("other_office", "carol_visible", False),  # another intermediary
    ("carol", "carol_visible", True),  # the intermediary's client, visible dossier
    ("carol", "carol_hidden", False),  # hidden from the client by the intermediary
    ("staff", "alice_1", True),
    ("staff", "carol_hidden", True),
]
IDS = [f"{who}-{what}" for who, what, _ in MATRIX]


def upload(name: str = "brief.pdf", data: bytes = b"%PDF-1.4 test") -> Upload:
    return Upload(filename=name, chunks=aiter_bytes(data))


@pytest.fixture
async def content(db: Database, firm: Firm, store: LocalFileStore) -> dict[str, tuple[int, int]]:
    """In every dossier: a published document and a message from the firm."""
    out = {}
    async with db.begin() as s:
        for name in ("alice_1", "alice_2", "bv_1", "carol_visible", "carol_hidden"):
            dossier = getattr(firm, name)
            doc = await documents.publish_document(
                s, store, SYSTEM, number=dossier.number, upload=upload()
            )
            msg = await messages.send_message(
                s, store, SYSTEM, number=dossier.number, subject="Vraag", body="Hoe gaat het?"
            )
            out[name] = (doc.id, msg.id)
    return out


async def attempt(db: Database, expect_ok: bool, op) -> None:
    """Run ``op(session)`` in a unit of work: it succeeds, or fails with NotFound."""
    if expect_ok:
        async with db.begin() as s:
            await op(s)
    else:
        with pytest.raises(NotFound):
            async with db.begin() as s:
                await op(s)


@pytest.mark.parametrize("who,what,allowed", MATRIX, ids=IDS)
async def test_reading(
    db: Database, firm: Firm, store: LocalFileStore, content, who, what, allowed
) -> None:
    actor = firm.actor(getattr(firm, who))
    dossier = getattr(firm, what)
    doc_id, msg_id = content[what]

    await attempt(db, allowed, lambda s: dossiers.open_dossier(s, actor, number=dossier.number))
    await attempt(db, allowed, lambda s: dossiers.open_dossier(s, actor, dossier_id=dossier.id))
    await attempt(db, allowed, lambda s: documents.list_documents(s, actor, dossier_id=dossier.id))
    await attempt(db, allowed, lambda s: documents.download(s, store, actor, doc_id))
    await attempt(db, allowed, lambda s: messages.list_messages(s, actor, dossier_id=dossier.id))
    await attempt(db, allowed, lambda s: messages.read_message(s, actor, msg_id))

    async with db.read() as s:
        listed = {r.dossier.number for r in (await dossiers.list_dossiers(s, actor)).rows}
    assert (dossier.number in listed) is allowed


@pytest.mark.parametrize("who,what,allowed", MATRIX, ids=IDS)
async def test_writing_as_a_participant(
    db: Database, firm: Firm, store: LocalFileStore, content, who, what, allowed
) -> None:
    """Whoever sees a dossier may write in it and deliver documents to it."""
    actor = firm.actor(getattr(firm, who))
    dossier = getattr(firm, what)
    await attempt(
        db,
        allowed,
        lambda s: messages.send_message(
            s, store, actor, dossier_id=dossier.id, subject="Hallo", body="Zie bijlage"
        ),
    )
    await attempt(
        db,
        allowed,
        lambda s: documents.deliver_document(
            s, store, actor, dossier_id=dossier.id, upload=upload("loonstrook.jpg")
        ),
    )


@pytest.mark.parametrize("who,what,allowed", MATRIX, ids=IDS)
async def test_managing_is_for_staff(
    db: Database, firm: Firm, store: LocalFileStore, who, what, allowed
) -> None:
    """Status, steps and publishing: staff only; others get forbidden if they see the dossier,
    not found if they do not."""
    actor = firm.actor(getattr(firm, who))
    number = getattr(firm, what).number
    ops = [
        lambda s: dossiers.set_status(s, actor, number, "in_treatment"),
        lambda s: dossiers.add_step(s, actor, number, "Controle"),
        lambda s: dossiers.tick_step(s, actor, number, 1),
        lambda s: documents.publish_document(
            s, store, actor, number=number, upload=upload(), category=DocumentCategory.DOCUMENT
        ),
    ]
    for op in ops:
        if who == "staff":
            async with db.begin() as s:
                await op(s)
        else:
            with pytest.raises(PermissionDenied if allowed else NotFound):
                async with db.begin() as s:
                    await op(s)


ACCOUNTS = ("staff", "alice", "bv_main", "bv_extra", "carol", "office", "other_office")
DOSSIERS = ("alice_1", "alice_2", "bv_1", "carol_visible", "carol_hidden")


async def test_the_rule_in_sql_and_in_python_agree(db: Database, firm: Firm) -> None:
    """visible_dossiers (a WHERE clause, for lists) and can_see_dossier (for a dossier in
    hand) are one rule written twice: they must agree for every user and dossier."""
    for who in ACCOUNTS:
        actor = firm.actor(getattr(firm, who))
        async with db.read() as s:
            in_sql = set(await s.scalars(select(Dossier.id).where(access.visible_dossiers(actor))))
            for name in DOSSIERS:
                dossier = await s.get(Dossier, getattr(firm, name).id)
                assert access.can_see_dossier(actor, dossier) is (dossier.id in in_sql), (who, name)


async def test_a_dossier_page_reads_the_dossier_once(db: Database, firm: Firm, content) -> None:
    """The page opens the dossier by number, then lists its messages and documents by id:
    those find it in the unit of work instead of querying it again."""
    actor = firm.actor(firm.alice)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.read() as s:
            view = await dossiers.open_dossier(s, actor, number=firm.alice_1.number)
            await messages.list_messages(s, actor, dossier_id=view.dossier.id)
            await documents.list_documents(s, actor, dossier_id=view.dossier.id)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    from_dossiers = [x for x in statements if re.search(r"\bFROM dossiers\b", x)]
    assert len(from_dossiers) == 1, from_dossiers
