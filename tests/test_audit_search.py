"""The audit trail per dossier and per account (page and CSV), the staff's search, and the
access matrix of every staff route of a dossier: clients and intermediaries never get a 2xx."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.errors import NotFound, PermissionDenied
from core.models import AuditEvent, Channel, DossierStatus, Message
from core.services import audittrail, documents, dossiers, messages, search
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes

from .conftest import PASSWORD, SYSTEM, Firm, set_password
from .webclient import Browser


async def seed(db: Database, firm: Firm, store: LocalFileStore) -> dict[str, int]:
    """Staff publish and write; Alice downloads, reads and delivers (by mail)."""
    staff, alice = firm.actor(firm.staff), firm.actor(firm.alice)
    number = firm.alice_1.number
    async with db.begin() as s:
        doc = await documents.publish_document(
            s, store, staff, number=number, upload=Upload("=HYPERLINK(1).pdf", aiter_bytes(b"%PDF"))
        )
        msg = await messages.send_message(
            s, store, staff, number=number, subject="Vraag over 50% korting", body="Klopt dit?"
        )
        await dossiers.set_status(s, staff, number, DossierStatus.IN_TREATMENT)
    async with db.begin() as s:
        await documents.download(s, store, alice, doc.id)
        await messages.read_message(s, alice, msg.id)
        await messages.read_message(s, alice, msg.id)  # the second time is not a new event
        await documents.deliver_document(
            s,
            store,
            firm.actor(firm.alice, Channel.EMAIL),
            number=number,
            upload=Upload("loonstrook_mei.pdf", aiter_bytes(b"%PDF loon")),
        )
    return {"doc": doc.id, "msg": msg.id}


async def test_the_dossier_trail_says_who_did_what_where_and_when(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    await seed(db, firm, store)
    async with db.read() as s:
        _, entries = await audittrail.for_dossier(s, SYSTEM, firm.alice_1.number)
    seen = [(e.who, e.event.action, e.event.channel, e.what) for e in reversed(entries)]
    assert seen[1:] == [
        ("sanne", "document.publish", "web", "=HYPERLINK(1).pdf"),
        ("sanne", "message.send", "web", "Vraag over 50% korting"),
        ("sanne", "dossier.status", "web", ""),
        ("alice", "document.download", "web", "=HYPERLINK(1).pdf"),
        ("alice", "message.read", "web", "Vraag over 50% korting"),
        ("alice", "document.deliver", "email", "loonstrook_mei.pdf"),
    ]
    assert seen[0][1] == "dossier.create"
    async with db.read() as s:
        _, mine = await audittrail.for_account(s, SYSTEM, firm.alice.id)
    assert [e.event.action for e in mine] == [
        "document.deliver",
        "message.read",
        "document.download",
    ]


async def test_the_csv_has_a_row_per_event_and_no_formulas(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    await seed(db, firm, store)
    async with db.read() as s:
        _, entries = await audittrail.for_dossier(s, SYSTEM, firm.alice_1.number)
    rows = list(csv.reader(io.StringIO(audittrail.to_csv(entries, "Europe/Amsterdam"))))
    assert rows[0] == list(audittrail.CSV_HEADER)
    assert len(rows) == 1 + len(entries)
    download = next(r for r in rows if r[3] == "document.download")
    assert download[1:7] == [
        "alice",
        "client",
        "document.download",
        "web",
        "2026-0001",
        "'=HYPERLINK(1).pdf",  # a spreadsheet shows it, never runs it
    ]
    assert download[0].endswith(("+01:00", "+02:00"))  # the firm's clock, with its offset
    status = next(r for r in rows if r[3] == "dossier.status")
    assert '"new": "in_treatment"' in status[7] and '"old": "new"' in status[7]


async def test_the_trail_is_for_staff_only(db: Database, firm: Firm) -> None:
    for who in (firm.alice, firm.office):
        with pytest.raises(PermissionDenied):
            async with db.read() as s:
                await audittrail.for_dossier(s, firm.actor(who), firm.alice_1.number)
        with pytest.raises(PermissionDenied):
            async with db.read() as s:
                await audittrail.for_account(s, firm.actor(who), who.id)


async def test_audit_pages_and_csv_on_the_web(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    await seed(db, firm, store)
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    page = await browser.get(f"/dossiers/{firm.alice_1.number}/audit")
    assert page.status == 200
    assert "Document gedownload" in browser.last_html and "loonstrook_mei.pdf" in browser.last_html
    exported = await browser.get(f"/dossiers/{firm.alice_1.number}/audit.csv")
    assert exported.headers["Content-Type"].startswith("text/csv")
    text = (await exported.read()).decode("utf-8-sig")
    assert text.startswith("time,account,role,action,channel,dossier,object,details\r\n")
    assert "alice,client,document.deliver,email,2026-0001,loonstrook_mei.pdf" in text
    page = await browser.get(f"/staff/accounts/{firm.alice.id}/audit")
    assert page.status == 200 and "Bericht gelezen" in browser.last_html
    exported = await browser.get(f"/staff/accounts/{firm.alice.id}/audit.csv")
    assert (await exported.read()).decode("utf-8-sig").count("\r\n") == 4  # header + 3


async def test_search_finds_each_kind_and_takes_wildcards_as_text(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    await seed(db, firm, store)

    async def find(q: str) -> search.Results:
        async with db.read() as s:
            return await search.search(s, SYSTEM, q)

    found = await find("de vries")  # the client's name: the client and her dossiers
    assert [c.name for c in found.clients] == ["Alice de Vries"]
    assert {d.number for d, _ in found.dossiers} == {"2026-0001", "2026-0002"}
    assert [d.number for d, _ in (await find("2026-0100")).dossiers] == ["2026-0100"]
    assert [m.subject for m, _ in (await find("50%")).messages] == ["Vraag over 50% korting"]
    assert (await find("5_%")).empty  # % and _ are letters here, not wildcards
    assert (await find("%%")).empty
    assert [d.filename for d, _ in (await find("loonstrook_")).documents] == ["loonstrook_mei.pdf"]
    assert [c.name for c in (await find("bakkerij.example")).clients] == ["Bakkerij BV"]
    assert (await find("a")).query == "" and (await find("a")).empty  # too short
    async with db.read() as s:
        limited = await search.search(s, SYSTEM, "2026", limit=2)
    assert len(limited.dossiers) == 2


async def test_search_does_not_exist_for_clients_and_intermediaries(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    await seed(db, firm, store)
    for who in (firm.alice, firm.bv_main, firm.office, firm.carol):
        with pytest.raises(NotFound):
            async with db.read() as s:
                await search.search(s, firm.actor(who), "2026")


# Every staff route of this module, with what it is sent; {n} a dossier number, {d} a
# delivered document, {a} an account id.
STAFF_ROUTES = [
    ("post", "/dossiers/{n}/status", {"status": "report_ready"}),
    ("post", "/dossiers/{n}/steps", {"title": "Nieuw"}),
    ("post", "/dossiers/{n}/steps/1", {"done": "1"}),
    ("post", "/dossiers/{n}/checklists", {"template": "klein"}),
    ("multipart", "/dossiers/{n}/publish", {"category": "document"}),
    ("post", "/documents/{d}/reject", {"reason": "Nee", "back": "/"}),
    ("get", "/dossiers/{n}/downloads", None),
    ("get", "/dossiers/{n}/audit", None),
    ("get", "/dossiers/{n}/audit.csv", None),
    ("get", "/staff/accounts/{a}/audit", None),
    ("get", "/staff/accounts/{a}/audit.csv", None),
    ("get", "/staff/search?q=2026", None),
]


@pytest.mark.parametrize(
    "who,dossier",
    [
        ("alice", "alice_1"),  # a client on her own dossier
        ("alice", "bv_1"),  # …on someone else's
        ("office", "carol_hidden"),  # an intermediary on its own (hidden) dossier
        ("office", "alice_1"),
        ("other_office", "carol_visible"),  # another office
        ("carol", "carol_visible"),
        ("bv_extra", "bv_1"),
    ],
)
async def test_no_staff_route_answers_2xx_to_anyone_else(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore, who, dossier
) -> None:
    account = getattr(firm, who)
    target = getattr(firm, dossier)
    async with db.begin() as s:
        delivered = await documents.deliver_document(
            s, store, SYSTEM, number=target.number, upload=Upload("x.pdf", aiter_bytes(b"%PDF"))
        )
        events = await s.scalar(select(func.count(AuditEvent.id)))
        sent = await s.scalar(select(func.count(Message.id)))
    await set_password(db, account.id)
    await browser.login(account.username, PASSWORD)
    for method, path, data in STAFF_ROUTES:
        url = path.format(n=target.number, d=delivered.id, a=firm.alice.id)
        await browser.get("/me")  # a page of theirs with a CSRF token
        if method == "get":
            response = await browser.get(url)
        elif method == "post":
            response = await browser.post(url, data)
        else:
            response = await browser.post_multipart(
                url, list(data.items()), [("files", "a.pdf", b"%PDF a", "application/pdf")]
            )
        assert response.status in (403, 404), (url, response.status)
        assert "text/csv" not in response.headers.get("Content-Type", "")
    async with db.read() as s:
        # Nothing changed: only their logins and the like were recorded, nothing sent.
        assert await s.scalar(select(func.count(Message.id))) == sent
        actions = set(await s.scalars(select(AuditEvent.action).where(AuditEvent.id > events)))
    assert actions <= {"login.password"}, actions


async def test_staff_get_every_staff_route(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        delivered = await documents.deliver_document(
            s, store, SYSTEM, number="2026-0001", upload=Upload("x.pdf", aiter_bytes(b"%PDF"))
        )
        from core.services import checklists

        await checklists.import_template(
            s,
            SYSTEM,
            "name: klein\ntitle: Klein\nsections:\n  - title: A\n    questions:\n"
            "      - {key: a, type: text, label: A}\n",
        )
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    for method, path, data in STAFF_ROUTES:
        url = path.format(n="2026-0001", d=delivered.id, a=firm.alice.id)
        await browser.get("/dossiers/2026-0001")
        if method == "get":
            response = await browser.get(url)
        elif method == "post":
            response = await browser.post(url, data)
        else:
            response = await browser.post_multipart(
                url, list(data.items()), [("files", "a.pdf", b"%PDF a", "application/pdf")]
            )
        assert response.status == 200, (url, response.status)


async def test_the_search_page(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    await seed(db, firm, store)
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    await browser.get("/staff/search?q=loonstrook")
    assert 'data-testid="found-documents"' in browser.last_html
    assert "loonstrook_mei.pdf" in browser.last_html
    await browser.get("/staff/search?q=%25")
    assert "Typ ten minste 2 tekens." in browser.last_html
    await browser.get("/staff/search?q=zzzz-niets")
    assert 'data-testid="no-results"' in browser.last_html
    await browser.post("/logout")
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/")
    assert "/staff/search" not in browser.last_html  # no link to it either
    assert (await browser.get("/staff/search?q=2026")).status == 404
