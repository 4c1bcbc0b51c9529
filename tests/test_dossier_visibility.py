"""Whether the client also sees a dossier of an intermediary office: a checkbox in the staff
new-dossier and edit forms. A dossier without an office is always its client's (core refuses
to hide it), whichever form or command asks."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.errors import ValidationError
from core.models import Dossier
from core.services import dossiers

from .conftest import PASSWORD, SYSTEM, Firm, set_password
from .webclient import Browser

REFUSED = "Alleen een dossier met een tussenpersoon kan voor de klant verborgen worden."


async def as_staff(browser: Browser, db: Database) -> Browser:
    await browser.login("sanne", PASSWORD)
    return browser


async def by_number(db: Database, number: str) -> Dossier | None:
    async with db.read() as s:
        return await s.scalar(select(Dossier).where(Dossier.number == number))


async def test_staff_create_a_dossier_hidden_from_the_client_then_show_it(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.staff.id)
    await set_password(db, firm.carol.id)
    b = await as_staff(browser, db)
    await b.get(f"/staff/dossiers/new?client={firm.carol.client_id}")
    assert 'name="visible_to_client" value="1" checked' in b.last_html  # ticked by default
    assert "De klant ziet dit dossier ook" in b.last_html
    fields = {
        "client": str(firm.carol.client_id),
        "number": "2026-0400",
        "description": "Pensioen",
        "handler": str(firm.staff.id),
        "intermediary": str(firm.office.intermediary_id),
    }
    created = await b.post("/staff/dossiers", fields)  # the box unticked: not sent
    assert created.url.path == "/dossiers/2026-0400"
    d = await by_number(db, "2026-0400")
    assert d.visible_to_client is False
    async with db.read() as s:
        carols = await dossiers.list_dossiers(s, firm.actor(firm.carol))
    assert "2026-0400" not in {r.dossier.number for r in carols.rows}

    edit = await b.get(f"/staff/dossiers/{d.id}/edit")
    assert edit.status == 200 and 'name="visible_to_client" value="1" >' in b.last_html
    await b.post(
        f"/staff/dossiers/{d.id}/edit",
        {
            "description": "Pensioen",
            "handler": str(firm.staff.id),
            "intermediary": str(firm.office.intermediary_id),
            "visible_to_client": "1",
        },
    )
    assert (await by_number(db, "2026-0400")).visible_to_client is True
    async with db.read() as s:
        carols = await dossiers.list_dossiers(s, firm.actor(firm.carol))
    assert "2026-0400" in {r.dossier.number for r in carols.rows}


async def test_without_an_office_a_dossier_cannot_be_hidden(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.staff.id)
    b = await as_staff(browser, db)
    await b.get(f"/staff/dossiers/new?client={firm.alice.client_id}")
    refused = await b.post(
        "/staff/dossiers",
        {
            "client": str(firm.alice.client_id),
            "number": "2026-0401",
            "description": "Testament",
            "handler": str(firm.staff.id),
            "intermediary": "",
        },
    )
    assert refused.status == 400 and REFUSED in b.last_html
    assert await by_number(db, "2026-0401") is None
    # Taking the office off a hidden dossier without showing it to the client: refused too.
    await b.get(f"/staff/dossiers/{firm.carol_hidden.id}/edit")
    refused = await b.post(
        f"/staff/dossiers/{firm.carol_hidden.id}/edit",
        {"description": "Verzekering", "handler": str(firm.staff.id), "intermediary": ""},
    )
    assert refused.status == 400 and REFUSED in b.last_html
    d = await by_number(db, firm.carol_hidden.number)
    assert (d.intermediary_id, d.visible_to_client) == (firm.office.intermediary_id, False)


async def test_core_keeps_a_dossier_without_office_visible(db: Database, firm: Firm) -> None:
    with pytest.raises(ValidationError):
        async with db.begin() as s:
            await dossiers.update_dossier(
                s,
                SYSTEM,
                firm.alice_1.id,
                kind="",
                description="Aangifte",
                handler_id=firm.staff.id,
                intermediary_id=None,
                visible_to_client=False,
            )
    async with db.read() as s:
        hidden = await s.scalar(
            select(func.count())
            .select_from(Dossier)
            .where(Dossier.intermediary_id.is_(None), Dossier.visible_to_client.is_(False))
        )
    assert hidden == 0
