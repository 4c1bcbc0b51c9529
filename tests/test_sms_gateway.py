"""Text messages reach an HTTP SMS gateway, and SMS is offered only when one is configured.

The gateway is a small aiohttp server on a free port that records what it is sent and answers
as told (200, 429, 500, 400, or not at all). The outbox runs through ``core.outbox.run_once``
with the senders ``loket serve`` and ``loket outbox send`` use.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from sqlalchemy import func, select, update

from core import outbox
from core.db import Database
from core.models import Account, OutboxItem, OutboxStatus, Token, TwoFactorMethod, utcnow
from core.services import twofactor
from core.settings import Settings
from core.sms import OutboxSmsGateway
from core.storage import LocalFileStore
from loket.config import ConfigError, load_settings
from loket.logs import configure_logging
from loket.runtime import Runtime
from loket.senders import outbox_senders, sms_gateway
from loket.sms_http import HttpSmsSender
from web.app import create_app
from web.keys import SMS

from .conftest import PASSWORD, Firm, mail_settings, set_password
from .mailcatcher import free_port
from .webclient import Browser

NUMBER = "+31 6 1234 5678"
CLEAN = "+31612345678"
NO_SMS = "Via dit portaal kunnen geen sms-berichten worden verstuurd"


@dataclass
class Seen:
    path: str
    content_type: str
    authorization: str
    body: bytes

    def fields(self) -> dict:
        if self.content_type == "application/json":
            return json.loads(self.body)
        return dict(parse_qsl(self.body.decode()))


@dataclass
class FakeGateway:
    """Answers each request with the next of ``answers`` (a status, or "hang"), then 200."""

    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    answers: list[int | str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            Seen(
                request.path,
                request.content_type,
                request.headers.get("Authorization", ""),
                await request.read(),
            )
        )
        answer = self.answers.pop(0) if self.answers else 200
        if answer == "hang":
            await self.release.wait()
            answer = 200
        # A redirect points at a second endpoint that would take the message.
        headers = {"Location": "/api/elsewhere"} if 300 <= answer < 400 else {}
        return web.json_response(
            {"status": "queued" if answer < 300 else "no"}, status=answer, headers=headers
        )


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    fake = FakeGateway()
    app = web.Application()
    app.router.add_post("/api/sms", fake.handle)
    app.router.add_post("/api/elsewhere", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/sms"
    yield fake
    fake.release.set()
    await runner.cleanup()


def sms_settings(tmp_path: Path, gateway: FakeGateway, **extra: object) -> Settings:
    values = {"sms_url": gateway.url, "sms_user": "loket", "sms_password": "gateway-pw"}
    return mail_settings(tmp_path, **(values | extra))


async def web_client(aiohttp_client, settings: Settings, db: Database, store) -> Browser:
    """The web view as `loket serve` builds it from these settings."""
    return Browser(await aiohttp_client(create_app(settings, db, store, sms=sms_gateway(settings))))


async def send_outbox(db: Database, settings: Settings, **sender_options) -> outbox.PassResult:
    senders = outbox_senders(settings)
    if sender_options:
        senders["sms"] = HttpSmsSender(settings, **sender_options)
    return await outbox.run_once(db, senders, settings)


async def sms_items(db: Database) -> list[OutboxItem]:
    async with db.read() as s:
        rows = await s.scalars(
            select(OutboxItem).where(OutboxItem.channel == "sms").order_by(OutboxItem.id)
        )
        return list(rows)


def code_in(text: str) -> str:
    return re.fullmatch(r"Loket: (\d{6})", text).group(1)


# How each format names the fields, and how the gateway is told who we are.
FORMATS = {
    "form, basic auth, default body": (
        {"sms_format": "form"},
        ("to", "text", "sender"),
        "Basic " + base64.b64encode(b"loket:gateway-pw").decode(),
    ),
    "json, bearer token, MessageBird-style body": (
        {
            "sms_format": "json",
            "sms_user": None,
            "sms_password": None,
            "sms_token": "tok-123",
            "sms_body": '{"recipients": ["{to}"], "originator": "{sender}", "body": "{text}"}',
        },
        ("recipients", "body", "originator"),
        "Bearer tok-123",
    ),
}


@pytest.mark.parametrize("shape", list(FORMATS))
async def test_set_up_and_login_codes_reach_the_gateway(
    aiohttp_client,
    db: Database,
    store,
    tmp_path: Path,
    firm: Firm,
    gateway: FakeGateway,
    shape,
    caplog,
) -> None:
    configure_logging(logging.DEBUG)  # as `loket serve` does, at its most talkative
    caplog.set_level(logging.DEBUG)
    extra, (to_field, text_field, sender_field), authorization = FORMATS[shape]
    settings = sms_settings(tmp_path, gateway, **extra)
    browser = await web_client(aiohttp_client, settings, db, store)
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/me")
    assert 'action="/me/2fa/sms"' in browser.last_html

    started = await browser.post("/me/2fa/sms", {"phone": NUMBER})
    assert started.status == 200
    result = await send_outbox(db, settings)
    assert (result.sent, result.retrying, result.failed) == (1, 0, 0)
    [seen] = gateway.requests
    fields = seen.fields()
    to = fields[to_field]
    assert (to[0] if isinstance(to, list) else to) == CLEAN
    assert fields[sender_field] == "Kantoor Tes"  # the firm name, cut to 11 characters
    assert seen.authorization == authorization
    setup_code = code_in(fields[text_field])

    done = await browser.post("/me/2fa/sms/confirm", {"code": setup_code})
    assert done.status == 200 and "<code>" in browser.last_html  # the recovery codes
    async with db.read() as s:
        account = await s.get(Account, firm.alice.id)
        assert account.two_factor is TwoFactorMethod.SMS and account.phone == CLEAN

    await browser.post("/logout")
    assert (await browser.login("alice", PASSWORD)).url.path == "/login/code"
    assert "per sms naar uw telefoon gestuurd" in browser.last_html
    assert (await send_outbox(db, settings)).sent == 1
    login_code = code_in(gateway.requests[-1].fields()[text_field])
    assert login_code != setup_code
    assert (await browser.post("/login/code", {"code": login_code})).url.path == "/"

    # Sent: the codes are gone from the outbox, and no log line ever held them or a secret.
    items = await sms_items(db)
    assert [i.status for i in items] == [OutboxStatus.SENT] * 2
    for item in items:
        assert item.payload["secret_text"] == "(sent)"
        assert setup_code not in json.dumps(item.payload)
        assert login_code not in json.dumps(item.payload)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (setup_code, login_code, "gateway-pw", "tok-123"):
        assert secret not in logged


async def queue_code(db: Database, firm: Firm, valid_for=dt.timedelta(minutes=10)) -> str:
    """A code for Alice in the outbox, as the login queues it; returns its text."""
    async with db.begin() as s:
        await OutboxSmsGateway().send(
            s, CLEAN, "Loket: 424242", account_id=firm.alice.id, key="k1", valid_for=valid_for
        )
    return "424242"


async def time_passes(db: Database) -> None:
    async with db.begin() as s:
        await s.execute(update(OutboxItem).values(next_try_at=utcnow()))


async def test_busy_or_absent_gateway_is_tried_again_later(
    db: Database, tmp_path: Path, firm: Firm, gateway: FakeGateway
) -> None:
    settings = sms_settings(tmp_path, gateway)
    code = await queue_code(db, firm)
    gateway.answers = [429, 500, 503, 408, "hang"]
    tried = []
    for answer in gateway.answers[:4] + ["hang"]:
        before = utcnow()
        result = await send_outbox(db, settings, timeout=0.3)
        assert (result.sent, result.retrying, result.failed) == (0, 1, 0), answer
        [item] = await sms_items(db)
        assert item.status is OutboxStatus.PENDING
        assert item.next_try_at > before + dt.timedelta(seconds=30)  # backed off, not now
        assert code not in item.last_error and "gateway-pw" not in item.last_error
        tried.append(item.last_error)
        await time_passes(db)
    assert "429" in tried[0] and "500" in tried[1] and "408" in tried[3]
    assert "did not answer in time" in tried[4]

    # Nothing listens on the gateway's address: the same, no crash.
    away = dataclasses.replace(settings, sms_url=f"http://127.0.0.1:{free_port()}/api/sms")
    assert (await send_outbox(db, away)).retrying == 1
    [item] = await sms_items(db)
    assert item.status is OutboxStatus.PENDING and "unreachable" in item.last_error
    await time_passes(db)

    assert (await send_outbox(db, settings)).sent == 1
    [item] = await sms_items(db)
    assert item.status is OutboxStatus.SENT and item.attempts == 7
    assert code not in json.dumps(item.payload)
    assert len(gateway.requests) == 6


@pytest.mark.parametrize("status", [400, 401, 404, 422, 307])
async def test_a_refusal_fails_at_once(
    db: Database, tmp_path: Path, firm: Firm, gateway: FakeGateway, status: int
) -> None:
    settings = sms_settings(tmp_path, gateway)
    await queue_code(db, firm)
    gateway.answers = [status]
    result = await send_outbox(db, settings)
    assert (result.sent, result.retrying, result.failed) == (0, 0, 1)
    [item] = await sms_items(db)
    assert item.status is OutboxStatus.FAILED and str(status) in item.last_error
    await time_passes(db)
    assert (await send_outbox(db, settings)).failed == 0
    assert [r.path for r in gateway.requests] == ["/api/sms"]  # not tried again, nor elsewhere


async def test_a_code_that_expired_while_waiting_is_not_sent(
    db: Database, tmp_path: Path, firm: Firm, gateway: FakeGateway
) -> None:
    settings = sms_settings(tmp_path, gateway)
    await queue_code(db, firm, valid_for=dt.timedelta(seconds=-1))
    assert (await send_outbox(db, settings)).failed == 1
    assert gateway.requests == []


async def test_a_body_template_with_its_own_names_and_fixed_fields(
    db: Database, tmp_path: Path, firm: Firm, gateway: FakeGateway
) -> None:
    body = "recipient={to}&message={text}&originator={sender}&route=business&note=a%26b"
    settings = sms_settings(tmp_path, gateway, sms_body=body, sms_sender="Jansen & Co")
    await queue_code(db, firm)
    assert (await send_outbox(db, settings)).sent == 1
    [seen] = gateway.requests
    assert seen.content_type == "application/x-www-form-urlencoded"
    assert seen.fields() == {
        "recipient": CLEAN,
        "message": "Loket: 424242",
        "originator": "Jansen & Co",  # encoded, not taken for a field separator
        "route": "business",
        "note": "a&b",
    }


async def test_without_a_gateway_sms_is_not_offered(
    aiohttp_client, db: Database, store, tmp_path: Path, firm: Firm
) -> None:
    settings = mail_settings(tmp_path)
    assert settings.sms_url is None and "sms" not in outbox_senders(settings)
    browser = await web_client(aiohttp_client, settings, db, store)
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/me")
    assert 'action="/me/2fa/sms"' not in browser.last_html
    assert "per sms" not in browser.last_html
    assert 'action="/me/2fa/totp"' in browser.last_html

    refused = await browser.post("/me/2fa/sms", {"phone": NUMBER})
    assert refused.status == 400 and NO_SMS in browser.last_html
    confirm = await browser.post("/me/2fa/sms/confirm", {"code": "123456"})
    assert confirm.status == 400 and NO_SMS in browser.last_html
    async with db.read() as s:
        assert (await s.get(Account, firm.alice.id)).two_factor is TwoFactorMethod.NONE
        assert await s.scalar(select(func.count()).select_from(Token)) == 0
    assert await sms_items(db) == []


async def test_sms_account_logs_in_by_recovery_code_when_no_gateway_is_left(
    aiohttp_client, db: Database, store, tmp_path: Path, firm: Firm
) -> None:
    alice = firm.actor(firm.alice)
    async with db.begin() as s:  # SMS was set up while a gateway was configured
        await twofactor.begin_sms(s, alice, OutboxSmsGateway(), NUMBER)
    [item] = await sms_items(db)
    async with db.begin() as s:
        recovery = await twofactor.confirm_sms(s, alice, code_in(item.payload["secret_text"]))

    browser = await web_client(aiohttp_client, mail_settings(tmp_path), db, store)
    await set_password(db, firm.alice.id)
    assert (await browser.login("alice", PASSWORD)).url.path == "/login/code"
    assert "Er kunnen op dit moment geen sms-berichten worden verstuurd" in browser.last_html
    assert "per sms naar uw telefoon gestuurd" not in browser.last_html
    assert len(await sms_items(db)) == 1  # no code queued that nothing would send
    wrong = await browser.post("/login/code", {"code": "123456"})
    assert wrong.status == 401 and "herstelcodes" in browser.last_html
    assert (await browser.post("/login/code", {"code": recovery[0]})).url.path == "/"
    await browser.get("/me")
    assert "log in met een van uw herstelcodes" in browser.last_html
    refused = await browser.post("/me/2fa/sms", {"phone": NUMBER})
    assert refused.status == 400 and NO_SMS in browser.last_html


def test_settings_from_the_environment() -> None:
    env = {
        "LOKET_SMS_URL": "https://gateway.example/v1/messages?key=s3cret",
        "LOKET_SMS_TOKEN": "tok-123",
        "LOKET_SMS_FORMAT": "json",
        "LOKET_SMS_BODY": '{"to": ["{to}"], "body": "{text}"}',
        "LOKET_FIRM_NAME": "Notariskantoor Jansen",
    }
    settings = load_settings(env)
    assert settings.sms_format == "json" and settings.sms_token == "tok-123"
    assert settings.sms_originator == "Notariskant"  # the firm name, cut to 11 characters
    assert load_settings(env | {"LOKET_SMS_SENDER": "Jansen"}).sms_originator == "Jansen"
    assert set(outbox_senders(settings)) == {"sms"}
    assert isinstance(sms_gateway(settings), OutboxSmsGateway)
    assert sms_gateway(load_settings({})) is None
    for secret in ("s3cret", "tok-123"):
        assert secret not in repr(settings)
    basic = {"LOKET_SMS_URL": "http://x", "LOKET_SMS_USER": "u", "LOKET_SMS_PASSWORD": "pw-9"}
    assert "pw-9" not in repr(load_settings(basic))


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"LOKET_SMS_FORMAT": "xml"}, "form or json"),
        ({"LOKET_SMS_URL": "ftp://gateway.example/"}, "http://"),
        ({"LOKET_SMS_USER": "u", "LOKET_SMS_TOKEN": "t"}, "not both"),
        ({"LOKET_SMS_BODY": "to={to}&text={code}"}, "{code}"),
        ({"LOKET_SMS_BODY": "to={to}&sender={sender}"}, "{to} and {text}"),
        ({"LOKET_SMS_FORMAT": "json", "LOKET_SMS_BODY": "to={to}&text={text}"}, "not valid JSON"),
        ({"LOKET_SMS_FORMAT": "json", "LOKET_SMS_BODY": '{"{to}": "{text}"}'}, "{to} and"),
    ],
)
def test_unusable_sms_settings_are_refused_at_start(extra: dict, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({"LOKET_SMS_URL": "https://gateway.example/sms"} | extra)
    assert says in str(refused.value)


@pytest.mark.parametrize("configured", [True, False])
async def test_loket_serve_hands_the_web_view_a_gateway_only_when_configured(
    db: Database, store: LocalFileStore, tmp_path: Path, configured: bool
) -> None:
    from loket.serve import start_web

    extra = {"sms_url": "http://127.0.0.1:9/sms"} if configured else {}
    settings = mail_settings(tmp_path, http_port=free_port(), **extra)
    runner = await start_web(Runtime(settings=settings, db=db, store=store))
    try:
        assert (SMS in runner.app) is configured
    finally:
        await runner.cleanup()
