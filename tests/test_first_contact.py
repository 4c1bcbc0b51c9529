"""First contact: a client who has not chosen a password yet can answer everything by mail.
Their notifications say so and say where the invitation is; their link leads into the
invitation (or to a page that says how to start), never to a login they cannot pass; and the
invitation and a notification queued at the same moment arrive as one mail."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from core.db import Database
from core.models import Account, OutboxItem, OutboxStatus
from core.services import auth, messages
from core.storage import LocalFileStore
from mailbridge.compose import render

from .conftest import PASSWORD, SYSTEM, Firm, mail_settings, set_password
from .webclient import Browser

ANSWER_BY_MAIL = "reply to this mail, and attach any documents to your reply"


async def items_for(db: Database, account_id: int) -> list[OutboxItem]:
    async with db.read() as s:
        return list(
            await s.scalars(
                select(OutboxItem)
                .where(OutboxItem.account_id == account_id)
                .order_by(OutboxItem.id)
            )
        )


async def invite(db: Database, settings, account_id: int) -> str:
    async with db.begin() as s:
        return await auth.invite(s, SYSTEM, settings, await s.get(Account, account_id))


async def write(db: Database, store: LocalFileStore, number: str) -> None:
    async with db.begin() as s:
        await messages.send_message(
            s, store, SYSTEM, number=number, subject="Uw aangifte", body="Wilt u dit bekijken?"
        )


async def test_invitation_then_notification_arrive_as_one_mail(
    db: Database, firm: Firm, store: LocalFileStore, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path)
    raw = await invite(db, settings, firm.alice.id)
    await write(db, store, firm.alice_1.number)
    [item] = await items_for(db, firm.alice.id)
    assert item.kind == "new_message"
    mail = render(item, settings)
    text = mail.text
    assert "Uw aangifte" in mail.subject
    assert f"http://portal.test/invite/{raw}" in text  # the one link: into the invitation
    assert "/dossiers/" not in text
    assert "beantwoord deze mail" in text  # in Dutch, her language
    english = render(in_english(item), settings)
    assert ANSWER_BY_MAIL in english.text
    assert "You are also invited to the client portal" in english.text
    assert f"/invite/{raw}" in english.html


async def test_notification_then_invitation_arrive_as_one_mail(
    db: Database, firm: Firm, store: LocalFileStore, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path)
    await write(db, store, firm.alice_1.number)
    raw = await invite(db, settings, firm.alice.id)
    [item] = await items_for(db, firm.alice.id)
    assert item.kind == "new_message"
    assert f"/invite/{raw}" in render(item, settings).text


async def test_a_new_invitation_replaces_the_joined_one(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    settings = browser.settings
    first = await invite(db, settings, firm.alice.id)
    await write(db, store, firm.alice_1.number)
    second = await invite(db, settings, firm.alice.id)
    [item] = await items_for(db, firm.alice.id)
    text = render(item, settings).text
    assert f"/invite/{second}" in text and first not in text
    assert (await browser.get(f"/invite/{first}")).status == 410
    assert (await browser.get(f"/invite/{second}")).status == 200


async def test_after_a_separate_invitation_the_mail_says_so_and_links_to_how_to_start(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    settings = browser.settings
    await invite(db, settings, firm.alice.id)
    async with db.begin() as s:  # the invitation went out on its own, earlier
        invitation = await s.scalar(select(OutboxItem).where(OutboxItem.kind == "invitation"))
        invitation.status = OutboxStatus.SENT
    await write(db, store, firm.alice_1.number)
    item = (await items_for(db, firm.alice.id))[-1]
    english = render(in_english(item), settings)
    assert ANSWER_BY_MAIL in english.text
    assert "Your invitation to the client portal came in a separate mail" in english.text
    assert "http://127.0.0.1/welcome" in english.text
    assert "/dossiers/" not in english.text and "/login" not in english.text
    page = await browser.get("/welcome", headers={"Accept-Language": "en"})
    assert page.status == 200
    assert "follow the link in the invitation mail" in browser.last_html
    assert 'action="/password/forgot"' in browser.last_html


async def test_an_account_with_a_password_gets_the_usual_mail(
    db: Database, firm: Firm, store: LocalFileStore, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path)
    await set_password(db, firm.alice.id)
    await write(db, store, firm.alice_1.number)
    [item] = await items_for(db, firm.alice.id)
    text = render(in_english(item), settings).text
    assert ANSWER_BY_MAIL not in text and "invitation" not in text
    assert f"http://portal.test/dossiers/{firm.alice_1.number}" in text


def in_english(item: OutboxItem) -> OutboxItem:
    columns = {c.key: getattr(item, c.key) for c in item.__table__.columns}
    return OutboxItem(**{**columns, "language": "en"})


async def choose_password(browser: Browser, db: Database, account_id: int):
    async with db.begin() as s:
        raw = await auth.send_password_link(s, browser.settings, await s.get(Account, account_id))
    await browser.get(f"/password/{raw}")
    return await browser.post(
        f"/password/{raw}", {"password": PASSWORD, "repeat": PASSWORD}, allow_redirects=False
    )


async def test_after_choosing_a_password_the_client_lands_on_home(
    browser: Browser, db: Database, firm: Firm
) -> None:
    landed = await choose_password(browser, db, firm.alice.id)
    assert landed.status == 303 and landed.headers["Location"] == "/?welcome=1"
    await browser.get("/?welcome=1")
    assert "Welkom!" in browser.last_html and 'data-testid="action-count"' in browser.last_html


async def test_after_choosing_a_password_the_open_checklist_is_next(
    browser: Browser, db: Database, firm: Firm
) -> None:
    from core.services import checklists

    from .test_checklist_access import TEMPLATES

    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        given = await checklists.assign(
            s, SYSTEM, number=firm.alice_1.number, template_name="inkomstenbelasting"
        )
    landed = await choose_password(browser, db, firm.alice.id)
    assert landed.headers["Location"] == f"/checklists/{given.id}?welcome=1"
    assert (await browser.get(landed.headers["Location"])).status == 200
    assert "Welkom!" in browser.last_html


async def english(db: Database, account_id: int) -> None:
    from core.models import Language

    async with db.begin() as s:
        (await s.get(Account, account_id)).language = Language.EN


async def test_invitation_and_password_pages_are_in_the_accounts_language(
    browser: Browser, db: Database, firm: Firm
) -> None:
    """Alice reads English; her browser asks for Dutch and has chosen nothing here."""
    await english(db, firm.alice.id)
    dutch = {"Accept-Language": "nl-NL,nl;q=0.9"}
    raw = await invite(db, browser.settings, firm.alice.id)
    await browser.get(f"/invite/{raw}", headers=dutch)
    assert "Confirm your email address" in browser.last_html
    await browser.post(f"/invite/{raw}", {"email": "alice@example.nl"}, headers=dutch)
    assert "Check your mail" in browser.last_html  # the page after it, too
    async with db.begin() as s:
        link = await auth.send_password_link(
            s, browser.settings, await s.get(Account, firm.alice.id)
        )
    browser.client.session.cookie_jar.clear()  # another device: the mail opened elsewhere
    await browser.get(f"/password/{link}", headers=dutch)
    assert "Choose a password" in browser.last_html and 'lang="en"' in browser.last_html


async def test_the_code_page_speaks_the_accounts_language_and_a_used_code_says_wait(
    browser: Browser, db: Database, firm: Firm
) -> None:
    from .test_second_step_limits import with_totp

    totp = await with_totp(db, firm)
    await english(db, firm.alice.id)
    dutch = {"Accept-Language": "nl-NL,nl;q=0.9"}
    await browser.get("/login", headers=dutch)
    await browser.post("/login", {"username": "alice", "password": PASSWORD}, headers=dutch)
    assert 'lang="en"' in browser.last_html  # the code page, half logged in
    code = totp.now()
    assert (await browser.post("/login/code", {"code": code})).status == 200
    await browser.post("/logout")
    browser.client.session.cookie_jar.clear()
    await browser.get("/login", headers=dutch)
    await browser.post("/login", {"username": "alice", "password": PASSWORD})
    again = await browser.post("/login/code", {"code": code})
    assert again.status == 401
    assert "This code was just used. Wait for the next one in your app." in browser.last_html
    assert "not right" not in browser.last_html
