"""What the bot does not take gets a short, polite answer and changes nothing; an update that
comes again (a crash between handling it and the next getUpdates) is neither answered nor
stored twice; a chat linked to one client reaches nothing of another's."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from core.db import Database
from core.models import Answer, Document, Message, TelegramUpdate
from core.services import checklists, telegram
from core.storage import LocalFileStore

from .botkit import (
    bot_settings,
    chat_state,
    forged_press,
    income_tax,
    link,
    redeliver,
    running,
)
from .conftest import Firm
from .fakebotapi import FakeBotAPI
from .telegram import (
    fake_telegram_fixture,  # noqa: F401 (the fake_telegram fixture)
    run_bot,
)

UNDERSTOOD = "Ik begrijp tekst, foto's en documenten, en de opdrachten in /help."


async def count(db: Database, model) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_voice_stickers_locations_and_edits_get_a_polite_answer_and_change_nothing(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    await income_tax(db)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        anna.command("checklist")
        await anna.next_message()
        await bot.idle()
        walking = await chat_state(db, anna)
        anna.voice()
        assert (await anna.next_message()).text == (
            "Spraak- en geluidsberichten kan ik niet beluisteren. Wilt u uw antwoord typen? "
            + UNDERSTOOD
        )
        anna.sticker()
        assert (await anna.next_message()).text.startswith("Dank u! Stickers")
        anna.location()
        assert (await anna.next_message()).text == "Een locatie heb ik niet nodig. " + UNDERSTOOD
        said = anna.send("nee")  # the answer to the first question
        await anna.next_message()
        anna.edit(said, "ja")
        assert "U heeft een bericht aangepast" in (await anna.next_message()).text
        await bot.idle()
    async with db.read() as s:
        answers = {a.question_key: a.value for a in await s.scalars(select(Answer))}
    assert answers == {"partner": False}  # the edit did not change the answer
    assert walking["question"] == "partner"
    assert (await chat_state(db, anna))["question"] == "verhuisd"
    assert await count(db, Document) == 0


async def test_a_redelivered_update_is_not_answered_or_stored_twice(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    cid = await income_tax(db)
    async with db.begin() as s:
        alice = firm.actor(firm.alice)
        for key, raw in (("partner", "nee"), ("verhuisd", "nee"), ("inkomstenbron", "1")):
            await checklists.answer(s, alice, cid, key, raw)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    settings = bot_settings(tmp_path, fake_telegram)
    async with running(db, store, settings, fake_telegram) as bot:
        anna.command("checklist")
        await anna.next_message()
        photo = anna.photo(caption="Jaaropgave")
        said = anna.send("45.000")  # not an answer to an upload question: the walker says so
        await anna.next_message()
        await anna.next_message()
        await bot.idle()
    sent = len(anna.sent)
    # The process died before its next getUpdates confirmed them: Telegram sends them again,
    # to the restarted bot.
    redeliver(fake_telegram, photo, said)
    async with running(db, store, settings, fake_telegram) as bot:
        await bot.idle()
    assert len(anna.sent) == sent
    assert await count(db, Document) == 1
    async with db.read() as s:
        answer = await s.scalar(select(Answer).where(Answer.question_key == "jaaropgave"))
    assert answer.value["filenames"] == ["Jaaropgave.jpg"]


async def test_a_chat_linked_to_one_client_reaches_nothing_of_another(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    cid = await income_tax(db)  # alice's
    bakker = fake_telegram.private_chat("Bakker", language_code="nl")
    await link(db, firm.bv_main, bakker)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        bakker.command("checklist")
        assert (await bakker.next_message()).text == (
            "Er staat nu niets voor u klaar om in te vullen."
        )
        bakker.command("dossiers")
        listed = (await bakker.next_message()).text
        assert "2026-0100" in listed and "2026-0001" not in listed and "2026-0002" not in listed
        bakker.command("message")
        assert "2026-0100" in (await bakker.next_message()).text  # its only dossier
        anchor = bakker.sent[-1].message_id
        # Buttons no message of the bot carried, naming alice's checklist and dossiers.
        for data in (
            f"wa:{cid}:0:1",
            f"wh:{cid}:0",
            f"wi:{cid}:e",
            f"c:{cid}",
            f"m:{firm.alice_1.id}",
        ):
            forged_press(fake_telegram, bakker, data, anchor)
            assert (await bakker.next_message()).text in (
                "Deze checklist is niet gevonden.",
                f"Dossier #{firm.alice_1.id} is niet gevonden.",
            ), data
        bakker.document(b"%PDF-1.4\n% jaarcijfers\n%%EOF\n", file_name="jaarcijfers.pdf")
        asked = await bakker.next_message()
        assert asked.text == "Voor welk dossier is dit bestand?"
        assert asked.buttons == ["2026-0100 · Jaarrekening 2025"]
        forged_press(fake_telegram, bakker, f"f:{firm.alice_1.id}", asked.message_id)
        refused = await bakker.next_message()
        assert refused.text == f"Dossier #{firm.alice_1.id} is niet gevonden."
        await bot.idle()
    async with db.read() as s:
        assert await s.scalar(select(func.count(Answer.id))) == 0
        alices = await s.scalar(
            select(func.count(Document.id)).where(
                Document.dossier_id.in_([firm.alice_1.id, firm.alice_2.id])
            )
        )
        assert alices == 0
        assert (
            await s.scalar(
                select(func.count(Message.id)).where(Message.dossier_id == firm.alice_1.id)
            )
            == 0
        )
    assert (await chat_state(db, bakker))["waiting"] == telegram.WAITING_DOCUMENT_DOSSIER


async def test_a_fault_of_ours_is_said_so_and_leaves_nothing_half_done(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
    monkeypatch,
) -> None:
    await income_tax(db)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(checklists, "listed_actions", broken)
    settings = bot_settings(tmp_path, fake_telegram)
    async with running(db, store, settings, fake_telegram, allow_errors=True) as bot:
        anna.command("message")
        await anna.next_message()
        anna.press("2026-0002 · Testament")
        await anna.next_message()  # the chat waits for the subject
        failing = anna.command("checklist")
        assert (await anna.next_message()).text == (
            "Er ging bij ons iets mis. Probeert u het over een ogenblik nog eens?"
        )
        await bot.idle()
    assert [type(e) for e in bot.errors] == [RuntimeError]  # logged as PTB logs errors
    # The whole unit of work rolled back: the state /checklist would have cleared, and the
    # update's claim (so that Telegram's next try of it is handled).
    assert (await chat_state(db, anna))["waiting"] == telegram.WAITING_MESSAGE_SUBJECT
    async with db.read() as s:
        assert await s.get(TelegramUpdate, failing["update_id"]) is None


async def test_a_refused_effect_answers_only_its_refusal(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    from telegram.ext import CommandHandler

    from bot.app import create_bot
    from bot.updates import Turn, handler
    from core.errors import ValidationError

    async def half_then_refused(turn: Turn) -> None:
        turn.say("Half gedaan")
        await telegram.set_state(turn.session, turn.chat.id, {"waiting": "email"})
        raise ValidationError("The subject is required.")

    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    app = create_bot(bot_settings(tmp_path, fake_telegram), db, store)
    app.add_handler(CommandHandler("half", handler(half_then_refused)), group=-1)
    async with run_bot(app, fake_telegram) as bot:
        anna.command("half")
        assert (await anna.next_message()).text == "Het onderwerp is verplicht."
        await bot.idle()
    assert anna.texts == ["Het onderwerp is verplicht."]
    assert await chat_state(db, anna) is None  # undone with the effect
