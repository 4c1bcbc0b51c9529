"""Document requests by mail: the assignment mail lists what is needed, each with its own
signed reply address; a scan sent there is filed against that very question, which is ticked,
and the client hears what was filed and what is still missing."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from core import outbox
from core.db import Database
from core.models import Document, OutboxItem
from core.services import checklists
from core.storage import LocalFileStore
from mailbridge.pipeline import Pipeline
from mailbridge.smtp import SmtpSender

from .conftest import SYSTEM, Firm, SmtpServer, mail_settings
from .mails import reply_mail

TEMPLATES = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"


async def test_a_scan_to_a_questions_address_answers_that_question(
    db: Database, firm: Firm, store: LocalFileStore, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port, reply_address="reply+{token}@kantoor.example")
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "notaris-koopwoning.yaml").read_text()
        )
        checklist = await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="notaris-koopwoning"
        )
    await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)
    [assignment] = smtp.messages
    text = assignment.get_body(("plain",)).get_content()
    requests = dict(re.findall(r"^- (.+?): (reply\+\S+@kantoor\.example)\s*$", text, re.MULTILINE))
    # The questions that need a document right away (the mortgage offer only once asked for).
    assert set(requests) == {"Kopie van een geldig identiteitsbewijs", "Getekende koopovereenkomst"}

    raw = reply_mail(
        sender="alice@example.nl",
        to=requests["Getekende koopovereenkomst"],
        subject="Koopovereenkomst",
        text="Hierbij de getekende koopovereenkomst.",
        attachments=[("koopovereenkomst getekend.pdf", "application/pdf", b"%PDF koop")],
    )
    result = await Pipeline(db, store, settings).handle(raw)
    assert result.outcome == "stored"
    async with db.read() as s:
        loaded = await checklists.load(s, SYSTEM, checklist.id)
        doc = await s.scalar(
            select(Document).where(Document.filename == "koopovereenkomst getekend.pdf")
        )
        note = await s.scalar(select(OutboxItem).where(OutboxItem.kind == "document_received"))
    answer = loaded.answers["koopovereenkomst"]
    assert answer.value["filenames"] == ["koopovereenkomst getekend.pdf"]
    assert answer.channel.value == "email" and doc.answer_id == answer.id
    assert note.recipient == "alice@example.nl"
    assert note.payload["items"][0] == (
        "Ontvangen: koopovereenkomst getekend.pdf — Getekende koopovereenkomst"
    )
    assert "Nog nodig: Kopie van een geldig identiteitsbewijs" in note.payload["items"]


async def test_a_scan_for_a_submitted_checklist_is_still_delivered(
    db: Database, firm: Firm, store: LocalFileStore, tmp_path: Path
) -> None:
    from core import replytokens
    from core.models import Checklist, ChecklistStatus, Message
    from core.replytokens import ReplyTarget

    settings = mail_settings(tmp_path, reply_address="reply+{token}@kantoor.example")
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "notaris-koopwoning.yaml").read_text()
        )
        checklist = await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="notaris-koopwoning"
        )
        row = await s.get(Checklist, checklist.id)
        row.status, row.locked = ChecklistStatus.SUBMITTED, True
    token = replytokens.make(
        settings.secret_key, ReplyTarget("a", firm.alice.id, firm.alice_1.id, checklist.id, 4)
    )
    raw = reply_mail(
        sender="alice@example.nl",
        to=replytokens.address(settings.reply_address, token),
        subject="Nog een",
        text="Vergeten.",
        attachments=[("paspoort.jpg", "image/jpeg", b"\xff\xd8 pas")],
    )
    assert (await Pipeline(db, store, settings).handle(raw)).outcome == "stored"
    async with db.read() as s:
        message = await s.scalar(select(Message))
        doc = await s.scalar(select(Document).where(Document.filename == "paspoort.jpg"))
    assert doc.message_id == message.id and doc.category.value == "delivered"
