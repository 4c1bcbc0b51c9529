"""Who may read, answer and review a checklist (core/access.py): staff every one; an
intermediary office's accounts every one on the office's dossiers (they answer for the client);
any other account only a checklist given to that very account, on a dossier it sees. Everyone
else gets "not found" and nothing they send is stored; an assignee who is not staff may not review
("forbidden"). Through the core services, the web view, mail, the reminders and `loket chat`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import reminders, replytokens, walker
from core.db import Database
from core.errors import NotFound, PermissionDenied
from core.models import (
    Account,
    Answer,
    Channel,
    Checklist,
    ChecklistAssignee,
    ChecklistStatus,
    Document,
    InboundMail,
    Message,
    OutboxItem,
)
from core.replytokens import ReplyTarget
from core.services import checklists
from core.services.documents import Upload
from core.settings import Settings
from core.storage import LocalFileStore, aiter_bytes

from .conftest import PASSWORD, SYSTEM, Firm, mail_settings, set_password
from .test_checklists import ALL_ANSWERS
from .webclient import Browser

TEMPLATES = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"


@dataclass
class Given:
    """One checklist on each kind of dossier, each given to one kind of account."""

    alice: int  # 2026-0001, given by default: to Alice
    bv_main: int  # 2026-0100, given only to the company's main account
    bv_extra: int  # 2026-0100, given only to the company's extra account
    carol: int  # 2026-0200 (intermediary, visible to the client), by default: to Carol
    office: int  # 2026-0201 (hidden from the client), by default: to the office


async def give(db: Database) -> Given:
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )

        async def one(number: str, *usernames: str) -> int:
            c = await checklists.assign(
                s,
                SYSTEM,
                number=number,
                template_name="inkomstenbelasting",
                usernames=list(usernames) or None,
            )
            return c.id

        return Given(
            alice=await one("2026-0001"),
            bv_main=await one("2026-0100", "bakkerij"),
            bv_extra=await one("2026-0100", "bakkerij.boekhouding"),
            carol=await one("2026-0200"),
            office=await one("2026-0201"),
        )


@pytest.fixture
async def given(db: Database, firm: Firm) -> Given:
    return await give(db)


STAFF, FILLS, NONE = "staff", "fills it in", "not found"
# (who, whose checklist, what they may do with it)
MATRIX = [
    ("staff", "alice", STAFF),
    ("staff", "office", STAFF),
    ("alice", "alice", FILLS),
    ("alice", "bv_main", NONE),  # another client's
    ("bv_main", "bv_main", FILLS),
    ("bv_main", "bv_extra", NONE),  # the main account does not see the extra account's
    ("bv_extra", "bv_extra", FILLS),
    ("bv_extra", "bv_main", NONE),  # the extra account sees the dossier, not the checklist
    ("carol", "carol", FILLS),
    ("carol", "office", NONE),  # on the dossier hidden from her
    ("office", "office", FILLS),  # given to the office by default: the client cannot see it
    ("office", "carol", FILLS),  # the office answers for its client, on its own dossier
    ("other_office", "carol", NONE),
    ("other_office", "office", NONE),
]
IDS = [f"{who}-{whose}" for who, whose, _ in MATRIX]


def upload(name: str = "jaaropgave.pdf") -> Upload:
    return Upload(name, aiter_bytes(b"%PDF " + name.encode()))


@dataclass
class State:
    answers: dict[str, object]
    documents: int
    status: ChecklistStatus
    locked: bool
    position: str | None


async def state(db: Database, checklist_id: int) -> State:
    async with db.read() as s:
        c = await s.get(Checklist, checklist_id)
        answers = {
            a.question_key: (a.value, a.not_available)
            for a in await s.scalars(select(Answer).where(Answer.checklist_id == checklist_id))
        }
        documents = await s.scalar(select(func.count(Document.id)))
        return State(answers, documents, c.status, c.locked, c.position)


def ops(store: LocalFileStore):
    """Every way to read or change a checklist in core, by name: (name, op(session, actor, id))."""
    form = checklists.SectionForm(values={"partner": "nee"}, not_available={}, files={})
    return [
        ("load", lambda s, a, c: checklists.load(s, a, c)),
        ("answer", lambda s, a, c: checklists.answer(s, a, c, "partner", "nee")),
        (
            "not_available",
            lambda s, a, c: checklists.not_available(s, a, c, "vorige_aanslag", reason="Kwijt"),
        ),
        ("attach", lambda s, a, c: checklists.attach(s, store, a, c, "jaaropgave", [upload()])),
        ("move", lambda s, a, c: checklists.move(s, a, c, +1)),
        ("save_section", lambda s, a, c: checklists.save_section(s, store, a, c, 0, form, "nl")),
        (
            "file_requested_document",
            lambda s, a, c: checklists.file_requested_document(s, store, a, c, 5, [upload()]),
        ),
        ("submit", lambda s, a, c: checklists.submit(s, store, a, c, firm="Kantoor")),
        ("approve", lambda s, a, c: checklists.approve(s, a, c)),
        ("reject", lambda s, a, c: checklists.reject(s, a, c, reason="Onvolledig")),
    ]


async def fill_all(db: Database, actor, checklist_id: int, store: LocalFileStore) -> None:
    for key, raw in ALL_ANSWERS:
        async with db.begin() as s:
            await checklists.answer(s, actor, checklist_id, key, raw)
    async with db.begin() as s:
        await checklists.attach(s, store, actor, checklist_id, "jaaropgave", [upload()])
        await checklists.not_available(s, actor, checklist_id, "vorige_aanslag")


@pytest.mark.parametrize("who,whose,may", MATRIX, ids=IDS)
async def test_the_checklist_matrix_in_core(
    db: Database, firm: Firm, given: Given, store: LocalFileStore, who, whose, may
) -> None:
    actor = firm.actor(getattr(firm, who))
    checklist_id = getattr(given, whose)
    dossier_id = (await state_dossier(db, checklist_id))[0]

    async with db.read() as s:
        in_actions = [c.id for c in await checklists.actions(s, actor)]
        try:
            on_dossier = [i.checklist.id for i in await checklists.on_dossier(s, actor, dossier_id)]
        except NotFound:
            on_dossier = []
    if may == STAFF:
        assert checklist_id not in in_actions  # nothing submitted yet: nothing to review
        assert checklist_id in on_dossier
    else:
        assert (checklist_id in in_actions) is (may == FILLS)
        assert (checklist_id in on_dossier) is (may == FILLS)

    if may == NONE:
        before = await state(db, checklist_id)
        for name, op in ops(store):
            with pytest.raises(NotFound):
                async with db.begin() as s:
                    await op(s, actor, checklist_id)
            assert await state(db, checklist_id) == before, name
        return

    # Those who may: every write lands, then the review is staff's alone.
    async with db.begin() as s:
        await checklists.answer(s, actor, checklist_id, "partner", "ja")
    async with db.begin() as s:
        await checklists.not_available(s, actor, checklist_id, "vorige_aanslag", reason="Kwijt")
    async with db.begin() as s:
        await checklists.move(s, actor, checklist_id, +1)
    async with db.begin() as s:
        form = checklists.SectionForm(values={"partner": "nee"}, not_available={}, files={})
        assert await checklists.save_section(s, store, actor, checklist_id, 0, form, "nl") == {}
    index = await question_index(db, checklist_id, "jaaropgave")
    async with db.begin() as s:
        await checklists.file_requested_document(
            s, store, actor, checklist_id, index, [upload("scan.pdf")]
        )
    await fill_all(db, actor, checklist_id, store)
    done = await state(db, checklist_id)
    assert done.answers["partner"] == (False, False)
    assert done.answers["vorige_aanslag"] == (None, True)
    assert len(done.answers["jaaropgave"][0]["documents"]) == 2
    async with db.begin() as s:
        await checklists.submit(s, store, actor, checklist_id, firm="Kantoor")
    reviews = [
        lambda s: checklists.reject(s, actor, checklist_id, reason="Onleesbaar"),
        lambda s: checklists.approve(s, actor, checklist_id),
    ]
    if may == STAFF:
        async with db.begin() as s:
            await reviews[0](s)
        assert (await state(db, checklist_id)).status is ChecklistStatus.REJECTED
        async with db.begin() as s:
            await checklists.submit(s, store, actor, checklist_id, firm="Kantoor")
        async with db.begin() as s:
            await reviews[1](s)
        assert (await state(db, checklist_id)).status is ChecklistStatus.APPROVED
    else:
        for review in reviews:
            with pytest.raises(PermissionDenied):
                async with db.begin() as s:
                    await review(s)
        assert (await state(db, checklist_id)).status is ChecklistStatus.SUBMITTED


async def state_dossier(db: Database, checklist_id: int) -> tuple[int]:
    async with db.read() as s:
        return ((await s.get(Checklist, checklist_id)).dossier_id,)


async def question_index(db: Database, checklist_id: int, key: str) -> int:
    """The question's place in the template, as its own reply address names it."""
    async with db.read() as s:
        definition = (await checklists.load(s, SYSTEM, checklist_id)).definition
    return [q["key"] for _, q in walker.all_questions(definition)].index(key)


ACCOUNTS = ("staff", "alice", "bv_main", "bv_extra", "carol", "office", "other_office")


async def test_a_checklist_read_by_one_account_is_not_changed_by_another_with_it(
    db: Database, firm: Firm, given: Given
) -> None:
    """A caller that read the checklist already passes it along (the bot does, to read it once
    an update): who may change it is still checked, for the account that changes it."""
    alice, stranger = firm.actor(firm.alice), firm.actor(firm.bv_main)
    before = await state(db, given.alice)
    changes = (
        lambda s, loaded: checklists.answer(
            s, stranger, given.alice, "partner", "ja", loaded=loaded
        ),
        lambda s, loaded: checklists.not_available(
            s, stranger, given.alice, "vorige_aanslag", loaded=loaded
        ),
        lambda s, loaded: checklists.move(s, stranger, given.alice, +1, loaded=loaded),
        lambda s, loaded: checklists.skip(s, stranger, given.alice, loaded=loaded),
    )
    for change in changes:
        with pytest.raises(NotFound):
            async with db.begin() as s:
                await change(s, await checklists.load(s, alice, given.alice))
    assert await state(db, given.alice) == before
    async with db.begin() as s:  # the one it is given to, with what she read
        loaded = await checklists.load(s, alice, given.alice)
        await checklists.answer(s, alice, given.alice, "partner", "ja", loaded=loaded)
    assert (await state(db, given.alice)).answers["partner"] == (True, False)


async def test_the_rule_in_sql_and_in_python_agree(db: Database, firm: Firm, given: Given) -> None:
    """visible_checklists (lists) and can_open_checklist (load) are one rule written twice."""
    from core import access
    from core.models import Dossier

    for who in ACCOUNTS:
        actor = firm.actor(getattr(firm, who))
        async with db.read() as s:
            in_sql = set(
                await s.scalars(
                    select(Checklist.id)
                    .join(Dossier, Dossier.id == Checklist.dossier_id)
                    .where(access.visible_checklists(actor))
                )
            )
            for checklist in await s.scalars(select(Checklist)):
                dossier = await s.get(Dossier, checklist.dossier_id)
                ids = set(
                    await s.scalars(
                        select(ChecklistAssignee.account_id).where(
                            ChecklistAssignee.checklist_id == checklist.id
                        )
                    )
                )
                assert access.can_open_checklist(actor, dossier, ids) is (checklist.id in in_sql), (
                    who,
                    checklist.id,
                )


async def test_given_to_nobody_in_particular_it_goes_to_who_can_see_the_dossier(
    db: Database, firm: Firm, given: Given
) -> None:
    async with db.read() as s:
        rows = await s.execute(select(ChecklistAssignee.checklist_id, ChecklistAssignee.account_id))
        assigned: dict[int, set[int]] = {}
        for checklist_id, account_id in rows:
            assigned.setdefault(checklist_id, set()).add(account_id)
    assert assigned[given.alice] == {firm.alice.id}
    assert assigned[given.bv_main] == {firm.bv_main.id}
    assert assigned[given.carol] == {firm.carol.id}
    assert assigned[given.office] == {firm.office.id}  # not Carol: she cannot see the dossier


async def test_an_inactive_or_unseeing_account_cannot_be_named(db: Database, firm: Firm) -> None:
    await give(db)
    async with db.begin() as s:
        (await s.get(Account, firm.bv_extra.id)).active = False
    for number, username in (
        ("2026-0201", "carol"),  # hidden from her
        ("2026-0201", "ander"),  # another office
        ("2026-0100", "bakkerij.boekhouding"),  # removed
    ):
        with pytest.raises(NotFound):
            async with db.begin() as s:
                await checklists.assign(
                    s,
                    SYSTEM,
                    number=number,
                    template_name="inkomstenbelasting",
                    usernames=[username],
                )


# --- who is told -------------------------------------------------------------------------


async def outbox(db: Database, kind: str) -> list[tuple[str, str]]:
    async with db.read() as s:
        items = await s.scalars(select(OutboxItem).where(OutboxItem.kind == kind))
        return sorted((i.recipient, i.channel) for i in items)


async def test_a_new_checklist_is_announced_to_its_assignees_only(db: Database, firm: Firm) -> None:
    await second_office_login(db, firm)  # the office is written to once all the same
    async with db.begin() as s:
        (await s.get(Account, firm.bv_main.id)).telegram_chat_id = 4242
        extra = await s.get(Account, firm.bv_extra.id)
        extra.notifications = {"new_questionnaire": {"email": True}}
    await give(db)
    assert await outbox(db, "new_questionnaire") == [
        ("4242", "telegram"),  # the main account's linked chat, as it wants by default
        ("alice@example.nl", "email"),
        ("boekhouding@bakkerij.example", "email"),  # its own checklist only
        ("carol@example.nl", "email"),  # her own checklist, on the office's dossier
        ("info@bakkerij.example", "email"),
        ("post@tussen.example", "email"),  # the office's, at its general address
    ]
    async with db.read() as s:
        to_office = await s.scalar(
            select(OutboxItem).where(OutboxItem.recipient == "post@tussen.example")
        )
        to_extra = await s.scalar(
            select(OutboxItem).where(OutboxItem.recipient == "boekhouding@bakkerij.example")
        )
    assert to_office.account_id is None and to_office.payload["intermediary_id"]
    assert to_extra.account_id == firm.bv_extra.id


async def test_settings_and_language_of_each_assignee_are_kept(db: Database, firm: Firm) -> None:
    async with db.begin() as s:
        main = await s.get(Account, firm.bv_main.id)
        main.notifications = {"new_questionnaire": {"email": False}}
        extra = await s.get(Account, firm.bv_extra.id)
        extra.language = extra.language.EN
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        await checklists.assign(
            s,
            SYSTEM,
            number="2026-0100",
            template_name="inkomstenbelasting",
            usernames=["bakkerij", "bakkerij.boekhouding"],
        )
    async with db.read() as s:
        [item] = list(
            await s.scalars(select(OutboxItem).where(OutboxItem.kind == "new_questionnaire"))
        )
    assert (item.recipient, item.language) == ("boekhouding@bakkerij.example", "en")


async def test_a_rejection_is_told_to_the_assignees_who_can_still_open_it(
    db: Database, firm: Firm, given: Given, store: LocalFileStore
) -> None:
    from core.models import Dossier

    async with db.begin() as s:
        both = await checklists.assign(
            s,
            SYSTEM,
            number="2026-0100",
            template_name="inkomstenbelasting",
            usernames=["bakkerij", "bakkerij.boekhouding"],
        )
    for who, checklist_id in ((firm.bv_main, given.bv_main), (firm.carol, given.carol)):
        await fill_all(db, firm.actor(who), checklist_id, store)
        async with db.begin() as s:
            await checklists.submit(s, store, firm.actor(who), checklist_id, firm="Kantoor")
    async with db.begin() as s:
        await checklists.reject(s, SYSTEM, given.bv_main, reason="Onleesbaar")
    # Not the extra account: the checklist is not theirs.
    assert await outbox(db, "checklist_rejected") == [("info@bakkerij.example", "email")]

    await fill_all(db, firm.actor(firm.bv_extra), both.id, store)
    async with db.begin() as s:
        await checklists.submit(s, store, firm.actor(firm.bv_extra), both.id, firm="Kantoor")
        # Since submitting, the extra account was removed and Carol's dossier hidden from her.
        (await s.get(Account, firm.bv_extra.id)).active = False
        (await s.get(Dossier, firm.carol_visible.id)).visible_to_client = False
    for checklist_id in (both.id, given.carol):
        async with db.begin() as s:
            await checklists.reject(s, SYSTEM, checklist_id, reason="Onvolledig")
    assert await outbox(db, "checklist_rejected") == [("info@bakkerij.example", "email")] * 2


async def test_the_office_that_filled_it_in_hears_of_the_review(
    db: Database, firm: Firm, given: Given, store: LocalFileStore
) -> None:
    """Carol's checklist, filled in by her office: sent back and approved, the office hears of
    it at its general address as well as Carol; filled in by Carol herself, only Carol."""
    from mailbridge.compose import render

    office = firm.actor(firm.office)
    await fill_all(db, office, given.carol, store)
    async with db.begin() as s:
        await checklists.submit(s, store, office, given.carol, firm="Kantoor")
    async with db.begin() as s:
        await checklists.reject(s, SYSTEM, given.carol, reason="De giften ontbreken.")
    both = [("carol@example.nl", "email"), ("post@tussen.example", "email")]
    assert await outbox(db, "checklist_rejected") == both
    async with db.read() as s:
        to_office = await s.scalar(
            select(OutboxItem).where(
                OutboxItem.recipient == "post@tussen.example",
                OutboxItem.kind == "checklist_rejected",
            )
        )
    assert "De giften ontbreken." in render(to_office, mail_settings(Path("/unused"))).text
    async with db.begin() as s:
        await checklists.submit(s, store, office, given.carol, firm="Kantoor")
    async with db.begin() as s:
        await checklists.approve(s, SYSTEM, given.carol)
    assert await outbox(db, "checklist_approved") == both

    carol = firm.actor(firm.carol)
    async with db.begin() as s:
        own = await checklists.assign(
            s, SYSTEM, number="2026-0200", template_name="inkomstenbelasting"
        )
    await fill_all(db, carol, own.id, store)
    async with db.begin() as s:
        await checklists.submit(s, store, carol, own.id, firm="Kantoor")
    async with db.begin() as s:
        await checklists.approve(s, SYSTEM, own.id)
    assert await outbox(db, "checklist_approved") == sorted([*both, ("carol@example.nl", "email")])


async def second_office_login(db: Database, firm: Firm) -> Account:
    from core.services.accounts import create_account

    async with db.begin() as s:
        return await create_account(
            s,
            SYSTEM,
            email="jan@tussen.example",
            username="tussen.jan",
            role=firm.office.role,
            intermediary_id=firm.office.intermediary_id,
        )


async def test_reminders_go_to_assignees_who_can_open_it(db: Database, firm: Firm) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from core.models import Dossier

    jan = await second_office_login(db, firm)
    given = await give(db)  # the office's checklist goes to both its logins
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "notaris-koopwoning.yaml").read_text()
        )
        await checklists.assign(
            s,
            SYSTEM,
            number="2026-0201",
            template_name="notaris-koopwoning",
            usernames=[jan.username],
        )
        # Carol no longer sees her dossier, and the extra account is removed: neither is
        # reminded of what was given to them.
        (await s.get(Dossier, firm.carol_visible.id)).visible_to_client = False
        (await s.get(Account, firm.bv_extra.id)).active = False
    settings = Settings()
    # Three days on, at ten in the morning: past the first reminder, outside quiet hours.
    day3 = dt.datetime.now(ZoneInfo("Europe/Amsterdam")).replace(hour=10) + dt.timedelta(days=3)
    async with db.begin() as s:
        assert await reminders.send_due(s, settings, day3) == 3
    async with db.read() as s:
        items = {
            i.recipient: i
            for i in await s.scalars(select(OutboxItem).where(OutboxItem.kind == "reminder"))
        }
        stamped = {c.id: c.last_reminder_at for c in await s.scalars(select(Checklist))}
    assert sorted(items) == ["alice@example.nl", "info@bakkerij.example", "post@tussen.example"]
    office = items["post@tussen.example"]
    assert office.account_id is None and office.payload["name"] == "Adviesbureau Tussen"
    lines = office.payload["items"]
    assert all(line.startswith("2026-0201 · ") for line in lines)
    assert len(lines) == len(set(lines))  # the checklist both logins have: once
    assert any("Checklist aangifte inkomstenbelasting" in line for line in lines)
    assert any("Vragenlijst aankoop woning" in line for line in lines)  # Jan's own
    assert stamped[given.carol] is None and stamped[given.bv_extra] is None
    async with db.begin() as s:
        assert await reminders.send_due(s, settings, day3 + dt.timedelta(hours=1)) == 0


# --- the web view ------------------------------------------------------------------------


async def _form_post(browser: Browser, path: str, fields, files=()):
    from aiohttp import FormData

    form = FormData(default_to_multipart=True)
    form.add_field("csrf", browser.csrf())
    for name, value in fields:
        form.add_field(name, value)
    for name, filename, content in files:
        form.add_field(name, content, filename=filename, content_type="application/pdf")
    return await browser.client.post(
        path, data=form, headers={"Origin": browser.origin}, allow_redirects=False
    )


def stored_objects(store: LocalFileStore) -> int:
    return sum(1 for p in (store.root / "objects").rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "username,account,whose",
    [("bakkerij.boekhouding", "bv_extra", "bv_main")],
    ids=["extra-account"],
)
async def test_on_the_web_someone_elses_checklist_is_not_found(
    browser: Browser,
    db: Database,
    firm: Firm,
    given: Given,
    store: LocalFileStore,
    username: str,
    account: str,
    whose: str,
) -> None:
    checklist_id = getattr(given, whose)
    await set_password(db, getattr(firm, account).id)
    await browser.login(username, PASSWORD)
    await browser.get("/actions")
    assert f"/checklists/{checklist_id}" not in browser.last_html
    dossier_id = (await state_dossier(db, checklist_id))[0]
    async with db.read() as s:
        from core.models import Dossier

        number = (await s.get(Dossier, dossier_id)).number
    assert (await browser.get(f"/dossiers/{number}")).status == 200  # the dossier: yes
    assert f"/checklists/{checklist_id}" not in browser.last_html  # its checklist: no
    for path in ("", "/summary"):
        assert (await browser.get(f"/checklists/{checklist_id}{path}")).status == 404
    await browser.get(f"/dossiers/{number}")  # a page with a form, for the CSRF token
    before, objects = await state(db, checklist_id), stored_objects(store)
    answered = await _form_post(
        browser,
        f"/checklists/{checklist_id}",
        [("section", "0"), ("q:partner", "ja"), ("q:verhuisd", "nee"), ("go", "next")],
    )
    assert answered.status == 404
    sent_a_file = await _form_post(
        browser,
        f"/checklists/{checklist_id}",
        [("section", "1"), ("go", "next")],
        files=[("file:jaaropgave", "jaaropgave.pdf", b"%PDF van een ander")],
    )
    assert sent_a_file.status == 404
    submitted = await browser.post(f"/checklists/{checklist_id}/submit")
    assert submitted.status == 404
    for review in ("approve", "reject"):
        assert (
            await browser.post(f"/checklists/{checklist_id}/{review}", {"reason": "x"})
        ).status == 404
    assert await state(db, checklist_id) == before
    assert stored_objects(store) == objects  # not even the file was taken in


# --- mail to a question's own address ------------------------------------------------------


@dataclass
class Scanned:
    inbound: InboundMail
    message: Message
    document: Document


async def mail_a_scan(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    account: Account,
    checklist_id: int,
    filename: str,
) -> Scanned:
    """``account`` mails ``filename`` to the reply address of the checklist's question
    "jaaropgave", made out to that account; the mail is stored (not quarantined)."""
    from mailbridge.pipeline import Pipeline

    from .mails import reply_mail

    settings = mail_settings(tmp_path, reply_address="reply+{token}@kantoor.example")
    index = await question_index(db, checklist_id, "jaaropgave")
    dossier_id = (await state_dossier(db, checklist_id))[0]
    target = ReplyTarget("a", account.id, dossier_id, checklist_id, index)
    raw = reply_mail(
        sender=account.email,
        to=replytokens.address(
            settings.reply_address, replytokens.make(settings.secret_key, target)
        ),
        subject="Jaaropgave",
        text="Hierbij.",
        attachments=[(filename, "application/pdf", b"%PDF " + filename.encode())],
    )
    result = await Pipeline(db, store, settings).handle(raw)
    assert result.outcome == "stored"
    async with db.read() as s:
        return Scanned(
            await s.get(InboundMail, result.inbound_id),
            await s.get(Message, result.message_id),
            await s.scalar(select(Document).where(Document.filename == filename)),
        )


async def test_a_scan_for_someone_elses_checklist_is_not_an_answer(
    db: Database, firm: Firm, given: Given, store: LocalFileStore, tmp_path: Path
) -> None:
    """A question's address made out to the extra account (as the mail of a checklist given
    to the whole company was, before) for the main account's checklist: the scan is kept as
    the extra account's delivery, with the reason, and answers nothing."""
    scanned = await mail_a_scan(db, store, tmp_path, firm.bv_extra, given.bv_main, "j.pdf")
    async with db.read() as s:
        received = await s.scalar(select(OutboxItem).where(OutboxItem.kind == "document_received"))
    assert (await state(db, given.bv_main)).answers == {}
    assert scanned.message.author_id == firm.bv_extra.id
    assert scanned.document.message_id == scanned.message.id
    assert scanned.document.answer_id is None and received is None
    assert f"not filed as an answer to checklist {given.bv_main}" in scanned.inbound.reason
    assert "This checklist was not found." in scanned.inbound.reason


# --- loket chat ----------------------------------------------------------------------------


async def test_loket_chat_opens_only_ones_own_checklist(
    db: Database, firm: Firm, given: Given, store: LocalFileStore, tmp_path: Path, monkeypatch
) -> None:
    from loket import chat
    from loket.runtime import Runtime

    replies = iter(["nee", "stop"])

    async def ask(_text: str) -> str | None:
        return next(replies)

    monkeypatch.setattr(chat, "_ask", ask)
    rt = Runtime(settings=mail_settings(tmp_path), db=db, store=store)
    with pytest.raises(NotFound):
        await chat.chat(
            rt, argparse.Namespace(account="bakkerij.boekhouding", checklist=given.bv_main)
        )
    # Carol cannot open the office's checklist on the dossier hidden from her, nor does one
    # office open another's.
    with pytest.raises(NotFound):
        await chat.chat(rt, argparse.Namespace(account="carol", checklist=given.office))
    with pytest.raises(NotFound):
        await chat.chat(rt, argparse.Namespace(account="ander", checklist=given.carol))
    # Without --checklist Carol's login opens her own.
    await chat.chat(rt, argparse.Namespace(account="carol", checklist=None, json=False))
    async with db.read() as s:
        answer = await s.scalar(select(Answer).where(Answer.checklist_id == given.carol))
    assert (answer.question_key, answer.value, answer.channel) == ("partner", False, Channel.CLI)
    assert (await state(db, given.office)).answers == {}
    assert (await state(db, given.bv_main)).answers == {}


async def test_on_the_web_an_office_answers_its_clients_checklist(
    browser: Browser, db: Database, firm: Firm, given: Given, store: LocalFileStore
) -> None:
    """The office's login finds Carol's checklist in its actions and on the dossier, answers a
    question and delivers a document for her; the answer is stored as the office's. Another
    office finds nothing and changes nothing."""
    await set_password(db, firm.other_office.id)
    await browser.login("ander", PASSWORD)
    await browser.get("/actions")
    assert f"/checklists/{given.carol}" not in browser.last_html
    assert (await browser.get(f"/checklists/{given.carol}")).status == 404
    assert (await browser.get("/dossiers/2026-0200")).status == 404
    await browser.get("/")
    before = await state(db, given.carol)
    answered = await _form_post(
        browser,
        f"/checklists/{given.carol}",
        [("section", "0"), ("q:partner", "ja"), ("q:verhuisd", "nee"), ("go", "next")],
    )
    assert answered.status == 404
    assert await state(db, given.carol) == before
    await browser.post("/logout")

    await set_password(db, firm.office.id)
    await browser.login("tussen", PASSWORD)
    await browser.get("/actions")
    assert f"/checklists/{given.carol}" in browser.last_html
    await browser.get("/dossiers/2026-0200")
    assert f"/checklists/{given.carol}" in browser.last_html
    assert (await browser.get(f"/checklists/{given.carol}")).status == 200
    answered = await _form_post(
        browser,
        f"/checklists/{given.carol}",
        [("section", "0"), ("q:partner", "ja"), ("q:verhuisd", "nee"), ("go", "next")],
    )
    assert answered.status == 303
    await browser.get(f"/checklists/{given.carol}?section=1")
    delivered = await _form_post(
        browser,
        f"/checklists/{given.carol}",
        [("section", "1"), ("go", "next")],
        files=[("file:jaaropgave", "jaaropgave-carol.pdf", b"%PDF van het kantoor")],
    )
    assert delivered.status == 303
    async with db.read() as s:
        answers = {
            a.question_key: a
            for a in await s.scalars(select(Answer).where(Answer.checklist_id == given.carol))
        }
        document = await s.scalar(
            select(Document).where(Document.filename == "jaaropgave-carol.pdf")
        )
    assert answers["partner"].value is True
    assert answers["partner"].answered_by_id == firm.office.id
    assert answers["jaaropgave"].value["documents"] == [document.id]
    assert document.dossier_id == firm.carol_visible.id
