"""Words a new client reads: the dossier list's counts and progress say what they count, Home
says what is new, and the summary warns before the submit button that submitting locks."""

from __future__ import annotations

import re

from core.db import Database
from core.services import documents, dossiers, messages
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes

from .conftest import PASSWORD, SYSTEM, Firm, set_password
from .webclient import Browser


async def logged_in(browser: Browser, db: Database, firm: Firm) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)


async def test_the_dossier_list_says_what_its_numbers_count(
    browser: Browser, db: Database, firm: Firm
) -> None:
    number = firm.alice_1.number
    async with db.begin() as s:
        for title in ("Intake", "Gegevens", "Aangifte", "Afronding"):
            await dossiers.add_step(s, SYSTEM, number, title)
        await dossiers.tick_step(s, SYSTEM, number, 1)
        await dossiers.set_status(s, SYSTEM, number, "in_treatment")
    await logged_in(browser, db, firm)
    await browser.get("/dossiers")
    html = browser.last_html
    assert "Lopend:" in html  # the count of dossiers not finished…
    assert html.count("In behandeling") == 2  # …is not called what one status is called
    assert "1 van 6 stappen klaar" in html  # the fixture's two steps and these four


async def test_home_says_what_is_new(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    await logged_in(browser, db, firm)
    await browser.get("/")
    assert "niets nieuws" in browser.last_html
    async with db.begin() as s:
        await messages.send_message(
            s, store, SYSTEM, number=firm.alice_1.number, subject="Vraag", body="Hoe gaat het?"
        )
        for name in ("brief.pdf", "aanslag.pdf"):
            await documents.publish_document(
                s,
                store,
                SYSTEM,
                number=firm.alice_2.number,
                upload=Upload(name, aiter_bytes(b"%PDF-1.4")),
            )
        # Another client's news is not hers.
        await messages.send_message(
            s, store, SYSTEM, number=firm.bv_1.number, subject="Vraag", body="En hier?"
        )
    await browser.get("/")
    news = re.search(r'data-testid="news">(.*?)</span>', browser.last_html, re.S).group(1)
    assert " ".join(news.split()) == "1 nieuw bericht · 2 nieuwe documenten"


async def test_the_locked_warning_stands_above_the_submit_button(
    browser: Browser, db: Database, firm: Firm
) -> None:
    from core.services import checklists

    from .test_checklist_access import TEMPLATES

    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        given = await checklists.assign(
            s, SYSTEM, number=firm.alice_1.number, template_name="inkomstenbelasting"
        )
    await logged_in(browser, db, firm)
    await browser.get(f"/checklists/{given.id}/summary")
    html = browser.last_html
    warning = html.index("Na het indienen")
    assert warning < html.index(f'action="/checklists/{given.id}/submit"')


async def test_answered_counts_keep_optional_questions_apart_and_never_go_back(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    """A checklist whose open questions are all optional reads as complete, and answering a
    question that brings follow-ups never shows fewer answered than before."""
    from core.services import checklists

    from .test_checklist_access import TEMPLATES, fill_all

    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        given = await checklists.assign(
            s, SYSTEM, number=firm.alice_1.number, template_name="inkomstenbelasting"
        )
    alice = firm.actor(firm.alice)
    seen = []
    async with db.read() as s:
        seen.append(checklists.counts(await checklists.load(s, alice, given.id)))
    for key, value in (("eigen_woning", "ja"), ("beleggingen", "ja"), ("zorgkosten", "ja")):
        async with db.begin() as s:
            loaded = await checklists.answer(s, alice, given.id, key, value)
        seen.append(checklists.counts(loaded))
    assert [c.answered for c in seen] == [0, 1, 2, 3]  # follow-ups came, nothing went back
    await fill_all(db, alice, given.id, store)
    async with db.begin() as s:  # one optional question left open after all
        from sqlalchemy import delete

        from core.models import Answer

        await s.execute(delete(Answer).where(Answer.question_key == "giften"))
    async with db.read() as s:
        done = checklists.counts(await checklists.load(s, alice, given.id))
    assert (done.to_go, done.optional_open) == (0, 1)
    await logged_in(browser, db, firm)
    await browser.get("/actions")
    progress = re.search(r'data-testid="action-progress">(.*?)</span>', browser.last_html, re.S)
    assert " ".join(progress.group(1).split()) == (
        "Alle verplichte vragen beantwoord · 1 optionele vraag opengelaten"
    )
    assert "/" not in progress.group(1)  # no fraction
