"""Every staff page on a 390 px phone in real Chromium, with the long names, addresses, file
names and links a real morning brings: none scrolls sideways (and none does at 1280 px).
Screenshots of each page at both widths go to the run's screenshot folder."""

from __future__ import annotations

import contextlib
from pathlib import Path

from sqlalchemy import select

from core import replytokens
from core.db import Database
from core.models import Account, Checklist, ClientKind, InboundMail
from core.replytokens import ReplyTarget
from core.services import auth, checklists, clients, documents, dossiers, messages
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes
from loket.mailcatcher import start_catcher
from mailbridge.pipeline import Pipeline

from .chromium import connect
from .conftest import PASSWORD, SYSTEM, Firm, set_password
from .livesite import REPLY_ADDRESS, SMALL_CHECKLIST, live_loket, log_in, new_page
from .mails import reply_mail

LONG_NAME = "Bakkerij en Banketbakkerij De Gouden Korenschoof Zuidoost-Brabant B.V."
LONG_EMAIL = "administratie.boekhouding.crediteuren@goudenkorenschoof-banketbakkerij.example"
LONG_FILE = "Jaaropgave_2025_werkgever_Bakkerij_De_Gouden_Korenschoof_definitief_versie2.pdf"
LONG_LINK = "https://mijn.belastingdienst.example/aanslag/2025/IB/" + "a1b2c3d4e5" * 8
LONG_WORD = "Loonheffingskortingsverklaringsformulier" * 2


async def a_busy_morning(db: Database, store: LocalFileStore, firm: Firm, settings) -> dict:
    """Everything the staff pages list, with the longest things people send; the ids to visit."""
    async with db.begin() as s:
        company, main = await clients.create_client(
            s,
            SYSTEM,
            name=LONG_NAME,
            email=LONG_EMAIL,
            username="korenschoof",
            kind=ClientKind.COMPANY,
        )
        long_dossier = await dossiers.create_dossier(
            s,
            SYSTEM,
            number="2026-0400-JAARREKENING-CONCERN",
            description="Jaarrekening 2025 met geconsolideerde cijfers " + LONG_WORD,
            client_id=company.id,
            handler_id=firm.staff.id,
            steps=["Stukken ontvangen", "Concept jaarrekening " + LONG_WORD],
        )
        await checklists.import_template(s, SYSTEM, SMALL_CHECKLIST)
        checklist = await checklists.assign(
            s, SYSTEM, number=firm.alice_1.number, template_name="stukken-2025"
        )
        published = await documents.publish_document(
            s,
            store,
            SYSTEM,
            number=firm.alice_1.number,
            upload=Upload(LONG_FILE, aiter_bytes(b"%PDF-1.4 brief"), "application/pdf"),
        )
        await messages.send_message(
            s,
            store,
            firm.actor(firm.staff),
            number=firm.alice_1.number,
            subject="Vraag over de " + LONG_WORD,
            body="Zie " + LONG_LINK,
        )
        for account in (firm.alice, main):
            await auth.invite(s, SYSTEM, settings, await s.get(Account, account.id))
    async with db.begin() as s:
        await documents.download(s, store, firm.actor(firm.alice), published.id)
        await checklists.attach(
            s,
            store,
            firm.actor(firm.alice),
            checklist.id,
            "jaaropgave",
            [Upload(LONG_FILE, aiter_bytes(b"%PDF-1.4 jaaropgave"), "application/pdf")],
        )
        await checklists.submit(s, store, firm.actor(firm.alice), checklist.id, firm="Kantoor")

    pipeline = Pipeline(db, store, settings)
    token = replytokens.make(settings.secret_key, ReplyTarget("a", firm.alice.id, firm.alice_1.id))
    await pipeline.handle(
        reply_mail(
            sender="Alice de Vries <alice@example.nl>",
            to=replytokens.address(REPLY_ADDRESS, token),
            subject="Re: [2026-0001] " + LONG_WORD,
            text="Hierbij de stukken, zie ook " + LONG_LINK,
            attachments=[(LONG_FILE, "application/pdf", b"%PDF-1.4 scan")],
            verified_by=None,
        )
    )
    quarantined = await pipeline.handle(
        reply_mail(
            sender=f"Onbekende Afzender <{LONG_EMAIL.replace('administratie', 'prive')}>",
            to="kantoor@kantoor.example",
            subject="[2026-0001] " + LONG_WORD + " en de " + LONG_FILE,
            text=LONG_LINK + "\n" + LONG_WORD,
            attachments=[(LONG_FILE, "application/pdf", b"%PDF-1.4 onbekend")],
            verified_by=None,
        )
    )
    async with db.read() as s:
        assert (await s.get(InboundMail, quarantined.inbound_id)).outcome == "quarantined"
        submitted = await s.scalar(select(Checklist.id).where(Checklist.id == checklist.id))
    return {
        "client": company.id,
        "account": main.id,
        "office": firm.office.intermediary_id,
        "dossier": long_dossier,
        "checklist": submitted,
        "quarantined": quarantined.inbound_id,
    }


async def test_every_staff_page_fits_a_phone(
    db: Database,
    firm: Firm,
    store: LocalFileStore,
    tmp_path: Path,
    screens: Path,
    chromium_endpoint: str,
) -> None:
    caught = tmp_path / "caught"
    catcher = await start_catcher(caught)
    catcher_port = catcher.sockets[0].getsockname()[1]
    await set_password(db, firm.staff.id)
    try:
        async with contextlib.AsyncExitStack() as stack:
            site = await stack.enter_async_context(
                live_loket(db, store, tmp_path, catcher_port, mail_catcher_dir=caught)
            )
            made = await a_busy_morning(db, store, firm, site.settings)
            await site.send_outbox()
            [caught_mail, *_] = sorted(p.name for p in caught.glob("*.eml"))
            browser = await stack.enter_async_context(connect(chromium_endpoint))
            d, n = made["dossier"], "2026-0400-JAARREKENING-CONCERN"
            pages = {
                "inbox": "/staff/inbox",
                "quarantine": "/staff/quarantine",
                "quarantine-mail": f"/staff/quarantine/{made['quarantined']}",
                "clients": "/staff/clients",
                "client": f"/staff/clients/{made['client']}",
                "offices": "/staff/intermediaries",
                "office": f"/staff/intermediaries/{made['office']}",
                "dossier-new": f"/staff/dossiers/new?client={made['client']}",
                "dossier-edit": f"/staff/dossiers/{d.id}/edit",
                "dossiers": "/dossiers",
                "dossier": f"/dossiers/{n}",
                "dossier-alice": f"/dossiers/{firm.alice_1.number}?tab=delivered",
                "dossier-messages": f"/dossiers/{firm.alice_1.number}?tab=messages",
                "review": f"/checklists/{made['checklist']}",
                "downloads": f"/dossiers/{firm.alice_1.number}/downloads",
                "audit": f"/dossiers/{firm.alice_1.number}/audit",
                "account-audit": f"/staff/accounts/{firm.alice.id}/audit",
                "search": "/staff/search?q=Korenschoof",
                "outbox": "/staff/outbox",
                "caught-mail": "/staff/mail",
                "caught-mail-one": f"/staff/mail/{caught_mail}",
            }
            too_wide = {}
            for width in (390, 1280):
                page = await new_page(browser, width=width, height=844 if width == 390 else 900)
                await log_in(page, site.base, "sanne", PASSWORD)
                for name, path in pages.items():
                    answer = await page.goto(site.base + path)
                    assert answer is not None and answer.status == 200, (path, answer)
                    scroll = await page.evaluate("document.scrollingElement.scrollWidth")
                    if scroll > width:
                        too_wide[f"{name} at {width}"] = scroll
                    await page.screenshot(
                        path=str(screens / f"staff-{width}-{name}.png"), full_page=True
                    )
                await page.context.close()
    finally:
        catcher.close()
        await catcher.wait_closed()
    assert not too_wide, f"pages wider than the screen (page: scrollWidth): {too_wide}"
