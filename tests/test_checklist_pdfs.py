"""A checklist submitted again: its new PDF is the current one, the earlier stays in the history
marked as replaced; and the PDF is the submission's own, so the staff inbox lists it once."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.db import Database
from core.models import Checklist, Document
from core.services import checklists, inbox
from core.storage import LocalFileStore

from . import test_checklists
from .conftest import PASSWORD, SYSTEM, Firm, set_password
from .test_checklists import fill
from .webclient import Browser

tax = test_checklists.tax  # the income-tax checklist on Alice's first dossier


async def submit_once(db: Database, firm: Firm, checklist_id: int, store: LocalFileStore) -> None:
    alice = firm.actor(firm.alice)
    await fill(db, alice, checklist_id, store)
    async with db.begin() as s:
        await checklists.submit(s, store, alice, checklist_id, firm="Kantoor")


async def submit_twice(db: Database, firm: Firm, checklist_id: int, store: LocalFileStore) -> None:
    alice = firm.actor(firm.alice)
    await submit_once(db, firm, checklist_id, store)
    async with db.begin() as s:
        await checklists.reject(s, SYSTEM, checklist_id, reason="De giften kloppen niet.")
    async with db.begin() as s:
        await checklists.answer(s, alice, checklist_id, "giften", "300")
        await checklists.submit(s, store, alice, checklist_id, firm="Kantoor")


async def test_a_second_submission_replaces_the_pdf_and_keeps_the_first(
    db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    await submit_twice(db, firm, tax.id, store)
    async with db.read() as s:
        pdfs = list(
            await s.scalars(
                select(Document).where(Document.checklist_id == tax.id).order_by(Document.id)
            )
        )
    assert len(pdfs) == 2
    first, second = pdfs
    assert first.filename == second.filename  # the same name: the mark tells them apart
    assert first.replaced_by_id == second.id and second.replaced_by_id is None


async def test_the_inbox_lists_a_submission_once_without_its_pdf(
    db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    await submit_once(db, firm, tax.id, store)
    async with db.read() as s:
        page = await inbox.inbox(s, firm.actor(firm.staff))
    titles = [(e.kind.value, e.title) for e in page.entries]
    assert ("checklist", "Checklist aangifte inkomstenbelasting") in titles
    assert not [t for t in titles if t[1].startswith("inkomstenbelasting-")]


async def test_staff_see_the_earlier_pdf_marked_replaced(
    browser: Browser, db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    await submit_twice(db, firm, tax.id, store)
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    page = await browser.get(f"/dossiers/{firm.alice_1.number}?tab=delivered")
    html = await page.text()
    rows = re.findall(r"<li>(.*?)</li>", html, re.S)
    pdf_rows = [r for r in rows if "inkomstenbelasting-2026-0001.pdf" in r]
    assert len(pdf_rows) == 2
    # Newest first: the current PDF plain, the earlier one marked.
    assert "vervangen door een latere inzending" not in pdf_rows[0]
    assert "vervangen door een latere inzending" in pdf_rows[1]


async def test_the_review_page_offers_the_current_pdf(
    browser: Browser, db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    await submit_twice(db, firm, tax.id, store)
    async with db.read() as s:
        current = await s.scalar(
            select(Document.id).where(
                Document.checklist_id == tax.id, Document.replaced_by_id.is_(None)
            )
        )
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    await browser.get(f"/checklists/{tax.id}")
    link = re.search(
        r'href="/documents/(\d+)/download" download>Download de PDF', browser.last_html
    )
    assert link and int(link.group(1)) == current
