"""Running the components in one asyncio process: the web view, the outbox worker, the mail
bridge and the Telegram bot (loket.telegram_bot). Stops cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core import heartbeats, locks, metrics, outbox

from . import telegram_bot
from .config import ConfigError
from .datadirlock import serving_alone
from .heartbeat import Pulse
from .runtime import Runtime
from .senders import open_senders, sms_gateway

if TYPE_CHECKING:
    from mailbridge.imap import ImapSource

log = logging.getLogger("loket")
COMPONENTS = ("web", "worker", "mail", "bot")
LINGER_SECONDS = 10  # aiohttp's own default
web_handler = Callable[[web.Request], Awaitable[Any]]


async def outbox_worker(rt: Runtime, stop: asyncio.Event) -> None:
    async with open_senders(rt.settings, rt.db) as senders:
        await _outbox_passes(rt, senders, stop)


async def _outbox_passes(
    rt: Runtime, senders: dict[str, outbox.Sender], stop: asyncio.Event
) -> None:
    if "email" not in senders:
        log.warning("outbox worker: no SMTP server set; mail stays in the outbox")
    if "sms" not in senders:
        log.info("outbox worker: no SMS gateway set; two-step verification by SMS is not offered")
    pulse = Pulse(rt.db, heartbeats.WORKER)
    while not stop.is_set():
        await pulse()
        full = False
        try:
            result = await outbox.run_once(rt.db, senders, rt.settings)
            # A full batch means more may be due: the next pass goes at once, so that a
            # queue of thousands is not sent fifty per poll interval.
            full = result.sent + result.retrying + result.failed >= outbox.BATCH
            if result.sent or result.failed or result.retrying:
                log.info(
                    "outbox: sent %d, retrying %d, failed %d",
                    result.sent,
                    result.retrying,
                    result.failed,
                )
        except Exception:  # the database away for a moment must not end the worker
            metrics.FAILURES.inc("worker")
            log.exception("outbox pass failed; trying again shortly")
        if full:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=rt.settings.outbox_poll_seconds)


REMINDER_EVERY_SECONDS = 600


async def reminder_worker(rt: Runtime, stop: asyncio.Event) -> None:
    """Queue the reminder digests that are due, every ten minutes."""
    from core import reminders
    from core.models import utcnow

    while not stop.is_set():
        try:
            async with rt.db.begin() as s:
                queued = await reminders.send_due(s, rt.settings, utcnow())
            if queued:
                log.info("reminders: %d digest(s) queued", queued)
        except Exception:
            metrics.FAILURES.inc("reminders")
            log.exception("reminder pass failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=REMINDER_EVERY_SECONDS)


async def mail_sources(rt: Runtime, stop: asyncio.Event) -> None:
    """The IMAP source and the SMTP/LMTP endpoint, whichever are configured."""
    from mailbridge import spool
    from mailbridge.imap import ImapSource
    from mailbridge.pipeline import Pipeline
    from mailbridge.reader import MailReader
    from mailbridge.smtp_in import start_endpoint

    s = rt.settings
    removed, size = await asyncio.to_thread(spool.sweep)
    if removed:
        log.info("removed %d temporary mail file(s) left behind (%d bytes)", removed, size)
    reader = MailReader()
    pipeline = Pipeline(rt.db, rt.store, s, reader=reader)
    server = None
    if s.smtp_in_host and s.smtp_in_port:
        server = await start_endpoint(pipeline, s.smtp_in_host, s.smtp_in_port)
        log.info("receiving mail by SMTP on %s:%d", s.smtp_in_host, s.smtp_in_port)
    try:
        if s.imap_host:
            await read_mailbox(rt, ImapSource(s, pipeline), stop)
        else:
            await stop.wait()
    finally:
        if server is not None:
            server.close()
            await server.wait_closed()
        reader.close()


LOCK_POLL_SECONDS = 5.0
MAX_PAUSE_SECONDS = 300.0


async def read_mailbox(
    rt: Runtime,
    source: ImapSource,
    stop: asyncio.Event,
    *,
    poll_seconds: float = LOCK_POLL_SECONDS,
    check_seconds: float = locks.CHECK_SECONDS,
) -> None:
    """Read the mailbox while holding its lock (core.locks): a second mail process on the
    same mailbox waits, and takes over when the first stops or loses its database."""
    pause = 1.0
    while not stop.is_set():
        try:
            await _read_holding_lock(rt, source, stop, poll_seconds, check_seconds)
            pause = 1.0
        except Exception:  # the database away at the start: try again, do not end the process
            metrics.FAILURES.inc("mail")
            log.exception("mail reader stopped; starting again in %.0f s", pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(pause * 2, MAX_PAUSE_SECONDS)


async def _read_holding_lock(
    rt: Runtime, source: ImapSource, stop: asyncio.Event, poll_seconds: float, check_seconds: float
) -> None:
    """One term of reading: wait for the lock, read until stopped or the lock is lost."""
    async with locks.held(
        rt.db,
        f"mailbox:{source.mailbox}",
        stop=stop,
        poll_seconds=poll_seconds,
        check_seconds=check_seconds,
        waiting=lambda: log.info(
            "mailbox %s is being read by another Loket process; waiting for it",
            source.mailbox,
        ),
    ) as lock:
        if lock is None:
            return
        log.info("fetching mail from IMAP %s", source.mailbox)
        until = asyncio.Event()
        relay = asyncio.create_task(_first_of(stop, lock.lost, until))
        try:
            await source.run(until, pulse=Pulse(rt.db, heartbeats.MAIL))
        finally:
            relay.cancel()
        if lock.lost.is_set() and not stop.is_set():
            log.warning(
                "lost the database lock on mailbox %s; waiting for it again", source.mailbox
            )


async def _first_of(a: asyncio.Event, b: asyncio.Event, then: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    then.set()


async def start_web(
    rt: Runtime, machine_posts: dict[str, web_handler] | None = None
) -> web.AppRunner:
    """The web view, listening. Its limits on slow and idle clients are its own, not left to
    a proxy in front: the request's headers within http_header_timeout_seconds (aiohttp's
    keep-alive timer runs from the connection's start while a request's head is awaited, and
    closes it then), its body by web.uploads.body_clock, and at most http_max_connections
    connections (web.connections)."""
    from mailbridge.filing import QuarantineFiler
    from web.accesslog import RedactingAccessLogger
    from web.app import create_app
    from web.connections import CappedSite

    s = rt.settings
    # Staff file quarantined mail from the web view; the mail bridge reads the original.
    filer = QuarantineFiler(rt.db, rt.store, s)
    app = create_app(
        s,
        rt.db,
        rt.store,
        sms=sms_gateway(s),
        mail_filer=filer,
        telegram=s.telegram_configured,
        machine_posts=machine_posts,
    )
    runner = web.AppRunner(
        app,
        access_log_class=RedactingAccessLogger,
        keepalive_timeout=s.http_header_timeout_seconds,
        # After an answer that did not read the whole body (a 408 for a slow one), what more
        # comes is read and dropped for at most this long before the connection is closed.
        lingering_time=min(LINGER_SECONDS, s.http_body_timeout_seconds),
    )
    await runner.setup()
    site = CappedSite(runner, s.http_host, s.http_port, max_connections=s.http_max_connections)
    await _listen(runner, site, s.http_host, s.http_port, "LOKET_HTTP_PORT")
    log.info("web view on http://%s:%d", rt.settings.http_host, site.port)
    return runner


async def _listen(
    runner: web.AppRunner, site: web.BaseSite, host: str, port: int | None, setting: str
) -> None:
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(
            f"Cannot listen on {host}:{port} ({exc.strerror}); set {setting} to a free port."
        ) from None


async def start_monitoring(rt: Runtime) -> web.AppRunner:
    """/metrics and /healthz of a process without the web view, on LOKET_METRICS_PORT."""
    from web.accesslog import RedactingAccessLogger
    from web.app import create_monitoring_app

    s = rt.settings
    runner = web.AppRunner(
        create_monitoring_app(s, rt.db, rt.store), access_log_class=RedactingAccessLogger
    )
    await runner.setup()
    site = web.TCPSite(runner, s.http_host, s.metrics_port)
    await _listen(runner, site, s.http_host, s.metrics_port, "LOKET_METRICS_PORT")
    log.info("metrics on http://%s:%d/metrics", s.http_host, s.metrics_port)
    return runner


async def serve(
    rt: Runtime,
    components: set[str],
    *,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> None:
    with serving_alone(rt.settings):
        await _serve(rt, components, ready=ready)


async def _serve(
    rt: Runtime,
    components: set[str],
    *,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    bot = telegram_bot.plan(rt, components)
    machine_posts = bot.machine_posts() if bot is not None else None
    runner = await start_web(rt, machine_posts) if "web" in components else None
    if runner is None and rt.settings.metrics_port:
        runner = await start_monitoring(rt)
    tasks = []
    if bot is not None:
        tasks.append(asyncio.create_task(telegram_bot.run(bot, stop)))
    if "worker" in components:
        tasks.append(asyncio.create_task(outbox_worker(rt, stop)))
        tasks.append(asyncio.create_task(reminder_worker(rt, stop)))
    if "mail" in components and (
        rt.settings.imap_host or (rt.settings.smtp_in_host and rt.settings.smtp_in_port)
    ):
        tasks.append(asyncio.create_task(mail_sources(rt, stop)))
    if ready is not None:
        await ready()
    try:
        await stop.wait()
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
