"""Notifications that can be answered: a signed Reply-To per recipient and dossier, the dossier
number in the subject, the message itself in the mail and attachments as links."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from core import outbox, replytokens
from core.db import Database
from core.models import OutboxItem
from core.replytokens import ReplyTarget
from core.services import dossiers, messages
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes
from mailbridge.smtp import SmtpSender

from .conftest import SYSTEM, Firm, SmtpServer, mail_settings

SECRET = "test-secret"


def test_tokens_verify_and_refuse_tampering() -> None:
    target = ReplyTarget("a", 42, 7)
    token = replytokens.make(SECRET, target)
    assert replytokens.verify(SECRET, token) == target
    assert replytokens.verify(SECRET, token.upper()) == target  # mail may change case
    assert replytokens.verify("another-secret", token) is None
    tampered = token.replace("a42-", "a43-")
    assert replytokens.verify(SECRET, tampered) is None
    assert replytokens.verify(SECRET, token[:-1] + ("a" if token[-1] != "a" else "b")) is None
    for junk in ("", "a42-d7", "x" * 200, "a42-d7-!!!!!!!!!!!!!!!!"):
        assert replytokens.verify(SECRET, junk) is None


def test_find_the_token_in_recipient_addresses() -> None:
    pattern = "reply+{token}@kantoor.example"
    token = replytokens.make(SECRET, ReplyTarget("o", 3, 9))
    found = replytokens.find_token(
        pattern, ["info@kantoor.example", f"Reply+{token}@Kantoor.Example"]
    )
    assert found == token
    assert replytokens.find_token(pattern, ["reply@kantoor.example"]) is None


async def test_message_mail_carries_body_links_and_a_signed_reply_to(
    db: Database, firm: Firm, store: LocalFileStore, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port, reply_address="reply+{token}@kantoor.example")
    async with db.begin() as s:
        message = await messages.send_message(
            s,
            store,
            SYSTEM,
            number="2026-0001",
            subject="Uw aangifte",
            body="Beste Alice,\nWilt u de jaaropgave sturen?",
            attachments=[Upload("Toelichting.pdf", aiter_bytes(b"%PDF"))],
        )
    await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)
    [mail] = smtp.messages
    assert mail["Subject"] == "[2026-0001] Nieuw bericht: Uw aangifte"
    text = mail.get_body(("plain",)).get_content()
    assert "Wilt u de jaaropgave sturen?" in text
    doc_id = message.attachments[0].id
    assert f"http://portal.test/documents/{doc_id}/download" in text
    reply_to = mail["Reply-To"].addresses[0].addr_spec
    token = replytokens.find_token(settings.reply_address, [reply_to])
    assert replytokens.verify(SECRET, token) == ReplyTarget("a", firm.alice.id, firm.alice_1.id)
    async with db.read() as s:
        item = await s.scalar(select(OutboxItem))
    assert item.email_message_id == mail["Message-ID"]  # remembered, to thread replies


async def test_intermediary_mail_is_signed_for_the_office(
    db: Database, firm: Firm, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port, reply_address="reply+{token}@kantoor.example")
    async with db.begin() as s:
        await dossiers.set_status(s, SYSTEM, "2026-0200", "in_treatment")
    await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)
    [mail] = smtp.messages
    assert mail["To"] == "post@tussen.example"
    token = replytokens.find_token(
        settings.reply_address, [mail["Reply-To"].addresses[0].addr_spec]
    )
    target = replytokens.verify(SECRET, token)
    assert target.kind == "o" and target.dossier_id == firm.carol_visible.id


async def test_account_mail_has_no_reply_address(
    db: Database, firm: Firm, smtp: SmtpServer, tmp_path: Path
) -> None:
    from core.models import Account
    from core.services import auth

    settings = mail_settings(tmp_path, smtp.port)
    async with db.begin() as s:
        await auth.invite(s, SYSTEM, settings, await s.get(Account, firm.alice.id))
    await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)
    assert smtp.messages[0]["Reply-To"] is None


async def test_a_submitted_checklist_mail_names_it_and_links_to_the_review(
    db: Database, firm: Firm, store: LocalFileStore, smtp: SmtpServer, tmp_path: Path
) -> None:
    from core.services import checklists

    from .test_checklists import TEMPLATES, fill

    settings = mail_settings(tmp_path, smtp.port)
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        checklist = await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting"
        )
    alice = firm.actor(firm.alice)
    await fill(db, alice, checklist.id, store)
    async with db.begin() as s:
        await checklists.submit(s, store, alice, checklist.id, firm="Kantoor Test")
    await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)
    [mail] = [m for m in smtp.messages if m["X-Loket-Kind"] == "checklist_submitted"]
    assert mail["To"] == "sanne@firm.example"
    assert mail["Subject"] == "[2026-0001] Alice de Vries heeft een checklist ingediend"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert 'de checklist "Checklist aangifte inkomstenbelasting" ingediend' in text
    assert f"Checklist beoordelen:\nhttp://portal.test/checklists/{checklist.id}\n" in text
    html = mail.get_body(("html",)).get_content()
    assert f'href="http://portal.test/checklists/{checklist.id}"' in html


def test_a_submitted_checklist_mail_without_a_title(tmp_path: Path) -> None:
    from mailbridge.compose import render

    item = OutboxItem(
        channel="email",
        kind="checklist_submitted",
        recipient="sanne@firm.example",
        language="en",
        payload={"dossier_number": "2026-0001", "checklist_id": 7},
        idempotency_key="k",
    )
    composed = render(item, mail_settings(tmp_path))
    assert composed.subject == "[2026-0001] A client submitted a checklist"
    assert "A client submitted a checklist in dossier 2026-0001." in composed.text
    assert "http://portal.test/checklists/7" in composed.text


def test_the_link_in_a_mail_keeps_a_dossier_number_with_a_slash_whole(tmp_path: Path) -> None:
    from mailbridge.compose import render

    item = OutboxItem(
        channel="email",
        kind="new_message",
        recipient="alice@example.nl",
        language="nl",
        payload={"dossier_number": "2026/0042", "subject": "Akte"},
        idempotency_key="k",
    )
    composed = render(item, mail_settings(tmp_path))
    assert "http://portal.test/dossiers/2026%2F0042\n" in composed.text  # was .../2026/0042
