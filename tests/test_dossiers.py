"""Dossiers: numbers, statuses, steps, the list with search and counts, and unread tabs."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.errors import Conflict, NotFound, ValidationError
from core.models import AuditEvent, Dossier, DossierStatus, OutboxItem
from core.services import documents, dossiers, messages
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes

from .conftest import SYSTEM, Firm


async def test_number_is_unique(db: Database, firm: Firm) -> None:
    with pytest.raises(Conflict):
        async with db.begin() as s:
            await dossiers.create_dossier(
                s, SYSTEM, number="2026-0001", description="Nog een", client_id=firm.alice.client_id
            )
    async with db.read() as s:
        assert await s.scalar(select(func.count(Dossier.id))) == 5


async def test_unknown_client_and_empty_number(db: Database, firm: Firm) -> None:
    with pytest.raises(NotFound):
        async with db.begin() as s:
            await dossiers.create_dossier(s, SYSTEM, number="X1", description="", client_id=999)
    with pytest.raises(ValidationError):
        async with db.begin() as s:
            await dossiers.create_dossier(
                s, SYSTEM, number="  ", description="", client_id=firm.alice.client_id
            )


async def test_hidden_only_with_an_intermediary(db: Database, firm: Firm) -> None:
    with pytest.raises(ValidationError):
        async with db.begin() as s:
            await dossiers.create_dossier(
                s,
                SYSTEM,
                number="X2",
                description="",
                client_id=firm.alice.client_id,
                visible_to_client=False,
            )


async def test_status_change_is_audited_and_told_to_the_client(db: Database, firm: Firm) -> None:
    async with db.begin() as s:
        dossier = await dossiers.set_status(s, SYSTEM, "2026-0001", "in_treatment")
    assert dossier.status is DossierStatus.IN_TREATMENT
    async with db.read() as s:
        items = list(await s.scalars(select(OutboxItem)))
        audit = list(
            await s.scalars(select(AuditEvent).where(AuditEvent.action == "dossier.status"))
        )
    assert [(i.kind, i.recipient) for i in items] == [("dossier_in_treatment", "alice@example.nl")]
    assert audit[0].details == {"old": "new", "new": "in_treatment"}


async def test_status_for_intermediary_dossier_goes_to_the_office(db: Database, firm: Firm) -> None:
    async with db.begin() as s:
        await dossiers.set_status(s, SYSTEM, "2026-0200", "report_ready")
    async with db.read() as s:
        items = list(await s.scalars(select(OutboxItem)))
    assert [(i.kind, i.recipient) for i in items] == [("report_ready", "post@tussen.example")]


async def test_unknown_status_is_refused_with_the_choices(db: Database, firm: Firm) -> None:
    with pytest.raises(ValidationError) as info:
        async with db.begin() as s:
            await dossiers.set_status(s, SYSTEM, "2026-0001", "klaar")
    assert "in_treatment" in info.value.message


async def test_steps_progress(db: Database, firm: Firm) -> None:
    async with db.begin() as s:
        await dossiers.add_step(s, SYSTEM, "2026-0001", "Controle")
        await dossiers.tick_step(s, SYSTEM, "2026-0001", 1)
    async with db.read() as s:
        view = await dossiers.open_dossier(s, SYSTEM, number="2026-0001")
    assert [st.title for st in view.steps] == ["Intake", "Aangifte", "Controle"]
    assert (view.steps_done, len(view.steps)) == (1, 3)


async def test_list_counts_search_and_filter(db: Database, firm: Firm) -> None:
    alice = firm.actor(firm.alice)
    async with db.begin() as s:
        await dossiers.set_status(s, SYSTEM, "2026-0002", "completed")
    async with db.read() as s:
        everything = await dossiers.list_dossiers(s, alice)
        by_word = await dossiers.list_dossiers(s, alice, search="inkomsten")
        by_number = await dossiers.list_dossiers(s, alice, search="0002")
        done = await dossiers.list_dossiers(s, alice, status="completed")
        percent = await dossiers.list_dossiers(s, alice, search="%")
    assert (everything.in_progress, everything.total) == (1, 2)
    assert [r.dossier.number for r in by_word.rows] == ["2026-0001"]
    assert [r.dossier.number for r in by_number.rows] == ["2026-0002"]
    assert [r.dossier.number for r in done.rows] == ["2026-0002"]
    assert percent.rows == []  # search terms are text, not patterns
    first = next(r for r in everything.rows if r.dossier.number == "2026-0001")
    assert (first.steps_done, first.steps_total) == (0, 2)


async def test_staff_list_pages(db: Database, firm: Firm) -> None:
    async with db.read() as s:
        page = await dossiers.list_dossiers(s, SYSTEM, limit=2)
        rest = await dossiers.list_dossiers(s, SYSTEM, limit=2, offset=4)
    assert len(page.rows) == 2 and page.total == 5 and page.matching == 5
    assert len(rest.rows) == 1


async def test_unread_counts_per_tab(db: Database, firm: Firm, store: LocalFileStore) -> None:
    alice = firm.actor(firm.alice)
    async with db.begin() as s:
        letter = await documents.publish_document(
            s,
            store,
            SYSTEM,
            number="2026-0001",
            upload=Upload("brief.pdf", aiter_bytes(b"brief")),
            category="correspondence",
        )
        await documents.publish_document(
            s, store, SYSTEM, number="2026-0001", upload=Upload("a.pdf", aiter_bytes(b"a"))
        )
        await documents.publish_document(
            s, store, SYSTEM, number="2026-0001", upload=Upload("b.pdf", aiter_bytes(b"b"))
        )
        msg = await messages.send_message(
            s, store, SYSTEM, number="2026-0001", subject="Vraag", body="Kunt u…"
        )
        # Alice's own delivery and message are never unread for her.
        await documents.deliver_document(
            s, store, alice, number="2026-0001", upload=Upload("loon.jpg", aiter_bytes(b"j"))
        )
        await messages.send_message(s, store, alice, number="2026-0001", subject="Re", body="Ja")
    async with db.read() as s:
        before = (await dossiers.open_dossier(s, alice, number="2026-0001")).unread
        staff_view = await dossiers.open_dossier(s, firm.actor(firm.staff), number="2026-0001")
    assert before == {"correspondence": 1, "document": 2, "delivered": 0, "messages": 1}
    assert staff_view.unread["delivered"] == 1 and staff_view.unread["messages"] == 2

    async with db.begin() as s:
        download = await documents.download(s, store, alice, letter.id)
        assert b"".join([c async for c in download.chunks]) == b"brief"
        await messages.read_message(s, alice, msg.id)
    async with db.read() as s:
        after = (await dossiers.open_dossier(s, alice, number="2026-0001")).unread
    assert after == {"correspondence": 0, "document": 2, "delivered": 0, "messages": 0}
