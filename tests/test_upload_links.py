"""The one-time web link for a file too large for the chat: issued only for a question of
the client's own open checklist that takes a file; works once, for a day, and a newer link
for the same question replaces it; the page takes the files without a login and files them as
Delivered documents and as the question's answer."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from aiohttp import FormData
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
    Language,
    Token,
    utcnow,
)
from core.services import checklists, upload_links
from core.services.documents import Upload
from core.settings import Settings
from core.storage import LocalFileStore, aiter_bytes

from .conftest import SYSTEM, Firm
from .test_log_secrets import capture_every_record, in_full
from .webclient import Browser

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


# --- the web page --------------------------------------------------------------------------


def objects(store: LocalFileStore) -> set[Path]:
    return {p for p in (store.root / "objects").rglob("*") if p.is_file()}


def pdf(name: str, size: int = 100) -> tuple[str, str, bytes, str]:
    return ("files", name, b"%PDF " + b"x" * size, "application/pdf")


async def documents(db: Database) -> list[str]:
    async with db.read() as s:
        return [d.filename for d in await s.scalars(select(Document).order_by(Document.id))]


async def test_the_page_shows_firm_checklist_and_question_without_a_login(
    browser: Browser, db: Database, firm: Firm, tax: Checklist
) -> None:
    raw = raw_of(await issue(db, firm, tax.id))
    response = await browser.get(f"/upload/{raw}")
    html = browser.last_html
    assert response.status == 200
    assert browser.settings.firm_name in html
    assert "Checklist aangifte inkomstenbelasting" in html and "2026-0001" in html
    assert "Jaaropgave(n) van uw werkgever of uitkeringsinstantie" in html
    assert "De jaaropgave krijgt u in januari of februari." in html
    assert 'type="file" name="files" multiple' in html and 'name="csrf"' in html
    assert "Document uploaden" in html


async def test_the_page_speaks_the_accounts_language_unless_the_reader_chose(
    browser: Browser, db: Database, firm: Firm, tax: Checklist
) -> None:
    async with db.begin() as s:
        await s.execute(
            update(Account).where(Account.id == firm.alice.id).values(language=Language.EN)
        )
    raw = raw_of(await issue(db, firm, tax.id))
    await browser.get(f"/upload/{raw}")
    assert "Upload a document" in browser.last_html
    assert "Annual statement(s) from your employer" in browser.last_html
    await browser.post("/language", {"language": "nl", "back": f"/upload/{raw}"})
    await browser.get(f"/upload/{raw}")
    assert "Document uploaden" in browser.last_html
    assert "Jaaropgave(n) van uw werkgever" in browser.last_html


async def test_uploading_files_them_as_delivered_and_answers_the_question(
    browser: Browser, db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    raw = raw_of(await issue(db, firm, tax.id))
    await browser.get(f"/upload/{raw}")
    response = await browser.post_multipart(
        f"/upload/{raw}", [], [pdf("jaaropgave 2025.pdf"), pdf("uitkering.pdf")]
    )
    assert response.status == 200, browser.last_html
    assert "Ontvangen, dank u wel" in browser.last_html
    assert "jaaropgave 2025.pdf" in browser.last_html and "uitkering.pdf" in browser.last_html
    async with db.read() as s:
        docs = list(await s.scalars(select(Document).order_by(Document.id)))
        answer = await s.scalar(select(Answer).where(Answer.question_key == "jaaropgave"))
    assert [(d.filename, d.category) for d in docs] == [
        ("jaaropgave 2025.pdf", DocumentCategory.DELIVERED),
        ("uitkering.pdf", DocumentCategory.DELIVERED),
    ]
    assert answer.value["documents"] == [d.id for d in docs]
    # The link is used up: the page and a second upload answer 410, and store nothing.
    before = objects(store)
    assert (await browser.get(f"/upload/{raw}")).status == 410
    assert "Deze link is niet meer geldig" in browser.last_html
    form = FormData()
    form.add_field("csrf", "x")
    form.add_field("files", b"%PDF again", filename="again.pdf")
    again = await browser.client.post(
        f"/upload/{raw}", data=form, headers={"Origin": browser.origin}
    )
    assert again.status == 410
    assert await documents(db) == ["jaaropgave 2025.pdf", "uitkering.pdf"]
    assert objects(store) == before


async def test_a_replaced_or_expired_link_gets_the_410_page(
    browser: Browser, db: Database, firm: Firm, tax: Checklist
) -> None:
    old = raw_of(await issue(db, firm, tax.id))
    new = raw_of(await issue(db, firm, tax.id))
    response = await browser.get(f"/upload/{old}")
    assert response.status == 410 and "Deze link is niet meer geldig" in browser.last_html
    assert 'type="file"' not in browser.last_html
    async with db.begin() as s:
        await s.execute(
            update(Token)
            .where(Token.token_hash == tokens.digest(new))
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    assert (await browser.get(f"/upload/{new}")).status == 410
    assert (await browser.get("/upload/made-up")).status == 410


async def test_the_form_needs_its_csrf_token(
    browser: Browser, db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    raw = raw_of(await issue(db, firm, tax.id))
    await browser.get(f"/upload/{raw}")
    before = objects(store)
    for token in ("forged", None):
        form = FormData()
        if token:
            form.add_field("csrf", token)
        form.add_field("files", b"%PDF forged", filename="forged.pdf")
        response = await browser.client.post(
            f"/upload/{raw}", data=form, headers={"Origin": browser.origin}
        )
        assert response.status == 403
    assert await documents(db) == [] and objects(store) == before
    # Nothing was used up.
    assert (await browser.get(f"/upload/{raw}")).status == 200


async def test_a_file_over_the_limit_leaves_nothing_and_the_link_works(
    browser: Browser, db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    raw = raw_of(await issue(db, firm, tax.id))
    await browser.get(f"/upload/{raw}")
    assert "Hoogstens 1 MB per bestand" in browser.last_html
    before = objects(store)
    response = await browser.post_multipart(
        f"/upload/{raw}", [], [pdf("klein.pdf"), pdf("groot.pdf", store.limit + 1)]
    )
    assert response.status == 413
    assert "groter dan de limiet van 1 MB" in browser.last_html
    assert 'type="file"' in browser.last_html  # the form again, to try once more
    assert await documents(db) == [] and objects(store) == before
    response = await browser.post_multipart(f"/upload/{raw}", [], [pdf("klein.pdf")])
    assert response.status == 200 and await documents(db) == ["klein.pdf"]


async def test_no_file_or_a_file_under_another_name_is_refused(
    browser: Browser, db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    raw = raw_of(await issue(db, firm, tax.id))
    await browser.get(f"/upload/{raw}")
    # What a browser sends for a file input left empty (the field is "required" on the page).
    empty = ("files", "", b"", "application/octet-stream")
    response = await browser.post_multipart(f"/upload/{raw}", [], [empty])
    assert response.status == 400 and "Kies minstens één bestand" in browser.last_html
    before = objects(store)
    response = await browser.post_multipart(
        f"/upload/{raw}", [], [("file:woz_beschikking", "woz.pdf", b"%PDF", "application/pdf")]
    )
    assert response.status == 400
    assert await documents(db) == [] and objects(store) == before
    assert (await browser.get(f"/upload/{raw}")).status == 200


async def test_a_checklist_submitted_meanwhile_says_so_and_takes_nothing(
    browser: Browser, db: Database, firm: Firm, tax: Checklist, store: LocalFileStore, monkeypatch
) -> None:
    raw = raw_of(await issue(db, firm, tax.id))
    await browser.get(f"/upload/{raw}")
    await lock(db, tax.id)
    before = objects(store)
    put = store.put
    puts = []

    async def counted(chunks, **kw):
        puts.append(1)
        return await put(chunks, **kw)

    # Refused before the body is read: not even stored for a moment.
    monkeypatch.setattr(store, "put", counted)
    response = await browser.post_multipart(f"/upload/{raw}", [], [pdf("laat.pdf")])
    assert response.status == 409
    assert "ingediend en vergrendeld" in browser.last_html
    assert 'type="file"' not in browser.last_html
    assert await documents(db) == [] and objects(store) == before and puts == []
    assert (await browser.get(f"/upload/{raw}")).status == 409


async def test_the_link_is_in_no_log_line(
    browser: Browser, db: Database, firm: Firm, tax: Checklist, monkeypatch, caplog
) -> None:
    from loket.logs import configure_logging

    configure_logging(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    records = capture_every_record(monkeypatch)
    raw = raw_of(await issue(db, firm, tax.id))
    await browser.get(f"/upload/{raw}")
    await browser.post_multipart(f"/upload/{raw}", [], [pdf("groot.pdf", 2 * 1024 * 1024)])
    await browser.post_multipart(f"/upload/{raw}", [], [pdf("klein.pdf")])
    await browser.get(f"/upload/{raw}")  # used: 410
    lines = [in_full(r) for r in records]
    assert any("/upload/{token}" in line for line in lines)  # the access log was there
    assert not [line for line in lines if raw in line]
