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
from core.models import InboundMail, Message
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
    assert "sender not verified: matched by subject only" in page
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
    assert "no dossier found for this mail" in staff_web.last_html
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
