"""The one-time web link for a file too large for the chat: issued only for a question of
the client's own open checklist that takes a file; works once, for a day, and a newer link
for the same question replaces it; the page takes the files without a login and files them as
Delivered documents and as the question's answer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core import tokens
from core.db import Database
from core.errors import LinkExpired, NotFound, ValidationError
from core.models import (
    Account,
    Answer,
    AuditEvent,
    Channel,
    Checklist,
    ChecklistStatus,
    Document,
    DocumentCategory,
    Token,
    utcnow,
)
from core.services import checklists, upload_links
from core.services.documents import Upload
from core.settings import Settings
from core.storage import LocalFileStore, aiter_bytes

from .conftest import SYSTEM, Firm

TEMPLATES = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"
SETTINGS = Settings(public_url="https://loket.example/")


@pytest.fixture
async def tax(db: Database, firm: Firm) -> Checklist:
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        return await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting"
        )


async def issue(db: Database, firm: Firm, checklist_id: int, key: str = "jaaropgave", who=None):
    async with db.begin() as s:
        return await upload_links.issue_upload_link(
            s,
            SETTINGS,
            firm.actor(who or firm.alice, Channel.TELEGRAM),
            checklist_id=checklist_id,
            question_key=key,
        )


def raw_of(url: str) -> str:
    assert url.startswith("https://loket.example/upload/"), url
    return url.rsplit("/", 1)[1]


async def lock(db: Database, checklist_id: int) -> None:
    async with db.begin() as s:
        await s.execute(
            update(Checklist)
            .where(Checklist.id == checklist_id)
            .values(locked=True, status=ChecklistStatus.SUBMITTED)
        )


async def use(db: Database, store: LocalFileStore, raw: str, *names: str):
    async with db.begin() as s:
        return await upload_links.upload_with_link(
            s,
            store,
            raw,
            [Upload(n, aiter_bytes(b"%PDF " + n.encode()), "application/pdf") for n in names],
        )


# --- issuing -------------------------------------------------------------------------------


async def test_a_link_for_an_upload_question_of_the_own_checklist(
    db: Database, firm: Firm, tax: Checklist
) -> None:
    url = await issue(db, firm, tax.id)
    raw = raw_of(url)
    async with db.read() as s:
        target = await upload_links.upload_link_target(s, raw)
        row = await s.scalar(select(Token).where(Token.purpose == tokens.UPLOAD_LINK))
        audit = await s.scalar(
            select(AuditEvent).where(AuditEvent.action == "checklist.upload_link")
        )
    account, checklist_id, key = target
    assert (account.id, checklist_id, key) == (firm.alice.id, tax.id, "jaaropgave")
    # Stored hashed, valid a day.
    assert row.token_hash == tokens.digest(raw) and raw not in str(row.data)
    assert dt.timedelta(hours=23) < row.expires_at - row.created_at <= dt.timedelta(hours=24)
    assert audit is not None and audit.actor_id == firm.alice.id


async def test_no_link_for_a_checklist_of_someone_else(
    db: Database, firm: Firm, tax: Checklist
) -> None:
    with pytest.raises(NotFound):
        await issue(db, firm, tax.id, who=firm.carol)
    with pytest.raises(NotFound):
        await issue(db, firm, tax.id + 999)
    async with db.read() as s:
        assert await s.scalar(select(Token).where(Token.purpose == tokens.UPLOAD_LINK)) is None


async def test_no_link_for_a_locked_checklist(db: Database, firm: Firm, tax: Checklist) -> None:
    await lock(db, tax.id)
    with pytest.raises(ValidationError, match="locked"):
        await issue(db, firm, tax.id)


async def test_no_link_for_a_question_that_takes_no_file(
    db: Database, firm: Firm, tax: Checklist
) -> None:
    with pytest.raises(ValidationError, match="not with a document"):
        await issue(db, firm, tax.id, "bruto_loon")
    with pytest.raises(ValidationError, match="no question"):
        await issue(db, firm, tax.id, "no_such_question")


async def test_a_new_link_replaces_the_old_one_for_the_same_question_only(
    db: Database, firm: Firm, tax: Checklist
) -> None:
    first = raw_of(await issue(db, firm, tax.id))
    other = raw_of(await issue(db, firm, tax.id, "woz_beschikking"))
    second = raw_of(await issue(db, firm, tax.id))
    async with db.read() as s:
        with pytest.raises(LinkExpired):
            await upload_links.upload_link_target(s, first)
        assert (await upload_links.upload_link_target(s, second)).question_key == "jaaropgave"
        assert (await upload_links.upload_link_target(s, other)).question_key == "woz_beschikking"


# --- using ---------------------------------------------------------------------------------


async def test_using_the_link_files_the_documents_and_answers_the_question_once(
    db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    raw = raw_of(await issue(db, firm, tax.id))
    await use(db, store, raw, "jaaropgave-1.pdf", "jaaropgave-2.pdf")
    async with db.read() as s:
        docs = list(await s.scalars(select(Document).order_by(Document.id)))
        answer = await s.scalar(select(Answer).where(Answer.question_key == "jaaropgave"))
    assert [(d.filename, d.category, d.source_channel) for d in docs] == [
        ("jaaropgave-1.pdf", DocumentCategory.DELIVERED, Channel.WEB),
        ("jaaropgave-2.pdf", DocumentCategory.DELIVERED, Channel.WEB),
    ]
    assert answer.value == {
        "documents": [d.id for d in docs],
        "filenames": ["jaaropgave-1.pdf", "jaaropgave-2.pdf"],
    }
    assert answer.answered_by_id == firm.alice.id
    with pytest.raises(LinkExpired):
        await use(db, store, raw, "again.pdf")
    async with db.read() as s:
        assert len(list(await s.scalars(select(Document)))) == 2


async def test_a_refused_upload_keeps_the_link(
    db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    raw = raw_of(await issue(db, firm, tax.id))
    with pytest.raises(ValidationError, match="at least one file"):
        await use(db, store, raw)
    await lock(db, tax.id)
    with pytest.raises(ValidationError, match="locked"):
        await use(db, store, raw, "late.pdf")
    async with db.read() as s:
        assert await upload_links.upload_link_target(s, raw)
        assert await s.scalar(select(Document)) is None


async def test_an_expired_link_is_refused(
    db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    raw = raw_of(await issue(db, firm, tax.id))
    async with db.begin() as s:
        await s.execute(
            update(Token)
            .where(Token.token_hash == tokens.digest(raw))
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    with pytest.raises(LinkExpired):
        await use(db, store, raw, "late.pdf")


async def test_a_link_of_a_disabled_account_is_dead(
    db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    raw = raw_of(await issue(db, firm, tax.id))
    async with db.begin() as s:
        await s.execute(update(Account).where(Account.id == firm.alice.id).values(active=False))
    async with db.read() as s:
        with pytest.raises(LinkExpired):
            await upload_links.upload_link_target(s, raw)
    with pytest.raises(LinkExpired):
        await use(db, store, raw, "late.pdf")
