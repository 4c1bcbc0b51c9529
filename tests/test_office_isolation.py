"""Two intermediary offices and their clients, across every route an intermediary reaches: the
web view (dossier and its tabs, documents, messages, checklists and their uploads), mail
replies and the bot. Each office reaches its own dossiers and nothing of the other's; a client
reaches its visible dossier only. 0 unexpected 2xx, and nothing lands where it may not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import replytokens
from core.db import Database
from core.models import Document, InboundMail, Message
from core.replytokens import ReplyTarget
from core.services import checklists, documents, messages
from core.storage import LocalFileStore

from .botkit import bot_settings, forged_press, link, running
from .conftest import PASSWORD, SYSTEM, Firm, mail_settings, set_password
from .fakebotapi import FakeBotAPI
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)
from .test_access import upload
from .test_checklist_access import TEMPLATES
from .webclient import Browser

PEOPLE = ("office", "other_office", "carol", "dirk")
DOSSIERS = ("carol_visible", "carol_hidden", "dirk_visible", "dirk_hidden")
SEES = {
    "office": {"carol_visible", "carol_hidden"},
    "other_office": {"dirk_visible", "dirk_hidden"},
    "carol": {"carol_visible"},
    "dirk": {"dirk_visible"},
}


@dataclass
class Content:
    number: str
    dossier_id: int
    document: int
    message: int
    checklist: int


@pytest.fixture
async def offices(db: Database, firm: Firm, store: LocalFileStore) -> dict[str, Content]:
    """The second office gets dossiers of its own (firm.with_second_office), and every dossier
    of both offices a published document, a message from the firm and a checklist."""
    await firm.with_second_office(db)
    out = {}
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        for name in DOSSIERS:
            d = getattr(firm, name)
            doc = await documents.publish_document(
                s, store, SYSTEM, number=d.number, upload=upload()
            )
            msg = await messages.send_message(
                s, store, SYSTEM, number=d.number, subject="Vraag", body="Hoe gaat het?"
            )
            c = await checklists.assign(
                s, SYSTEM, number=d.number, template_name="inkomstenbelasting"
            )
            out[name] = Content(d.number, d.id, doc.id, msg.id, c.id)
    return out


async def counted(db: Database, model, dossier_id: int) -> int:
    async with db.read() as s:
        if model is Message:
            where = Message.dossier_id == dossier_id
        else:
            where = Document.dossier_id == dossier_id
        return await s.scalar(select(func.count()).select_from(model).where(where))


@pytest.mark.parametrize("who", PEOPLE)
async def test_the_web_view(
    browser: Browser, db: Database, firm: Firm, offices: dict[str, Content], who
) -> None:
    await set_password(db, getattr(firm, who).id)
    await browser.login(getattr(firm, who).username, PASSWORD)
    await browser.get("/dossiers?q=2026")
    shown = {name for name in DOSSIERS if offices[name].number in browser.last_html}
    assert shown == SEES[who]
    await browser.get("/actions")
    page = browser.last_html
    assert {name for name in DOSSIERS if f"/checklists/{offices[name].checklist}" in page} <= (
        SEES[who]
    )
    for what in DOSSIERS:
        await _every_route(browser, db, offices[what], what in SEES[who])


async def _every_route(browser: Browser, db: Database, c: Content, allowed: bool) -> None:
    reads = [
        f"/dossiers/{c.number}",
        f"/dossiers/{c.number}?tab=messages",
        f"/dossiers/{c.number}?tab=delivered",
        f"/dossiers/{c.number}?tab=document",
        f"/documents/{c.document}/download",
        f"/messages/{c.message}",
        f"/dossiers/{c.number}/messages/new",
        f"/checklists/{c.checklist}",
        f"/checklists/{c.checklist}/summary",
    ]
    # A client sees only what is given to it: the checklists here are the office's on a
    # hidden dossier and the client's on a visible one; the office answers either.
    for path in reads:
        response = await browser.get(path, allow_redirects=False)
        assert (response.status < 400) is allowed, (path, response.status)
    # The firm's side of a dossier: never an office's or a client's.
    await browser.get("/dossiers")
    staff_only = [
        (f"/dossiers/{c.number}/audit", None),
        (f"/dossiers/{c.number}/downloads", None),
        (f"/dossiers/{c.number}/status", {"status": "completed"}),
        (f"/dossiers/{c.number}/steps", {"title": "Klaar"}),
        (f"/dossiers/{c.number}/checklists", {"template": "inkomstenbelasting"}),
        (f"/checklists/{c.checklist}/approve", {}),
        (f"/checklists/{c.checklist}/reject", {"reason": "nee"}),
        (f"/documents/{c.document}/reject", {"reason": "nee"}),
    ]
    for path, form in staff_only:
        if form is None:
            response = await browser.get(path, allow_redirects=False)
        else:
            response = await browser.post(path, form, allow_redirects=False)
        assert response.status >= 400, (path, response.status)

    messages_before = await counted(db, Message, c.dossier_id)
    documents_before = await counted(db, Document, c.dossier_id)
    await browser.get("/dossiers")  # a page with a CSRF token
    sent = await browser.post_multipart(
        f"/dossiers/{c.number}/messages",
        [("subject", "Van mij"), ("body", "Zie bijlage")],
        files=[("files", "loonstrook.pdf", b"%PDF loonstrook", "application/pdf")],
        allow_redirects=False,
    )
    answered = await browser.post_multipart(
        f"/checklists/{c.checklist}",
        [("section", "1"), ("go", "stay"), ("q:inkomstenbron", "loondienst")],
        files=[("file:jaaropgave", "jaaropgave.pdf", b"%PDF jaaropgave", "application/pdf")],
        allow_redirects=False,
    )
    submitted = await browser.post(f"/checklists/{c.checklist}/submit", {}, allow_redirects=False)
    assert (sent.status < 400) is allowed, sent.status
    assert (answered.status < 400) is allowed, answered.status
    assert submitted.status >= 400 or allowed  # refused as incomplete, or not found
    grew = (
        await counted(db, Message, c.dossier_id) - messages_before,
        await counted(db, Document, c.dossier_id) - documents_before,
    )
    assert grew == ((1, 2) if allowed else (0, 0))  # the message, its file and the answer's


@pytest.mark.parametrize(
    "sender,token_for,what",
    [
        ("post@ander.example", "office", "carol_visible"),  # the other office, with our address
        ("dirk@example.nl", "carol", "carol_visible"),  # the other office's client
        ("post@tussen.example", "other_office", "dirk_hidden"),
        ("carol@example.nl", "dirk", "dirk_visible"),
    ],
)
async def test_a_mail_reply_reaches_only_its_own_dossier(
    db: Database,
    firm: Firm,
    store: LocalFileStore,
    tmp_path: Path,
    offices: dict[str, Content],
    sender,
    token_for,
    what,
) -> None:
    """A reply to another party's reply address (a forwarded notification) is not filed into
    a dossier the sender does not see: it waits in quarantine for staff."""
    from mailbridge.pipeline import Pipeline

    from .mails import reply_mail

    settings = mail_settings(tmp_path, reply_address="reply+{token}@kantoor.example")
    party = getattr(firm, token_for)
    target = (
        ReplyTarget("o", party.intermediary_id, offices[what].dossier_id)
        if party.intermediary_id
        else ReplyTarget("a", party.id, offices[what].dossier_id)
    )
    to = replytokens.address(settings.reply_address, replytokens.make(settings.secret_key, target))
    before = await counted(db, Message, offices[what].dossier_id)
    raw = reply_mail(sender=sender, to=to, subject=f"Re: [{offices[what].number}] Vraag")
    result = await Pipeline(db, store, settings).handle(raw)
    assert result.outcome == "quarantined"
    assert await counted(db, Message, offices[what].dossier_id) == before
    async with db.read() as s:
        inbound = await s.get(InboundMail, result.inbound_id)
    assert inbound.dossier_id is None


async def test_the_bot_reaches_only_the_offices_own(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
    offices: dict[str, Content],
) -> None:
    chat = fake_telegram.private_chat("Ander", language_code="nl")
    await link(db, firm.other_office, chat)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram):
        chat.command("dossiers")
        listed = (await chat.next_message()).text
        assert offices["dirk_hidden"].number in listed and offices["dirk_visible"].number in listed
        assert "2026-0200" not in listed and "2026-0201" not in listed
        chat.command("message")
        anchor = (await chat.next_message()).message_id
        for name in ("carol_visible", "carol_hidden"):
            c = offices[name]
            for data in (f"c:{c.checklist}", f"wh:{c.checklist}:0", f"m:{c.dossier_id}"):
                forged_press(fake_telegram, chat, data, anchor)
                assert (await chat.next_message()).text in (
                    "Deze checklist is niet gevonden.",
                    f"Dossier #{c.dossier_id} is niet gevonden.",
                ), data
    for name in ("carol_visible", "carol_hidden"):
        assert await counted(db, Message, offices[name].dossier_id) == 1  # the firm's own
