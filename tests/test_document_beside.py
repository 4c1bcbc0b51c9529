"""A question that asks for a document next to its answer (the template's ``document``, as the
income-tax checklist's medical costs with their bills): the walker offers the upload at the
question and waits for it once the amount is in; the web page, `loket chat` and the bot offer it
right there and file it with the answer."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from sqlalchemy import select

from core import walker
from core.db import Database
from core.errors import ValidationError
from core.models import Answer, Document
from core.services import checklists
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes
from core.templates import parse_template

from .botkit import bot_settings, income_tax, link, running
from .conftest import PASSWORD, Firm, mail_settings, set_password
from .fakebotapi import FakeBotAPI
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)
from .webclient import Browser

KEY = "zorgkosten_bedrag"
# Up to the medical costs: no partner, no move, no income, no home, savings, no investments.
BEFORE = [
    ("partner", "nee"),
    ("verhuisd", "nee"),
    ("inkomstenbron", "4"),
    ("eigen_woning", "nee"),
    ("spaargeld", "100"),
    ("beleggingen", "nee"),
    ("zorgkosten", "ja"),
]


def template(document_on: str) -> str:
    return f"""
name: t
kind: checklist
title: {{nl: T, en: T}}
sections:
  - title: {{nl: S, en: S}}
    questions:
      - key: q
        type: {document_on}
        label: {{nl: Bedrag, en: Amount}}
        document: {{nl: de nota, en: the bill}}
      - key: next
        type: text
        label: {{nl: Verder, en: Further}}
"""


def test_the_walker_offers_the_document_and_waits_for_it() -> None:
    definition = parse_template(template("amount"))
    p = walker.prompt(definition, {}, "q", "en")
    assert (p.document, p.takes_files) == ("the bill", True)
    answered = {"q": walker.Given(value="12.00")}
    assert walker.after_answer(definition, answered, "q", has_document=False) == "q"
    assert walker.after_answer(definition, answered, "q", has_document=True) == "next"
    with pytest.raises(ValidationError):
        parse_template(template("yesno"))  # a document beside a yes or no: refused on import


async def at_medical_costs(db: Database, firm: Firm) -> int:
    cid = await income_tax(db)
    for key, raw in BEFORE:
        async with db.begin() as s:
            await checklists.answer(s, firm.actor(firm.alice), cid, key, raw)
    return cid


async def test_in_core_the_bill_is_filed_with_the_amount(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    alice = firm.actor(firm.alice)
    cid = await at_medical_costs(db, firm)
    async with db.begin() as s:
        loaded = await checklists.answer(s, alice, cid, KEY, "1.234,50")
    assert loaded.checklist.position == KEY  # stays: the bills are offered there
    async with db.begin() as s:
        loaded = await checklists.attach(
            s, store, alice, cid, KEY, [Upload("nota.pdf", aiter_bytes(b"%PDF nota"))]
        )
    assert loaded.checklist.position == "giften"  # on once the bills are in
    async with db.read() as s:
        answer = await s.scalar(select(Answer).where(Answer.question_key == KEY))
        doc = await s.scalar(select(Document).where(Document.filename == "nota.pdf"))
    assert answer.value == "1234.50" and doc.answer_id == answer.id


async def test_on_the_web_the_upload_sits_beside_the_amount(
    browser: Browser, db: Database, firm: Firm
) -> None:
    cid = await at_medical_costs(db, firm)
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    page = await browser.get(f"/checklists/{cid}?section=4")
    html = await page.text()
    block = html.split(f'data-question="{KEY}"', 1)[1].split("</fieldset>", 1)[0]
    assert f'name="q:{KEY}"' in block and f'type="file" name="file:{KEY}"' in block
    assert "Toevoegen: de nota&#39;s van die zorgkosten" in block
    saved = await browser.post_multipart(
        f"/checklists/{cid}",
        [("section", "4"), ("go", "stay"), (f"q:{KEY}", "250"), ("shown", KEY)],
        files=[(f"file:{KEY}", "apotheek.pdf", b"%PDF apotheek", "application/pdf")],
    )
    assert saved.status == 200
    async with db.read() as s:
        answer = await s.scalar(select(Answer).where(Answer.question_key == KEY))
        doc = await s.scalar(select(Document).where(Document.filename == "apotheek.pdf"))
    assert answer.value == "250.00" and doc.answer_id == answer.id
    assert "Verzonden: apotheek.pdf" in browser.last_html


async def test_loket_chat_offers_and_files_it(
    db: Database, firm: Firm, store: LocalFileStore, tmp_path: Path, monkeypatch
) -> None:
    from loket import chat
    from loket.runtime import Runtime

    cid = await at_medical_costs(db, firm)
    bill = tmp_path / "nota-tandarts.pdf"
    bill.write_bytes(b"%PDF tandarts")
    replies = iter(["80", f"bestand {bill}", "stop"])
    said: list[str] = []

    async def ask(_text: str) -> str | None:
        return next(replies)

    monkeypatch.setattr(chat, "_ask", ask)
    monkeypatch.setattr("builtins.print", lambda *a, **k: said.append(" ".join(map(str, a))))
    rt = Runtime(settings=mail_settings(tmp_path), db=db, store=store)
    await chat.chat(rt, argparse.Namespace(account="alice", checklist=cid, json=False))
    offer = "Voeg hier ook de nota's van die zorgkosten toe: typ bestand PAD."
    assert said.count(f"  {offer}") == 2  # asked, then again with the amount in
    async with db.read() as s:
        doc = await s.scalar(select(Document).where(Document.filename == "nota-tandarts.pdf"))
        answer = await s.scalar(select(Answer).where(Answer.question_key == KEY))
    assert doc.answer_id == answer.id and answer.value == "80.00"
    assert "Hoeveel heeft u aan goede doelen gegeven?" in said  # and on


async def test_the_bot_offers_it_at_the_question(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    await at_medical_costs(db, firm)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        anna.command("checklist")
        asked = (await anna.next_message()).text
        assert "Hoeveel waren die zorgkosten samen?" in asked
        assert "Stuur hier ook de nota's van die zorgkosten, als foto of als document." in asked
        anna.send("99,95")
        again = (await anna.next_message()).text
        assert "Hoeveel waren die zorgkosten samen?" in again and "€ 99,95" in again
        anna.document(b"%PDF-1.4\n% fysio\n%%EOF\n", file_name="fysio.pdf")
        assert "1 bestand" in (await anna.next_message()).text
        anna.press("Klaar")
        assert "Hoeveel heeft u aan goede doelen gegeven?" in (await anna.next_message()).text
        await bot.idle()
    async with db.read() as s:
        doc = await s.scalar(select(Document).where(Document.filename == "fysio.pdf"))
        answer = await s.scalar(select(Answer).where(Answer.question_key == KEY))
    assert doc.answer_id == answer.id and answer.value == "99.95"
