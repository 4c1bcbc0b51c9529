"""A submitted checklist is locked, and an approved one stays so: every change is refused, in
core and in every channel (the web form, a scan to a question's own address, `loket chat`),
with a clear message or a recorded outcome, and nothing already saved changes."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.errors import ValidationError
from core.models import Answer, Checklist, ChecklistStatus
from core.services import checklists
from core.storage import LocalFileStore

from .conftest import PASSWORD, SYSTEM, Firm, mail_settings, set_password
from .test_checklist_access import fill_all, mail_a_scan, ops, state, stored_objects
from .test_checklists import TEMPLATES
from .webclient import Browser

LOCKED = "This checklist has been submitted and is locked."
LOCKED_NL = "Deze checklist is ingediend en vergrendeld."
STATES = [ChecklistStatus.SUBMITTED, ChecklistStatus.APPROVED]


async def alices_checklist(db: Database) -> int:
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        checklist = await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting"
        )
    return checklist.id


async def locked_checklist(
    db: Database, firm: Firm, store: LocalFileStore, to: ChecklistStatus
) -> int:
    """Alice's checklist, filled in and submitted (and approved, for APPROVED)."""
    checklist_id = await alices_checklist(db)
    alice = firm.actor(firm.alice)
    await fill_all(db, alice, checklist_id, store)
    async with db.begin() as s:
        await checklists.submit(s, store, alice, checklist_id, firm="Kantoor")
    if to is ChecklistStatus.APPROVED:
        async with db.begin() as s:
            await checklists.approve(s, SYSTEM, checklist_id)
    return checklist_id


@pytest.fixture(params=STATES, ids=[s.value for s in STATES])
async def locked(request, db: Database, firm: Firm, store: LocalFileStore) -> int:
    return await locked_checklist(db, firm, store, request.param)


async def test_every_change_in_core_is_refused(
    db: Database, firm: Firm, store: LocalFileStore, locked: int
) -> None:
    before = await state(db, locked)
    assert before.locked
    for who in (firm.actor(firm.alice), SYSTEM):  # staff fill in nothing on it either
        for name, op in ops(store):
            if name in ("load", "approve", "reject"):
                continue
            with pytest.raises(ValidationError) as refused:
                async with db.begin() as s:
                    await op(s, who, locked)
            assert refused.value.message == LOCKED, name
            assert await state(db, locked) == before, name
    async with db.begin() as s:
        with pytest.raises(ValidationError):
            await checklists.move(s, firm.actor(firm.alice), locked, -1)
    assert await state(db, locked) == before


async def test_an_approved_checklist_cannot_be_reviewed_again(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    checklist_id = await locked_checklist(db, firm, store, ChecklistStatus.APPROVED)
    before = await state(db, checklist_id)
    for review in (
        lambda s: checklists.approve(s, SYSTEM, checklist_id),
        lambda s: checklists.reject(s, SYSTEM, checklist_id, reason="Toch niet"),
    ):
        with pytest.raises(ValidationError):
            async with db.begin() as s:
                await review(s)
    assert await state(db, checklist_id) == before


# --- the web form ----------------------------------------------------------------------------


async def test_the_web_form_of_a_locked_checklist_says_so_and_changes_nothing(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore, locked: int
) -> None:
    from .test_checklist_access import _form_post

    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    opened = await browser.get(f"/checklists/{locked}")
    assert opened.status == 200 and 'name="q:partner"' not in browser.last_html
    before, objects = await state(db, locked), stored_objects(store)
    answered = await _form_post(
        browser,
        f"/checklists/{locked}",
        [("section", "0"), ("q:partner", "ja"), ("q:verhuisd", "nee"), ("go", "next")],
    )
    assert answered.status == 400 and LOCKED_NL in await answered.text()
    not_there = await _form_post(
        browser,
        f"/checklists/{locked}",
        [("section", "5"), ("na:vorige_aanslag", "on"), ("na_reason:vorige_aanslag", "Weg")],
    )
    assert not_there.status == 400 and LOCKED_NL in await not_there.text()
    sent_a_file = await _form_post(
        browser,
        f"/checklists/{locked}",
        [("section", "1"), ("go", "next")],
        files=[("file:jaaropgave", "nieuwe jaaropgave.pdf", b"%PDF nieuw")],
    )
    assert sent_a_file.status == 400 and LOCKED_NL in await sent_a_file.text()
    await browser.get(f"/checklists/{locked}")
    submitted = await browser.post(f"/checklists/{locked}/submit")
    assert submitted.status == 400 and LOCKED_NL in browser.last_html
    summary = await browser.get(f"/checklists/{locked}/summary", allow_redirects=False)
    assert summary.status == 303 and summary.headers["Location"] == f"/checklists/{locked}"
    assert await state(db, locked) == before
    assert stored_objects(store) == objects


# --- mail to a question's own address --------------------------------------------------------


async def test_a_scan_for_a_locked_checklist_is_a_delivery_with_its_reason(
    db: Database, firm: Firm, store: LocalFileStore, tmp_path: Path, locked: int
) -> None:
    before = await state(db, locked)
    scanned = await mail_a_scan(db, store, tmp_path, firm.alice, locked, "jaaropgave 2.pdf")
    assert scanned.inbound.reason == (
        f"not filed as an answer to checklist {locked}: {LOCKED} "
        "Kept as a message with its attachments."
    )
    assert scanned.document.message_id == scanned.message.id
    assert scanned.document.answer_id is None
    after = await state(db, locked)
    assert after.answers == before.answers and after.status is before.status
    assert after.documents == before.documents + 1  # the delivery, with the message


# --- loket chat --------------------------------------------------------------------------------


def chat_runtime(db: Database, store: LocalFileStore, tmp_path: Path):
    from loket.runtime import Runtime

    return Runtime(settings=mail_settings(tmp_path), db=db, store=store)


async def test_loket_chat_on_a_locked_checklist_only_says_so(
    db: Database,
    firm: Firm,
    store: LocalFileStore,
    tmp_path: Path,
    locked: int,
    monkeypatch,
    capsys,
) -> None:
    from loket import chat

    async def ask(text: str) -> str | None:
        raise AssertionError(f"asked {text!r} on a locked checklist")

    monkeypatch.setattr(chat, "_ask", ask)
    before = await state(db, locked)
    await chat.chat(
        chat_runtime(db, store, tmp_path), argparse.Namespace(account="alice", checklist=locked)
    )
    assert capsys.readouterr().out.strip() == LOCKED_NL
    assert await state(db, locked) == before


@pytest.mark.parametrize(
    "typed", ["nee", "nvt", "overslaan", "terug", "bestand {file}", "ja (submit)"]
)
@pytest.mark.parametrize("to", STATES, ids=[s.value for s in STATES])
async def test_loket_chat_refuses_a_change_once_the_checklist_is_locked_elsewhere(
    db: Database,
    firm: Firm,
    store: LocalFileStore,
    tmp_path: Path,
    monkeypatch,
    capsys,
    typed: str,
    to: ChecklistStatus,
) -> None:
    """The checklist is submitted (or approved) on the web while the chat waits for an
    answer: what is then typed is refused, said, and the chat ends."""
    from loket import chat

    checklist_id = await alices_checklist(db)
    if typed == "ja (submit)":  # everything answered: the chat offers to submit
        await fill_all(db, firm.actor(firm.alice), checklist_id, store)
        async with db.read() as s:
            assert checklists.current(await checklists.load(s, SYSTEM, checklist_id), "nl") is None
        typed = "ja"
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF scan")
    replies = [typed.format(file=scan)]

    async def ask(text: str) -> str | None:
        assert replies, f"asked {text!r} again after the refusal"
        async with db.begin() as s:  # meanwhile, on the web
            row = await s.get(Checklist, checklist_id)
            row.status, row.locked = to, True
        return replies.pop()

    monkeypatch.setattr(chat, "_ask", ask)
    before = await state(db, checklist_id)
    await chat.chat(
        chat_runtime(db, store, tmp_path),
        argparse.Namespace(account="alice", checklist=checklist_id),
    )
    out = capsys.readouterr().out
    # Said twice: the refusal of what was typed, then why the chat ends.
    assert out.count(LOCKED_NL) == 2 and out.rstrip().endswith(LOCKED_NL)
    after = await state(db, checklist_id)
    assert (after.answers, after.documents, after.position) == (
        before.answers,
        before.documents,
        before.position,
    )
    assert after.status is to  # as the web left it
    async with db.read() as s:
        assert await s.scalar(select(func.count(Answer.id))) == len(before.answers)
