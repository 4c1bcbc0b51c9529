"""Staff work with clients, intermediary offices, accounts and dossiers in the web view: each
action, what lands in the database and the audit trail, the mail it sends; disabling an
account; the searchable, paged lists; two-step verification required of staff; and the CLI's
lists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from core import outbox
from core.db import Database
from core.errors import PermissionDenied, ValidationError
from core.models import (
    Account,
    AuditEvent,
    Client,
    ClientKind,
    Dossier,
    IntermediaryOffice,
    OutboxItem,
    OutboxStatus,
    Role,
    WebSession,
)
from core.services import accounts, clients, dossiers
from mailbridge.compose import render
from mailbridge.smtp import SmtpSender

from .conftest import PASSWORD, SYSTEM, Firm, SmtpServer, open_browser, set_password
from .webclient import Browser


async def send_all(db: Database, settings) -> outbox.PassResult:
    return await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)


async def staff_browser(browser: Browser, db: Database, firm: Firm) -> Browser:
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    return browser


async def audit_actions(db: Database) -> list[str]:
    async with db.read() as s:
        return list(await s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def test_staff_create_a_company_with_an_extra_account_and_invite_it(
    browser: Browser, db: Database, firm: Firm, smtp: SmtpServer
) -> None:
    b = await staff_browser(browser, db, firm)
    await b.get("/staff/clients/new")
    created = await b.post(
        "/staff/clients",
        {
            "kind": "company",
            "name": "Garage Snel BV",
            "email": "info@garage.example",
            "language": "en",
            "invite": "on",
        },
    )
    assert created.status == 200 and created.url.path.startswith("/staff/clients/")
    assert "Garage Snel BV" in b.last_html and 'data-testid="state-invited"' in b.last_html
    async with db.read() as s:
        client = await s.scalar(select(Client).where(Client.name == "Garage Snel BV"))
        main = await s.scalar(select(Account).where(Account.client_id == client.id))
    assert client.kind is ClientKind.COMPANY and main.is_main and main.language.value == "en"

    # An extra account, invited at once as well.
    added = await b.post(
        f"/staff/clients/{client.id}/accounts",
        {"name": "Boekhouding", "email": "boek@garage.example", "invite": "on"},
    )
    assert added.status == 200
    assert (await send_all(db, b.settings)).sent == 2
    to = sorted(m["To"] for m in smtp.messages)
    assert to == ["boek@garage.example", "info@garage.example"]
    assert "invitation" in smtp.messages[0]["Subject"].lower()  # the main account reads English
    assert "/invite/" in smtp.messages[0].get_body(("plain",)).get_content()
    actions = await audit_actions(db)
    for action in ("client.create", "account.invite", "company.add_account"):
        assert action in actions

    # Invite again: the state stays "invited", a new mail goes out.
    async with db.read() as s:
        extra = await s.scalar(select(Account).where(Account.email == "boek@garage.example"))
    await b.post(f"/staff/accounts/{extra.id}/invite", {"back": f"/staff/clients/{client.id}"})
    assert (await send_all(db, b.settings)).sent == 1 and smtp.messages[-1]["To"] == extra.email

    # A private person has no extra accounts; the form says so.
    refused = await b.post(
        f"/staff/clients/{firm.alice.client_id}/accounts",
        {"name": "Partner", "email": "partner@example.nl"},
    )
    assert refused.status == 400 and "een particulier heeft er één" in b.last_html


async def test_a_form_error_keeps_what_was_typed(
    browser: Browser, db: Database, firm: Firm
) -> None:
    b = await staff_browser(browser, db, firm)
    await b.get("/staff/clients/new")
    refused = await b.post(
        "/staff/clients", {"kind": "person", "name": "Tweede Alice", "email": "alice@example.nl"}
    )
    assert refused.status == 400
    assert 'value="Tweede Alice"' in b.last_html and 'role="alert"' in b.last_html
    async with db.read() as s:
        assert await s.scalar(select(Client.id).where(Client.name == "Tweede Alice")) is None


async def test_edit_a_client_and_an_office(browser: Browser, db: Database, firm: Firm) -> None:
    b = await staff_browser(browser, db, firm)
    await b.get(f"/staff/clients/{firm.alice.client_id}")
    await b.post(
        f"/staff/clients/{firm.alice.client_id}",
        {"name": "Alice de Vries-Jansen", "kind": "person"},
    )
    # The company with an extra account cannot become a private person.
    await b.get(f"/staff/clients/{firm.bv_main.client_id}")
    refused = await b.post(
        f"/staff/clients/{firm.bv_main.client_id}", {"name": "Bakkerij BV", "kind": "person"}
    )
    assert refused.status == 400
    # The office's general address moves its login account with it.
    await b.get(f"/staff/intermediaries/{firm.office.intermediary_id}")
    await b.post(
        f"/staff/intermediaries/{firm.office.intermediary_id}",
        {"name": "Adviesbureau Tussen & Co", "email": "info@tussen.example"},
    )
    async with db.read() as s:
        assert (await s.get(Client, firm.alice.client_id)).name == "Alice de Vries-Jansen"
        assert (await s.get(Client, firm.bv_main.client_id)).kind is ClientKind.COMPANY
        office = await s.get(IntermediaryOffice, firm.office.intermediary_id)
        login = await s.get(Account, firm.office.id)
    assert (office.name, office.email) == ("Adviesbureau Tussen & Co", "info@tussen.example")
    assert login.email == "info@tussen.example"
    actions = await audit_actions(db)
    assert "client.update" in actions and "intermediary.update" in actions


async def test_staff_create_an_office_with_a_second_account(
    browser: Browser, db: Database, firm: Firm
) -> None:
    b = await staff_browser(browser, db, firm)
    await b.get("/staff/intermediaries/new")
    await b.post("/staff/intermediaries", {"name": "Hypotheekhuis", "email": "post@hh.example"})
    async with db.read() as s:
        office = await s.scalar(
            select(IntermediaryOffice).where(IntermediaryOffice.name == "Hypotheekhuis")
        )
    await b.post(
        f"/staff/intermediaries/{office.id}/accounts",
        {"name": "Piet", "email": "piet@hh.example", "username": "piet.hh"},
    )
    async with db.read() as s:
        logins = list(await s.scalars(select(Account).where(Account.intermediary_id == office.id)))
    assert {(a.email, a.role) for a in logins} == {
        ("post@hh.example", Role.INTERMEDIARY),
        ("piet@hh.example", Role.INTERMEDIARY),
    }
    await b.get("/staff/intermediaries?q=hypotheek")
    assert "Hypotheekhuis" in b.last_html and "Ander Kantoor" not in b.last_html


async def test_disable_ends_sessions_refuses_login_and_mail_then_enable_restores(
    aiohttp_client, db: Database, firm: Firm, store, tmp_path: Path, smtp: SmtpServer
) -> None:
    staff = await staff_browser(
        await open_browser(aiohttp_client, db, store, tmp_path, smtp), db, firm
    )
    await set_password(db, firm.bv_extra.id)
    client = await open_browser(aiohttp_client, db, store, tmp_path / "c", smtp)
    await client.login("bakkerij.boekhouding", PASSWORD)
    assert (await client.get("/dossiers/2026-0100")).status == 200
    # Mail waiting for the account when it is disabled does not go out.
    async with db.begin() as s:
        await dossiers.set_status(s, SYSTEM, "2026-0100", "in_treatment")

    page = f"/staff/clients/{firm.bv_main.client_id}"
    await staff.get(page)
    done = await staff.post(f"/staff/accounts/{firm.bv_extra.id}/disable", {"back": page})
    assert done.status == 200 and 'data-testid="state-disabled"' in staff.last_html
    async with db.read() as s:
        assert not (await s.get(Account, firm.bv_extra.id)).active
        sessions_left = await s.scalar(
            select(func.count(WebSession.id)).where(WebSession.account_id == firm.bv_extra.id)
        )
        waiting = list(
            await s.scalars(select(OutboxItem).where(OutboxItem.account_id == firm.bv_extra.id))
        )
    assert sessions_left == 0
    assert waiting and all(i.status is OutboxStatus.FAILED for i in waiting)
    assert (await client.get("/dossiers/2026-0100")).url.path == "/login"  # session ended
    assert (await client.login("bakkerij.boekhouding", PASSWORD)).status == 401
    await send_all(db, staff.settings)
    assert "boekhouding@bakkerij.example" not in [m["To"] for m in smtp.messages]
    # The invite button is gone for a disabled account, and the route refuses it.
    assert f"/staff/accounts/{firm.bv_extra.id}/invite" not in staff.last_html

    await staff.post(f"/staff/accounts/{firm.bv_extra.id}/enable", {"back": page})
    assert (await client.login("bakkerij.boekhouding", PASSWORD)).url.path == "/"
    actions = await audit_actions(db)
    assert actions.index("account.disable") < actions.index("account.enable")


async def test_staff_cannot_disable_themselves(db: Database, firm: Firm) -> None:
    with pytest.raises(ValidationError):
        async with db.begin() as s:
            await accounts.set_active(s, firm.actor(firm.staff), firm.staff.id, False)


async def test_account_states_as_staff_see_them(browser: Browser, db: Database, firm: Firm) -> None:
    import datetime as dt

    from core.services import auth

    await set_password(db, firm.bv_main.id)
    async with db.begin() as s:
        main = await s.get(Account, firm.bv_main.id)
        main.email_failing_since = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
        main.two_factor = main.two_factor.TOTP
        extra = await s.get(Account, firm.bv_extra.id)
        await auth.invite(s, SYSTEM, browser.settings, extra)
    b = await staff_browser(browser, db, firm)
    await b.get(f"/staff/clients/{firm.bv_main.client_id}")
    row = re.search(r'data-testid="account-bakkerij".*?</tr>', b.last_html, re.S).group(0)
    assert 'data-testid="state-active"' in row and "02-03-2026" in row
    assert "twee" in row.lower()  # two-step on, in Dutch
    extra_row = re.search(
        r'data-testid="account-bakkerij.boekhouding".*?</tr>', b.last_html, re.S
    ).group(0)
    assert 'data-testid="state-invited"' in extra_row


async def test_lists_are_searched_and_paged(db: Database, firm: Firm) -> None:
    async with db.begin() as s:
        for n in range(5):
            await clients.create_client(
                s, SYSTEM, name=f"Zeeman {n}", email=f"zeeman{n}@example.nl"
            )
    async with db.read() as s:
        first = await clients.list_clients(s, SYSTEM, search="zeeman", size=2)
        third = await clients.list_clients(s, SYSTEM, search="zeeman", size=2, number=3)
        by_mail = await clients.list_clients(s, SYSTEM, search="bakkerij.example")
        dossier_page = await dossiers.list_dossiers(s, SYSTEM, search="carol", capped=True)
    assert [r.client.name for r in first.rows] == ["Zeeman 0", "Zeeman 1"]
    assert first.count == 5 and first.has_next and not first.more_than
    assert [r.client.name for r in third.rows] == ["Zeeman 4"] and not third.has_next
    assert [r.client.name for r in by_mail.rows] == ["Bakkerij BV"]  # by an account's address
    # The dossier list finds dossiers by the client's name and shows it.
    assert {r.dossier.number for r in dossier_page.rows} == {"2026-0200", "2026-0201"}
    assert {r.client_name for r in dossier_page.rows} == {"Carol Jansen"}


async def test_counts_stop_at_the_cap(db: Database, firm: Firm, monkeypatch) -> None:
    from core import paging

    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    async with db.read() as s:
        found = await dossiers.list_dossiers(s, SYSTEM, search="2026-0", capped=True, limit=1)
        every = await dossiers.list_dossiers(s, SYSTEM, capped=True, limit=1)
        listed = await clients.list_clients(s, SYSTEM, size=1)
    assert (found.matching, found.more_than, found.has_next) == (2, True, True)
    # Unfiltered, the staff's list needs no cap: the kept per-status counts say it exactly.
    assert (every.matching, every.total, every.more_than, every.has_next) == (5, 5, False, True)
    assert (listed.count, listed.more_than) == (2, True)


async def test_staff_dossier_list_pages_with_the_client_name(
    browser: Browser, db: Database, firm: Firm
) -> None:
    b = await staff_browser(browser, db, firm)
    await b.get("/dossiers?q=2026-0")
    assert 'data-testid="row-client"' in b.last_html and "Alice de Vries" in b.last_html
    assert "5 gevonden" in b.last_html


async def test_staff_create_and_change_a_dossier(
    browser: Browser, db: Database, firm: Firm
) -> None:
    async with db.begin() as s:
        colleague = await accounts.create_staff(
            s, SYSTEM, username="joost", email="joost@firm.example", name="Joost"
        )
    b = await staff_browser(browser, db, firm)
    form = await b.get(f"/staff/dossiers/new?client={firm.alice.client_id}")
    assert form.status == 200 and 'data-testid="client-name">Alice de Vries<' in b.last_html
    created = await b.post(
        "/staff/dossiers",
        {
            "client": str(firm.alice.client_id),
            "number": "2026-0300",
            "kind": "Schenking",
            "description": "Schenking aan kinderen",
            "handler": str(colleague.id),
            "intermediary": str(firm.office.intermediary_id),
            "visible_to_client": "1",  # ticked in the form unless staff untick it
        },
    )
    assert created.status == 200 and created.url.path == "/dossiers/2026-0300"
    assert 'data-testid="dossier-client"' in b.last_html and "Alice de Vries" in b.last_html
    assert "Adviesbureau Tussen" in b.last_html and "Schenking" in b.last_html
    async with db.read() as s:
        d = await s.scalar(select(Dossier).where(Dossier.number == "2026-0300"))
    assert (d.kind, d.handler_id, d.intermediary_id) == (
        "Schenking",
        colleague.id,
        firm.office.intermediary_id,
    )

    # A client's account is no handler: refused, nothing changed.
    await b.get(f"/staff/dossiers/{d.id}/edit")
    refused = await b.post(
        f"/staff/dossiers/{d.id}/edit",
        {
            "kind": "Schenking",
            "description": "x",
            "handler": str(firm.alice.id),
            "visible_to_client": "1",
        },
    )
    assert refused.status == 400
    await b.post(
        f"/staff/dossiers/{d.id}/edit",
        {
            "kind": "Schenking",
            "description": "Schenking 2026",
            "handler": str(firm.staff.id),
            "visible_to_client": "1",
        },
    )
    async with db.read() as s:
        d = await s.get(Dossier, d.id)
        event = await s.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "dossier.update", AuditEvent.dossier_id == d.id
            )
        )
    assert (d.description, d.handler_id, d.intermediary_id) == (
        "Schenking 2026",
        firm.staff.id,
        None,
    )
    assert event.details["old"]["handler_id"] == colleague.id


async def test_a_handler_must_be_active_staff(db: Database, firm: Firm) -> None:
    for handler in (firm.alice.id, firm.office.id):
        with pytest.raises(ValidationError):
            async with db.begin() as s:
                await dossiers.create_dossier(
                    s,
                    SYSTEM,
                    number=f"X-{handler}",
                    description="",
                    client_id=firm.alice.client_id,
                    handler_id=handler,
                )


async def test_staff_mail_names_the_client(db: Database, firm: Firm, store, tmp_path) -> None:
    from core.services import messages

    from .conftest import mail_settings

    async with db.begin() as s:
        await messages.send_message(
            s,
            store,
            firm.actor(firm.alice),
            number="2026-0001",
            subject="Vraag",
            body="Wanneer is het klaar?",
        )
    async with db.read() as s:
        item = await s.scalar(select(OutboxItem).where(OutboxItem.kind == "client_message"))
    composed = render(item, mail_settings(tmp_path))
    assert "Alice de Vries" in composed.subject and "Alice de Vries" in composed.text


async def test_staff_must_set_up_two_step_verification(
    aiohttp_client, db: Database, firm: Firm, store, tmp_path: Path, smtp: SmtpServer
) -> None:
    from aiohttp.test_utils import TestServer

    from web.app import create_app

    from .conftest import mail_settings

    async def browser_with(required: bool, folder: str) -> Browser:
        settings = mail_settings(tmp_path / folder, staff_two_factor_required=required)
        client = await aiohttp_client(TestServer(create_app(settings, db, store)))
        return Browser(client)

    await set_password(db, firm.staff.id)
    await set_password(db, firm.alice.id)
    off = await browser_with(False, "off")
    assert (await off.login("sanne", PASSWORD)).url.path == "/"

    on = await browser_with(True, "on")
    assert (await on.login("sanne", PASSWORD)).url.path == "/me/2fa/setup"
    for path in ("/dossiers", "/staff/clients", "/me"):
        assert (await on.get(path)).url.path == "/me/2fa/setup", path
    await on.get("/me/2fa/setup")
    await on.post("/me/2fa/totp")
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', on.last_html).group(1)
    assert (await on.post("/me/2fa/totp/confirm", {"code": pyotp.TOTP(secret).now()})).status == 200
    assert (await on.get("/staff/clients")).url.path == "/staff/clients"
    # Nor can it be switched off again while the firm requires it.
    await on.get("/me")
    assert (await on.post("/me/2fa/off", {"password": PASSWORD})).status == 400
    # Clients are not asked.
    client = await browser_with(True, "client")
    assert (await client.login("alice", PASSWORD)).url.path != "/me/2fa/setup"


def staff_routes(app) -> list[tuple[str, str]]:
    """Every staff route of the web view, (method, path pattern)."""
    out = []
    for route in app.router.routes():
        info = route.resource.canonical if route.resource is not None else ""
        if info.startswith("/staff/") and route.method in ("GET", "POST"):
            out.append((route.method, info))
    return sorted(set(out))


@pytest.mark.parametrize("who", ["alice", "bv_main", "carol", "office", "other_office"])
async def test_no_staff_route_answers_a_client_or_an_intermediary(
    browser: Browser, db: Database, firm: Firm, who: str
) -> None:
    """The access matrix of the staff pages: for clients and both intermediary offices, every
    route under /staff/ (whoever added it) answers 403 or 404, never 2xx, and changes
    nothing."""
    account = getattr(firm, who)
    await set_password(db, account.id)
    await browser.login(account.username, PASSWORD)
    await browser.get("/me")
    token = browser.csrf()
    before = await audit_actions(db)
    # Accounts by a staff member's id: a company's main account may invite its own extra
    # accounts through /staff/accounts/{id}/invite (core.access), never anyone else.
    ids = {"id": str(firm.staff.id), "name": "0000000000.0-deadbeef.eml"}
    routes = staff_routes(browser.client.server.app)
    assert ("POST", "/staff/accounts/{id}/disable") in routes  # the list is not empty
    for method, pattern in routes:
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: ids.get(m.group(1), "1"), pattern)
        if method == "GET":
            response = await browser.get(path, allow_redirects=False)
        else:
            response = await browser.post(
                path,
                {"name": "X", "email": "x@example.nl", "back": "/", "number": "Z"},
                csrf=token,
                allow_redirects=False,
            )
        assert response.status in (403, 404), (who, method, path, response.status)
    assert await audit_actions(db) == before
    async with db.read() as s:
        assert (await s.get(Account, firm.staff.id)).active


async def test_services_refuse_others_than_staff(db: Database, firm: Firm) -> None:
    def ops(actor):
        return (
            lambda s: clients.list_clients(s, actor),
            lambda s: clients.list_intermediaries(s, actor),
            lambda s: clients.update_client(
                s, actor, firm.alice.client_id, name="X", kind=ClientKind.PERSON
            ),
            lambda s: accounts.set_active(s, actor, firm.bv_extra.id, False),
            lambda s: accounts.account_states(s, actor, []),
        )

    for who in (firm.alice, firm.bv_main, firm.office):
        for op in ops(firm.actor(who)):
            with pytest.raises(PermissionDenied):
                async with db.begin() as s:
                    await op(s)


def test_cli_lists_clients_dossiers_and_accounts_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from .cli_in_process import loket_with_dossier

    loket = loket_with_dossier(tmp_path, monkeypatch)
    assert loket(["client", "add", "--name", "Bakker BV", "--email", "b@bakker.example"]) == 0
    capsys.readouterr()
    assert loket(["client", "list", "--json", "--search", "bakker"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in listed] == ["Bakker BV"]
    assert listed[0]["id"] == 2 and listed[0]["accounts"][0]["email"] == "b@bakker.example"

    assert loket(["dossier", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(d["number"], d["client_name"]) for d in rows] == [("D1", "Alice")]

    assert loket(["account", "list", "--json"]) == 0
    assert {a["username"] for a in json.loads(capsys.readouterr().out)} == {"alice", "b"}

    assert loket(["client", "list"]) == 0
    assert "Bakker BV" in capsys.readouterr().out
