"""Checklists in core: templates and versions, assigning, answering on any channel with resume,
"not available", uploads per question, submit (locked, with a PDF), reject and resubmit."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from core.actor import Actor
from core.db import Database
from core.errors import NotFound, PermissionDenied, ValidationError
from core.models import Channel, Checklist, ChecklistStatus, Document, OutboxItem
from core.services import checklists
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes

from .conftest import SYSTEM, Firm

TEMPLATES = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"


@pytest.fixture
async def tax(db: Database, firm: Firm) -> Checklist:
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        return await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting"
        )


ALL_ANSWERS = [
    ("partner", "nee"),
    ("verhuisd", "ja"),
    ("verhuisdatum", "1-7-2025"),
    ("inkomstenbron", "1"),
    ("bruto_loon", "48.250,00"),
    ("eigen_woning", "nee"),
    ("spaargeld", "12.500"),
    ("beleggingen", "nee"),
    ("zorgkosten", "nee"),
    ("giften", "250"),
    ("kinderen", "2"),
    ("toeslagen", "zorgtoeslag"),
    ("opmerkingen", "Mijn dochter studeert sinds september in Delft."),
]


async def fill(db: Database, actor: Actor, checklist_id: int, store: LocalFileStore) -> None:
    for key, raw in ALL_ANSWERS:
        async with db.begin() as s:
            await checklists.answer(s, actor, checklist_id, key, raw)
    async with db.begin() as s:
        await checklists.attach(
            s,
            store,
            actor,
            checklist_id,
            "jaaropgave",
            [Upload("Jaaropgave 2025.pdf", aiter_bytes(b"%PDF jaaropgave"))],
        )
    async with db.begin() as s:
        await checklists.not_available(
            s, actor, checklist_id, "vorige_aanslag", reason="Nog niet ontvangen"
        )


async def test_assign_tells_the_client(db: Database, firm: Firm, tax: Checklist) -> None:
    async with db.read() as s:
        items = list(
            await s.scalars(select(OutboxItem).where(OutboxItem.kind == "new_questionnaire"))
        )
        actions = await checklists.actions(s, firm.actor(firm.alice))
        others = await checklists.actions(s, firm.actor(firm.bv_main))
    assert [i.recipient for i in items] == ["alice@example.nl"]
    assert [c.id for c in actions] == [tax.id] and others == []


async def test_staff_actions_are_the_submissions_waiting_for_review(
    db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    alice, staff = firm.actor(firm.alice), firm.actor(firm.staff)
    async with db.read() as s:
        assert await checklists.actions(s, staff) == []  # the client is still filling it in
    await fill(db, alice, tax.id, store)
    async with db.begin() as s:
        await checklists.submit(s, store, alice, tax.id, firm="Kantoor")
    async with db.read() as s:
        assert [c.id for c in await checklists.actions(s, staff)] == [tax.id]
        assert await checklists.actions(s, alice) == []  # nothing left to fill in
    async with db.begin() as s:
        await checklists.approve(s, staff, tax.id)
    async with db.read() as s:
        assert await checklists.actions(s, staff) == []


async def test_a_dossier_lists_the_checklists_each_reader_sees(
    db: Database, firm: Firm, tax: Checklist
) -> None:
    async with db.begin() as s:
        only_main = await checklists.assign(
            s,
            SYSTEM,
            number="2026-0100",
            template_name="inkomstenbelasting",
            usernames=["bakkerij"],
        )

    async def listed(who, dossier) -> list[int]:
        async with db.read() as s:
            return [i.checklist.id for i in await checklists.on_dossier(s, who, dossier.id)]

    assert await listed(firm.actor(firm.staff), firm.alice_1) == [tax.id]
    assert await listed(firm.actor(firm.alice), firm.alice_1) == [tax.id]
    assert await listed(firm.actor(firm.alice), firm.alice_2) == []
    assert await listed(firm.actor(firm.staff), firm.bv_1) == [only_main.id]
    assert await listed(firm.actor(firm.bv_main), firm.bv_1) == [only_main.id]
    assert await listed(firm.actor(firm.bv_extra), firm.bv_1) == []  # not given to them
    async with db.read() as s:
        [item] = await checklists.on_dossier(s, SYSTEM, firm.alice_1.id)
    assert item.title["nl"] == "Checklist aangifte inkomstenbelasting"
    with pytest.raises(NotFound):
        async with db.read() as s:
            await checklists.on_dossier(s, firm.actor(firm.bv_main), firm.alice_1.id)


async def test_a_follow_up_question_of_the_same_part_is_named(
    db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    on_the_form = ["partner", "verhuisd"]
    form = checklists.SectionForm(
        values={"partner": "ja", "verhuisd": "nee"}, not_available={}, files={}
    )
    async with db.begin() as s:
        assert (
            await checklists.save_section(s, store, firm.actor(firm.alice), tax.id, 0, form, "nl")
            == {}
        )
    async with db.read() as s:
        loaded = await checklists.load(s, firm.actor(firm.alice), tax.id)
    assert checklists.new_questions(loaded, 0, on_the_form) == ["partner_naam"]
    assert checklists.new_questions(loaded, 0, [*on_the_form, "partner_naam"]) == []
    assert checklists.new_questions(loaded, 1, []) == ["inkomstenbron"]
    assert checklists.new_questions(loaded, 99, []) == []


async def test_a_new_template_version_leaves_assigned_checklists_alone(
    db: Database, firm: Firm, tax: Checklist
) -> None:
    text = (
        (TEMPLATES / "inkomstenbelasting.yaml")
        .read_text()
        .replace("Had u in het belastingjaar een fiscaal partner?", "Had u een partner?")
    )
    async with db.begin() as s:
        newer = await checklists.import_template(s, SYSTEM, text)
        later = await checklists.assign(
            s, SYSTEM, number="2026-0002", template_name="inkomstenbelasting"
        )
    assert newer.version == 2
    async with db.read() as s:
        old = checklists.current(await checklists.load(s, SYSTEM, tax.id), "nl")
        new = checklists.current(await checklists.load(s, SYSTEM, later.id), "nl")
    assert old.label == "Had u in het belastingjaar een fiscaal partner?"
    assert new.label == "Had u een partner?"


async def test_answers_resume_where_the_client_stopped_on_another_channel(
    db: Database, firm: Firm, tax: Checklist
) -> None:
    by_chat = Actor.of(firm.alice, Channel.TELEGRAM)
    async with db.begin() as s:
        await checklists.answer(s, by_chat, tax.id, "partner", "ja")
        await checklists.answer(s, by_chat, tax.id, "partner_naam", "Bert de Vries")
    on_web = firm.actor(firm.alice)
    async with db.read() as s:
        loaded = await checklists.load(s, on_web, tax.id)
    here = checklists.current(loaded, "en")
    assert (here.key, here.number) == ("verhuisd", 3)
    assert loaded.answers["partner"].channel is Channel.TELEGRAM


async def test_wrong_answer_is_refused_and_nothing_saved(
    db: Database, firm: Firm, tax: Checklist
) -> None:
    with pytest.raises(ValidationError):
        async with db.begin() as s:
            await checklists.answer(s, firm.actor(firm.alice), tax.id, "spaargeld", "veel")
    async with db.read() as s:
        assert (await checklists.load(s, SYSTEM, tax.id)).answers == {}


async def test_not_available_only_where_allowed(db: Database, firm: Firm, tax: Checklist) -> None:
    with pytest.raises(ValidationError):
        async with db.begin() as s:
            await checklists.not_available(s, firm.actor(firm.alice), tax.id, "partner")


async def test_submit_refused_while_incomplete(
    db: Database, firm: Firm, tax: Checklist, store
) -> None:
    with pytest.raises(ValidationError) as info:
        async with db.begin() as s:
            await checklists.submit(s, store, firm.actor(firm.alice), tax.id, firm="Kantoor")
    assert "Had u in het belastingjaar een fiscaal partner?" in info.value.message


async def test_submit_locks_and_files_a_pdf_with_every_answer(
    db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    alice = firm.actor(firm.alice)
    await fill(db, alice, tax.id, store)
    async with db.begin() as s:
        await checklists.submit(s, store, alice, tax.id, firm="Kantoor Test")
    async with db.read() as s:
        loaded = await checklists.load(s, alice, tax.id)
        docs = list(await s.scalars(select(Document).where(Document.category == "delivered")))
        told = list(
            await s.scalars(select(OutboxItem).where(OutboxItem.kind == "checklist_submitted"))
        )
    assert loaded.checklist.locked and loaded.checklist.status is ChecklistStatus.SUBMITTED
    assert [i.recipient for i in told] == ["sanne@firm.example"]
    pdf_doc = next(
        d for d in docs if d.filename.endswith(".pdf") and "inkomstenbelasting" in d.filename
    )
    data = b"".join([c async for c in store.open(pdf_doc.storage_key)])
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    for expected in (
        "Kantoor Test",
        "2026-0001",
        "Alice de Vries",
        "01-07-2025",
        "€ 48.250,00",
        "€ 12.500,00",
        "Loon uit dienstbetrekking",
        "Jaaropgave 2025.pdf",
        "Niet beschikbaar",
        "Zorgtoeslag",
        "Mijn dochter studeert sinds september in Delft.",
    ):
        assert expected in text, expected
    with pytest.raises(ValidationError):  # locked
        async with db.begin() as s:
            await checklists.answer(s, alice, tax.id, "giften", "300")


async def test_reject_unlocks_with_reasons_then_resubmit_and_approve(
    db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    alice = firm.actor(firm.alice)
    await fill(db, alice, tax.id, store)
    async with db.begin() as s:
        await checklists.submit(s, store, alice, tax.id, firm="Kantoor")
    with pytest.raises(PermissionDenied):
        async with db.begin() as s:
            await checklists.reject(s, alice, tax.id, reason="zelf afgekeurd")
    async with db.begin() as s:
        await checklists.reject(
            s,
            SYSTEM,
            tax.id,
            reason="De jaaropgave is onleesbaar.",
            questions={"jaaropgave": "Graag een scherpere scan."},
        )
    async with db.read() as s:
        loaded = await checklists.load(s, alice, tax.id)
        told = list(
            await s.scalars(select(OutboxItem).where(OutboxItem.kind == "checklist_rejected"))
        )
    assert not loaded.checklist.locked and loaded.checklist.status is ChecklistStatus.REJECTED
    assert loaded.answers["jaaropgave"].review_reason == "Graag een scherpere scan."
    assert checklists.current(loaded, "nl").key == "jaaropgave"  # the client starts there
    assert [i.recipient for i in told] == ["alice@example.nl"]
    async with db.begin() as s:
        await checklists.attach(
            s,
            store,
            alice,
            tax.id,
            "jaaropgave",
            [Upload("Jaaropgave scherp.pdf", aiter_bytes(b"%PDF scherp"))],
        )
        await checklists.submit(s, store, alice, tax.id, firm="Kantoor")
    async with db.begin() as s:
        approved = await checklists.approve(s, SYSTEM, tax.id)
    assert approved.checklist.status is ChecklistStatus.APPROVED


async def test_another_client_cannot_reach_the_checklist(
    db: Database, firm: Firm, tax: Checklist
) -> None:
    for who in (firm.bv_main, firm.office):
        with pytest.raises(NotFound):
            async with db.begin() as s:
                await checklists.answer(s, firm.actor(who), tax.id, "partner", "ja")


async def test_a_web_section_saves_what_is_right_and_names_the_rest(
    db: Database, firm: Firm, tax: Checklist, store
) -> None:
    form = checklists.SectionForm(
        values={"spaargeld": "veel", "beleggingen": "ja"}, not_available={}, files={}
    )
    async with db.begin() as s:
        errors = await checklists.save_section(
            s, store, firm.actor(firm.alice), tax.id, 3, form, "nl"
        )
    assert list(errors) == ["spaargeld"]
    async with db.read() as s:
        loaded = await checklists.load(s, SYSTEM, tax.id)
    assert loaded.answers["beleggingen"].value is True and "spaargeld" not in loaded.answers
    # Optional multiple choice cleared again: the answer goes.
    for values in ({"toeslagen": ["zorgtoeslag"]}, {"toeslagen": []}):
        async with db.begin() as s:
            errors = await checklists.save_section(
                s,
                store,
                firm.actor(firm.alice),
                tax.id,
                5,
                checklists.SectionForm(values=values, not_available={}, files={}),
                "nl",
            )
        assert errors == {}
    async with db.read() as s:
        assert (await checklists.load(s, SYSTEM, tax.id)).answers["toeslagen"].value is None


async def test_a_chat_walk_that_leaves_the_optional_questions_open_reaches_the_end(
    db: Database, firm: Firm, tax: Checklist, store: LocalFileStore
) -> None:
    """As `loket chat` does it: answer what is asked, skip (or send empty) the optional
    questions; every question comes once, then the walk ends and submitting works."""
    alice = firm.actor(firm.alice)
    required = dict(ALL_ANSWERS)
    asked: list[str] = []
    for _ in range(40):
        async with db.read() as s:
            here = checklists.current(await checklists.load(s, alice, tax.id), "nl")
        if here is None:
            break
        asked.append(here.key)
        async with db.begin() as s:
            if here.key == "vorige_aanslag" and asked.count(here.key) == 1:
                await checklists.move(s, alice, tax.id, +1)  # required: asked again later
            elif here.key == "giften":  # sent back empty
                await checklists.answer(s, alice, tax.id, "giften", "")
            elif not here.required:
                await checklists.move(s, alice, tax.id, +1)  # skip, the last question too
            elif here.type == "upload":
                await checklists.not_available(s, alice, tax.id, here.key)
            else:
                await checklists.answer(s, alice, tax.id, here.key, required[here.key])
    else:
        raise AssertionError(f"the walk never ends: {asked[-12:]}")
    assert len(asked) == len(set(asked)) + 1  # only the skipped required question came twice
    assert asked[-3:] == ["vorige_aanslag", "opmerkingen", "vorige_aanslag"]
    assert [k for k in asked if k in ("bruto_loon", "giften", "toeslagen", "opmerkingen")] == [
        "bruto_loon",
        "giften",
        "toeslagen",
        "opmerkingen",
    ]
    async with db.begin() as s:
        await checklists.submit(s, store, alice, tax.id, firm="Kantoor")
    async with db.read() as s:
        loaded = await checklists.load(s, alice, tax.id)
    assert loaded.checklist.locked
    assert loaded.answers["bruto_loon"].value is None  # the skip is stored, as no answer
    # Sent back by the firm, a passed optional question is asked again.
    async with db.begin() as s:
        await checklists.reject(s, SYSTEM, tax.id, reason="Giften?", questions={"giften": "?"})
    async with db.read() as s:
        assert checklists.current(await checklists.load(s, alice, tax.id), "nl").key == "giften"


CAR = """
name: auto
title: {nl: Auto, en: Car}
sections:
  - title: {nl: Auto, en: Car}
    questions:
      - {key: heeft_auto, type: yesno, label: {nl: "Heeft u een auto?", en: "Do you have a car?"}}
      - key: soort
        type: choice
        label: {nl: "Wat voor auto?", en: "What kind of car?"}
        options:
          - {value: benzine, label: {nl: Benzine, en: Petrol}}
          - {value: elektrisch, label: {nl: Elektrisch, en: Electric}}
        show_if: {question: heeft_auto, equals: true}
      - key: laadpaal
        type: yesno
        label: {nl: "Heeft u een laadpaal?", en: "Do you have a charging point?"}
        show_if: {question: soort, in: [elektrisch]}
"""


async def test_an_answer_that_hides_a_question_hides_what_hangs_on_it(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    alice = firm.actor(firm.alice)
    async with db.begin() as s:
        await checklists.import_template(s, SYSTEM, CAR)
        car = await checklists.assign(s, SYSTEM, number="2026-0001", template_name="auto")
    for key, raw in (("heeft_auto", "ja"), ("soort", "elektrisch"), ("laadpaal", "ja")):
        async with db.begin() as s:
            await checklists.answer(s, alice, car.id, key, raw)
    async with db.begin() as s:
        loaded = await checklists.answer(s, alice, car.id, "heeft_auto", "nee")
    assert checklists.counts(loaded) == checklists.Counts(answered=1, to_go=0, optional_open=0)
    [section] = checklists.summary(loaded, "nl")
    assert [label for label, _ in section.rows] == ["Heeft u een auto?"]
    assert checklists.current(loaded, "nl") is None
    async with db.begin() as s:
        await checklists.submit(s, store, alice, car.id, firm="Kantoor")


async def test_a_template_whose_condition_can_never_hold_is_not_imported(
    db: Database, firm: Firm
) -> None:
    """A bare string for 'in' used to be stored, and then every assign crashed."""
    bad = CAR.replace("in: [elektrisch]", "in: elektrisch")
    with pytest.raises(ValidationError) as info:
        async with db.begin() as s:
            await checklists.import_template(s, SYSTEM, bad)
    assert "laadpaal" in info.value.message
    with pytest.raises(NotFound):
        async with db.begin() as s:
            await checklists.assign(s, SYSTEM, number="2026-0001", template_name="auto")


def test_the_pdf_date_is_the_firms_date_not_the_servers() -> None:
    import datetime as dt

    late = dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC)  # 00:30 on the 25th in Amsterdam
    assert checklists.local_date(late, "Europe/Amsterdam") == dt.date(2026, 11, 25)
    assert checklists.local_date(late, "UTC") == dt.date(2026, 11, 24)
