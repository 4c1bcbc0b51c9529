"""Inbound mail through the pipeline: each kind of mail gets its recorded outcome, and a real
reply lands in the dossier as one message with the reply text and its attachments."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from core import replytokens
from core.db import Database
from core.models import Account, AuditEvent, Dossier, InboundMail, Message, OutboxItem
from core.replytokens import ReplyTarget
from core.storage import LocalFileStore
from mailbridge.compose import render
from mailbridge.filing import file_from_quarantine
from mailbridge.pipeline import Pipeline

from .conftest import Firm, mail_settings
from .mails import reply_mail

QUOTE_NL = """Op 24 nov. 2026 om 10:12 heeft Kantoor Test <portaal@kantoor.example> het \
volgende geschreven:

> Beste Alice,
> Wilt u de jaaropgave sturen?
"""
SIGNATURE = "\n--\nAlice de Vries\n06-12345678\n"


@pytest.fixture
def settings(tmp_path: Path):
    return mail_settings(
        tmp_path,
        reply_address="reply+{token}@kantoor.example",
        mail_authserv_id="mx.kantoor.example",
        mail_rate_per_sender=5,
    )


@pytest.fixture
def pipeline(db: Database, store: LocalFileStore, settings) -> Pipeline:
    return Pipeline(db, store, settings)


def reply_to(settings, kind: str, party: int, dossier: int) -> str:
    token = replytokens.make(settings.secret_key, ReplyTarget(kind, party, dossier))
    return replytokens.address(settings.reply_address, token)


async def messages_in(db: Database, dossier_id: int) -> list[Message]:
    async with db.read() as s:
        return list(
            await s.scalars(
                select(Message)
                .where(Message.dossier_id == dossier_id)
                .options(selectinload(Message.attachments))
            )
        )


async def test_a_reply_lands_as_one_message_with_its_attachments(
    pipeline: Pipeline, db: Database, firm: Firm, settings, store: LocalFileStore
) -> None:
    raw = reply_mail(
        sender="Alice de Vries <alice@example.nl>",
        to=reply_to(settings, "a", firm.alice.id, firm.alice_1.id),
        text="Hierbij de jaaropgave en de WOZ-beschikking." + SIGNATURE,
        quoted=QUOTE_NL,
        attachments=[
            ("Jaaropgave 2025.pdf", "application/pdf", b"%PDF jaaropgave"),
            ("WOZ-beschikking Café.jpg", "image/jpeg", b"\xff\xd8\xff woz"),
        ],
    )
    result = await pipeline.handle(raw)
    assert (result.outcome, result.reason) == ("stored", None)
    [message] = await messages_in(db, firm.alice_1.id)
    assert message.body == "Hierbij de jaaropgave en de WOZ-beschikking."
    assert message.author_id == firm.alice.id and message.channel.value == "email"
    assert message.direction.value == "incoming"
    assert sorted((d.filename, d.category.value) for d in message.attachments) == [
        ("Jaaropgave 2025.pdf", "delivered"),
        ("WOZ-beschikking Café.jpg", "delivered"),
    ]
    async with db.read() as s:
        record = await s.get(InboundMail, result.inbound_id)
    assert record.outcome == "stored" and record.message_id == message.id
    assert record.path[-1] == "store" and "identify" in record.path
    assert record.raw_storage_key  # the full original stays available to staff
    assert b"".join([c async for c in store.open(record.raw_storage_key)]) == raw
    async with db.read() as s:
        [event] = await s.scalars(select(AuditEvent).where(AuditEvent.action == "message.email_in"))
        dossier = await s.get(Dossier, firm.alice_1.id)
    assert (event.actor_id, event.dossier_id, event.channel) == (
        firm.alice.id,
        firm.alice_1.id,
        "email",
    )
    assert (event.subject_type, event.subject_id) == ("Message", message.id)
    assert event.details == {"matched_by": "token", "attachments": 2}
    assert dossier.updated_at >= message.created_at  # the dossier shows the new message first

    again = await pipeline.handle(raw)  # the same mail again: handled once
    assert again.outcome == "duplicate"
    assert len(await messages_in(db, firm.alice_1.id)) == 1


async def test_forged_sender_with_someone_elses_token_is_quarantined(
    pipeline: Pipeline, db: Database, firm: Firm, settings
) -> None:
    raw = reply_mail(
        sender="mallory@evil.example",
        to=reply_to(settings, "a", firm.alice.id, firm.alice_1.id),
    )
    result = await pipeline.handle(raw)
    assert result.outcome == "quarantined" and "not the address" in result.reason
    assert await messages_in(db, firm.alice_1.id) == []


async def test_tampered_token_is_quarantined(
    pipeline: Pipeline, db: Database, firm: Firm, settings
) -> None:
    good = reply_to(settings, "a", firm.alice.id, firm.alice_1.id)
    tampered = good.replace(f"d{firm.alice_1.id}-", f"d{firm.bv_1.id}-")
    result = await pipeline.handle(reply_mail(sender="alice@example.nl", to=tampered))
    assert result.outcome == "quarantined" and "does not verify" in result.reason


async def test_auto_replies_are_ignored_and_a_storm_waits_in_quarantine(
    pipeline: Pipeline, db: Database, firm: Firm, settings, store
) -> None:
    to = reply_to(settings, "a", firm.alice.id, firm.alice_1.id)
    auto = await pipeline.handle(
        reply_mail(
            sender="alice@example.nl",
            to=to,
            text="Ik ben afwezig tot maandag.",
            headers={"Auto-Submitted": "auto-replied"},
        )
    )
    assert (auto.outcome, auto.reason) == ("ignored", "Auto-Submitted: auto-replied")
    outlook = await pipeline.handle(
        reply_mail(
            sender="alice@example.nl", to=to, text="Out of office", headers={"X-Autoreply": "yes"}
        )
    )
    assert outlook.outcome == "ignored"
    results = [
        await pipeline.handle(reply_mail(sender="alice@example.nl", to=to, text=f"mail {n}"))
        for n in range(8)
    ]
    # The ignored auto-replies do not count; five became messages (the limit in these
    # settings), the rest wait for staff instead of being dropped.
    assert [r.outcome for r in results] == ["stored"] * 5 + ["quarantined"] * 3
    assert results[-1].reason == "more than 5 mails from this sender in 10 minutes"
    async with db.read() as s:
        told = list(await s.scalars(select(OutboxItem).where(OutboxItem.kind == "mail_held")))
    assert [i.recipient for i in told] == ["alice@example.nl"]  # once, not per held mail
    # Not "we could not tell which dossier": she did answer the right mail.
    assert "U hoeft hem niet opnieuw te sturen" in render(told[0], settings).text

    filed = await file_from_quarantine(
        db, store, settings, firm.actor(firm.staff), results[-1].inbound_id, firm.alice_1.number
    )
    async with db.read() as s:
        message = await s.get(Message, filed.message_id)
    assert (message.dossier_id, message.body) == (firm.alice_1.id, "mail 7")


async def test_our_own_mail_is_a_loop(pipeline: Pipeline, firm: Firm, settings) -> None:
    result = await pipeline.handle(
        reply_mail(
            sender=settings.mail_from,
            to="reply+x@kantoor.example",
            headers={"X-Loket-Kind": "new_message"},
        )
    )
    assert result.outcome == "ignored" and "loop" in result.reason


BOUNCE = b"""From: Mail Delivery System <MAILER-DAEMON@mx.example.nl>
To: portaal@kantoor.example
Subject: Undelivered Mail Returned to Sender
Date: Tue, 24 Nov 2026 10:00:00 +0100
Message-ID: <bounce-1@mx.example.nl>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.nl

Final-Recipient: rfc822; alice@example.nl
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--B--
"""


async def test_a_bounce_marks_the_address_as_failing(
    pipeline: Pipeline, db: Database, firm: Firm
) -> None:
    result = await pipeline.handle(BOUNCE)
    assert result.outcome == "bounced" and "alice@example.nl" in result.reason
    async with db.read() as s:
        alice = await s.get(Account, firm.alice.id)
        assert alice.email_failing_since is not None
        assert await s.scalar(select(func.count(Message.id))) == 0


async def test_thread_and_subject_matching(
    pipeline: Pipeline, db: Database, firm: Firm, store, settings
) -> None:
    from core.services import messages

    from .conftest import SYSTEM

    async with db.begin() as s:
        await messages.send_message(s, store, SYSTEM, number="2026-0100", subject="Vraag", body="?")
    async with db.begin() as s:
        from core.models import OutboxItem

        items = list(
            await s.scalars(
                select(OutboxItem).where(OutboxItem.recipient == "info@bakkerij.example")
            )
        )
        items[0].email_message_id = "<sent-1@kantoor.example>"
    by_thread = await pipeline.handle(
        reply_mail(
            sender="info@bakkerij.example",
            to="portaal@kantoor.example",
            subject="Re: Vraag",
            headers={"In-Reply-To": "<sent-1@kantoor.example>"},
        )
    )
    assert by_thread.outcome == "stored"
    by_subject = await pipeline.handle(
        reply_mail(
            sender="boekhouding@bakkerij.example",
            to="portaal@kantoor.example",
            subject="Vraag over [2026-0100]",
        )
    )
    assert by_subject.outcome == "stored"
    not_theirs = await pipeline.handle(
        reply_mail(
            sender="boekhouding@bakkerij.example",
            to="portaal@kantoor.example",
            subject="Vraag over [2026-0001]",
        )
    )
    assert not_theirs.outcome == "quarantined"
    unknown = await pipeline.handle(
        reply_mail(sender="stranger@else.example", to="portaal@kantoor.example", subject="Hallo")
    )
    assert (unknown.outcome, unknown.reason) == ("quarantined", "no dossier found for this mail")
    assert len(await messages_in(db, firm.bv_1.id)) == 3  # the firm's own and the two replies


async def test_html_only_mail_keeps_text_and_drops_scripts_and_pixels(
    pipeline: Pipeline, db: Database, firm: Firm, settings
) -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "alice@example.nl"
    msg["To"] = reply_to(settings, "a", firm.alice.id, firm.alice_1.id)
    msg["Subject"] = "Re: stukken"
    msg.set_content(
        "<html><body><p>Goedemorgen,</p><p>De stukken komen <b>morgen</b>.</p>"
        "<script>alert('x')</script><img src='https://track.example/p.gif' width=1 height=1>"
        "<div class='gmail_quote'>Op ma schreef Kantoor:<blockquote>oud</blockquote></div>"
        "</body></html>",
        subtype="html",
    )
    result = await pipeline.handle(msg.as_bytes())
    assert result.outcome == "stored"
    [message] = await messages_in(db, firm.alice_1.id)
    assert message.body == "Goedemorgen,\n\nDe stukken komen morgen."


async def test_dmarc_failure_from_our_own_server_quarantines_others_are_ignored(
    pipeline: Pipeline, firm: Firm, settings
) -> None:
    to = reply_to(settings, "a", firm.alice.id, firm.alice_1.id)
    ours = await pipeline.handle(
        reply_mail(
            sender="alice@example.nl",
            to=to,
            text="eerste",
            headers={
                "Authentication-Results": "mx.kantoor.example; dmarc=fail header.from=example.nl"
            },
        )
    )
    assert ours.outcome == "quarantined" and "authentication failed" in ours.reason
    theirs = await pipeline.handle(
        reply_mail(
            sender="alice@example.nl",
            to=to,
            text="tweede",
            headers={"Authentication-Results": "evil.example; dmarc=fail header.from=example.nl"},
        )
    )
    assert theirs.outcome == "stored"


async def test_attachment_over_the_limit_is_left_out_with_a_note(
    pipeline: Pipeline, db: Database, firm: Firm, settings, store
) -> None:
    raw = reply_mail(
        sender="alice@example.nl",
        to=reply_to(settings, "a", firm.alice.id, firm.alice_1.id),
        attachments=[
            ("scan.pdf", "application/pdf", b"x" * (store.limit + 1)),
            ("klein.pdf", "application/pdf", b"%PDF"),
        ],
    )
    result = await pipeline.handle(raw)
    assert result.outcome == "stored"
    [message] = await messages_in(db, firm.alice_1.id)
    assert [d.filename for d in message.attachments] == ["klein.pdf"]
    assert "over the size limit" in message.body
    # The client hears which file did not arrive; she would think it had.
    async with db.read() as s:
        told = list(
            await s.scalars(select(OutboxItem).where(OutboxItem.kind == "attachments_left_out"))
        )
    assert [(i.recipient, i.payload["items"]) for i in told] == [("alice@example.nl", ["scan.pdf"])]
    text = render(told[0], settings).text
    assert "groter dan 1 MB" in text and "- scan.pdf" in text


async def test_many_tiny_attachments_are_quarantined(
    pipeline: Pipeline, firm: Firm, settings
) -> None:
    raw = reply_mail(
        sender="alice@example.nl",
        to=reply_to(settings, "a", firm.alice.id, firm.alice_1.id),
        attachments=[(f"f{n}.txt", "text/plain", b"x") for n in range(500)],
    )
    result = await pipeline.handle(raw)
    assert result.outcome == "quarantined" and "too many attachments (500)" in result.reason


async def test_long_text_is_cut_and_filed_whole(
    pipeline: Pipeline, db: Database, firm: Firm, settings
) -> None:
    text = "Lange tekst. " * 500
    raw = reply_mail(
        sender="alice@example.nl",
        to=reply_to(settings, "a", firm.alice.id, firm.alice_1.id),
        text=text,
    )
    assert (await pipeline.handle(raw)).outcome == "stored"
    [message] = await messages_in(db, firm.alice_1.id)
    assert len(message.body) <= 4000
    assert [d.filename for d in message.attachments] == ["message.txt"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02 not a mail at all",
        b"From: alice@example.nl\nSubject: =?utf-8?q?broken\n"
        b'Content-Type: multipart/mixed; boundary="x"\n\n'
        b"--x\nContent-Type: text/plain; charset=unknown-8bit\n\n\xff\xfe tekst\n",
        b"From: alice@example.nl\nTo: reply+abc@kantoor.example\n"
        b"Content-Type: text/plain; charset=klingon\n\nhallo\n",
    ],
)
async def test_broken_mail_never_crashes(
    pipeline: Pipeline, db: Database, firm: Firm, raw: bytes
) -> None:
    result = await pipeline.handle(raw)
    assert result.outcome in ("quarantined", "ignored")
    async with db.read() as s:
        assert await s.scalar(select(func.count(InboundMail.id))) == 1


async def test_the_smtp_endpoint_feeds_the_pipeline(
    pipeline: Pipeline, db: Database, firm: Firm, settings
) -> None:
    import aiosmtplib

    from mailbridge.smtp_in import start_endpoint

    from .mailcatcher import free_port

    port = free_port()
    server = await start_endpoint(pipeline, "127.0.0.1", port)
    try:
        raw = reply_mail(
            sender="alice@example.nl",
            to=reply_to(settings, "a", firm.alice.id, firm.alice_1.id),
            text="Via SMTP.",
            quoted=QUOTE_NL,
        )
        await aiosmtplib.send(
            raw,
            sender="alice@example.nl",
            recipients=[reply_to(settings, "a", firm.alice.id, firm.alice_1.id)],
            hostname="127.0.0.1",
            port=port,
        )
    finally:
        server.close()
        await server.wait_closed()
    [message] = await messages_in(db, firm.alice_1.id)
    assert message.body == "Via SMTP."


async def test_documents_are_counted_per_dossier(
    pipeline: Pipeline, db: Database, firm: Firm, settings
) -> None:
    """Attachments mailed to two dossiers land in each, as the services list and count them:
    new for the firm, not for the client who sent them, and nothing in a third dossier."""
    from core.models import DocumentCategory
    from core.services import documents, dossiers

    for dossier, names in ((firm.alice_1, ["a.pdf", "b.pdf"]), (firm.alice_2, ["c.pdf"])):
        raw = reply_mail(
            sender="alice@example.nl",
            to=reply_to(settings, "a", firm.alice.id, dossier.id),
            text="Bijlagen.",
            attachments=[(n, "application/pdf", b"%PDF " + n.encode()) for n in names],
        )
        assert (await pipeline.handle(raw)).outcome == "stored"
    staff, alice = firm.actor(firm.staff), firm.actor(firm.alice)
    counted = {}
    async with db.read() as s:
        for dossier in (firm.alice_1, firm.alice_2, firm.bv_1):
            rows = await documents.list_documents(
                s, staff, dossier_id=dossier.id, category=DocumentCategory.DELIVERED
            )
            view = await dossiers.open_dossier(s, staff, dossier_id=dossier.id)
            names = sorted(r.document.filename for r in rows)
            counted[dossier.number] = (names, view.unread["delivered"])
        own = await dossiers.open_dossier(s, alice, dossier_id=firm.alice_1.id)
    assert counted == {
        "2026-0001": (["a.pdf", "b.pdf"], 2),
        "2026-0002": (["c.pdf"], 1),
        "2026-0100": ([], 0),
    }
    assert own.unread["delivered"] == 0  # her own, not news to her


async def test_quarantined_mail_is_filed_by_staff(
    pipeline: Pipeline, db: Database, firm: Firm, store, settings
) -> None:
    from mailbridge.filing import file_from_quarantine

    from .conftest import SYSTEM

    result = await pipeline.handle(
        reply_mail(
            sender="alice@example.nl",
            to="portaal@kantoor.example",
            subject="Mijn stukken",
            text="Zie bijlage.",
            attachments=[("loon.pdf", "application/pdf", b"%PDF loon")],
        )
    )
    assert result.outcome == "quarantined"
    filed = await file_from_quarantine(db, store, settings, SYSTEM, result.inbound_id, "2026-0001")
    [message] = await messages_in(db, firm.alice_1.id)
    assert message.id == filed.message_id and message.author_id == firm.alice.id
    assert message.body == "Zie bijlage." and [d.filename for d in message.attachments] == [
        "loon.pdf"
    ]
    async with db.read() as s:
        record = await s.get(InboundMail, result.inbound_id)
    assert record.outcome == "stored" and record.path[-1] == "filed by staff"
    from core.errors import ValidationError

    with pytest.raises(ValidationError):  # filing twice is refused
        await file_from_quarantine(db, store, settings, SYSTEM, result.inbound_id, "2026-0001")


async def test_a_known_client_hears_once_a_day_that_a_mail_was_not_filed(
    pipeline: Pipeline, db: Database, firm: Firm
) -> None:
    from core.models import OutboxItem

    for n in range(3):
        result = await pipeline.handle(
            reply_mail(
                sender="alice@example.nl", to="portaal@kantoor.example", subject=f"Los bericht {n}"
            )
        )
        assert result.outcome == "quarantined"
    stranger = await pipeline.handle(
        reply_mail(sender="iemand@anders.example", to="portaal@kantoor.example", subject="Hallo")
    )
    assert stranger.outcome == "quarantined"
    async with db.read() as s:
        items = list(await s.scalars(select(OutboxItem).where(OutboxItem.kind == "mail_not_filed")))
    assert [(i.recipient, i.payload["subject"]) for i in items] == [
        ("alice@example.nl", "Los bericht 0")
    ]


async def test_a_zip_bomb_named_pdf_is_stored_as_it_came_never_unpacked(
    pipeline: Pipeline, db: Database, firm: Firm, settings, store
) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("huge.bin", b"\0" * (50 * 1024 * 1024))  # 50 MB of zeros, ~50 KB packed
    bomb = buffer.getvalue()
    assert len(bomb) < store.limit
    raw = reply_mail(
        sender="alice@example.nl",
        to=reply_to(settings, "a", firm.alice.id, firm.alice_1.id),
        attachments=[("factuur.pdf", "application/pdf", bomb)],
    )
    assert (await pipeline.handle(raw)).outcome == "stored"
    [message] = await messages_in(db, firm.alice_1.id)
    [doc] = message.attachments
    assert (doc.filename, doc.size) == ("factuur.pdf", len(bomb))


async def test_a_30_mb_attachment_over_the_limit(db: Database, firm: Firm, tmp_path: Path) -> None:
    from core.storage import LocalFileStore as Store

    settings = mail_settings(
        tmp_path, reply_address="reply+{token}@kantoor.example", upload_limit=25 * 1024 * 1024
    )
    store = Store(tmp_path / "bigstore", limit=settings.upload_limit)
    pipeline = Pipeline(db, store, settings)
    raw = reply_mail(
        sender="alice@example.nl",
        to=reply_to(settings, "a", firm.alice.id, firm.alice_1.id),
        text="Grote scan.",
        attachments=[("scan.tiff", "image/tiff", b"\x49" * (30 * 1024 * 1024))],
    )
    result = await pipeline.handle(raw)
    assert result.outcome == "stored"
    [message] = await messages_in(db, firm.alice_1.id)
    assert message.attachments == [] and "over the size limit" in message.body
    async with db.read() as s:
        record = await s.get(InboundMail, result.inbound_id)
    assert "over the size limit" in record.reason and record.raw_storage_key  # the original is kept


async def test_forwarded_mail_rfc2047_names_and_a_broken_winmail_dat(
    pipeline: Pipeline, db: Database, firm: Firm, settings
) -> None:
    to = reply_to(settings, "a", firm.alice.id, firm.alice_1.id)
    raw = (
        "From: alice@example.nl\r\nTo: " + to + "\r\nSubject: Doorgestuurd\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nZie de bijlagen.\r\n"
        "--B\r\nContent-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="=?utf-8?q?Jaaropgave_caf=C3=A9.pdf?="\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n"
        "--B\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: bank@bank.example\r\nSubject: Jaaroverzicht\r\n\r\nUw jaaroverzicht.\r\n"
        "--B\r\nContent-Type: application/ms-tnef\r\n"
        'Content-Disposition: attachment; filename="winmail.dat"\r\n\r\nnot really tnef\r\n'
        "--B--\r\n"
    ).encode()
    result = await pipeline.handle(raw)
    assert result.outcome == "stored"
    [message] = await messages_in(db, firm.alice_1.id)
    assert message.body == "Zie de bijlagen."
    assert sorted(d.filename for d in message.attachments) == [
        "Jaaropgave café.pdf",
        "forwarded.eml",
        "winmail.dat",
    ]
