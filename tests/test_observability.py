"""What an operator watches: JSON log lines that say which request, mail, update or outbox
item they are about; /metrics in Prometheus' text format, behind its token; /healthz with
each component and one verdict."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from core import heartbeats, logcontext, outbox
from core.db import Database
from core.models import Heartbeat, OutboxItem, OutboxStatus
from core.storage import LocalFileStore
from loket.logs import JsonFormatter, TextFormatter, configure_logging
from mailbridge import pipeline as mail_pipeline
from mailbridge.pipeline import Pipeline
from web.accesslog import RedactingAccessLogger
from web.app import create_app

from .conftest import mail_settings
from .mails import reply_mail
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)
from .test_log_secrets import capture_every_record
from .test_outbox import queue

TOKEN = "scrape-token-0123456789"


def as_json(record: logging.LogRecord) -> dict:
    return json.loads(JsonFormatter().format(record))


async def served(aiohttp_client, db: Database, store: LocalFileStore, tmp_path: Path, **extra):
    """The web view as `loket serve` runs it, with a route that logs from inside a request."""
    log = logging.getLogger("loket.test")

    async def logs_something(request: web.Request) -> web.Response:
        log.info("inside the request")
        return web.Response(text="ok")

    settings = mail_settings(tmp_path, **extra)
    app = create_app(settings, db, store, machine_posts={"/test/log": logs_something})
    server = TestServer(app)
    await server.start_server(access_log_class=RedactingAccessLogger)
    return await aiohttp_client(server)


async def test_each_json_line_of_a_request_carries_its_id(
    aiohttp_client, db: Database, store: LocalFileStore, tmp_path: Path, monkeypatch, caplog
) -> None:
    configure_logging(logging.INFO, "json")  # as `loket serve` does
    caplog.set_level(logging.INFO)
    records = capture_every_record(monkeypatch)
    client = await served(aiohttp_client, db, store, tmp_path)

    answer = await client.post("/test/log")
    rid = answer.headers["X-Request-ID"]
    lines = [as_json(r) for r in records]
    inside = next(x for x in lines if x["message"] == "inside the request")
    access = next(x for x in lines if x["logger"] == "aiohttp.access")
    assert inside["request_id"] == access["request_id"] == rid
    assert access["message"].startswith("POST /test/log 200")
    assert {"time", "level", "logger"} <= set(inside)

    # The proxy's id is kept (one id across nginx's log and ours); a strange one is not.
    given = await client.post("/test/log", headers={"X-Request-ID": "a1b2c3d4e5f6"})
    assert given.headers["X-Request-ID"] == "a1b2c3d4e5f6"
    strange = await client.post("/test/log", headers={"X-Request-ID": "x\u00e9 ' OR 1=1"})
    assert strange.headers["X-Request-ID"] != "x\u00e9 ' OR 1=1"
    assert as_json(records[-1])["request_id"] == strange.headers["X-Request-ID"]
    # The text format says it too, at the end of the line.
    new_id = strange.headers["X-Request-ID"]
    assert TextFormatter().format(records[-1]).endswith(f"[request_id={new_id}]")


async def test_a_mail_that_fails_is_logged_with_its_id(
    db: Database, store: LocalFileStore, tmp_path: Path, mail_reader, monkeypatch, caplog
) -> None:
    configure_logging(logging.INFO, "json")
    caplog.set_level(logging.INFO)
    records = capture_every_record(monkeypatch)

    async def broken(p, m) -> None:
        raise RuntimeError("a bug in a step")

    monkeypatch.setattr(mail_pipeline, "STEPS", [*mail_pipeline.STEPS[:2], broken])
    settings = mail_settings(tmp_path)
    raw = reply_mail(sender="alice@example.nl", to="x@k.example", subject="[2026-0001] hoi")
    result = await Pipeline(db, store, settings, reader=mail_reader).handle(raw)
    assert result.outcome == "quarantined"
    failed = next(as_json(r) for r in records if "inbound mail failed" in r.getMessage())
    assert failed["mail_id"] == hashlib.sha256(raw).hexdigest()[:16]
    assert "RuntimeError: a bug in a step" in failed["exception"]


async def test_a_bot_update_and_an_outbox_item_bind_their_ids(
    db: Database, tmp_path: Path, monkeypatch, caplog
) -> None:
    from bot import app as _bot_app  # noqa: F401 (bot.updates is imported through it)
    from bot import updates

    caplog.set_level(logging.INFO)
    seen: list[dict] = []

    async def effect_of_the_update(update, context, effect, **kw) -> None:
        seen.append(dict(logcontext.current()))

    monkeypatch.setattr(updates, "_run", effect_of_the_update)
    await updates.run(type("Update", (), {"update_id": 4242})(), None, None)
    assert seen == [{"update_id": "4242"}]

    class Noting:
        async def send(self, item: OutboxItem) -> None:
            seen.append(dict(logcontext.current()))

    [item_id] = await queue(db, 1)
    await outbox.run_once(db, {"email": Noting()}, mail_settings(tmp_path))
    assert seen[-1] == {"outbox_item": str(item_id)}
    assert logcontext.current() == {}  # nothing stays bound after the event


async def test_metrics_behind_their_token_in_prometheus_text_format(
    aiohttp_client, db: Database, store: LocalFileStore, tmp_path: Path, mail_reader
) -> None:
    client = await served(aiohttp_client, db, store, tmp_path, metrics_token=TOKEN)
    await queue(db, 3)
    await client.get("/login")
    # A method outside the usual ones (WebDAV's) is counted as "other", not by its name.
    assert (await client.request("PROPFIND", "/login")).status == 403  # no Origin: CSRF
    await Pipeline(db, store, mail_settings(tmp_path), reader=mail_reader).handle(
        reply_mail(sender="nobody@example.org", to="x@k.example", subject="hallo")
    )

    assert (await client.get("/metrics")).status == 404
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 404
    answer = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await answer.text()
    assert "# TYPE loket_http_request_duration_seconds histogram" in text
    login = 'route="/login",method="GET",status="200"'
    assert f'loket_http_request_duration_seconds_bucket{{{login},le="+Inf"}}' in text
    assert f"loket_http_request_duration_seconds_count{{{login}}}" in text
    assert 'method="other",status="403"' in text
    assert "PROPFIND" not in text
    assert 'loket_outbox_depth{channel="email"} 3' in text
    assert 'loket_outbox_oldest_age_seconds{channel="email"}' in text
    assert 'loket_mails_total{outcome="quarantined"}' in text
    for line in text.splitlines():  # every sample is "name{labels} number"
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


async def test_without_a_token_there_is_no_metrics_page(
    aiohttp_client, db: Database, store: LocalFileStore, tmp_path: Path
) -> None:
    client = await served(aiohttp_client, db, store, tmp_path)
    assert (await client.get("/metrics", headers={"Authorization": "Bearer "})).status == 404


async def test_healthz_reports_each_component(
    aiohttp_client, db: Database, store: LocalFileStore, tmp_path: Path
) -> None:
    client = await served(aiohttp_client, db, store, tmp_path, imap_host="127.0.0.1")
    fresh = await client.get("/healthz")
    assert fresh.status == 200
    assert await fresh.json() == {
        "status": "ok",
        "components": {
            "database": {"status": "ok"},
            "store": {"status": "ok"},
            "worker": {"status": "unseen"},
            "mail": {"status": "unseen"},
            "bot": {"status": "off"},
        },
    }

    async with db.begin() as s:
        await heartbeats.beat(s, heartbeats.WORKER, "machine-a:1")
        await heartbeats.beat(s, heartbeats.MAIL, "machine-b:2")
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "ok" and body["components"]["worker"]["status"] == "ok"

    # The mail reader fell silent an hour ago: degraded, still 200; strict monitoring: 503.
    async with db.begin() as s:
        hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        await s.execute(
            update(Heartbeat).where(Heartbeat.component == "mail").values(seen_at=hour_ago)
        )
    stale = await client.get("/healthz")
    body = await stale.json()
    assert stale.status == 200 and body["status"] == "degraded"
    assert body["components"]["mail"]["status"] == "stale"
    assert body["components"]["mail"]["seconds_ago"] >= 3600
    assert (await client.get("/healthz?strict=1")).status == 503

    # The store cannot take files: this process cannot serve, 503.
    shutil.rmtree(store.root, ignore_errors=True)
    store.root.parent.mkdir(parents=True, exist_ok=True)
    store.root.write_text("not a folder")
    down = await client.get("/healthz")
    body = await down.json()
    assert down.status == 503 and body["status"] == "down"
    assert body["components"]["store"]["status"] == "error"


@pytest.mark.parametrize("value", ["json", "text"])
def test_the_log_format_setting(value: str) -> None:
    from loket.config import load_settings

    assert load_settings({"LOKET_LOG_FORMAT": value}).log_format == value


def test_an_unknown_log_format_is_refused() -> None:
    from loket.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="LOKET_LOG_FORMAT must be text or json"):
        load_settings({"LOKET_LOG_FORMAT": "xml"})


async def test_a_serving_worker_and_bot_beat(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram
) -> None:
    from loket.runtime import Runtime

    from .botkit import bot_settings
    from .test_bot_serve import serving
    from .test_scale_out import until

    async def beaten() -> bool:
        async with db.read() as s:
            return set(await heartbeats.latest(s)) == {"worker", "bot"}

    rt = Runtime(settings=bot_settings(tmp_path, fake_telegram), db=db, store=store)
    async with serving(rt, {"worker", "bot"}):
        await until(beaten, "the worker's and the bot's heartbeats")
    async with db.read() as s:
        [instance] = set(await s.scalars(select(Heartbeat.instance)))
    assert instance.endswith(f":{os.getpid()}")


async def test_a_worker_alone_answers_metrics_on_its_own_port(
    db: Database, store: LocalFileStore, tmp_path: Path, smtp
) -> None:
    import aiohttp

    from loket.runtime import Runtime

    from .mailcatcher import free_port
    from .test_bot_serve import serving
    from .test_scale_out import until

    port = free_port()
    settings = mail_settings(tmp_path, smtp.port, metrics_token=TOKEN, metrics_port=port)
    await queue(db, 2)

    async def sent() -> bool:
        # Both delivered and both recorded as sent: the mail server has a message a moment
        # before the worker commits that it went.
        async with db.read() as s:
            statuses = set(await s.scalars(select(OutboxItem.status)))
        return len(smtp.messages) == 2 and statuses == {OutboxStatus.SENT}

    async with serving(Runtime(settings, db, store), {"worker"}):
        await until(sent, "the worker to send both")
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            bearer = {"Authorization": f"Bearer {TOKEN}"}
            async with http.get("/metrics", headers=bearer) as answer:
                assert answer.status == 200
                text = await answer.text()
            async with http.get("/healthz") as health:
                assert (await health.json())["components"]["worker"]["status"] == "ok"
            async with http.get("/login") as other:
                assert other.status == 404  # no web view here
    assert 'loket_outbox_attempts_total{channel="email",result="sent"}' in text
    assert 'loket_outbox_depth{channel="email"}' not in text  # nothing waits any more
