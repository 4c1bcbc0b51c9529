"""The income-tax checklist started in `loket chat` and finished in real Chromium: two uploads,
one "not available", the summary, submitting, and the PDF with every answer."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from core.db import Database
from core.models import Answer, Channel
from core.services import checklists
from core.storage import LocalFileStore
from web.app import create_app

from .chromium import connect
from .cli_in_process import run_cli
from .conftest import PASSWORD, SYSTEM, Firm, mail_settings, set_password
from .mailcatcher import free_port

TEMPLATES = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"


# SQLite only: `loket chat` opens the database named by its settings, and an asyncpg URL cannot
# name the suite's PostgreSQL schema (search_path); the chat's rules run on PostgreSQL in
# tests/test_chat_services.py.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_start_in_chat_finish_in_the_browser(
    database_url: str,
    db: Database,
    firm: Firm,
    tmp_path: Path,
    screens: Path,
    chromium_endpoint: str,
) -> None:
    store = LocalFileStore(tmp_path / "store", limit=10 * 1024 * 1024)
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        checklist = await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting"
        )
    await set_password(db, firm.alice.id)

    # Started in the terminal: two answers, then stop (`loket chat`, in this process).
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOKET_")} | {
        "LOKET_DATA_DIR": str(tmp_path),
        "LOKET_DATABASE_URL": database_url,
    }
    chat = await asyncio.to_thread(
        run_cli, ["chat", "--account", "alice"], env, stdin="nee\nnee\nstop\n"
    )
    assert chat.returncode == 0, chat.stderr

    port = free_port()
    settings = mail_settings(
        tmp_path, public_url=f"http://127.0.0.1:{port}", firm_name="Kantoor Test"
    )
    runner = web.AppRunner(create_app(settings, db, store))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    files = {}
    for name, data in (
        ("jaaropgave werkgever.pdf", b"%PDF jaaropgave"),
        ("Beleggingen 2025.pdf", b"%PDF beleggingen"),
    ):
        files[name] = tmp_path / name
        files[name].write_bytes(data)

    def q(page, key: str):
        return page.locator(f'fieldset[data-question="{key}"]')

    try:
        async with connect(chromium_endpoint) as browser:
            context = await browser.new_context(accept_downloads=True, locale="nl-NL")
            page = await context.new_page()
            await page.goto(f"http://127.0.0.1:{port}/login")
            await page.get_by_label("Gebruikersnaam of e-mailadres").fill("alice")
            await page.get_by_label("Wachtwoord").fill(PASSWORD)
            await page.get_by_role("button", name="Inloggen").click()
            await expect(page.get_by_test_id("action-count")).to_have_text("1")
            await page.get_by_role("link", name="Acties").first.click()
            await expect(page.get_by_test_id("action-progress")).to_contain_text("2 beantwoord")
            await page.get_by_role("link", name="Checklist aangifte inkomstenbelasting").click()

            # It opens where the chat stopped: part 2, work and income.
            await expect(page.get_by_role("heading", name="Werk en inkomen")).to_be_visible()
            await q(page, "inkomstenbron").get_by_label("Loon uit dienstbetrekking").check()
            await page.get_by_role("button", name="Opslaan").click()
            await (
                q(page, "jaaropgave")
                .locator("input[type=file]")
                .set_input_files(str(files["jaaropgave werkgever.pdf"]))
            )
            await q(page, "bruto_loon").locator("input").fill("48.250,00")
            await page.get_by_role("button", name="Volgende").click()

            await expect(page.get_by_role("heading", name="Eigen woning")).to_be_visible()
            await q(page, "eigen_woning").get_by_label("Nee").check()
            await page.get_by_role("button", name="Volgende").click()

            await expect(page.get_by_role("heading", name="Sparen en beleggen")).to_be_visible()
            await q(page, "spaargeld").locator("input").fill("veel")  # refused, asked again
            await q(page, "beleggingen").get_by_label("Ja").check()
            await page.get_by_role("button", name="Opslaan").click()
            await expect(q(page, "spaargeld").get_by_role("alert")).to_contain_text(
                "bedrag in euro"
            )
            await q(page, "spaargeld").locator("input").fill("12.500")
            await (
                q(page, "beleggingsoverzicht")
                .locator("input[type=file]")
                .set_input_files(str(files["Beleggingen 2025.pdf"]))
            )
            await page.get_by_role("button", name="Volgende").click()

            await expect(page.get_by_role("heading", name="Aftrekposten")).to_be_visible()
            await q(page, "zorgkosten").get_by_label("Nee").check()
            await page.get_by_role("button", name="Volgende").click()
            await q(page, "kinderen").locator("input").fill("2")
            await page.get_by_role("button", name="Volgende").click()

            await expect(page.get_by_role("heading", name="Overig")).to_be_visible()
            await q(page, "vorige_aanslag").get_by_text("Niet beschikbaar?").click()
            await q(page, "vorige_aanslag").get_by_label("Dit heb ik (nog) niet").check()
            await (
                q(page, "vorige_aanslag")
                .get_by_label("Waarom (optioneel)")
                .fill("Nog niet ontvangen")
            )
            await q(page, "opmerkingen").locator("textarea").fill("Mijn dochter studeert in Delft.")
            await page.screenshot(path=str(screens / "checklist.png"), full_page=True)
            await page.get_by_role("button", name="Naar het overzicht").click()

            await expect(page.get_by_role("heading", name="Overzicht")).to_be_visible()
            await page.get_by_role("button", name="Indienen").click()
            await expect(page.get_by_text("Ingediend. Dank u wel!")).to_be_visible()
            await page.screenshot(path=str(screens / "checklist-done.png"), full_page=True)
            async with page.expect_download() as info:
                await page.get_by_role("link", name="Download de PDF").click()
            pdf = Path(await (await info.value).path()).read_bytes()
    finally:
        await runner.cleanup()

    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for expected in (
        "Kantoor Test",
        "2026-0001",
        "Loon uit dienstbetrekking",
        "jaaropgave werkgever.pdf",
        "€ 48.250,00",
        "€ 12.500,00",
        "Beleggingen 2025.pdf",
        "Niet beschikbaar",
        "Mijn dochter studeert in Delft.",
    ):
        assert expected in text, expected
    async with db.read() as s:
        channels = {
            a.question_key: a.channel
            for a in await s.scalars(select(Answer).where(Answer.checklist_id == checklist.id))
        }
    assert channels["partner"] is Channel.CLI and channels["spaargeld"] is Channel.WEB


@contextlib.asynccontextmanager
async def _alice_on_the_tax_checklist(
    db: Database, firm: Firm, tmp_path: Path, chromium_endpoint: str
) -> AsyncIterator[tuple[object, str]]:
    """Alice logged in, in Chromium, with the income-tax checklist open: (page, its URL)."""
    store = LocalFileStore(tmp_path / "store", limit=10 * 1024 * 1024)
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        checklist = await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting"
        )
    await set_password(db, firm.alice.id)
    port = free_port()
    settings = mail_settings(tmp_path, public_url=f"http://127.0.0.1:{port}")
    runner = web.AppRunner(create_app(settings, db, store))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with connect(chromium_endpoint) as browser:
            page = await (await browser.new_context(locale="nl-NL")).new_page()
            await page.goto(f"http://127.0.0.1:{port}/login")
            await page.get_by_label("Gebruikersnaam of e-mailadres").fill("alice")
            await page.get_by_label("Wachtwoord").fill(PASSWORD)
            await page.get_by_role("button", name="Inloggen").click()
            url = f"http://127.0.0.1:{port}/checklists/{checklist.id}"
            await page.goto(url)
            yield page, url
    finally:
        await runner.cleanup()


async def test_answers_are_saved_when_the_client_just_leaves_the_page(
    db: Database, firm: Firm, tmp_path: Path, chromium_endpoint: str
) -> None:
    async with _alice_on_the_tax_checklist(db, firm, tmp_path, chromium_endpoint) as (page, url):
        partner = page.locator('fieldset[data-question="partner"]')
        async with page.expect_response(lambda r: r.request.method == "POST"):
            await partner.get_by_label("Ja").check()
        await page.get_by_role("link", name="Dossiers").first.click()  # away, no button
    checklist_id = int(url.rsplit("/", 1)[1])
    async with db.read() as s:
        saved = {
            a.question_key: a.value
            for a in await s.scalars(select(Answer).where(Answer.checklist_id == checklist_id))
        }
    assert saved == {"partner": True}


async def test_enter_in_a_field_goes_on_to_the_next_part(
    db: Database, firm: Firm, tmp_path: Path, chromium_endpoint: str
) -> None:
    async with _alice_on_the_tax_checklist(db, firm, tmp_path, chromium_endpoint) as (page, url):
        await page.goto(f"{url}?section=3")  # part 4, with "Vorige" before "Volgende"
        await expect(page.get_by_role("heading", name="Sparen en beleggen")).to_be_visible()
        # The buttons look and read as they did: the default one for Enter is not shown.
        buttons = page.locator("form[data-autosave]").get_by_role("button")
        await expect(buttons).to_have_text(["Vorige", "Opslaan", "Volgende"])
        spaargeld = page.locator('fieldset[data-question="spaargeld"] input[name="q:spaargeld"]')
        await spaargeld.fill("12.500")
        await spaargeld.press("Enter")
        await expect(page.get_by_role("heading", name="Aftrekposten")).to_be_visible()
    async with db.read() as s:
        saved = await s.scalar(select(Answer).where(Answer.question_key == "spaargeld"))
    assert saved.value == "12500.00"


async def test_a_follow_up_question_is_shown_before_going_on(
    db: Database, firm: Firm, tmp_path: Path, chromium_endpoint: str
) -> None:
    def q(page, key: str):
        return page.locator(f'fieldset[data-question="{key}"]')

    async with _alice_on_the_tax_checklist(db, firm, tmp_path, chromium_endpoint) as (page, url):
        await expect(q(page, "partner_naam")).to_have_count(0)
        async with page.expect_response(lambda r: r.request.method == "POST"):
            await q(page, "partner").get_by_label("Ja").check()  # saved in the background
        await q(page, "verhuisd").get_by_label("Nee").check()
        await page.get_by_role("button", name="Volgende").click()
        # Still part 1, now with the partner's name, and a word why.
        await expect(page.get_by_role("heading", name="Persoonlijke gegevens")).to_be_visible()
        await expect(page.get_by_role("status")).to_contain_text("aanvullende vragen")
        await q(page, "partner_naam").locator("input[name='q:partner_naam']").fill("Bert")
        await page.get_by_role("button", name="Volgende").click()
        await expect(page.get_by_role("heading", name="Werk en inkomen")).to_be_visible()

        # On the summary, a missing answer links to the part that asks it.
        await page.goto(f"{url}/summary")
        await page.get_by_role("link", name="Hoeveel spaargeld had u op 1 januari?").click()
        await expect(page.get_by_role("heading", name="Sparen en beleggen")).to_be_visible()
        await expect(q(page, "spaargeld")).to_be_in_viewport()
