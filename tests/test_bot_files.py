"""Files in the chat: streamed from the Bot API into the store (a broken download is tried
again, and one that keeps breaking stores nothing and says so); a file sent outside a question
is filed, as delivered, in the dossier the client picks; a file over the Bot API's 20 MB gets
a one-time upload link for its question; a caption is kept with the file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select

from core.db import Database
from core.models import Answer, Channel, Checklist, Document, DocumentCategory
from core.services import telegram
from core.storage import LocalFileStore

from .botkit import bot_settings, chat_state, income_tax, link, running
from .conftest import Firm
from .fakebotapi import DOWNLOAD_LIMIT, FakeBotAPI
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)

SCAN = b"%PDF-1.4\n" + b"% een gescande brief\n" * 2000 + b"%%EOF\n"


async def documents(db: Database) -> list[Document]:
    async with db.read() as s:
        return list(await s.scalars(select(Document).order_by(Document.id)))


async def at_upload_question(db: Database, firm: Firm) -> int:
    """The income-tax checklist at its first upload question (the annual statements)."""
    from core.services import checklists

    cid = await income_tax(db)
    async with db.begin() as s:
        alice = firm.actor(firm.alice)
        for key, raw in (("partner", "nee"), ("verhuisd", "nee"), ("inkomstenbron", "1")):
            await checklists.answer(s, alice, cid, key, raw)
    return cid


async def test_a_document_sent_outside_a_question_is_filed_in_the_dossier_chosen(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        anna.album([("brief-1.pdf", SCAN), ("brief-2.pdf", SCAN + b"2")], caption="Belastingdienst")
        asked = await anna.next_message()
        await bot.idle()
        now = fake_telegram.message(anna.id, asked.message_id)
        assert now["text"] == "Voor welk dossier zijn deze 2 bestanden?"  # one question, grown
        assert len(anna.sent) == 1
        assert sorted(anna.buttons) == [
            "2026-0001 · Aangifte inkomstenbelasting 2025",
            "2026-0002 · Testament",
        ]
        assert await documents(db) == []  # nothing fetched before the dossier is known
        state = await chat_state(db, anna)
        assert state["waiting"] == telegram.WAITING_DOCUMENT_DOSSIER
        assert [f["name"] for f in state["files"]] == [
            "Belastingdienst - brief-1.pdf",  # the caption is kept, before the name
            "brief-2.pdf",
        ]
        anna.send("Testament")
        assert "Kies eerst met de knoppen" in (await anna.next_message()).text
        anna.press("2026-0002 · Testament")
        filed = (await anna.next_message()).text
        assert filed == (
            "Bewaard in dossier 2026-0002, onder Door mij aangeleverd:\n"
            "• Belastingdienst - brief-1.pdf\n• brief-2.pdf"
        )
        await bot.idle()
        assert anna.buttons == []  # the question's buttons are gone
    stored = await documents(db)
    assert [(d.dossier_id, d.category, d.source_channel) for d in stored] == [
        (firm.alice_2.id, DocumentCategory.DELIVERED, Channel.TELEGRAM)
    ] * 2
    assert stored[0].sha256 == hashlib.sha256(SCAN).hexdigest()
    assert stored[0].content_type == "application/pdf"
    assert await chat_state(db, anna) is None


async def test_a_broken_download_is_tried_again_and_one_that_keeps_breaking_stores_nothing(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    cid = await at_upload_question(db, firm)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        anna.command("checklist")
        await anna.next_message()
        fake_telegram.cut_download(times=1)
        anna.document(SCAN, file_name="jaaropgave.pdf")
        assert "1 bestand ontvangen" in (await anna.next_message()).text
        fake_telegram.cut_download(times=3)
        anna.document(SCAN + b"again", file_name="jaaropgave-2.pdf")
        assert (await anna.next_message()).text == (
            "Het lukte niet om jaaropgave-2.pdf bij Telegram op te halen. Wilt u het nog eens "
            "sturen?"
        )
        # A download that ends cleanly, but short of the size Telegram gave for the file.
        anna.document(SCAN + b"short", file_name="kort.pdf", file_size=len(SCAN) + 500)
        assert "kort.pdf bij Telegram op te halen" in (await anna.next_message()).text
        await bot.idle()
    [kept] = await documents(db)
    assert kept.sha256 == hashlib.sha256(SCAN).hexdigest() and kept.size == len(SCAN)
    async with db.read() as s:
        answer = await s.scalar(
            select(Answer).where(Answer.checklist_id == cid, Answer.question_key == "jaaropgave")
        )
    assert answer.value["filenames"] == ["jaaropgave.pdf"]
    objects = [p for p in (tmp_path / "store" / "objects").rglob("*") if p.is_file()]
    assert len(objects) == 1  # the broken tries left nothing behind
    assert not [p for p in (tmp_path / "store" / "tmp").rglob("*") if p.is_file()]


async def test_a_file_over_20_mb_gets_a_one_time_upload_link_for_its_question(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    await at_upload_question(db, firm)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram):
        anna.command("checklist")
        await anna.next_message()
        anna.document(None, file_name="scan-groot.pdf", file_size=DOWNLOAD_LIMIT + 1)
        text = (await anna.next_message()).text
        assert text.startswith("scan-groot.pdf is groter dan 20 MB")
        assert "http://portal.test/upload/" in text
        # Outside a question (the walk is left): the portal is the way.
        async with db.begin() as s:
            await telegram.set_state(s, anna.id, None)
        anna.photo(None, file_size=DOWNLOAD_LIMIT + 5)
        await anna.next_message()  # which dossier?
        anna.press("2026-0001 · Aangifte inkomstenbelasting 2025")
        text = (await anna.next_message()).text
        assert "is groter dan 20 MB" in text and "http://portal.test" in text
    assert await documents(db) == []
    assert fake_telegram.count("getFile", done=None) == 0  # the size said enough


async def test_files_of_one_choice_are_filed_all_or_none(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        # The second file of the album is empty (a failed scan): core refuses it.
        anna.album([("brief.pdf", SCAN), ("leeg.pdf", b"")])
        await anna.next_message()
        await bot.idle()
        anna.press("2026-0001 · Aangifte inkomstenbelasting 2025")
        refused = (await anna.next_message()).text
        assert refused.startswith("Het bestand leeg.pdf is leeg.")
        await bot.idle()
    assert await documents(db) == []  # not the first without the second
    state = await chat_state(db, anna)
    assert [f["name"] for f in state["files"]] == ["brief.pdf", "leeg.pdf"]  # still waiting
    objects = [p for p in (tmp_path / "store" / "objects").rglob("*") if p.is_file()]
    assert objects == []  # what was fetched for nothing is not kept


async def test_a_file_for_a_checklist_submitted_meanwhile_is_refused_and_not_kept(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    cid = await at_upload_question(db, firm)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram):
        anna.command("checklist")
        await anna.next_message()
        async with db.begin() as s:  # locked on the website, say
            row = await s.get(Checklist, cid)
            row.locked = True
        anna.document(SCAN, file_name="jaaropgave.pdf")
        assert (await anna.next_message()).text == "Deze checklist is ingediend en vergrendeld."
    assert await documents(db) == []
    assert [p for p in (tmp_path / "store" / "objects").rglob("*") if p.is_file()] == []
