"""No secret in any log line: the invitation and set-password links, passwords (right and
wrong), the TOTP secret and its codes, an SMS code, recovery codes and the cookies of every
step, through the web view with logging as `loket serve` sets it at its most talkative.

Every record any logger handles is captured (whatever its level and whether or not it reaches
the root logger), and formatted in full: message, arguments, traceback and extra fields, and
as the one JSON line LOKET_LOG_FORMAT=json makes of it."""

from __future__ import annotations

import json
import logging
import re

import pyotp
import pytest
from sqlalchemy import select

from core import outbox
from core.db import Database
from core.models import Account, OutboxItem, TwoFactorMethod
from core.services import auth
from core.sms import OutboxSmsGateway
from loket.logs import JsonFormatter
from mailbridge.smtp import SmtpSender

from .conftest import PASSWORD, SYSTEM, Firm, SmtpServer, open_browser, set_password
from .webclient import Browser

NEW_PASSWORD = "Lente2026!z"
WRONG_PASSWORD = "fout-wachtwoord-123"


@pytest.fixture
async def browser(aiohttp_client, db: Database, store, tmp_path, smtp) -> Browser:
    """The web view with SMS offered (codes queued in the outbox), so a login by SMS code
    is among the steps looked at."""
    return await open_browser(aiohttp_client, db, store, tmp_path, smtp, sms=OutboxSmsGateway())


def capture_every_record(monkeypatch) -> list[logging.LogRecord]:
    """Each record a logger handles, also of loggers that do not propagate to the root."""
    records: list[logging.LogRecord] = []
    handle = logging.Logger.handle

    def keep(self: logging.Logger, record: logging.LogRecord) -> None:
        records.append(record)
        handle(self, record)

    monkeypatch.setattr(logging.Logger, "handle", keep)
    return records


def in_full(record: logging.LogRecord) -> str:
    text = logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)
    return f"{text}\n{record.args!r}\n{record.__dict__!r}"


def link_in(smtp: SmtpServer, kind: str) -> str:
    body = smtp.messages[-1].get_body(("plain",)).get_content()
    found = re.search(rf"http://127\.0\.0\.1/{kind}/([A-Za-z0-9_-]+)", body)
    assert found, body
    return found.group(1)


async def test_no_secret_of_any_step_in_any_log_line(
    browser: Browser, db: Database, firm: Firm, smtp: SmtpServer, monkeypatch, caplog
) -> None:
    from loket.logs import configure_logging

    configure_logging(logging.DEBUG)  # as `loket serve` does, at its most talkative
    # basicConfig leaves a root logger that already has handlers (pytest's) at its level.
    caplog.set_level(logging.DEBUG)
    records = capture_every_record(monkeypatch)
    settings = browser.settings
    send = {"email": SmtpSender(settings)}
    secrets: set[str] = {PASSWORD, NEW_PASSWORD, WRONG_PASSWORD}

    def note_cookies() -> None:
        secrets.update(c.value for c in browser.client.session.cookie_jar if len(c.value) >= 16)

    # The invitation link, the address check, the set-password link.
    async with db.begin() as s:
        await auth.invite(s, SYSTEM, settings, await s.get(Account, firm.alice.id))
    await outbox.run_once(db, send, settings)
    invitation = link_in(smtp, "invite")
    await browser.get(f"/invite/{invitation}")
    await browser.post(f"/invite/{invitation}", {"email": "alice@example.nl"})
    await browser.get(f"/invite/{invitation}")  # used: 410, and logged as such
    await outbox.run_once(db, send, settings)
    password_link = link_in(smtp, "password")
    await browser.get(f"/password/{password_link}")
    welcome = await browser.post(
        f"/password/{password_link}", {"password": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    )
    assert welcome.url.path == "/"
    note_cookies()
    secrets.update({invitation, password_link})

    # Two-step verification by app: enrolment, a wrong code, a right one, a recovery code.
    await browser.post("/me/2fa/totp")
    totp_secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', browser.last_html)[1]
    totp = pyotp.TOTP(totp_secret)
    enrolled_with = totp.now()
    await browser.post("/me/2fa/totp/confirm", {"code": enrolled_with})
    recovery = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", browser.last_html)
    assert len(recovery) == 10
    secrets.update({totp_secret, enrolled_with, *recovery})
    await browser.post("/logout")
    await browser.login("alice", WRONG_PASSWORD)
    await browser.login("alice", NEW_PASSWORD)
    note_cookies()
    wrong_code = "000000" if enrolled_with != "000000" else "111111"
    await browser.post("/login/code", {"code": wrong_code})
    async with db.begin() as s:  # the enrolment's code is used up; let its step pass
        (await s.get(Account, firm.alice.id)).totp_last_step = 0
    by_app = await browser.post("/login/code", {"code": enrolled_with})
    assert by_app.url.path == "/"
    note_cookies()
    await browser.post("/logout")
    await browser.login("alice", NEW_PASSWORD)
    by_recovery = await browser.post("/login/code", {"code": recovery[1]})
    assert by_recovery.url.path == "/"
    note_cookies()
    await browser.post("/logout")

    # Two-step verification by SMS: the code a login sends, typed in.
    await set_password(db, firm.carol.id)
    async with db.begin() as s:
        carol = await s.get(Account, firm.carol.id)
        carol.two_factor, carol.phone = TwoFactorMethod.SMS, "+31612345678"
    await browser.login("carol", PASSWORD)
    async with db.read() as s:
        text = await s.scalar(select(OutboxItem.payload).where(OutboxItem.channel == "sms"))
    sms_code = re.search(r"\d{6}", text["secret_text"])[0]
    secrets.add(sms_code)
    assert (await browser.post("/login/code", {"code": sms_code})).url.path == "/"
    note_cookies()
    await browser.get("/me")

    assert len(secrets) > 20
    as_json = JsonFormatter()
    for record in records:
        text = in_full(record)
        # What LOKET_LOG_FORMAT=json writes: one JSON object, with the request's id.
        line = as_json.format(record)
        assert "\n" not in line and json.loads(line)["message"] == record.getMessage()
        for secret in secrets:
            assert secret not in text, (secret, record.name, record.getMessage())
            assert secret not in line, (secret, record.name, line)
    web_lines = [json.loads(as_json.format(r)) for r in records if r.name == "aiohttp.access"]
    assert web_lines and all(len(x["request_id"]) == 32 for x in web_lines)
    # The capture saw what it must: the access log's line for each request, links included.
    assert any(r.name == "aiohttp.access" and "/invite/{token}" in r.getMessage() for r in records)
