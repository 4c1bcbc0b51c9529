"""Against a real Dovecot: a notification goes out, the client answers it as a mail client
would, and the answer lands in the dossier; the mail then moves to the done folder."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core import outbox
from core.db import Database
from core.models import Direction, InboundMail, Message
from core.services import messages
from core.storage import LocalFileStore
from mailbridge.imap import ImapSource
from mailbridge.pipeline import Pipeline
from mailbridge.smtp import SmtpSender

from .conftest import SYSTEM, Firm, SmtpServer, mail_settings
from .dovecot import PASSWORD, USER, Dovecot
from .mails import AUTHSERV


def imap_settings(tmp_path, dovecot: Dovecot, smtp_port: int | None = None):
    return mail_settings(
        tmp_path,
        smtp_port,
        reply_address="reply+{token}@kantoor.example",
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_user=USER,
        imap_password=PASSWORD,
        imap_folder="INBOX",
        imap_done_folder="Processed",
        mail_authserv_id=AUTHSERV,  # mail matched by subject comes with its pass (.mails)
    )


def answer(sent: EmailMessage, *, text: str, attachments: list[tuple[str, str, bytes]]) -> bytes:
    """What Thunderbird makes of "Reply": Re: subject, threading headers, the quote, a signature."""
    original = sent.get_body(("plain",)).get_content()
    reply = EmailMessage()
    reply["From"] = "Alice de Vries <alice@example.nl>"
    reply["To"] = str(sent["Reply-To"])
    reply["Subject"] = "Re: " + str(sent["Subject"])
    reply["Message-ID"] = make_msgid(domain="example.nl")
    reply["In-Reply-To"] = str(sent["Message-ID"])
    reply["References"] = str(sent["Message-ID"])
    quoted = "\n".join("> " + line for line in original.splitlines())
    reply.set_content(
        f"{text}\n\n-- \nAlice de Vries\nTel. 06-12345678\n\n"
        f"Op 24-11-2026 om 10:00 schreef Kantoor Test:\n{quoted}\n"
    )
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        reply.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return reply.as_bytes()


async def test_a_reply_by_mail_lands_in_the_dossier(
    db: Database,
    firm: Firm,
    store: LocalFileStore,
    smtp: SmtpServer,
    dovecot: Dovecot,
    tmp_path,
    mail_reader,
) -> None:
    settings = imap_settings(tmp_path, dovecot, smtp.port)
    async with db.begin() as s:
        await messages.send_message(
            s,
            store,
            SYSTEM,
            number="2026-0001",
            subject="Uw aangifte 2025",
            body="Beste Alice,\n\nWilt u uw jaaropgave en WOZ-beschikking sturen?",
        )
    await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)
    [sent] = smtp.messages

    dovecot.append(
        answer(
            sent,
            text="Goedemiddag,\n\nHierbij beide stukken.",
            attachments=[
                ("Jaaropgave 2025.pdf", "application/pdf", b"%PDF-1.4 jaaropgave"),
                ("WOZ-beschikking Ærø café €.jpg", "image/jpeg", b"\xff\xd8\xff woz"),
            ],
        )
    )
    source = ImapSource(settings, Pipeline(db, store, settings, reader=mail_reader))
    try:
        counts = await source.fetch_once()
        again = await source.fetch_once()
    finally:
        await source.close()
    assert counts == {"stored": 1} and again == {}
    async with db.read() as s:
        incoming = list(
            await s.scalars(
                select(Message)
                .where(Message.direction == Direction.INCOMING)
                .options(selectinload(Message.attachments))
            )
        )
    [message] = incoming
    assert message.dossier_id == firm.alice_1.id and message.author_id == firm.alice.id
    assert message.body == "Goedemiddag,\n\nHierbij beide stukken."
    assert message.subject == "Re: [2026-0001] Nieuw bericht: Uw aangifte 2025"
    assert sorted(d.filename for d in message.attachments) == [
        "Jaaropgave 2025.pdf",
        "WOZ-beschikking Ærø café €.jpg",
    ]
    # The original is kept for staff, written to the store as the mail was fetched.
    async with db.read() as s:
        [record] = await s.scalars(select(InboundMail))
    original = b"".join([chunk async for chunk in store.open(record.raw_storage_key)])
    assert record.message_id == message.id and b"Hierbij beide stukken." in original
    assert dovecot.count("INBOX") == 0 and dovecot.count("Processed") == 1


async def test_a_mail_handled_but_not_moved_is_not_handled_twice(
    db: Database, firm: Firm, store: LocalFileStore, dovecot: Dovecot, tmp_path
) -> None:
    """As after a crash between recording and moving: the next pass only moves it."""
    from .mails import reply_mail

    settings = imap_settings(tmp_path, dovecot)
    raw = reply_mail(sender="alice@example.nl", to="x@kantoor.example", subject="[2026-0001] hoi")
    dovecot.append(raw)
    pipeline = Pipeline(db, store, settings)
    source = ImapSource(settings, pipeline)
    try:
        await source.connect()
        [uid] = await source._uids()
        first = await pipeline.handle(
            await source._fetch(uid),
            mailbox=source.mailbox,
            uidvalidity=source.uidvalidity,
            uid=uid,
        )
        assert first.outcome == "stored"
        # …the process dies here, before the move. Next pass:
        assert await source.fetch_once() == {"duplicate": 1}
    finally:
        await source.close()
    async with db.read() as s:
        assert len(list(await s.scalars(select(Message)))) == 1
    assert dovecot.count("INBOX") == 0


def test_loket_mail_fetch(dovecot: Dovecot, tmp_path) -> None:
    from .mails import reply_mail
    from .test_cli import Loket

    cli = Loket(tmp_path / "data")
    cli.env |= {
        "LOKET_IMAP_HOST": "127.0.0.1",
        "LOKET_IMAP_PORT": str(dovecot.port),
        "LOKET_IMAP_USER": USER,
        "LOKET_IMAP_PASSWORD": PASSWORD,
        "LOKET_MAIL_AUTHSERV_ID": AUTHSERV,
    }
    cli("init")
    client = cli.json("client", "add", "--name", "Alice", "--email", "alice@example.nl")
    cli("dossier", "add", "--number", "D7", "--description", "d", "--client", str(client["id"]))
    dovecot.append(
        reply_mail(
            sender="alice@example.nl",
            to="in@kantoor.example",
            subject="Vraag [D7]",
            text="Per mail.",
        )
    )
    dovecot.append(
        reply_mail(
            sender="onbekend@else.example", to="in@kantoor.example", subject="Hallo", text="?"
        )
    )
    result = cli.json("mail", "fetch")
    assert result["outcomes"] == {"stored": 1, "quarantined": 1}
    assert cli.json("dossier", "show", "D7")["messages"][0]["body"] == "Per mail."
    assert dovecot.count("INBOX") == 0


async def test_the_same_reply_through_the_smtp_endpoint(
    db: Database, firm: Firm, store: LocalFileStore, smtp: SmtpServer, tmp_path
) -> None:
    import aiosmtplib

    from mailbridge.smtp_in import start_endpoint

    from .mailcatcher import free_port

    settings = mail_settings(tmp_path, smtp.port, reply_address="reply+{token}@kantoor.example")
    async with db.begin() as s:
        await messages.send_message(
            s,
            store,
            SYSTEM,
            number="2026-0001",
            subject="Uw aangifte 2025",
            body="Wilt u uw jaaropgave sturen?",
        )
    await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)
    [sent] = smtp.messages
    raw = answer(
        sent,
        text="Hierbij, per SMTP.",
        attachments=[
            ("Jaaropgave.pdf", "application/pdf", b"%PDF-1.4 j"),
            ("Überweisung €.png", "image/png", b"\x89PNG w"),
        ],
    )
    port = free_port()
    server = await start_endpoint(Pipeline(db, store, settings), "127.0.0.1", port, lmtp=False)
    try:
        await aiosmtplib.send(
            raw,
            sender="alice@example.nl",
            recipients=[str(sent["Reply-To"].addresses[0].addr_spec)],
            hostname="127.0.0.1",
            port=port,
        )
    finally:
        server.close()
        await server.wait_closed()
    async with db.read() as s:
        [message] = list(
            await s.scalars(
                select(Message)
                .where(Message.direction == Direction.INCOMING)
                .options(selectinload(Message.attachments))
            )
        )
    assert message.body == "Hierbij, per SMTP." and message.author_id == firm.alice.id
    assert sorted(d.filename for d in message.attachments) == [
        "Jaaropgave.pdf",
        "Überweisung €.png",
    ]


async def test_the_imap_source_reconnects_when_the_server_comes_back(
    db: Database, firm: Firm, store: LocalFileStore, dovecot: Dovecot, tmp_path
) -> None:
    import asyncio

    from .mails import reply_mail

    settings = imap_settings(tmp_path, dovecot)
    stop = asyncio.Event()
    source = ImapSource(settings, Pipeline(db, store, settings))
    task = asyncio.create_task(source.run(stop))

    async def stored(n: int) -> bool:
        for _ in range(150):
            async with db.read() as s:
                if len(list(await s.scalars(select(Message)))) >= n:
                    return True
            await asyncio.sleep(0.1)
        return False

    try:
        await asyncio.to_thread(
            dovecot.append,
            reply_mail(
                sender="alice@example.nl", to="in@kantoor.example", subject="[2026-0001] een"
            ),
        )
        assert await stored(1)  # pushed by IDLE
        await asyncio.to_thread(dovecot.stop, keep=True)  # the server goes away…
        await asyncio.sleep(1.5)
        await asyncio.to_thread(dovecot.start)  # …and comes back
        await asyncio.to_thread(
            dovecot.append,
            reply_mail(
                sender="alice@example.nl", to="in@kantoor.example", subject="[2026-0001] twee"
            ),
        )
        assert await stored(2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def test_the_lmtp_endpoint(db: Database, firm: Firm, store: LocalFileStore, tmp_path) -> None:
    import asyncio
    import smtplib

    from mailbridge.smtp_in import start_endpoint

    from .mailcatcher import free_port
    from .mails import reply_mail

    settings = mail_settings(tmp_path, mail_authserv_id=AUTHSERV)
    port = free_port()
    server = await start_endpoint(Pipeline(db, store, settings), "127.0.0.1", port, lmtp=True)

    def deliver() -> dict:
        with smtplib.LMTP("127.0.0.1", port) as lmtp:
            return lmtp.sendmail(
                "alice@example.nl",
                ["in@kantoor.example"],
                reply_mail(
                    sender="alice@example.nl",
                    to="in@kantoor.example",
                    subject="[2026-0001] via LMTP",
                    text="Via LMTP.",
                ),
            )

    try:
        refused = await asyncio.to_thread(deliver)
    finally:
        server.close()
        await server.wait_closed()
    assert refused == {}
    async with db.read() as s:
        [message] = list(await s.scalars(select(Message)))
    assert message.body == "Via LMTP." and message.dossier_id == firm.alice_1.id
