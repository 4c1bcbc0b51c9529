"""The walk through a checklist in Telegram: the whole income-tax checklist answered with
buttons, typed answers (one wrong first), two uploads (one an album), "not available" with a
reason and a date, and submitted, after which core holds what the web form would have stored;
and a checklist started in one channel and finished in the other, where an answer given on
the website meanwhile is respected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from core import walker
from core.actor import Actor
from core.db import Database
from core.errors import ValidationError
from core.i18n import gettext_for
from core.models import Answer, Channel, ChecklistStatus, Document, DocumentCategory
from core.services import checklists, telegram
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes
from core.templates import parse_template

from .botkit import TEMPLATES, bot_settings, chat_state, income_tax, link, post_form, running
from .conftest import PASSWORD, Firm, set_password
from .fakebotapi import FakeBotAPI
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)
from .webclient import Browser

PAYSLIP_1 = b"\xff\xd8\xff\xe0 jaaropgave werkgever " + bytes(range(256)) * 4
PAYSLIP_2 = b"\xff\xd8\xff\xe0 jaaropgave uitkering " + bytes(range(256)) * 5
MORTGAGE = b"%PDF-1.4\n% hypotheek jaaroverzicht 2025\n%%EOF\n"


async def test_the_income_tax_checklist_walked_in_the_chat_holds_what_the_web_would(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    cid = await income_tax(db)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    settings = bot_settings(tmp_path, fake_telegram)
    async with running(db, store, settings, fake_telegram) as bot:

        async def asked(expected: str) -> str:
            text = (await anna.next_message()).text
            assert expected in text, text
            return text

        anna.command("checklist")
        first = await asked("Had u in het belastingjaar een fiscaal partner?")
        assert "Persoonlijke gegevens · 1/12 · verplicht" in first
        assert "fiscaal partner is" in first  # the section's explanation, as it begins
        assert anna.buttons == ["Ja", "Nee", "?"]
        anna.press("Ja")
        text = await asked("Wat is de naam van uw fiscaal partner?")
        assert "Opgeslagen: Ja" in text  # what the button saved, as after a typed answer
        anna.send("Bob de Vries")
        text = await asked("Bent u in het belastingjaar verhuisd?")
        assert "Opgeslagen: Bob de Vries" in text
        anna.send("nee")
        text = await asked("Welke inkomsten had u?")
        assert "Werk en inkomen · 4/" in text
        anna.press("☐ Loon uit dienstbetrekking")
        await bot.idle()
        assert "☑ Loon uit dienstbetrekking" in anna.buttons  # ticked, nothing stored yet
        anna.press("Klaar")
        text = await asked("Jaaropgave(n) van uw werkgever of uitkeringsinstantie")
        assert "Stuur een foto of een document" in text
        assert "Niet aanwezig" in anna.buttons

        # Upload 1: an album of two photos is one answer with both.
        anna.album([PAYSLIP_1, PAYSLIP_2], caption="Jaaropgave 2025")
        ack = await anna.next_message()
        await bot.idle()
        shown = fake_telegram.message(anna.id, ack.message_id)["text"]
        assert "2 bestanden" in shown and "Jaaropgave 2025.jpg" in shown, shown
        assert len(anna.sent) == 6  # one confirmation for the album, grown, not two
        anna.press("Klaar")
        text = await asked("Wat was uw totale brutoloon?")
        assert "2 bestanden opgeslagen" in text and "optioneel" in text

        # A typed answer the walker refuses: its error is the reply, and nothing moves.
        anna.send("heel veel")
        assert (await anna.next_message()).text == _walker_error("bruto_loon", "heel veel")
        anna.send("€ 45.000")  # as people type it
        text = await asked("Had u een eigen (koop)woning?")
        assert "Opgeslagen: € 45.000,00" in text
        anna.press("Ja")
        await asked("WOZ-beschikking van de gemeente")

        # "Not available": a reason, then the date it is expected.
        anna.press("Niet aanwezig")
        await asked("Waarom heeft u het niet?")
        anna.send("Nog niet ontvangen van de gemeente")
        await asked("Wanneer verwacht u het?")
        anna.send("15 maart 2026")
        text = await asked("Jaaroverzicht van uw hypotheek")
        assert "verwacht 15-03-2026" in text

        # Upload 2: one document.
        anna.document(MORTGAGE, file_name="hypotheek-2025.pdf")
        await asked("1 bestand")
        anna.press("Klaar")
        await asked("Hoeveel hypotheekrente heeft u betaald?")
        anna.send("3.250,75")
        await asked("Hoeveel spaargeld had u op 1 januari?")
        anna.send("12000")
        await asked("Had u beleggingen")
        anna.press("Nee")
        await asked("Had u zorgkosten")
        anna.press("Nee")
        await asked("Hoeveel heeft u aan goede doelen gegeven?")
        anna.press("Overslaan")
        text = await asked("Hoeveel kinderen jonger dan 18 woonden bij u?")
        assert "✓ Overgeslagen: Hoeveel heeft u aan goede doelen gegeven?" in text
        anna.send("2")
        await asked("Welke toeslagen ontving u?")
        anna.send("1, 3")
        await asked("Aanslag inkomstenbelasting van vorig jaar")
        anna.press("Niet aanwezig")
        await asked("Waarom heeft u het niet?")
        anna.press("Geen reden")
        await asked("Wanneer verwacht u het?")
        anna.press("Weet ik niet")
        await asked("Is er nog iets dat wij moeten weten?")
        anna.send("Geen bijzonderheden.")
        summary = await asked("Uw antwoorden:")
        for line in (
            "Had u in het belastingjaar een fiscaal partner?: Ja",
            "Wat was uw totale brutoloon?: € 45.000,00",
            "WOZ-beschikking van de gemeente: Niet beschikbaar",
            "Jaaroverzicht van uw hypotheek: hypotheek-2025.pdf",
            "Welke toeslagen ontving u?: Zorgtoeslag, Kinderopvangtoeslag",
        ):
            assert line in summary, line
        assert anna.buttons == ["Indienen", "Terug"]
        anna.press("Indienen")
        assert "Ingediend" in (await anna.next_message()).text
        await bot.idle()

    done = await checklist_row(db, cid)
    assert done.status is ChecklistStatus.SUBMITTED and done.locked
    assert await chat_state(db, anna) is None

    # What the web form stores for the same answers (the twin on the other dossier).
    twin = await income_tax(db, number="2026-0002")
    bot_answers = await _answers(db, firm, cid)
    photos = bot_answers["jaaropgave"].value["filenames"]
    assert photos[0] == "Jaaropgave 2025.jpg" and len(photos) == 2
    await _web_form(db, store, firm, twin, photos)
    web_answers = await _answers(db, firm, twin)
    assert set(bot_answers) == set(web_answers)
    for key, answer in bot_answers.items():
        web = web_answers[key]
        assert answer.channel is Channel.TELEGRAM and web.channel is Channel.WEB
        assert (answer.not_available, answer.not_available_reason, answer.expected_date) == (
            web.not_available,
            web.not_available_reason,
            web.expected_date,
        ), key
        if isinstance(answer.value, dict):
            assert answer.value["filenames"] == web.value["filenames"], key
        else:
            assert answer.value == web.value, key
    async with db.read() as s:
        alice = firm.actor(firm.alice)
        ours = await checklists.load(s, alice, cid)
        theirs = await checklists.load(s, alice, twin)
        assert checklists.summary(ours, "nl") == checklists.summary(theirs, "nl")
        delivered = list(
            await s.scalars(
                select(Document.filename).where(
                    Document.dossier_id == firm.alice_1.id,
                    Document.category == DocumentCategory.DELIVERED,
                )
            )
        )
    assert sorted(delivered) == sorted(
        [*photos, "hypotheek-2025.pdf", "inkomstenbelasting-2026-0001.pdf"]
    )


def _walker_error(key: str, raw: str) -> str:
    """What the walker says, in Dutch, of ``raw`` typed as the answer to ``key``."""
    definition = parse_template((TEMPLATES / "inkomstenbelasting.yaml").read_text())
    with pytest.raises(ValidationError) as refused:
        walker.check(definition, key, raw, "nl")
    return refused.value.translated(gettext_for("nl"))


async def checklist_row(db: Database, checklist_id: int):
    from .botkit import checklist_row as row

    return await row(db, checklist_id)


async def _answers(db: Database, firm: Firm, checklist_id: int) -> dict[str, Answer]:
    """The answers given (a question passed over, which the chat records, is none)."""
    async with db.read() as s:
        rows = await s.scalars(select(Answer).where(Answer.checklist_id == checklist_id))
        return {a.question_key: a for a in rows if a.value is not None or a.not_available}


async def _web_form(
    db: Database, store: LocalFileStore, firm: Firm, checklist_id: int, photos: list[str]
) -> None:
    """The same answers, section by section, as the web form sends them to core."""
    web = Actor.of(firm.alice, Channel.WEB)

    def upload(name: str, data: bytes) -> Upload:
        return Upload(name, aiter_bytes(data))

    sections = [
        ({"partner": "ja", "partner_naam": "Bob de Vries", "verhuisd": "nee"}, {}, {}),
        (
            {"inkomstenbron": ["loondienst"], "bruto_loon": "45.000"},
            {},
            {"jaaropgave": [upload(photos[0], PAYSLIP_1), upload(photos[1], PAYSLIP_2)]},
        ),
        (
            {"eigen_woning": "ja", "hypotheekrente": "3.250,75"},
            {"woz_beschikking": ("Nog niet ontvangen van de gemeente", dt.date(2026, 3, 15))},
            {"hypotheek_jaaroverzicht": [upload("hypotheek-2025.pdf", MORTGAGE)]},
        ),
        ({"spaargeld": "12000", "beleggingen": "nee"}, {}, {}),
        ({"zorgkosten": "nee"}, {}, {}),
        ({"kinderen": "2", "toeslagen": ["zorgtoeslag", "kinderopvangtoeslag"]}, {}, {}),
        ({"opmerkingen": "Geen bijzonderheden."}, {"vorige_aanslag": (None, None)}, {}),
    ]
    for index, (values, not_available, files) in enumerate(sections):
        async with db.begin() as s:
            errors = await checklists.save_section(
                s,
                store,
                web,
                checklist_id,
                index,
                checklists.SectionForm(values=values, not_available=not_available, files=files),
                "nl",
            )
        assert not errors, errors


async def test_started_in_the_chat_and_finished_on_the_website(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
    browser: Browser,
) -> None:
    cid = await income_tax(db)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        anna.command("checklist")
        await anna.next_message()
        anna.press("Nee")
        verhuisd = await anna.next_message()
        assert "Bent u in het belastingjaar verhuisd?" in verhuisd.text
        await bot.idle()

        # Meanwhile, on the website: the same question answered, and the part after it.
        await set_password(db, firm.alice.id)
        await browser.login("alice", PASSWORD)
        await browser.get(f"/checklists/{cid}?section=0")
        # The chat's answer is on the web page.
        assert 'name="q:partner" value="nee" checked' in browser.last_html
        response = await post_form(
            browser,
            f"/checklists/{cid}",
            [("section", "0"), ("shown", "partner"), ("shown", "verhuisd")]
            + [("q:verhuisd", "ja"), ("go", "stay")],
        )
        assert response.status == 303

        # The chat's button for that question has moved on: it changes nothing.
        before = await _answers(db, firm, cid)
        press = anna.press("Nee", verhuisd)
        moved = await anna.next_message()
        assert "Deze vraag is al verder" in fake_telegram.callback_answer(press)["text"]
        assert "Op welke datum bent u verhuisd?" in moved.text  # where the checklist is now
        after = await _answers(db, firm, cid)
        assert after["verhuisd"].value is True and after["verhuisd"].channel is Channel.WEB
        assert {k: a.value for k, a in after.items()} == {k: a.value for k, a in before.items()}

        # A typed answer for a question answered on the web meanwhile is not taken either.
        await browser.get(f"/checklists/{cid}?section=0")
        response = await post_form(
            browser,
            f"/checklists/{cid}",
            [("section", "0"), ("q:verhuisdatum", "1-7-2025"), ("go", "next")],
        )
        assert response.status == 303
        anna.send("2-8-2025")
        moved = await anna.next_message()
        assert "er is niets veranderd" in moved.text
        assert "Welke inkomsten had u?" in moved.text
        assert (await _answers(db, firm, cid))["verhuisdatum"].value == "2025-07-01"

        # The rest on the website, and submitted there.
        for section, fields in enumerate(WEB_REST, start=1):
            await browser.get(f"/checklists/{cid}?section={section}")
            response = await post_form(
                browser, f"/checklists/{cid}", [("section", str(section)), *fields]
            )
            assert response.status == 303, section
        await browser.get(f"/checklists/{cid}/summary")
        response = await post_form(browser, f"/checklists/{cid}/submit", [])
        assert response.status == 303
        assert (await checklist_row(db, cid)).locked

        # In the chat, the checklist is done: said once, and the chat no longer waits for it.
        anna.send("ja")
        assert (await anna.next_message()).text == "Deze checklist is ingediend en vergrendeld."
        anna.send("ja")
        assert "Ik weet niet goed waar dit bij hoort" in (await anna.next_message()).text
        # An old button changes nothing.
        press = anna.press("Nee", verhuisd)
        refused = await anna.next_message()
        assert refused.text == "Deze checklist is ingediend en vergrendeld."
        anna.command("checklist")
        assert (await anna.next_message()).text == "Er staat nu niets voor u klaar om in te vullen."
        assert fake_telegram.callback_answer(press) is not None  # the button stopped spinning
        await bot.idle()

    async with db.read() as s:
        loaded = await checklists.load(s, firm.actor(firm.alice), cid)
    assert loaded.answers["partner"].value is False
    assert loaded.answers["partner"].channel is Channel.TELEGRAM
    assert loaded.answers["verhuisd"].channel is Channel.WEB


# Parts 2 to 7 of the income-tax checklist as a person fills them in on the website.
WEB_REST = [
    [("q:inkomstenbron", "uitkering"), ("multi:inkomstenbron", "1"), ("na:jaaropgave", "on")],
    [("q:eigen_woning", "nee")],
    [("q:spaargeld", "100"), ("q:beleggingen", "nee")],
    [("q:zorgkosten", "nee")],
    [("q:kinderen", "0")],
    [("na:vorige_aanslag", "on")],
]


async def test_started_on_the_website_and_finished_in_the_chat(
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    fake_telegram: FakeBotAPI,
    firm: Firm,
    browser: Browser,
) -> None:
    cid = await income_tax(db)
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get(f"/checklists/{cid}?section=0")
    fields = [("q:partner", "nee"), ("q:verhuisd", "nee")]
    response = await post_form(browser, f"/checklists/{cid}", [("section", "0"), *fields])
    assert response.status == 303
    for section, fields in enumerate(WEB_REST[:-1], start=1):
        await browser.get(f"/checklists/{cid}?section={section}")
        response = await post_form(
            browser, f"/checklists/{cid}", [("section", str(section)), *fields]
        )
        assert response.status == 303
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        anna.command("checklist")
        # The web's answers stand: the chat asks the next question still open.
        await asked_in(anna, "Welke toeslagen ontving u?")
        anna.press("Terug")
        text = await asked_in(anna, "Hoeveel kinderen jonger dan 18 woonden bij u?")
        assert "Uw antwoord: 0" in text
        anna.send("drie")  # the walker's own error, nothing stored
        assert (await anna.next_message()).text == _walker_error("kinderen", "drie")
        anna.send("3")
        await asked_in(anna, "Welke toeslagen ontving u?")
        anna.press("Overslaan")
        await asked_in(anna, "Aanslag inkomstenbelasting van vorig jaar")
        anna.document(b"%PDF-1.4\n% aanslag 2024\n%%EOF\n", file_name="aanslag-2024.pdf")
        await asked_in(anna, "1 bestand ontvangen")
        anna.press("Klaar")
        await asked_in(anna, "Is er nog iets dat wij moeten weten?")
        anna.press("Overslaan")
        await asked_in(anna, "Hoeveel heeft u aan goede doelen gegeven?")  # passed on the web
        anna.press("Overslaan")
        await asked_in(anna, "Uw antwoorden:")
        anna.press("Indienen")
        assert "Ingediend" in (await anna.next_message()).text
        await bot.idle()
    done = await checklist_row(db, cid)
    assert done.status is ChecklistStatus.SUBMITTED and done.locked
    answers = await _answers(db, firm, cid)
    assert answers["zorgkosten"].value is False and answers["zorgkosten"].channel is Channel.WEB
    assert answers["kinderen"].value == "3" and answers["kinderen"].channel is Channel.TELEGRAM
    assert answers["vorige_aanslag"].value["filenames"] == ["aanslag-2024.pdf"]
    assert answers["vorige_aanslag"].channel is Channel.TELEGRAM
    await browser.get(f"/checklists/{cid}")
    assert "aanslag-2024.pdf" in browser.last_html


async def asked_in(chat, expected: str) -> str:
    text = (await chat.next_message()).text
    assert expected in text, text
    return text


async def test_answers_given_on_the_website_are_where_the_chat_goes_on(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    cid = await income_tax(db)
    web = Actor.of(firm.alice, Channel.WEB)
    async with db.begin() as s:
        for key, raw in (("partner", "nee"), ("verhuisd", "nee"), ("inkomstenbron", "2")):
            await checklists.answer(s, web, cid, key, raw)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        anna.command("checklist")
        text = (await anna.next_message()).text
        assert "Jaaroverzicht" not in text and "Jaaropgave(n)" in text  # the next open one
        anna.press("Terug")
        text = (await anna.next_message()).text
        assert "Welke inkomsten had u?" in text and "Uw antwoord: Uitkering" in text
        assert "☑ Uitkering" in anna.buttons
        anna.press("☑ Uitkering")
        await bot.idle()
        anna.press("☐ Pensioen of AOW")
        await bot.idle()
        anna.press("Klaar")
        text = (await anna.next_message()).text
        assert "Jaaropgave(n)" in text  # back where it was: the next open question
    async with db.read() as s:
        loaded = await checklists.load(s, web, cid)
    assert loaded.answers["inkomstenbron"].value == ["pensioen"]
    assert loaded.answers["inkomstenbron"].channel is Channel.TELEGRAM


async def test_a_button_on_an_earlier_message_changes_nothing(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    cid = await income_tax(db)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        anna.command("checklist")
        first = await anna.next_message()
        anna.send("nee")  # typed: the question's message keeps its buttons
        await anna.next_message()
        anna.press("Terug")  # the same question, asked again in a new message
        again = await anna.next_message()
        assert "Had u in het belastingjaar een fiscaal partner?" in again.text
        await bot.idle()
        press = anna.press("Ja", first)  # the first message's button, for that question
        await bot.idle()
        assert fake_telegram.callback_answer(press)["text"] == "Deze vraag is al verder."
        assert len(anna.sent) == 3  # the chat shows that question already: nothing more
        press = anna.press("Ja", again)
        await anna.next_message()
    async with db.read() as s:
        loaded = await checklists.load(s, firm.actor(firm.alice), cid)
    assert loaded.answers["partner"].value is True  # from the live message only


async def test_a_button_pressed_before_its_message_is_recorded_is_taken(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    """The bot records the message that asks the current question once it is sent, in a unit
    of work after the send. A person quick enough (updates handled at once, or by a second bot
    process) presses the new message before that is committed: still the live question."""
    cid = await income_tax(db)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        anna.command("checklist")
        first = await anna.next_message()
        anna.send("nee")
        second = await anna.next_message()
        assert "Bent u in het belastingjaar verhuisd?" in second.text
        await bot.idle()
        # The chat as it is between the second question's send and its recording.
        async with db.begin() as s:
            await telegram.set_question(s, anna.id, first.message_id)
        anna.press("Nee", second)
        assert "Welke inkomsten had u?" in (await anna.next_message()).text
        await bot.idle()
        press = anna.press("Ja", first)  # older than the recorded one: stale as ever
        await bot.idle()
        assert fake_telegram.callback_answer(press)["text"] == "Deze vraag is al verder."
    async with db.read() as s:
        loaded = await checklists.load(s, firm.actor(firm.alice), cid)
    assert loaded.answers["partner"].value is False
    assert loaded.answers["verhuisd"].value is False


async def test_what_the_website_answered_meanwhile_is_not_overwritten_from_the_chat(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    cid = await income_tax(db)
    web = Actor.of(firm.alice, Channel.WEB)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    await link(db, firm.alice, anna)
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram) as bot:
        anna.command("checklist")
        partner = await anna.next_message()
        async with db.begin() as s:
            await checklists.answer(s, web, cid, "partner", "nee")
        # The next question is a yes/no question too: "Ja" must not land on it.
        press = anna.press("Ja", partner)
        moved = await anna.next_message()
        assert "Bent u in het belastingjaar verhuisd?" in moved.text
        assert fake_telegram.callback_answer(press)["text"] == "Deze vraag is al verder."

        # "Not available" begun in the chat while the website gets the document.
        async with db.begin() as s:
            for key, raw in (("verhuisd", "nee"), ("inkomstenbron", "1")):
                await checklists.answer(s, web, cid, key, raw)
        anna.command("checklist")
        await anna.next_message()
        anna.press("Niet aanwezig")
        await anna.next_message()
        anna.send("Kwijt")
        await anna.next_message()
        async with db.begin() as s:
            upload = Upload("jaaropgave.pdf", aiter_bytes(b"%PDF-1.4 jaaropgave"))
            await checklists.attach(s, store, web, cid, "jaaropgave", [upload])
        anna.send("1-4-2026")
        assert "er is niets veranderd" in (await anna.next_message()).text
        await bot.idle()
    answers = await _answers(db, firm, cid)
    assert answers["partner"].value is False and "verhuisd" in answers
    assert answers["verhuisd"].channel is Channel.WEB
    assert not answers["jaaropgave"].not_available
    assert answers["jaaropgave"].value["filenames"] == ["jaaropgave.pdf"]
