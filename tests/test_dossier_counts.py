"""The staff's dossier list shows the firm's totals from the kept per-status counts
(dossier_counts), not from counting every dossier: they must stay what a count would say,
through dossiers created, statuses changed and units of work rolled back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.models import FINISHED_STATUSES, Dossier, DossierStatus
from core.services import dossiers

from .conftest import PASSWORD, SYSTEM, Firm, set_password
from .webclient import Browser


async def counted(db: Database) -> dict[DossierStatus, int]:
    """What a count of the dossiers table says, per status."""
    async with db.read() as s:
        rows = await s.execute(select(Dossier.status, func.count()).group_by(Dossier.status))
        return dict(rows.all())


async def assert_list_agrees(db: Database, firm: Firm) -> None:
    truth = await counted(db)
    staff = firm.actor(firm.staff)
    async with db.read() as s:
        listing = await dossiers.list_dossiers(s, staff, capped=True)
        assert listing.total == sum(truth.values())
        assert listing.matching == listing.total and not listing.more_than
        assert listing.in_progress == sum(
            n for status, n in truth.items() if status not in FINISHED_STATUSES
        )
        for status in DossierStatus:
            only = await dossiers.list_dossiers(s, staff, status=status, capped=True)
            assert (only.matching, len(only.rows)) == (truth.get(status, 0),) * 2, status


async def test_the_staff_totals_follow_new_dossiers_and_status_changes(
    db: Database, firm: Firm
) -> None:
    await firm.with_second_office(db)  # dossiers hidden from their client count for staff
    await assert_list_agrees(db, firm)
    async with db.begin() as s:
        await dossiers.create_dossier(
            s, SYSTEM, number="2026-0900", description="Nieuw", client_id=firm.alice.client_id
        )
    await assert_list_agrees(db, firm)
    async with db.begin() as s:
        await dossiers.set_status(s, SYSTEM, firm.alice_1.number, DossierStatus.COMPLETED)
        await dossiers.set_status(s, SYSTEM, firm.bv_1.number, DossierStatus.IN_TREATMENT)
    async with db.begin() as s:
        await dossiers.set_status(s, SYSTEM, firm.bv_1.number, DossierStatus.ARCHIVED)
        await dossiers.set_status(s, SYSTEM, firm.bv_1.number, DossierStatus.ARCHIVED)  # no-op
    await assert_list_agrees(db, firm)
    assert (await counted(db))[DossierStatus.ARCHIVED] == 1


async def test_a_rolled_back_dossier_is_not_counted(db: Database, firm: Firm) -> None:
    with pytest.raises(RuntimeError):
        async with db.begin() as s:
            await dossiers.create_dossier(
                s, SYSTEM, number="2026-0901", description="-", client_id=firm.alice.client_id
            )
            await dossiers.set_status(s, SYSTEM, "2026-0901", DossierStatus.COMPLETED)
            raise RuntimeError("the unit of work fails after the dossier was added")
    await assert_list_agrees(db, firm)


async def test_the_staff_list_page_shows_the_totals(
    browser: Browser, db: Database, firm: Firm
) -> None:
    async with db.begin() as s:
        await dossiers.set_status(s, SYSTEM, firm.alice_1.number, DossierStatus.COMPLETED)
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    html = await (await browser.get("/dossiers")).text()
    totals = html.split('data-testid="dossier-totals">', 1)[1].split("</p>", 1)[0]
    assert totals.endswith(": 4 · Totaal: 5"), totals
    assert ">5 gevonden<" in html
