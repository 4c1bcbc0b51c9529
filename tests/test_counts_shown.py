"""The answered counts in words (checklists.counts, no fraction whose total grows as follow-up
questions appear) on the staff review page, which also names the client, and in the chat's
/dossiers and /checklist."""

from __future__ import annotations

import re
from pathlib import Path

from core.db import Database
from core.services import checklists
from core.storage import LocalFileStore

from .botkit import bot_settings, income_tax, link, running
from .conftest import PASSWORD, Firm, set_password
from .fakebotapi import FakeBotAPI
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)
from .webclient import Browser


async def answer(db: Database, firm: Firm, checklist_id: int, *pairs: tuple[str, str]) -> None:
    for key, raw in pairs:
        async with db.begin() as s:
            await checklists.answer(s, firm.actor(firm.alice), checklist_id, key, raw)


async def expected_words(db: Database, firm: Firm, checklist_id: int) -> str:
    async with db.read() as s:
        c = checklists.counts(await checklists.load(s, firm.actor(firm.alice), checklist_id))
    assert c.answered == 2 and c.to_go > 0 and c.optional_open > 1
    return (
        f"2 beantwoord, nog {c.to_go} te beantwoorden"
        f" · {c.optional_open} optionele vragen opengelaten"
    )


async def test_the_review_page_names_the_client_and_counts_in_words(
    browser: Browser, db: Database, firm: Firm
) -> None:
    cid = await income_tax(db)
    await answer(db, firm, cid, ("partner", "nee"), ("verhuisd", "nee"))
    words = await expected_words(db, firm, cid)
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    page = await browser.get(f"/checklists/{cid}")
    html = await page.text()
    assert page.status == 200
    assert 'data-testid="dossier-client"><a href="/staff/clients/' in html
    assert "Alice de Vries</a>" in html
    counts = html.split('data-testid="checklist-counts">', 1)[1].split("</p>", 1)[0]
    assert counts == words


async def test_the_chat_counts_in_words(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
) -> None:
    cid = await income_tax(db)
    await income_tax(db)  # a second one, so that /checklist asks which
    await answer(db, firm, cid, ("partner", "nee"), ("verhuisd", "nee"))
    words = await expected_words(db, firm, cid)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram):
        anna.command("dossiers")
        listed = (await anna.next_message()).text
        anna.command("checklist")
        picker = await anna.next_message()
    assert f"Checklist aangifte inkomstenbelasting: {words}" in listed
    assert not re.search(r"\d+ van \d+ beantwoord", listed)  # no fraction
    assert f"• Checklist aangifte inkomstenbelasting · 2026-0001: {words}" in picker.text
    assert picker.buttons == ["Checklist aangifte inkomstenbelasting · 2026-0001"] * 2
