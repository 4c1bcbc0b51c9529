"""Accounts in the web view: brute force, two-step verification, company accounts, forgot
password, idle sessions. (No secret in any log line: tests/test_log_secrets.py.)"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import pyotp
from sqlalchemy import func, select, update

from core.db import Database
from core.models import Account, OutboxItem, WebSession

from .conftest import PASSWORD, Firm, set_password
from .webclient import Browser


async def test_brute_force_is_slowed_then_refused_with_429(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    statuses = []
    for _ in range(11):
        response = await browser.login("alice", "not-the-password")
        statuses.append(response.status)
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    assert "Te veel mislukte pogingen" in browser.last_html
    refused = await browser.login("alice", PASSWORD)  # even the right password, from here
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0


async def test_two_step_verification_with_an_app(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/me")
    page = await browser.post("/me/2fa/totp")
    assert page.status == 200 and "<svg" in browser.last_html
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', browser.last_html).group(1)
    totp = pyotp.TOTP(secret)
    enrolled_with = totp.now()
    wrong = "000000" if enrolled_with != "000000" else "111111"
    assert (await browser.post("/me/2fa/totp/confirm", {"code": wrong})).status == 400
    done = await browser.post("/me/2fa/totp/confirm", {"code": enrolled_with})
    assert done.status == 200
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", browser.last_html)
    assert len(codes) == 10

    await browser.post("/logout")
    after_password = await browser.login("alice", PASSWORD)
    assert after_password.url.path == "/login/code"
    assert (await browser.get("/dossiers")).url.path == "/login/code"  # not in yet
    # The very code used at enrolment (a new totp.now() may fall in the next 30-second step).
    reused = await browser.post("/login/code", {"code": enrolled_with})
    assert reused.status == 401 and "net gebruikt" in browser.last_html
    ok = await browser.post("/login/code", {"code": codes[0]})
    assert ok.url.path == "/"
    await browser.post("/logout")
    await browser.login("alice", PASSWORD)
    again = await browser.post("/login/code", {"code": codes[0]})
    assert again.status == 401  # a recovery code works once


async def test_fetching_the_style_sheet_keeps_the_session(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    for path in ("/static/loket.css", "/static/loket.js"):
        response = await browser.get(path)
        assert response.status == 200 and "Set-Cookie" not in response.headers, path
    # Was: each file answered "loket=; Max-Age=0", and the next click went to the login page.
    assert (await browser.get("/dossiers")).url.path.startswith("/dossiers")


async def test_session_id_changes_at_each_step(browser: Browser, db: Database, firm: Firm) -> None:
    await set_password(db, firm.alice.id)
    async with db.begin() as s:
        account = await s.get(Account, firm.alice.id)
        account.two_factor = account.two_factor.TOTP
        account.totp_secret = pyotp.random_base32()
        secret = account.totp_secret
    await browser.get("/login")
    jar = browser.client.session.cookie_jar
    await browser.login("alice", PASSWORD)
    first = {c.key: c.value for c in jar}["loket"]
    await browser.post("/login/code", {"code": pyotp.TOTP(secret).now()})
    second = {c.key: c.value for c in jar}["loket"]
    assert first != second
    async with db.read() as s:
        assert len(list(await s.scalars(select(WebSession)))) == 1


async def idle_for_31_minutes(db: Database) -> None:
    """Every session last seen 31 minutes ago: one past the idle timeout of the settings."""
    async with db.begin() as s:
        await s.execute(
            update(WebSession).values(
                last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)
            )
        )


async def test_idle_session_is_dead_on_the_server(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    assert (await browser.get("/dossiers")).url.path == "/dossiers"
    await idle_for_31_minutes(db)
    assert (await browser.get("/dossiers")).url.path == "/login"


async def test_a_form_sent_after_the_session_ended_says_so_and_comes_back(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    await idle_for_31_minutes(db)
    sent = await browser.post_multipart(
        "/dossiers/2026-0001/messages",
        [("subject", "Vraag"), ("body", "Een lange vraag.")],
        [("files", "", b"", "application/octet-stream")],  # the empty file field
        headers={"Referer": browser.origin + "/dossiers/2026-0001/messages/new"},
    )
    # Was: the login page without a word, and afterwards the home page.
    assert sent.url.path == "/login"
    assert sent.url.query["next"] == "/dossiers/2026-0001/messages/new"
    assert "wat u net verstuurde niet bewaard" in browser.last_html
    # A plain form too (its token was the ended session's): was "this form has expired".
    await browser.login("alice", PASSWORD)
    await browser.get("/me")
    await idle_for_31_minutes(db)
    plain = await browser.post(
        "/me/language", {"language": "en"}, headers={"Referer": browser.origin + "/me"}
    )
    assert plain.url.path == "/login" and plain.url.query["next"] == "/me"
    assert "wat u net verstuurde niet bewaard" in browser.last_html
    # A page asked for with an ended session (a tab left open) says so too.
    await browser.login("alice", PASSWORD)
    await idle_for_31_minutes(db)
    opened = await browser.get("/dossiers")
    assert opened.url.path == "/login" and "Uw sessie is verlopen" in browser.last_html


async def test_company_main_account_adds_and_removes(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.bv_main.id)
    await set_password(db, firm.bv_extra.id)
    await browser.login("bakkerij", PASSWORD)
    await browser.get("/me/accounts")
    assert "bakkerij.boekhouding" in browser.last_html
    added = await browser.post(
        "/me/accounts", {"name": "Piet Bakker", "email": "piet@bakkerij.example"}
    )
    assert added.status == 200 and "piet" in browser.last_html
    assert "Het account is toegevoegd" in browser.last_html
    async with db.read() as s:
        piet = await s.scalar(select(Account).where(Account.email == "piet@bakkerij.example"))
        invites = list(await s.scalars(select(OutboxItem).where(OutboxItem.kind == "invitation")))
    assert piet.client_id == firm.bv_main.client_id and not piet.is_main
    assert [i.recipient for i in invites] == ["piet@bakkerij.example"]
    # The extra account cannot manage accounts: not add one, nor remove the main one or
    # another extra one. Each is refused, and nothing changes.
    await browser.post("/logout")
    await browser.login("bakkerij.boekhouding", PASSWORD)
    assert (await browser.get("/me/accounts")).status == 403
    await browser.get("/me")
    tried = await browser.post("/me/accounts", {"name": "Ik", "email": "ik@bakkerij.example"})
    assert tried.status == 403
    for account_id in (firm.bv_main.id, piet.id):
        await browser.get("/me")
        assert (await browser.post(f"/me/accounts/{account_id}/remove")).status == 403
    async with db.read() as s:
        assert (await s.get(Account, firm.bv_main.id)).active
        assert (await s.get(Account, piet.id)).active
        assert await s.scalar(select(Account).where(Account.email == "ik@bakkerij.example")) is None
        assert await s.scalar(select(func.count(OutboxItem.id))) == len(invites)
    await browser.post("/logout")
    await browser.login("bakkerij", PASSWORD)
    await browser.get("/me/accounts")
    await browser.post(f"/me/accounts/{firm.bv_extra.id}/remove")
    assert "Het account is verwijderd." in browser.last_html
    async with db.read() as s:
        assert not (await s.get(Account, firm.bv_extra.id)).active
    # Removed, it cannot log in any more.
    await browser.post("/logout")
    refused = await browser.login("bakkerij.boekhouding", PASSWORD)
    assert refused.status == 401 and "klopt niet" in browser.last_html


async def test_extra_account_cannot_manage(browser: Browser, db: Database, firm: Firm) -> None:
    await set_password(db, firm.bv_extra.id)
    await browser.login("bakkerij.boekhouding", PASSWORD)
    assert (await browser.get("/me/accounts")).status == 403
    await browser.get("/me")
    response = await browser.post(f"/me/accounts/{firm.bv_main.id}/remove")
    assert response.status == 403
    async with db.read() as s:
        assert (await s.get(Account, firm.bv_main.id)).active


async def test_forgot_password_page_answers_the_same(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await browser.get("/password/forgot")
    known = await browser.post("/password/forgot", {"identifier": "alice"})
    known_text = browser.last_html
    await browser.get("/password/forgot")
    unknown = await browser.post("/password/forgot", {"identifier": "niemand@nergens.nl"})
    assert known.status == unknown.status == 200
    assert known_text.replace(browser.csrf(), "") == browser.last_html.replace(browser.csrf(), "")


async def test_staff_invite_button(browser: Browser, db: Database, firm: Firm) -> None:
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    await browser.get("/dossiers/2026-0100")
    assert "bakkerij.boekhouding" in browser.last_html
    response = await browser.post(
        f"/staff/accounts/{firm.bv_extra.id}/invite", {"back": "/dossiers/2026-0100"}
    )
    assert response.status == 200 and response.url.path == "/dossiers/2026-0100"
    assert "De uitnodiging is verstuurd." in browser.last_html  # was no word at all
    async with db.read() as s:
        invites = list(await s.scalars(select(OutboxItem).where(OutboxItem.kind == "invitation")))
    assert [i.recipient for i in invites] == ["boekhouding@bakkerij.example"]


async def test_a_client_cannot_use_the_staff_invite(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/me")
    response = await browser.post(f"/staff/accounts/{firm.bv_extra.id}/invite", {"back": "/"})
    assert response.status == 403


async def test_https_cookie_has_the_host_prefix_and_hsts(
    aiohttp_client, db: Database, store, tmp_path, firm: Firm
) -> None:
    from web.app import create_app

    from .conftest import mail_settings

    settings = mail_settings(tmp_path, public_url="https://portaal.kantoor.example")
    browser = Browser(await aiohttp_client(create_app(settings, db, store)))
    browser.origin = "https://portaal.kantoor.example"
    await set_password(db, firm.alice.id)
    first = await browser.get("/login")
    anon = first.cookies["__Host-loket_csrf"]
    assert anon["secure"] and anon["httponly"]
    # The test client speaks plain http, so it would not send Secure cookies back: we do.
    response = await browser.client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf": browser.csrf()},
        headers={"Origin": browser.origin, "Cookie": f"__Host-loket_csrf={anon.value}"},
        allow_redirects=False,
    )
    assert response.status == 303
    session = response.cookies["__Host-loket"]
    assert session["secure"] and session["httponly"] and session["path"] == "/"
    assert session["samesite"] == "Lax"
    assert "max-age" in response.headers["Strict-Transport-Security"]


async def test_change_password_in_my_details(browser: Browser, db: Database, firm: Firm) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/me")
    wrong = await browser.post(
        "/me/password", {"current": "nope", "password": "Herfst2026!q", "repeat": "Herfst2026!q"}
    )
    assert wrong.status == 400 and "huidige wachtwoord klopt niet" in browser.last_html
    ok = await browser.post(
        "/me/password", {"current": PASSWORD, "password": "Herfst2026!q", "repeat": "Herfst2026!q"}
    )
    assert ok.status == 200 and ok.url.query.get("saved") == "password"
    assert (await browser.get("/dossiers")).url.path == "/dossiers"  # this session lives on
    await browser.post("/logout")
    assert (await browser.login("alice", "Herfst2026!q")).url.path == "/"


async def test_notification_settings_in_my_details(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/me")
    await browser.post("/me/notifications", {"new_document:email": "on"})
    async with db.read() as s:
        prefs = (await s.get(Account, firm.alice.id)).notifications
    assert prefs["new_document"]["email"] is True
    assert prefs["new_message"]["email"] is False and prefs["new_questionnaire"]["email"] is False


async def test_upload_over_the_limit_is_refused_and_nothing_kept(
    browser: Browser, db: Database, firm: Firm, store
) -> None:
    from core.models import Document, Message

    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    response = await browser.post_multipart(
        "/dossiers/2026-0001/messages",
        [("subject", "Groot"), ("body", "Te groot bestand")],
        [("files", "groot.pdf", b"x" * (store.limit + 1), "application/pdf")],
    )
    assert response.status == 413 and "groter dan de limiet" in browser.last_html
    async with db.read() as s:
        assert await s.scalar(select(Message)) is None
        assert await s.scalar(select(Document)) is None
    assert [p for p in store.root.rglob("*") if p.is_file()] == []


async def test_staff_see_failed_mail_and_bouncing_addresses(
    browser: Browser, db: Database, firm: Firm
) -> None:
    from core.models import OutboxStatus, utcnow

    async with db.begin() as s:
        s.add(
            OutboxItem(
                channel="email",
                kind="new_message",
                recipient="weg@example.nl",
                payload={},
                idempotency_key="x1",
                status=OutboxStatus.FAILED,
                attempts=3,
                last_error="PermanentFailure: 550 no such user",
            )
        )
        alice = await s.get(Account, firm.alice.id)
        alice.email_failing_since = utcnow()
        alice.email_failure_reason = "bounced: Undelivered Mail"
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    await browser.get("/staff/outbox?status=failed")
    assert "550 no such user" in browser.last_html and 'data-testid="failing"' in browser.last_html
    assert "alice@example.nl" in browser.last_html
    await browser.post("/logout")
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    assert (await browser.get("/staff/outbox")).status == 403


async def koopwoning_for_alice(db: Database):
    """The shipped notary checklist, given to the client of dossier 2026-0001."""
    from core.services import checklists

    from .conftest import SYSTEM

    templates = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (templates / "notaris-koopwoning.yaml").read_text()
        )
        return await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="notaris-koopwoning"
        )


async def test_staff_review_sends_a_checklist_back_and_the_client_sees_why(
    browser: Browser, db: Database, firm: Firm, store
) -> None:

    from core.models import Checklist, ChecklistStatus

    checklist = await koopwoning_for_alice(db)
    async with db.begin() as s:
        row = await s.get(Checklist, checklist.id)
        row.status, row.locked = ChecklistStatus.SUBMITTED, True
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    await browser.get(f"/checklists/{checklist.id}")
    assert "Terugsturen naar de klant" in browser.last_html
    empty = await browser.post(f"/checklists/{checklist.id}/reject", {"reason": " "})
    assert empty.status == 400 and "Geef aan wat er ontbreekt" in browser.last_html
    await browser.post(
        f"/checklists/{checklist.id}/reject",
        {
            "reason": "Het identiteitsbewijs ontbreekt.",
            "reason:identiteitsbewijs": "Graag beide zijden.",
        },
    )
    await browser.post("/logout")
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get(f"/checklists/{checklist.id}")
    assert "Het identiteitsbewijs ontbreekt." in browser.last_html
    assert "Graag beide zijden." in browser.last_html
    assert (await browser.post(f"/checklists/{checklist.id}/approve")).status == 403
    await browser.get(f"/checklists/{checklist.id}")
    # Was the review form again with the refusal, answered 400 (and the page came from a
    # form only staff have).
    refused = await browser.post(f"/checklists/{checklist.id}/reject", {"reason": "Eigen"})
    assert refused.status == 403


async def test_outbox_shows_kinds_and_states_in_the_readers_language(
    browser: Browser, db: Database, firm: Firm
) -> None:
    from core.models import OutboxItem, OutboxStatus

    async with db.begin() as s:
        s.add(
            OutboxItem(
                channel="email",
                kind="checklist_submitted",
                recipient="sanne@firm.example",
                payload={},
                idempotency_key="x1",
                status=OutboxStatus.FAILED,
            )
        )
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    await browser.get("/staff/outbox")
    html = browser.last_html
    assert '<td>Checklist ingediend</td><td data-label="Status">Mislukt</td>' in html
    for label in ("Wacht op verzending", "Wordt verzonden", "Verzonden", "Mislukt"):
        assert f">{label}</option>" in html
    for raw in ("checklist_submitted<", ">failed<", ">pending<", ">sending<"):
        assert raw not in html


async def test_staff_find_a_submitted_checklist_in_actions_and_on_the_dossier(
    browser: Browser, db: Database, firm: Firm
) -> None:

    from core.models import Checklist, ChecklistStatus
    from core.services import checklists

    from .conftest import SYSTEM

    checklist = await koopwoning_for_alice(db)
    async with db.read() as s:
        title = (await checklists.load(s, SYSTEM, checklist.id)).template.title["nl"]
    link = f'<a href="/checklists/{checklist.id}">{title}</a>'

    # The client sees it on the dossier, to fill in.
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001")
    assert link in browser.last_html and "In te vullen" in browser.last_html
    assert f'href="/checklists/{checklist.id}">Invullen</a>' in browser.last_html
    await browser.post("/logout")

    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    await browser.get("/actions")
    assert "Er wachten geen ingediende checklists op beoordeling." in browser.last_html
    async with db.begin() as s:
        row = await s.get(Checklist, checklist.id)
        row.status, row.locked = ChecklistStatus.SUBMITTED, True
    await browser.get("/")
    assert 'data-testid="action-count">1<' in browser.last_html
    await browser.get("/actions")
    assert f'href="/checklists/{checklist.id}"' in browser.last_html
    assert "Ingediend" in browser.last_html
    await browser.get("/dossiers/2026-0001")
    assert link in browser.last_html and "Ingediend" in browser.last_html
    assert f'href="/checklists/{checklist.id}">Beoordelen</a>' in browser.last_html
    await browser.get("/dossiers/2026-0002")
    assert f"/checklists/{checklist.id}" not in browser.last_html
    await browser.get(f"/checklists/{checklist.id}")
    assert '<small data-testid="checklist-status">Ingediend · vergrendeld' in browser.last_html
    assert "submitted" not in browser.last_html


async def test_twenty_logins_at_once_do_not_stall_other_requests(
    browser: Browser, db: Database, firm: Firm, monkeypatch
) -> None:
    import asyncio
    import os
    import threading

    from core import passwords

    # Four accounts, five logins each: twenty of one account from one address would be ten too
    # many, as tries are counted before the hash (tests/test_login_throttle.py).
    people = [firm.alice, firm.bv_main, firm.carol, firm.staff]
    for person in people:
        await set_password(db, person.id)
    gate = threading.Event()
    running, peak = 0, 0
    lock = threading.Lock()
    real_verify = passwords._hasher.verify

    niceness: list[int] = []

    def slow_verify(hash_: str, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        gate.wait(10)  # every hash "takes" until the test lets go
        with lock:
            running -= 1
        return real_verify(hash_, password)

    class Slow:
        hash = passwords._hasher.hash
        verify = staticmethod(slow_verify)

    monkeypatch.setattr(passwords, "_hasher", Slow())
    await browser.get("/login")
    token = browser.csrf()
    logins = [
        asyncio.create_task(
            browser.client.post(
                "/login",
                data={"username": people[n % 4].username, "password": PASSWORD, "csrf": token},
                headers={"Origin": browser.origin},
                allow_redirects=False,
            )
        )
        for n in range(20)
    ]
    await asyncio.sleep(0.3)
    health = await browser.client.get("/healthz")  # answered while the logins wait
    assert health.status == 200
    assert not any(task.done() for task in logins)
    assert peak <= passwords.HASHES_AT_ONCE
    # Below the event loop's priority: the loop gets a core before the hashes when it wakes.
    loop_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert niceness and min(niceness) > loop_niceness
    gate.set()
    responses = await asyncio.gather(*logins)
    assert [r.status for r in responses] == [303] * 20


async def test_a_deep_link_survives_a_wrong_code_and_the_language_switch(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    async with db.begin() as s:
        account = await s.get(Account, firm.alice.id)
        account.two_factor = account.two_factor.TOTP
        account.totp_secret = pyotp.random_base32()
        secret = account.totp_secret
    deep = "/dossiers/2026-0001?tab=document&sent=1"
    login = await browser.get(deep)
    assert login.url.path == "/login"
    # The language switch on the login page comes back to the login page with its link.
    switched = await browser.post("/language", {"language": "en", "back": login.url.path_qs})
    assert switched.url.path_qs == login.url.path_qs  # was /login, the link dropped
    step = await browser.post("/login", {"username": "alice", "password": PASSWORD, "next": deep})
    assert step.url.query["next"] == deep  # was cut at its "&"
    wrong = await browser.post(
        "/login/code",
        {"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111", "next": deep},
    )
    assert wrong.status == 401
    # Was: the form came back without the link, and a right code then led to the home page.
    kept = html.unescape(re.search(r'name="next" value="([^"]*)"', browser.last_html).group(1))
    assert kept == deep
    right = await browser.post("/login/code", {"code": pyotp.TOTP(secret).now(), "next": kept})
    assert right.url.path_qs == deep


async def test_a_private_client_has_no_company_accounts_to_manage(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/me")
    # Was: "Beheer de accounts van uw bedrijf", and she could add accounts to her dossiers.
    assert "/me/accounts" not in browser.last_html
    assert (await browser.get("/me/accounts")).status == 403
    await browser.get("/me")
    added = await browser.post(
        "/me/accounts", {"name": "Buurman", "email": "buurman@example.nl", "username": ""}
    )
    assert added.status == 403
    async with db.read() as s:
        assert await s.scalar(select(Account).where(Account.email == "buurman@example.nl")) is None
