"""A dossier as staff work on it in the web view: status, steps, publishing several files,
assigning a checklist, reviewing (approve / send back), rejecting one delivered document, who
downloaded what; and what the client is told of each (the mail as composed)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from core.db import Database
from core.models import (
    AuditEvent,
    Checklist,
    ChecklistStatus,
    Document,
    DocumentCategory,
    DossierStatus,
    DossierStep,
    OutboxItem,
    ReviewState,
)
from core.services import checklists, documents, dossiers
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes
from mailbridge.compose import render

from .conftest import PASSWORD, SYSTEM, Firm, mail_settings, set_password
from .webclient import Browser

SETTINGS = mail_settings(Path("/unused"))


async def as_staff(browser: Browser, db: Database, firm: Firm) -> Browser:
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    return browser


async def outbox(db: Database, kind: str) -> list[OutboxItem]:
    async with db.read() as s:
        return list(
            await s.scalars(
                select(OutboxItem).where(OutboxItem.kind == kind).order_by(OutboxItem.id)
            )
        )


async def test_status_moves_and_tells_the_client_only_for_treatment_and_report(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await as_staff(browser, db, firm)
    number = firm.alice_1.number
    await browser.get(f"/dossiers/{number}")
    for status in ("waiting_for_client", "in_treatment", "report_ready"):
        done = await browser.post(f"/dossiers/{number}/status", {"status": status})
        assert done.status == 200 and "De status is gewijzigd." in browser.last_html
    async with db.read() as s:
        assert (await s.get(type(firm.alice_1), firm.alice_1.id)).status is (
            DossierStatus.REPORT_READY
        )
    treatment = await outbox(db, "dossier_in_treatment")
    report = await outbox(db, "report_ready")
    assert [i.recipient for i in treatment] == ["alice@example.nl"]
    assert [i.recipient for i in report] == ["alice@example.nl"]
    assert "gestart met de behandeling" in render(treatment[0], SETTINGS).text
    assert await outbox(db, "waiting_for_client") == []  # no kind: nothing else was queued
    bad = await browser.post(f"/dossiers/{number}/status", {"status": "gedaan"})
    assert bad.status == 400 and "is geen dossierstatus" in browser.last_html


async def test_steps_are_ticked_undone_and_added(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await as_staff(browser, db, firm)
    number = firm.alice_1.number
    await browser.get(f"/dossiers/{number}")
    await browser.post(f"/dossiers/{number}/steps/1", {"done": "1"})
    assert 'data-testid="progress">1/2<' in browser.last_html
    await browser.post(f"/dossiers/{number}/steps", {"title": "Controle"})
    await browser.post(f"/dossiers/{number}/steps/1", {"done": "0"})
    async with db.read() as s:
        steps = list(
            await s.scalars(
                select(DossierStep)
                .where(DossierStep.dossier_id == firm.alice_1.id)
                .order_by(DossierStep.position)
            )
        )
    assert [(st.title, st.done_at is not None) for st in steps] == [
        ("Intake", False),
        ("Aangifte", False),
        ("Controle", False),
    ]
    assert (await browser.post(f"/dossiers/{number}/steps/9", {"done": "1"})).status == 404


async def test_publishing_several_files_at_once_under_a_category(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    await as_staff(browser, db, firm)
    number = firm.alice_1.number
    await browser.get(f"/dossiers/{number}")
    done = await browser.post_multipart(
        f"/dossiers/{number}/publish",
        [("category", "correspondence")],
        [
            ("files", "brief-1.pdf", b"%PDF-1.4 een", "application/pdf"),
            ("files", "brief-2.pdf", b"%PDF-1.4 twee", "application/pdf"),
        ],
    )
    assert done.status == 200 and "brief-1.pdf" in browser.last_html
    async with db.read() as s:
        docs = list(await s.scalars(select(Document).where(Document.dossier_id == firm.alice_1.id)))
    assert sorted((d.filename, d.category) for d in docs) == [
        ("brief-1.pdf", DocumentCategory.CORRESPONDENCE),
        ("brief-2.pdf", DocumentCategory.CORRESPONDENCE),
    ]
    told = await outbox(db, "new_document")
    assert sorted(i.payload["filename"] for i in told) == ["brief-1.pdf", "brief-2.pdf"]
    # A delivery is the client's: the firm cannot publish under it, and nothing is kept.
    refused = await browser.post_multipart(
        f"/dossiers/{number}/publish",
        [("category", "delivered")],
        [("files", "x.pdf", b"%PDF x", "application/pdf")],
    )
    assert refused.status == 400
    async with db.read() as s:
        assert len(list(await s.scalars(select(Document.id)))) == 2


SMALL = """
name: klein
title: {nl: "Kleine checklist", en: "Small checklist"}
on_approve: {status: in_treatment, steps: [Intake]}
sections:
  - title: {nl: Stukken, en: Documents}
    questions:
      - key: loonstrook
        type: upload
        label: {nl: "Uw loonstrook", en: "Your payslip"}
      - key: opmerking
        type: text
        required: false
        label: {nl: "Opmerking", en: "Remark"}
"""


async def submitted(db: Database, store: LocalFileStore, firm: Firm) -> int:
    """The small checklist assigned on Alice's first dossier, filled in and submitted by Alice,
    who uses the portal (so her mails link into it rather than to the first-contact page)."""
    await set_password(db, firm.alice.id)
    alice = firm.actor(firm.alice)
    async with db.begin() as s:
        await checklists.import_template(s, SYSTEM, SMALL)
        c = await checklists.assign(s, SYSTEM, number=firm.alice_1.number, template_name="klein")
    async with db.begin() as s:
        await checklists.attach(
            s,
            store,
            alice,
            c.id,
            "loonstrook",
            [Upload("loonstrook.pdf", aiter_bytes(b"%PDF-1.4 loon"))],
        )
        await checklists.submit(s, store, alice, c.id, firm="Kantoor")
    return c.id


async def test_assign_with_a_due_date_tells_the_client(
    browser: Browser, db: Database, firm: Firm
) -> None:
    async with db.begin() as s:
        await checklists.import_template(s, SYSTEM, SMALL)
    await as_staff(browser, db, firm)
    number = firm.alice_1.number
    await browser.get(f"/dossiers/{number}")
    assert 'value="klein"' in browser.last_html
    await browser.post(
        f"/dossiers/{number}/checklists",
        {"template": "klein", "due": "2026-05-01", "account": "alice"},
    )
    assert "Kleine checklist" in browser.last_html and "01-05-2026" in browser.last_html
    async with db.read() as s:
        checklist = (await s.scalars(select(Checklist))).one()
    assert str(checklist.due_date) == "2026-05-01"
    assert [i.recipient for i in await outbox(db, "new_questionnaire")] == ["alice@example.nl"]
    bad = await browser.post(
        f"/dossiers/{number}/checklists", {"template": "klein", "due": "1 mei"}
    )
    assert bad.status == 400 and "is geen datum" in browser.last_html
    nobody = await browser.post(
        f"/dossiers/{number}/checklists", {"template": "klein", "account": "carol"}
    )
    assert nobody.status == 404  # not an account on this dossier


async def test_approve_moves_status_and_steps_as_configured_and_tells_the_client(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    checklist_id = await submitted(db, store, firm)
    await as_staff(browser, db, firm)
    await browser.get(f"/checklists/{checklist_id}")
    # Beside the answers: the documents delivered with it, each with its own reject form.
    assert 'data-testid="delivered"' in browser.last_html
    assert "loonstrook.pdf" in browser.last_html
    done = await browser.post(f"/checklists/{checklist_id}/approve")
    assert done.status == 200 and "Goedgekeurd" in browser.last_html
    async with db.read() as s:
        dossier = await s.get(type(firm.alice_1), firm.alice_1.id)
        steps = list(
            await s.scalars(select(DossierStep).where(DossierStep.dossier_id == dossier.id))
        )
    assert dossier.status is DossierStatus.IN_TREATMENT
    assert {st.title: st.done_at is not None for st in steps} == {
        "Intake": True,
        "Aangifte": False,
    }
    (approved,) = await outbox(db, "checklist_approved")
    assert approved.recipient == "alice@example.nl"
    assert approved.payload["status"] == "in_treatment"
    # One mail for the approval, not a second one for the status it moved.
    assert await outbox(db, "dossier_in_treatment") == []
    text = render(approved, SETTINGS).text
    assert "checklist" in text and "goedgekeurd" in text
    assert f"http://portal.test/checklists/{checklist_id}" in text


async def test_send_back_with_a_reason_per_question_only(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    checklist_id = await submitted(db, store, firm)
    await as_staff(browser, db, firm)
    await browser.get(f"/checklists/{checklist_id}")
    nothing = await browser.post(f"/checklists/{checklist_id}/reject", {"reason": ""})
    assert nothing.status == 400
    done = await browser.post(
        f"/checklists/{checklist_id}/reject",
        {"reason": "", "reason:loonstrook": "Deze is van 2023; graag die van 2025."},
    )
    assert done.status == 200
    async with db.read() as s:
        checklist = await s.get(Checklist, checklist_id)
    assert checklist.status is ChecklistStatus.REJECTED and not checklist.locked
    (mail,) = await outbox(db, "checklist_rejected")
    text = render(mail, SETTINGS).text
    assert "checklist" in text.lower()
    assert "Uw loonstrook: Deze is van 2023; graag die van 2025." in text
    assert f"http://portal.test/checklists/{checklist_id}" in text


async def test_send_back_with_a_reason_on_the_whole(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    checklist_id = await submitted(db, store, firm)
    async with db.begin() as s:
        await checklists.reject(
            s, firm.actor(firm.staff), checklist_id, reason="Het identiteitsbewijs ontbreekt."
        )
    (mail,) = await outbox(db, "checklist_rejected")
    composed = render(mail, SETTINGS)
    assert "checklist" in composed.subject.lower()
    assert "Reden: Het identiteitsbewijs ontbreekt." in composed.text
    assert "Het identiteitsbewijs ontbreekt." in composed.html
    assert f"http://portal.test/checklists/{checklist_id}" in composed.html


async def test_one_delivered_document_is_rejected_with_a_reason(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        doc = await documents.deliver_document(
            s,
            store,
            firm.actor(firm.alice),
            number=firm.alice_1.number,
            upload=Upload("scan.jpg", aiter_bytes(b"\xff\xd8 scan")),
        )
    await as_staff(browser, db, firm)
    number = firm.alice_1.number
    await browser.get(f"/dossiers/{number}?tab=delivered")
    assert f'action="/documents/{doc.id}/reject"' in browser.last_html
    done = await browser.post(
        f"/documents/{doc.id}/reject",
        {
            "reason": "Onleesbaar; graag een scherpere foto.",
            "back": f"/dossiers/{number}?tab=delivered",
        },
    )
    assert done.status == 200 and "Onleesbaar; graag een scherpere foto." in browser.last_html
    async with db.read() as s:
        row = await s.get(Document, doc.id)
    assert row.review_state is ReviewState.REJECTED
    (mail,) = await outbox(db, "documents_rejected")
    text = render(mail, SETTINGS).text
    assert "scan.jpg" in text and "Onleesbaar; graag een scherpere foto." in text
    assert mail.recipient == "alice@example.nl"
    # The client sees it, with the reason, and can deliver a new file.
    await browser.post("/logout")
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get(f"/dossiers/{number}?tab=delivered")
    assert "Onleesbaar; graag een scherpere foto." in browser.last_html
    async with db.begin() as s:
        await documents.deliver_document(
            s,
            store,
            firm.actor(firm.alice),
            number=number,
            upload=Upload("scan-2.jpg", aiter_bytes(b"\xff\xd8 beter")),
        )
    # A reason is needed; a published document is not the client's to reject.
    await browser.post("/logout")
    await as_staff(browser, db, firm)
    await browser.get(f"/dossiers/{number}?tab=delivered")
    assert (await browser.post(f"/documents/{doc.id}/reject", {"reason": " "})).status == 400
    async with db.begin() as s:
        published = await documents.publish_document(
            s, store, SYSTEM, number=number, upload=Upload("brief.pdf", aiter_bytes(b"%PDF"))
        )
    refused = await browser.post(f"/documents/{published.id}/reject", {"reason": "Nee"})
    assert refused.status == 400


async def test_a_rejected_document_is_told_to_the_office_and_the_client_who_sent_it(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    """A dossier with an intermediary office: its mail goes to the office, and the client who
    delivered the file (say, by answering our mail) hears as well; a file the office sent is
    told to the office alone, once."""
    async with db.begin() as s:
        by_carol = await documents.deliver_document(
            s,
            store,
            firm.actor(firm.carol),
            number=firm.carol_visible.number,
            upload=Upload("loonstrook.pdf", aiter_bytes(b"%PDF loon")),
        )
        by_office = await documents.deliver_document(
            s,
            store,
            firm.actor(firm.office),
            number=firm.carol_visible.number,
            upload=Upload("polis.pdf", aiter_bytes(b"%PDF polis")),
        )
    for doc in (by_carol, by_office):
        async with db.begin() as s:
            await documents.reject_document(
                s, firm.actor(firm.staff), doc.id, reason="Van het verkeerde jaar."
            )
    told = [(m.payload["filename"], m.recipient) for m in await outbox(db, "documents_rejected")]
    assert sorted(told) == [
        ("loonstrook.pdf", "carol@example.nl"),
        ("loonstrook.pdf", "post@tussen.example"),
        ("polis.pdf", "post@tussen.example"),
    ]


async def test_downloads_show_who_and_when(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        doc = await documents.publish_document(
            s,
            store,
            SYSTEM,
            number=firm.alice_1.number,
            upload=Upload("aanslag.pdf", aiter_bytes(b"%PDF aanslag")),
        )
    for _ in range(2):
        async with db.begin() as s:
            found = await documents.download(s, store, firm.actor(firm.alice), doc.id)
            async for _chunk in found.chunks:
                pass
    await as_staff(browser, db, firm)
    page = await browser.get(f"/dossiers/{firm.alice_1.number}/downloads")
    assert page.status == 200
    row = browser.last_html.split('data-testid="downloads"')[1]
    assert "aanslag.pdf" in row and "alice" in row and ">2</td>" in row


async def test_messaging_the_client_from_the_dossier(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await as_staff(browser, db, firm)
    number = firm.alice_1.number
    await browser.get(f"/dossiers/{number}/messages/new")
    sent = await browser.post_multipart(
        f"/dossiers/{number}/messages",
        [("subject", "Uw aangifte"), ("body", "Wilt u de jaaropgave sturen?")],
        [("files", "voorbeeld.pdf", b"%PDF-1.4 voorbeeld", "application/pdf")],
    )
    assert sent.status == 200
    (told,) = await outbox(db, "new_message")
    assert told.recipient == "alice@example.nl" and told.payload["subject"] == "Uw aangifte"
    assert "voorbeeld.pdf" in render(told, SETTINGS).text
    async with db.read() as s:
        actions = list(await s.scalars(select(AuditEvent.action)))
    assert "message.send" in actions


async def test_set_status_without_change_tells_nobody(db: Database, firm: Firm) -> None:
    async with db.begin() as s:
        await dossiers.set_status(s, SYSTEM, firm.alice_1.number, "in_treatment")
        await dossiers.set_status(s, SYSTEM, firm.alice_1.number, "in_treatment")
    assert len(await outbox(db, "dossier_in_treatment")) == 1
