"""The web view through HTTP: the invitation mails end to end, login, CSRF, security headers,
pages and access to other clients' things."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core import outbox
from core.db import Database
from core.models import Account, Document, Message
from core.services import auth, documents, messages
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes
from mailbridge.smtp import SmtpSender

from .conftest import PASSWORD, SYSTEM, Firm, SmtpServer, set_password
from .webclient import Browser


def link_path(mail, kind: str) -> str:
    body = mail.get_body(("plain",)).get_content()
    found = re.search(rf"http://127\.0\.0\.1(/{kind}/[A-Za-z0-9_-]+)", body)
    assert found, body
    return found.group(1)


async def test_healthz(browser: Browser) -> None:
    response = await browser.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


async def test_invitation_to_logged_in_through_the_pages(
    browser: Browser, db: Database, firm: Firm, smtp: SmtpServer
) -> None:
    settings = browser.settings
    async with db.begin() as s:
        await auth.invite(s, SYSTEM, settings, await s.get(Account, firm.alice.id))
    await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)
    invite_path = link_path(smtp.messages[-1], "invite")

    page = await browser.get(invite_path)
    assert page.status == 200 and "e-mailadres" in browser.last_html
    wrong = await browser.post(invite_path, {"email": "iemand@anders.nl"})
    assert wrong.status == 400 and "niet het adres" in browser.last_html
    ok = await browser.post(invite_path, {"email": "alice@example.nl"})
    assert ok.status == 200 and "tweede e-mail" in browser.last_html

    await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)
    password_path = link_path(smtp.messages[-1], "password")
    await browser.get(password_path)
    weak = await browser.post(password_path, {"password": "geheim", "repeat": "geheim"})
    assert weak.status == 400 and "minstens 8 tekens" in browser.last_html
    done = await browser.post(password_path, {"password": PASSWORD, "repeat": PASSWORD})
    assert done.status == 200 and str(done.url).endswith("/?welcome=1")
    assert "Welkom!" in browser.last_html and "Dossiers" in browser.last_html

    await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)
    assert [m["Subject"] for m in smtp.messages] == [
        "Uw uitnodiging voor het klantportaal van Kantoor Test",
        "Stel uw wachtwoord in voor het klantportaal van Kantoor Test",
        "Uw wachtwoord voor Kantoor Test is ingesteld",
    ]
    # Used links are dead.
    assert (await browser.get(invite_path)).status == 410
    assert (await browser.get(password_path)).status == 410


async def test_login_logout_and_cookie_flags(browser: Browser, db: Database, firm: Firm) -> None:
    await set_password(db, firm.alice.id)
    assert (await browser.get("/")).url.path == "/login"
    bad = await browser.login("alice", "wrong")
    assert bad.status == 401 and "klopt niet" in browser.last_html
    good = await browser.login("alice", PASSWORD)
    assert good.status == 200 and good.url.path == "/"
    cookie = good.history[0].headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "2 / 2" in browser.last_html  # Dossiers tile: in progress / total
    await browser.post("/logout")
    assert (await browser.get("/")).url.path == "/login"


async def test_state_changes_need_csrf_and_same_origin(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/me")
    token = browser.csrf()
    missing = await browser.post("/me/language", {"language": "en"}, csrf=False)
    assert missing.status == 403
    forged = await browser.post("/me/language", {"language": "en", "csrf": "x" * 64})
    assert forged.status == 403
    other_site = await browser.post(
        "/me/language", {"language": "en"}, csrf=token, origin="http://evil.example"
    )
    assert other_site.status == 403
    async with db.read() as s:
        assert (await s.get(Account, firm.alice.id)).language.value == "nl"
    ok = await browser.post("/me/language", {"language": "en"}, csrf=token)
    assert ok.status == 200 and "My details" in browser.last_html  # applies at once


async def test_security_headers(browser: Browser, db: Database, firm: Firm) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    response = await browser.get("/dossiers")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    for part in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert part in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


async def test_dossier_list_opens_the_only_dossier(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.bv_extra.id)
    await browser.login("bakkerij.boekhouding", PASSWORD)
    response = await browser.get("/dossiers")
    assert response.url.path == "/dossiers/2026-0100"


async def test_search_and_filter(browser: Browser, db: Database, firm: Firm) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers?q=testament")
    assert "2026-0002" in browser.last_html and "2026-0001" not in browser.last_html
    await browser.get("/dossiers?status=completed")
    assert "2026-0002" not in browser.last_html and "Geen dossiers" in browser.last_html


async def test_download_marks_and_streams(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        doc = await documents.publish_document(
            s,
            store,
            SYSTEM,
            number="2026-0001",
            upload=Upload("Jaaropgave 2025 – €.pdf", aiter_bytes(b"%PDF-1.4 jaaropgave")),
        )
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001?tab=document")
    assert 'data-testid="not-downloaded"' in browser.last_html
    response = await browser.get(f"/documents/{doc.id}/download")
    assert response.status == 200 and await response.read() == b"%PDF-1.4 jaaropgave"
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Jaaropgave 2025 _ _.pdf"')
    assert "filename*=UTF-8''Jaaropgave%202025%20%E2%80%93%20%E2%82%AC.pdf" in disposition
    await browser.get("/dossiers/2026-0001?tab=document")
    assert 'data-testid="downloaded"' in browser.last_html


async def test_send_a_message_with_two_attachments(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    response = await browser.post_multipart(
        "/dossiers/2026-0001/messages",
        [("subject", "Loonstroken"), ("body", "Hierbij twee loonstroken.")],
        [
            ("files", "jan.pdf", b"%PDF jan", "application/pdf"),
            ("files", "feb loonstrook.jpg", b"\xff\xd8\xff feb", "image/jpeg"),
        ],
    )
    assert response.status == 200 and "Loonstroken" in browser.last_html
    assert "Uw bericht is verstuurd." in browser.last_html  # was no word that it went
    async with db.read() as s:
        message = await s.scalar(select(Message))
        docs = list(await s.scalars(select(Document).order_by(Document.id)))
    assert message.body == "Hierbij twee loonstroken." and message.channel.value == "web"
    assert [(d.filename, d.category.value, d.message_id) for d in docs] == [
        ("jan.pdf", "delivered", message.id),
        ("feb loonstrook.jpg", "delivered", message.id),
    ]


async def test_message_over_the_limit_is_refused_by_the_server(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    response = await browser.post_multipart(
        "/dossiers/2026-0001/messages",
        [("subject", "Lang"), ("body", "x" * 4001)],
        [("files", "a.pdf", b"data", "application/pdf")],
    )
    assert response.status == 400 and "hoogstens 4000 tekens" in browser.last_html
    async with db.read() as s:
        assert await s.scalar(select(Message)) is None
        assert await s.scalar(select(Document)) is None


async def test_a_refused_attachment_keeps_the_typed_message_on_the_page(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    files = [("files", f"scan{n}.pdf", b"%PDF", "application/pdf") for n in range(21)]
    response = await browser.post_multipart(
        "/dossiers/2026-0001/messages",
        [("subject", "Mijn loonstroken"), ("body", "Hierbij alle loonstroken van 2025.")],
        files,
    )
    assert response.status == 400 and "hoogstens 20 bijlagen" in browser.last_html
    # Was: the error above an empty form; the client had to type it all again.
    assert 'value="Mijn loonstroken"' in browser.last_html
    assert ">Hierbij alle loonstroken van 2025.</textarea>" in browser.last_html


async def test_an_empty_file_is_refused_with_its_name(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    response = await browser.post_multipart(
        "/dossiers/2026-0001/messages",
        [("subject", "Scan"), ("body", "Hierbij de scan.")],
        [("files", "scan.pdf", b"", "application/pdf")],
    )
    # Was: filed as a document of 0 bytes, which nobody could open.
    assert response.status == 400 and "Het bestand scan.pdf is leeg" in browser.last_html
    async with db.read() as s:
        assert await s.scalar(select(Message)) is None
        assert await s.scalar(select(Document)) is None


async def test_multipart_without_csrf_is_refused(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    from aiohttp import FormData

    form = FormData()
    form.add_field("subject", "x")
    form.add_field("body", "y")
    response = await browser.client.post(
        "/dossiers/2026-0001/messages", data=form, headers={"Origin": browser.origin}
    )
    assert response.status == 403


async def test_reply_shows_the_original(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        question = await messages.send_message(
            s,
            store,
            SYSTEM,
            number="2026-0001",
            subject="Vraag",
            body="Heeft u een auto van de zaak?",
        )
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get(f"/messages/{question.id}")
    await browser.get(f"/dossiers/2026-0001/messages/new?reply_to={question.id}")
    assert "Re: Vraag" in browser.last_html and "auto van de zaak" in browser.last_html


@pytest.mark.parametrize(
    "path",
    [
        "/dossiers/2026-0100",
        "/dossiers/2026-0201",
        "/dossiers/2026-0100/messages/new",
        "/documents/{bv_doc}/download",
        "/messages/{bv_msg}",
        "/dossiers/2026-0001/messages/new?reply_to={bv_msg}",
    ],
)
async def test_another_clients_things_are_not_found(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore, path: str
) -> None:
    async with db.begin() as s:
        doc = await documents.publish_document(
            s, store, SYSTEM, number="2026-0100", upload=Upload("geheim.pdf", aiter_bytes(b"x"))
        )
        msg = await messages.send_message(
            s, store, SYSTEM, number="2026-0100", subject="S", body="B"
        )
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    response = await browser.get(path.format(bv_doc=doc.id, bv_msg=msg.id))
    assert response.status == 404
    assert "geheim.pdf" not in browser.last_html


async def test_posting_into_another_clients_dossier_is_not_found(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    response = await browser.post_multipart(
        "/dossiers/2026-0100/messages", [("subject", "S"), ("body", "B")]
    )
    assert response.status == 404
    async with db.read() as s:
        assert await s.scalar(select(Message)) is None


# --- checklists on the web ----------------------------------------------------------------


async def _post_form(browser: Browser, path: str, fields: list[tuple[str, str]]):
    """The checklist form as the page sends it: multipart, even without files."""
    from aiohttp import FormData

    form = FormData(default_to_multipart=True)
    form.add_field("csrf", browser.csrf())
    for name, value in fields:
        form.add_field(name, value)
    return await browser.client.post(
        path, data=form, headers={"Origin": browser.origin}, allow_redirects=False
    )


async def _tax_checklist(db: Database) -> int:
    from pathlib import Path

    from core.services import checklists

    text = (
        Path(__file__).resolve().parent.parent
        / "core"
        / "data"
        / "templates"
        / "inkomstenbelasting.yaml"
    ).read_text()
    async with db.begin() as s:
        await checklists.import_template(s, SYSTEM, text)
        checklist = await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting"
        )
    return checklist.id


async def test_a_follow_up_question_keeps_the_client_on_its_part(
    browser: Browser, db: Database, firm: Firm
) -> None:
    checklist_id = await _tax_checklist(db)
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get(f"/checklists/{checklist_id}")
    assert 'name="shown" value="partner"' in browser.last_html
    assert 'data-question="partner_naam"' not in browser.last_html
    response = await _post_form(
        browser,
        f"/checklists/{checklist_id}",
        [
            ("section", "0"),
            ("shown", "partner"),
            ("shown", "verhuisd"),
            ("q:partner", "ja"),
            ("q:verhuisd", "nee"),
            ("go", "next"),
        ],
    )
    # "Fiscaal partner: ja" brings up the partner's name on this same part: stay here.
    assert response.status == 303
    assert response.headers["Location"] == f"/checklists/{checklist_id}?section=0&more=1"
    await browser.get(response.headers["Location"])
    assert 'data-question="partner_naam"' in browser.last_html
    assert "aanvullende vragen in dit onderdeel" in browser.last_html
    # With the follow-up on the form, Next goes on to the next part.
    response = await _post_form(
        browser,
        f"/checklists/{checklist_id}",
        [
            ("section", "0"),
            ("shown", "partner"),
            ("shown", "partner_naam"),
            ("shown", "verhuisd"),
            ("q:partner_naam", "Bert de Vries"),
            ("go", "next"),
        ],
    )
    assert response.headers["Location"] == f"/checklists/{checklist_id}?section=1"


async def test_the_summary_links_each_missing_answer_to_its_part(
    browser: Browser, db: Database, firm: Firm
) -> None:
    from core.services import checklists

    checklist_id = await _tax_checklist(db)
    async with db.begin() as s:
        await checklists.answer(s, SYSTEM, checklist_id, "partner", "ja")
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get(f"/checklists/{checklist_id}/summary")
    assert (
        f'href="/checklists/{checklist_id}?section=0#q-partner_naam">'
        "Wat is de naam van uw fiscaal partner?</a>"
    ) in browser.last_html
    assert f'href="/checklists/{checklist_id}?section=3#q-spaargeld"' in browser.last_html
    await browser.get(f"/checklists/{checklist_id}?section=0")
    assert 'id="q-partner_naam"' in browser.last_html  # where the link lands


async def test_a_dossier_number_with_a_slash_opens_from_its_links(
    browser: Browser, db: Database, firm: Firm
) -> None:
    # Notaries number files "2026/0042": the link must keep the number one path segment.
    from core.services import dossiers

    async with db.begin() as s:
        await dossiers.create_dossier(
            s, SYSTEM, number="2026/0042 a", description="Akte", client_id=firm.alice.client_id
        )
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers")
    link = re.search(r'href="(/dossiers/2026[^"]*)"', browser.last_html).group(1)
    assert link == "/dossiers/2026%2F0042%20a"  # was /dossiers/2026/0042%20a: a 404
    page = await browser.get(link)
    assert page.status == 200 and "Akte" in browser.last_html
    new = re.search(r'href="([^"]*/messages/new)"', browser.last_html).group(1)
    assert (await browser.get(new)).status == 200


async def test_times_are_shown_on_the_firms_clock(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    import datetime as dt

    async with db.begin() as s:
        message = await messages.send_message(
            s, store, SYSTEM, number="2026-0001", subject="Laat", body="Tot morgen."
        )
        # 22:47 UTC on 24 November is 23:47 in Amsterdam (winter time, UTC+1).
        message.created_at = dt.datetime(2026, 11, 24, 22, 47, tzinfo=dt.UTC)
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001")
    assert "24-11-2026 23:47" in browser.last_html  # was 22:47, the server's UTC
    await browser.get(f"/messages/{message.id}")
    assert "24-11-2026 23:47" in browser.last_html


async def test_words_on_the_home_tile_and_tabs_fit_who_reads_them(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/")
    # Was "in behandeling / totaal", while "In behandeling" is also a dossier status and
    # these dossiers are "Nieuw".
    assert "lopend / totaal" in browser.last_html
    await browser.get("/dossiers/2026-0001")
    assert "Door mij aangeleverd" in browser.last_html
    await browser.post("/logout")
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    await browser.get("/dossiers/2026-0001")
    # Was "Door mij aangeleverd" for staff too, about what the client delivered.
    assert "Aangeleverd door de klant" in browser.last_html
    assert "Door mij aangeleverd" not in browser.last_html


async def test_a_strangers_mail_filed_by_staff_shows_who_wrote_it(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore, tmp_path
) -> None:
    from mailbridge.filing import file_from_quarantine
    from mailbridge.pipeline import Pipeline

    from .conftest import mail_settings
    from .mails import reply_mail

    settings = mail_settings(tmp_path)
    held = await Pipeline(db, store, settings).handle(
        reply_mail(sender="notaris@elders.example", to="portaal@kantoor.example", text="Akte.")
    )
    filed = await file_from_quarantine(db, store, settings, SYSTEM, held.inbound_id, "2026-0001")
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    await browser.get("/dossiers/2026-0001")
    # Was the firm's own name, as if the firm had written it.
    assert "notaris@elders.example" in browser.last_html
    await browser.get(f"/messages/{filed.message_id}")
    assert "notaris@elders.example" in browser.last_html
