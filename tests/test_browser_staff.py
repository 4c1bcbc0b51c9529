"""In real Chromium, a morning at the firm: staff set up a client and a dossier with an
intermediary office and hand out a checklist; the client answers by mail; staff turn down one
document; the client sends a new one on the web; staff approve; the office sees the outcome."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import expect
from sqlalchemy import select

from core.db import Database
from core.models import Account, Document, ReviewState
from core.services import checklists
from core.services.accounts import create_staff
from core.services.clients import create_intermediary
from core.storage import LocalFileStore

from .chromium import connect
from .conftest import PASSWORD, SYSTEM, set_password
from .livesite import SMALL_CHECKLIST, live_loket, log_in, new_page
from .mailcatcher import SmtpServer
from .mails import reply_mail


def link_in(mail, path: str) -> str:
    body = mail.get_body(("plain",)).get_content()
    found = re.search(rf"(http://127\.0\.0\.1:\d+/{path}[A-Za-z0-9_/-]*)", body)
    assert found, body
    return found.group(1)


def reply_address(mail) -> str:
    return str(mail["Reply-To"].addresses[0].addr_spec)


def mails_to(smtp: SmtpServer, address: str) -> list:
    return [m for m in smtp.messages if address in str(m["To"])]


async def test_a_client_by_mail_a_document_sent_back_approved_the_office_sees_it(
    db: Database,
    store: LocalFileStore,
    smtp: SmtpServer,
    tmp_path: Path,
    screens: Path,
    chromium_endpoint: str,
) -> None:
    async with db.begin() as s:
        staff = await create_staff(
            s, SYSTEM, username="sanne", email="sanne@firm.example", name="Sanne Visser"
        )
        _office, office_login = await create_intermediary(
            s, SYSTEM, name="Adviesbureau Tussen", email="post@tussen.example", username="tussen"
        )
        await checklists.import_template(s, SYSTEM, SMALL_CHECKLIST)
    await set_password(db, staff.id)
    await set_password(db, office_login.id)
    wrong = b"%PDF-1.4 jaaropgave 2024"
    payslip = b"%PDF-1.4 loonstrook december"
    right = tmp_path / "Jaaropgave 2025.pdf"
    right.write_bytes(b"%PDF-1.4 jaaropgave 2025")

    async with (
        live_loket(db, store, tmp_path, smtp.port) as site,
        connect(chromium_endpoint) as browser,
    ):
        staff_page = await new_page(browser)
        await log_in(staff_page, site.base, "sanne", PASSWORD)
        await expect(staff_page.get_by_role("heading", name="Inbox")).to_be_visible()

        # A new client, not yet invited: the invitation goes with the first mail about work.
        await staff_page.get_by_role("link", name="Klanten").click()
        await staff_page.get_by_role("link", name="Nieuwe klant").click()
        await staff_page.get_by_label("Naam", exact=True).fill("Daan Bakker")
        await staff_page.get_by_label("E-mailadres").fill("daan@example.nl")
        await staff_page.get_by_label("Uitnodiging nu versturen").uncheck()
        await staff_page.get_by_role("button", name="Klant toevoegen").click()
        await expect(staff_page.get_by_role("heading", name="Daan Bakker")).to_be_visible()

        await staff_page.get_by_role("link", name="Nieuw dossier").click()
        await expect(staff_page.get_by_test_id("client-name")).to_have_text("Daan Bakker")
        await staff_page.get_by_label("Dossiernummer").fill("2026-0300")
        await staff_page.get_by_label(re.compile(r"^Soort")).fill("Aangifte inkomstenbelasting")
        await staff_page.get_by_label("Titel", exact=True).fill("Aangifte 2025")
        await staff_page.locator("select[name=intermediary]").select_option(
            label="Adviesbureau Tussen"
        )
        await staff_page.get_by_role("button", name="Dossier aanmaken").click()
        await expect(staff_page.get_by_role("heading", name="2026-0300")).to_be_visible()
        await expect(staff_page.get_by_test_id("status")).to_have_text("Nieuw")

        assign = staff_page.get_by_test_id("assign")
        await assign.get_by_label("Checklist of vragenlijst").select_option(
            label="Stukken aangifte 2025"
        )
        await assign.get_by_role("button", name="Toewijzen").click()
        await expect(staff_page.get_by_test_id("checklists")).to_contain_text(
            "Stukken aangifte 2025"
        )
        await staff_page.get_by_text("Accounts van de klant").click()
        await staff_page.get_by_role("button", name="Uitnodiging versturen").click()
        await staff_page.screenshot(path=str(screens / "staff-dossier-set-up.png"), full_page=True)

        # One mail to the client: the checklist, how to answer by mail, and the invitation.
        await site.send_outbox()
        [first] = mails_to(smtp, "daan@example.nl")
        first_text = first.get_body(("plain",)).get_content()
        assert "dossier 2026-0300" in first_text
        assert "Jaaropgave 2025 van uw werkgever" in first_text
        assert "beantwoord deze mail" in first_text
        invite_link = link_in(first, "invite/")

        # Daan answers the mail with two files, one of them last year's.
        await site.mail_in(
            reply_mail(
                sender="Daan Bakker <daan@example.nl>",
                to=reply_address(first),
                subject=f"Re: {first['Subject']}",
                text="Hierbij mijn jaaropgave en de laatste loonstrook.",
                attachments=[
                    ("Jaaropgave 2024.pdf", "application/pdf", wrong),
                    ("Loonstrook december.pdf", "application/pdf", payslip),
                ],
                verified_by=None,
            ),
            sender="daan@example.nl",
            to=reply_address(first),
        )

        # Staff see it in the inbox, open it and turn the wrong file down.
        await staff_page.get_by_role("link", name="Inbox").click()
        entry = staff_page.locator("ul.inbox li.unread").filter(has_text="Daan Bakker").first
        await expect(entry).to_contain_text("2026-0300")
        await expect(entry).to_contain_text("E-mail")
        await staff_page.screenshot(path=str(screens / "staff-inbox.png"), full_page=True)
        await entry.get_by_role("link").click()
        await expect(staff_page.get_by_text("Hierbij mijn jaaropgave")).to_be_visible()
        wrong_file = staff_page.locator("ul.documents li").filter(has_text="Jaaropgave 2024.pdf")
        await wrong_file.get_by_text("Afkeuren", exact=True).click()
        await wrong_file.get_by_label("Waarom (de klant ziet dit)").fill(
            "Dit is de jaaropgave over 2024; wij hebben die over 2025 nodig."
        )
        await wrong_file.get_by_role("button", name="Dit document afkeuren").click()
        await expect(wrong_file.get_by_test_id("rejected")).to_have_text(
            "niet geaccepteerd: Dit is de jaaropgave over 2024; wij hebben die over 2025 nodig."
        )
        payslip_row = staff_page.locator("ul.documents li").filter(has_text="Loonstrook")
        await expect(payslip_row.get_by_test_id("rejected")).to_have_count(0)
        await staff_page.screenshot(path=str(screens / "staff-rejected.png"), full_page=True)

        # Daan hears why, and sends the right file on the web.
        await site.send_outbox()
        rejection = mails_to(smtp, "daan@example.nl")[-1]
        rejection_text = rejection.get_body(("plain",)).get_content()
        assert "Jaaropgave 2024.pdf" in rejection_text
        assert "wij hebben die over 2025 nodig" in rejection_text

        client_page = await new_page(browser)
        await client_page.goto(invite_link)
        await client_page.get_by_label("E-mailadres").fill("daan@example.nl")
        await client_page.get_by_role("button", name="Bevestigen").click()
        await expect(client_page.get_by_role("heading", name="Kijk in uw e-mail")).to_be_visible()
        await site.send_outbox()
        await client_page.goto(link_in(mails_to(smtp, "daan@example.nl")[-1], "password/"))
        await client_page.get_by_label("Nieuw wachtwoord").fill(PASSWORD)
        await client_page.get_by_label("Herhaal het wachtwoord").fill(PASSWORD)
        await client_page.get_by_role("button", name="Opslaan en inloggen").click()
        # The password set, the open checklist is where Daan lands.
        await expect(
            client_page.get_by_role("heading", name="Stukken aangifte 2025")
        ).to_be_visible()
        question = client_page.locator('fieldset[data-question="jaaropgave"]')
        await question.locator("input[type=file]").set_input_files(str(right))
        await client_page.get_by_role("button", name="Naar het overzicht").click()
        await client_page.get_by_role("button", name="Indienen").click()
        await expect(client_page.get_by_text("Ingediend. Dank u wel!")).to_be_visible()

        # Staff approve the checklist from the inbox.
        await staff_page.get_by_role("link", name="Inbox").click()
        submitted = staff_page.locator("ul.inbox li.unread").filter(has_text="ingediend").first
        await submitted.get_by_role("link").click()
        await expect(staff_page.get_by_text("Jaaropgave 2025.pdf").first).to_be_visible()
        await staff_page.get_by_role("button", name="Goedkeuren").click()
        await expect(staff_page.get_by_text("Goedgekeurd").first).to_be_visible()

        # The office logs in and sees the dossier in treatment.
        office_page = await new_page(browser)
        await log_in(office_page, site.base, "tussen", PASSWORD)
        # Its only dossier opens at once.
        await office_page.get_by_role("link", name="Dossiers").first.click()
        await expect(office_page.get_by_role("heading", name="2026-0300")).to_be_visible()
        await expect(office_page.get_by_test_id("dossier-client")).to_have_text("Daan Bakker")
        await expect(office_page.get_by_test_id("status")).to_have_text("In behandeling")
        await office_page.screenshot(path=str(screens / "office-dossiers.png"), full_page=True)

    async with db.read() as s:
        states = {
            d.filename: d.review_state
            for d in await s.scalars(select(Document).where(Document.filename.like("%.pdf")))
        }
        daan = await s.scalar(select(Account).where(Account.username == "daan"))
    assert states["Jaaropgave 2024.pdf"] is ReviewState.REJECTED
    assert daan is not None and daan.password_hash
