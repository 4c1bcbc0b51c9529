"""In real Chromium: from the invitation mail to a downloaded document and a sent message with
two attachments, the way a client does it."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web
from playwright.async_api import expect
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core import outbox
from core.db import Database
from core.models import Account, Message
from core.services import auth, documents
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes
from mailbridge.smtp import SmtpSender
from web.app import create_app

from .chromium import connect
from .conftest import SYSTEM, Firm, SmtpServer, mail_settings
from .mailcatcher import free_port


def link_in(mail, kind: str) -> str:
    body = mail.get_body(("plain",)).get_content()
    found = re.search(rf"(http://127\.0\.0\.1:\d+/{kind}/[A-Za-z0-9_-]+)", body)
    assert found, body
    return found.group(1)


async def test_invitation_to_download_and_message(
    db: Database,
    firm: Firm,
    store: LocalFileStore,
    smtp: SmtpServer,
    tmp_path: Path,
    screens: Path,
    chromium_endpoint: str,
) -> None:
    port = free_port()
    settings = mail_settings(tmp_path, smtp.port, public_url=f"http://127.0.0.1:{port}")
    runner = web.AppRunner(create_app(settings, db, store))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    send = {"email": SmtpSender(settings)}

    async with db.begin() as s:
        await documents.publish_document(
            s,
            store,
            SYSTEM,
            number="2026-0001",
            upload=Upload(
                "Jaaropgave 2025.pdf", aiter_bytes(b"%PDF-1.4 jaaropgave"), "application/pdf"
            ),
        )
        await auth.invite(s, SYSTEM, settings, await s.get(Account, firm.alice.id))
    await outbox.run_once(db, send, settings)
    invite_link = link_in(smtp.messages[-1], "invite")

    upload_a = tmp_path / "loonstrook januari.pdf"
    upload_a.write_bytes(b"%PDF-1.4 januari")
    upload_b = tmp_path / "WOZ-beschikking.jpg"
    upload_b.write_bytes(b"\xff\xd8\xff woz")
    stray = tmp_path / "verkeerd bestand.txt"
    stray.write_text("per ongeluk gekozen")

    try:
        async with connect(chromium_endpoint) as browser:
            context = await browser.new_context(accept_downloads=True, locale="nl-NL")
            page = await context.new_page()

            await page.goto(invite_link)
            await page.get_by_label("E-mailadres").fill("alice@example.nl")
            await page.get_by_role("button", name="Bevestigen").click()
            await expect(page.get_by_role("heading", name="Kijk in uw e-mail")).to_be_visible()

            await outbox.run_once(db, send, settings)
            await page.goto(link_in(smtp.messages[-1], "password"))
            await page.get_by_label("Nieuw wachtwoord").fill("Zomer2026!x")
            await page.get_by_label("Herhaal het wachtwoord").fill("Zomer2026!x")
            await page.get_by_role("button", name="Opslaan en inloggen").click()
            await expect(page.get_by_text("Welkom!")).to_be_visible()
            assert page.url.endswith("/?welcome=1")
            await page.screenshot(path=str(screens / "welcome-home.png"), full_page=True)

            await page.get_by_role("link", name="Dossiers").first.click()
            await page.get_by_role("link", name=re.compile("2026-0001")).click()
            await page.get_by_test_id("tab-document").click()
            await expect(page.get_by_test_id("not-downloaded")).to_be_visible()
            async with page.expect_download() as info:
                await page.get_by_role("link", name="Jaaropgave 2025.pdf").click()
            download = await info.value
            assert download.suggested_filename == "Jaaropgave 2025.pdf"
            assert Path(await download.path()).read_bytes() == b"%PDF-1.4 jaaropgave"
            await page.reload()
            await expect(page.get_by_test_id("downloaded")).to_be_visible()

            await page.get_by_test_id("tab-messages").click()
            await page.get_by_role("link", name="Nieuw bericht").click()
            await page.get_by_label("Onderwerp").fill("Stukken voor de aangifte")
            await page.get_by_label("Bericht", exact=True).fill(
                "Hierbij mijn loonstrook en de WOZ."
            )
            await expect(page.locator("#counter")).to_contain_text("34 van 4000")
            await page.locator("input[data-files]").set_input_files([str(upload_a), str(stray)])
            await page.locator("input[data-files]").set_input_files([str(upload_b)])
            files = page.locator("[data-file-list] li")
            await expect(files).to_have_count(3)
            # The remove button is named in the reader's language (from the page, not the script).
            await page.get_by_role("button", name="verkeerd bestand.txt verwijderen").click()
            await expect(files).to_have_count(2)
            await page.screenshot(path=str(screens / "compose.png"), full_page=True)
            await page.get_by_role("button", name="Versturen").click()
            await expect(page.get_by_text("Stukken voor de aangifte")).to_be_visible()
            await page.screenshot(path=str(screens / "dossier.png"), full_page=True)
    finally:
        await runner.cleanup()

    async with db.read() as s:
        message = await s.scalar(select(Message).options(selectinload(Message.attachments)))
    assert message.subject == "Stukken voor de aangifte"
    assert sorted(d.filename for d in message.attachments) == [
        "WOZ-beschikking.jpg",
        "loonstrook januari.pdf",
    ]
    assert {d.category.value for d in message.attachments} == {"delivered"}
    # The screenshots are in the run's temporary folder, not in the repository tree.
    root = Path(__file__).resolve().parent.parent
    assert not screens.resolve().is_relative_to(root)
    assert {"welcome-home.png", "compose.png", "dossier.png"} <= {p.name for p in screens.iterdir()}
