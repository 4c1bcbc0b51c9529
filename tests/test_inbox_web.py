"""The staff inbox in the web view: the staff home page, filters in the address, an entry opened
through the inbox is read (for that staff member only), "mark all read", and no one but staff
reaches any of it (the inbox's and the quarantine's routes, every kind of other account)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import Database
from core.models import AuditEvent, Channel, InboundMail, Message
from core.services import messages
from core.services.accounts import create_staff
from core.storage import LocalFileStore
from mailbridge.filing import QuarantineFiler

from . import test_quarantine_filing as quarantine_tests
from .conftest import SYSTEM, Firm
from .test_quarantine_filing import held, logged_in
from .webclient import Browser

# The web view as `loket serve` wires it, with the mail bridge's filer.
settings = quarantine_tests.settings
web = quarantine_tests.staff_web


async def say(db, store, actor, number: str, subject: str) -> int:
    async with db.begin() as s:
        m = await messages.send_message(s, store, actor, number=number, subject=subject, body="…")
        return m.id


@pytest.fixture
async def said(db: Database, store: LocalFileStore, firm: Firm) -> dict[str, int]:
    return {
        "mail": await say(
            db, store, firm.actor(firm.alice, Channel.EMAIL), "2026-0001", "Per mail"
        ),
        "web": await say(db, store, firm.actor(firm.bv_main), "2026-0100", "Via het portaal"),
        "own": await say(db, store, firm.actor(firm.staff), "2026-0100", "Ons antwoord"),
    }


def unread_keys(html: str) -> set[str]:
    import re

    return set(re.findall(r'<li class="unread[^"]*" data-testid="entry-([\w-]+)"', html))


async def test_the_inbox_is_the_staff_home_page(
    web: Browser, db: Database, firm: Firm, said
) -> None:
    await logged_in(web, db, firm.staff)
    response = await web.get("/")
    assert response.status == 200
    page = web.last_html
    assert "<h1>Inbox" in page and "2 ongelezen" in page
    # Newest first, with the client's name and dossier, linked through the inbox.
    assert page.index("Ons antwoord") < page.index("Via het portaal") < page.index("Per mail")
    assert "Bakkerij BV" in page and "Alice de Vries" in page
    assert f'href="/staff/inbox/message/{said["mail"]}"' in page
    assert unread_keys(page) == {f"message-{said['mail']}", f"message-{said['web']}"}


async def test_filters_from_the_address(web: Browser, db: Database, firm: Firm, said) -> None:
    await logged_in(web, db, firm.staff)
    await web.get("/staff/inbox?channel=email")
    assert "Per mail" in web.last_html and "Via het portaal" not in web.last_html
    await web.get("/staff/inbox?dossier=2026-0100&kind=message")
    assert "Via het portaal" in web.last_html and "Per mail" not in web.last_html
    await web.get(f"/staff/inbox?handler={firm.staff.id}&unread=1")
    assert "Ons antwoord" not in web.last_html and "Per mail" in web.last_html
    missing = await web.get("/staff/inbox?dossier=9999-0000")
    assert missing.status == 200 and "Dossier 9999-0000 is niet gevonden." in web.last_html
    # Nonsense in the address is no filter at all, and no error.
    for odd in ("channel=fax", "kind=%00", "handler=x", "page=-3", "page=99999999999999999999"):
        response = await web.get(f"/staff/inbox?{odd}")
        assert response.status == 200, odd


async def test_opening_marks_read_for_that_staff_member_only(
    aiohttp_client, web: Browser, db: Database, store, settings, firm: Firm, said
) -> None:
    async with db.begin() as s:
        piet = await create_staff(s, SYSTEM, username="piet", email="piet@firm.example")
    await logged_in(web, db, firm.staff)
    opened = await web.get(f"/staff/inbox/message/{said['mail']}", allow_redirects=False)
    assert (opened.status, opened.headers["Location"]) == (303, f"/messages/{said['mail']}")
    await web.get("/staff/inbox")
    assert unread_keys(web.last_html) == {f"message-{said['web']}"}

    from web.app import create_app

    other = Browser(
        await aiohttp_client(
            create_app(settings, db, store, mail_filer=QuarantineFiler(db, store, settings))
        )
    )
    await logged_in(other, db, piet)
    await other.get("/staff/inbox")
    assert unread_keys(other.last_html) == {f"message-{said['mail']}", f"message-{said['web']}"}

    # "Mark all read" marks up to the newest entry the page showed.
    await other.post("/staff/inbox/read", {"until": "2999-01-01T00:00:00+00:00"})
    assert unread_keys(other.last_html) == set()
    await web.get("/staff/inbox")
    assert unread_keys(web.last_html) == {f"message-{said['web']}"}
    newer = await say(db, store, firm.actor(firm.carol), "2026-0200", "Later")
    await other.get("/staff/inbox")
    assert unread_keys(other.last_html) == {f"message-{newer}"}


async def test_mark_all_read_needs_the_form_token(web: Browser, db: Database, firm, said) -> None:
    await logged_in(web, db, firm.staff)
    response = await web.post("/staff/inbox/read", {"csrf": "forged"})
    assert response.status == 403
    await web.get("/staff/inbox")
    assert len(unread_keys(web.last_html)) == 2


# Every route of the inbox and the quarantine, with what a non-staff account may get.
ROUTES = [
    ("GET", "/staff/inbox"),
    ("GET", "/staff/inbox?kind=message"),
    ("GET", "/staff/inbox/message/{mail}"),
    ("GET", "/staff/inbox/document/1"),
    ("POST", "/staff/inbox/read"),
    ("GET", "/staff/quarantine"),
    ("GET", "/staff/quarantine/{held}"),
    ("GET", "/staff/quarantine/{held}?q=2026"),
    ("POST", "/staff/quarantine/{held}/file"),
    ("POST", "/staff/quarantine/{held}/discard"),
]


@pytest.mark.parametrize("who", ["alice", "bv_main", "bv_extra", "carol", "office", "other_office"])
async def test_no_one_but_staff_reaches_the_inbox_or_the_quarantine(
    web: Browser, db: Database, store, settings, firm: Firm, said, who
) -> None:
    inbound_id = await held(db, store, settings, "Re: [2026-0001] stukken")
    await logged_in(web, db, getattr(firm, who))
    assert "/staff/inbox" not in web.last_html and "/staff/quarantine" not in web.last_html
    csrf = web.csrf()
    for method, path in ROUTES:
        path = path.format(mail=said["mail"], held=inbound_id)
        if method == "GET":
            response = await web.get(path, allow_redirects=False)
        else:
            response = await web.post(
                path, {"dossier": "2026-0001"}, csrf=csrf, allow_redirects=False
            )
        assert response.status in (403, 404), (who, method, path, response.status)
        assert "Per mail" not in web.last_html and "stukken" not in web.last_html
    async with db.read() as s:
        assert (await s.get(InboundMail, inbound_id)).outcome == "quarantined"
        assert (
            await s.scalar(select(AuditEvent.id).where(AuditEvent.action == "mail.discard")) is None
        )
        reads = await s.scalars(select(Message.id))
        assert len(list(reads)) == 3
