"""Words staff (and clients) read on the staff workspace: a count with a noun agrees with the
count in Dutch and English."""

from __future__ import annotations

import re
from pathlib import Path

from core.db import Database
from core.models import Account, Checklist, ChecklistStatus, Language
from core.services import checklists, dossiers
from core.storage import LocalFileStore

from .botkit import bot_settings, link, running
from .conftest import PASSWORD, SYSTEM, Firm, mail_settings, set_password
from .fakebotapi import FakeBotAPI
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)
from .webclient import Browser


def text(html: str) -> str:
    """What a person reads: the page without its tags, one space between words."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def as_person(browser: Browser, db: Database, account: Account, language: str) -> None:
    async with db.begin() as s:
        (await s.get(Account, account.id)).language = Language(language)
    await set_password(db, account.id)
    await browser.login(account.username, PASSWORD)


async def submitted_checklists(db: Database, how_many: int) -> None:
    from .test_web_accounts import koopwoning_for_alice

    for _ in range(how_many):
        given = await koopwoning_for_alice(db)
        async with db.begin() as s:
            row = await s.get(Checklist, given.id)
            row.status, row.locked = ChecklistStatus.SUBMITTED, True


async def test_counts_agree_with_their_noun_in_dutch_and_english(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await submitted_checklists(db, 1)
    await as_person(browser, db, firm.staff, "nl")
    await browser.get("/staff/inbox")
    assert "1 ingediende checklist om te beoordelen" in text(browser.last_html)
    await browser.get("/dossiers/2026-0002")  # no steps yet
    async with db.begin() as s:
        await dossiers.add_step(s, SYSTEM, "2026-0002", "Intake")
    await browser.get("/dossiers/2026-0002")
    assert "0/1 stap afgerond" in text(browser.last_html)
    await browser.get("/dossiers")
    assert "0 van 1 stap klaar" in text(browser.last_html)
    assert "0 van 2 stappen klaar" in text(browser.last_html)  # 2026-0001's two steps

    await submitted_checklists(db, 1)
    await browser.get("/staff/inbox")
    assert "2 ingediende checklists om te beoordelen" in text(browser.last_html)
    await browser.post("/logout")

    await as_person(browser, db, firm.staff, "en")
    await browser.get("/staff/inbox")
    assert "2 submitted checklists to review" in text(browser.last_html)
    async with db.begin() as s:
        row = await s.get(Checklist, 1)
        row.status = ChecklistStatus.APPROVED
    await browser.get("/staff/inbox")
    assert "1 submitted checklist to review" in text(browser.last_html)
    await browser.get("/dossiers/2026-0002")
    assert "0/1 step done" in text(browser.last_html)
    await browser.get("/dossiers")
    assert "0 of 1 step done" in text(browser.last_html)
    await browser.post("/logout")

    # The client's home tile counts open checklists the same way.
    await as_person(browser, db, firm.alice, "nl")
    async with db.begin() as s:
        await checklists.assign(s, SYSTEM, number="2026-0002", template_name="notaris-koopwoning")
    await browser.get("/")
    assert "1 openstaande vragenlijst of checklist" in text(browser.last_html)


async def test_the_bots_dossier_list_counts_steps_in_the_chats_language(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    async with db.begin() as s:
        await dossiers.add_step(s, SYSTEM, "2026-0002", "Intake")
    alice = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, alice)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram):
        alice.command("dossiers")
        listed = (await alice.next_message()).text
        assert "0 van 2 stappen klaar" in listed and "0 van 1 stap klaar" in listed
        async with db.begin() as s:
            (await s.get(Account, firm.alice.id)).language = Language.EN
        alice.command("dossiers")
        listed = (await alice.next_message()).text
        assert "0 of 2 steps done" in listed and "0 of 1 step done" in listed


def buttons(html: str, testid: str) -> list[str]:
    form = re.search(rf'data-testid="{testid}">(.*?)</form>', html, re.S).group(1)
    return [text(b) for b in re.findall(r"<button[^>]*>(.*?)</button>", form, re.S)]


async def test_publish_and_assign_are_two_different_words(
    browser: Browser, db: Database, firm: Firm
) -> None:
    from .test_web_accounts import koopwoning_for_alice

    await koopwoning_for_alice(db)  # a template to assign
    await as_person(browser, db, firm.staff, "nl")
    await browser.get("/dossiers/2026-0001")
    html = browser.last_html
    assert buttons(html, "publish") == ["Publiceren"] and "Publiceren als" in text(html)
    assert buttons(html, "assign") == ["Toewijzen"]
    response = await browser.post(
        "/dossiers/2026-0001/checklists", {"template": "notaris-koopwoning"}
    )
    assert response.status == 200
    assert "De checklist is toegewezen; de klant krijgt bericht." in text(browser.last_html)
    await browser.post("/logout")

    await as_person(browser, db, firm.staff, "en")
    await browser.get("/dossiers/2026-0001")
    assert buttons(browser.last_html, "publish") == ["Publish"]
    assert buttons(browser.last_html, "assign") == ["Assign"]


async def test_the_assignment_mail_and_chat_say_checklist_or_questionnaire_and_name_it(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from bot.compose import render as chat
    from core.models import OutboxItem
    from mailbridge.compose import render as mail

    from .conftest import mail_settings
    from .test_checklist_access import TEMPLATES

    settings = mail_settings(tmp_path)
    async with db.begin() as s:
        for name in ("inkomstenbelasting", "notaris-koopwoning"):
            await checklists.import_template(s, SYSTEM, (TEMPLATES / f"{name}.yaml").read_text())
            await checklists.assign(s, SYSTEM, number="2026-0001", template_name=name)
        items = list(
            await s.scalars(
                select(OutboxItem)
                .where(OutboxItem.kind == "new_questionnaire", OutboxItem.channel == "email")
                .order_by(OutboxItem.id)
            )
        )
    checklist, questionnaire = items
    assert checklist.language == "nl"
    composed = mail(checklist, settings)
    assert composed.subject == (
        "[2026-0001] Er staat een checklist voor u klaar: Checklist aangifte inkomstenbelasting"
    )
    said = 'Er staat een checklist voor u klaar in dossier 2026-0001: "Checklist aangifte'
    assert said in composed.text and "vragenlijst" not in composed.text.lower()
    assert said in chat(checklist, settings).text.replace("&quot;", '"')
    composed = mail(questionnaire, settings)
    assert composed.subject == (
        "[2026-0001] Er staat een vragenlijst voor u klaar: Vragenlijst aankoop woning"
    )
    assert 'Er staat een vragenlijst voor u klaar in dossier 2026-0001: "Vragenlijst' in (
        composed.text
    )

    checklist.language = questionnaire.language = "en"
    composed = mail(checklist, settings)
    assert composed.subject == (
        "[2026-0001] A checklist is waiting for you: Income tax return checklist"
    )
    said = 'The checklist "Income tax return checklist" is waiting for you in dossier 2026-0001.'
    assert said in composed.text
    assert said in chat(checklist, settings).text.replace("&quot;", '"')
    assert mail(questionnaire, settings).subject == (
        "[2026-0001] A questionnaire is waiting for you: Questionnaire for buying a home"
    )
    # Mail queued before the payload said which kind it was: words that fit either.
    del checklist.payload["template_kind"]
    assert mail(checklist, settings).subject == (
        "[2026-0001] A checklist or questionnaire is waiting for you"
    )


async def test_staff_read_why_a_mail_waits_in_their_language(
    db: Database, store: LocalFileStore, tmp_path: Path, aiohttp_client, firm: Firm
) -> None:
    from sqlalchemy import select

    from core.models import InboundMail
    from mailbridge.filing import QuarantineFiler
    from mailbridge.pipeline import Pipeline
    from web.app import create_app

    from .mails import AUTHSERV, reply_mail
    from .test_quarantine_filing import held

    settings = mail_settings(tmp_path, public_url="http://127.0.0.1", mail_authserv_id=AUTHSERV)
    app = create_app(settings, db, store, mail_filer=QuarantineFiler(db, store, settings))
    web = Browser(await aiohttp_client(app))
    nobody = await held(db, store, settings, "Akte", sender="notaris@elders.example")
    # Alice names a dossier that is not hers, and her mail carries a DKIM pass.
    raw = reply_mail(
        sender="alice@example.nl", to="portaal@kantoor.example", subject="[2026-0100] cijfers"
    )
    wrong = (await Pipeline(db, store, settings).handle(raw)).inbound_id
    old = await held(db, store, settings, "Oud", sender="iemand@elders.example")
    async with db.begin() as s:
        rows = {r.id: r for r in await s.scalars(select(InboundMail))}
        assert rows[nobody].reason == "no dossier found for this mail"  # kept for the audit
        assert rows[nobody].reason_code == "no_dossier"
        assert rows[wrong].reason == "sender alice@example.nl may not write in dossier 2026-0100"
        rows[old].reason_code = None  # recorded before the code was stored

    def reasons() -> list[str]:
        return [text(r) for r in re.findall(r'data-testid="reason">(.*?)</span>', web.last_html)]

    await as_person(web, db, firm.staff, "nl")
    await web.get("/staff/quarantine")
    assert reasons() == [
        "no dossier found for this mail",  # the old row: its English, as it was recorded
        "De afzender mag niet schrijven in het dossier dat de e-mail noemt.",
        "Geen dossier gevonden voor deze e-mail.",
    ]
    await web.get(f"/staff/quarantine/{wrong}")
    assert reasons() == ["De afzender mag niet schrijven in het dossier dat de e-mail noemt."]
    assert "Zoals vastgelegd" in web.last_html  # the English, with its details, one click away
    await web.post("/logout")

    await as_person(web, db, firm.staff, "en")
    await web.get("/staff/quarantine")
    assert reasons()[1:] == [
        "The sender may not write in the dossier the mail names.",
        "No dossier found for this mail.",
    ]


async def test_the_audit_trail_names_each_action_and_keeps_the_stored_one(
    browser: Browser, db: Database, store: LocalFileStore, tmp_path: Path, firm: Firm
) -> None:
    from core import audit
    from mailbridge.pipeline import Pipeline

    from .mails import AUTHSERV, reply_mail

    settings = mail_settings(tmp_path, public_url="http://127.0.0.1", mail_authserv_id=AUTHSERV)
    raw = reply_mail(sender="alice@example.nl", to="portaal@kantoor.example")
    assert (await Pipeline(db, store, settings).handle(raw)).outcome == "stored"
    async with db.begin() as s:
        audit.record(s, SYSTEM, "future.thing", dossier_id=firm.alice_1.id)

    def actions() -> list[tuple[str, str]]:
        return [
            (raw, text(label))
            for raw, label in re.findall(
                r'data-testid="action" title="([^"]*)">(.*?)</td>', browser.last_html, re.S
            )
        ]

    await as_person(browser, db, firm.staff, "nl")
    await browser.get("/dossiers/2026-0001/audit")
    shown = actions()
    assert ("message.email_in", "Bericht per e-mail ontvangen") in shown
    assert ("future.thing", "future.thing") in shown  # unknown: as it is stored
    assert ("dossier.create", "Dossier aangemaakt") in shown
    exported = await (await browser.get("/dossiers/2026-0001/audit.csv")).text()
    assert ",message.email_in," in exported and "Bericht per e-mail" not in exported
    await browser.post("/logout")
    await as_person(browser, db, firm.staff, "en")
    await browser.get("/dossiers/2026-0001/audit")
    assert ("message.email_in", "Message received by mail") in actions()


def test_every_action_the_code_records_has_a_label() -> None:
    from core.services.audittrail import ACTION_LABELS

    root = Path(__file__).resolve().parent.parent
    recorded = set()
    for folder in ("core", "web", "mailbridge", "bot", "loket"):
        for source in (root / folder).rglob("*.py"):
            code = source.read_text()
            for call in re.finditer(r"audit\.record\(\s*[^,]+,\s*[^,]+,\s*\"([a-z_.]+)\"", code):
                recorded.add(call.group(1))
    assert len(recorded) > 40
    assert recorded - ACTION_LABELS.keys() == set()
