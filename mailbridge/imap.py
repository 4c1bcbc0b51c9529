"""The IMAP source: fetch each waiting mail, run it through the pipeline, and only then move it
to the done folder. IDLE where the server has it, polling otherwise; reconnects with back-off.

Exactly once across crashes: a mail handled but not yet moved is recognised on the next pass by
(mailbox, UIDVALIDITY, UID), or by its bytes after a UIDVALIDITY change, and only moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aioimaplib

from core.settings import Settings

from .parse import ParsedMail
from .pipeline import Pipeline, forget_reading

log = logging.getLogger(__name__)
TIMEOUT = 30
IDLE_SECONDS = 240
POLL_SECONDS = 30
MAX_BACKOFF = 300
MOVE_BATCH = 50


class ImapError(Exception):
    pass


@dataclass
class PassCounts:
    handled: int = 0
    outcomes: dict[str, int] | None = None


def _ok(response: aioimaplib.Response, what: str) -> aioimaplib.Response:
    if response.result != "OK":
        raise ImapError(f"{what} failed: {response.result} {response.lines[-1:]!r}")
    return response


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapSource:
    def __init__(self, settings: Settings, pipeline: Pipeline) -> None:
        if not settings.imap_host:
            raise ValueError("no IMAP host configured")
        self.settings = settings
        self.pipeline = pipeline
        self.client: aioimaplib.IMAP4 | None = None
        self.uidvalidity: int | None = None

    @property
    def mailbox(self) -> str:
        s = self.settings
        return f"{s.imap_user}@{s.imap_host}/{s.imap_folder}"

    async def connect(self) -> None:
        s = self.settings
        cls = aioimaplib.IMAP4_SSL if s.imap_tls == "tls" else aioimaplib.IMAP4
        client = cls(host=s.imap_host, port=s.imap_port, timeout=TIMEOUT)
        await client.wait_hello_from_server()
        if s.imap_tls == "starttls":
            _ok(await client.starttls(), "STARTTLS")
        _ok(await client.login(s.imap_user or "", s.imap_password or ""), "LOGIN")
        with contextlib.suppress(Exception):
            await client.create(_quote(s.imap_done_folder))  # may exist already
        selected = _ok(await client.select(_quote(s.imap_folder)), "SELECT")
        for line in selected.lines:
            text = line.decode(errors="replace") if isinstance(line, bytes | bytearray) else line
            found = re.search(r"UIDVALIDITY (\d+)", text)
            if found:
                self.uidvalidity = int(found.group(1))
        self.client = client

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.logout(), 5)
            self.client = None

    async def _uids(self) -> list[int]:
        assert self.client is not None
        found = _ok(await self.client.uid_search("ALL"), "UID SEARCH")
        first = found.lines[0] if found.lines else b""
        text = first.decode() if isinstance(first, bytes | bytearray) else str(first)
        return [int(x) for x in text.replace("SEARCH", " ").split() if x.isdigit()]

    async def _fetch(self, uid: int) -> bytes | None:
        assert self.client is not None
        response = _ok(await self.client.uid("fetch", str(uid), "(BODY.PEEK[])"), "UID FETCH")
        for line in response.lines:
            if isinstance(line, bytearray):
                return bytes(line)
        return None

    async def _fetch_and_read(
        self, uid: int
    ) -> tuple[bytes | None, asyncio.Future[ParsedMail] | None]:
        """The mail, and its parsing already under way (in the pipeline's reader)."""
        raw = await self._fetch(uid)
        return raw, (self.pipeline.start_reading(raw) if raw is not None else None)

    async def _done(self, uids: list[int]) -> None:
        if not uids:
            return
        assert self.client is not None
        folder = _quote(self.settings.imap_done_folder)
        uid_set = ",".join(str(u) for u in uids)
        if self.client.has_capability("MOVE"):
            _ok(await self.client.uid("move", uid_set, folder), "UID MOVE")
            return
        _ok(await self.client.uid("copy", uid_set, folder), "UID COPY")
        _ok(await self.client.uid("store", uid_set, "+FLAGS", "(\\Deleted)"), "UID STORE")
        _ok(await self.client.expunge(), "EXPUNGE")

    async def fetch_once(self) -> dict[str, int]:
        """One pass over the folder; returns how many mails ended how."""
        if self.client is None:
            await self.connect()
        counts: dict[str, int] = {}
        handled: list[int] = []
        uids = await self._uids()
        # The next mail is fetched and parsed while this one goes through the pipeline.
        upcoming = asyncio.ensure_future(self._fetch_and_read(uids[0])) if uids else None
        try:
            for position, uid in enumerate(uids):
                assert upcoming is not None
                raw, parsing = await upcoming
                following = uids[position + 1] if position + 1 < len(uids) else None
                upcoming = (
                    asyncio.ensure_future(self._fetch_and_read(following))
                    if following is not None
                    else None
                )
                if raw is not None:
                    result = await self.pipeline.handle(
                        raw,
                        mailbox=self.mailbox,
                        uidvalidity=self.uidvalidity,
                        uid=uid,
                        parsing=parsing,
                    )
                    # Its outcome is recorded: from now on it may leave the inbox. Moves go
                    # in batches; one not yet moved when we stop is recognised next time.
                    handled.append(uid)
                    counts[result.outcome] = counts.get(result.outcome, 0) + 1
                if len(handled) >= MOVE_BATCH:
                    if upcoming is not None:
                        await asyncio.wait({upcoming})  # one IMAP command at a time
                    await self._done(handled)
                    handled = []
        except BaseException:
            if upcoming is not None:
                await _drop_prefetch(upcoming)
            if handled and self.client is not None:
                with contextlib.suppress(Exception):
                    await self._done(handled)
            raise
        await self._done(handled)
        return counts

    async def _wait_for_news(self, stop: asyncio.Event) -> None:
        assert self.client is not None
        if not self.client.has_capability("IDLE"):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_SECONDS)
            return
        idle = await self.client.idle_start(timeout=IDLE_SECONDS)
        waiter = asyncio.ensure_future(self.client.wait_server_push())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()
        self.client.idle_done()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(idle, 10)

    async def run(
        self, stop: asyncio.Event, *, pulse: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Until ``stop``: fetch, wait for news, again; reconnect with back-off on trouble.
        ``pulse``: called after each pass that reached the mailbox (a heartbeat)."""
        backoff = 1.0
        while not stop.is_set():
            try:
                await self.fetch_once()
                if pulse is not None:
                    await pulse()
                backoff = 1.0
                await self._wait_for_news(stop)
            except (
                OSError,
                TimeoutError,
                ImapError,
                aioimaplib.Abort,
                asyncio.IncompleteReadError,
            ) as exc:
                log.warning("IMAP: %s; reconnecting in %.0fs", exc, backoff)
                await self.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        await self.close()


async def _drop_prefetch(
    upcoming: asyncio.Future[tuple[bytes | None, asyncio.Future[ParsedMail] | None]],
) -> None:
    """Let the fetch in flight finish, so that the moves after it are the only IMAP command,
    then drop it and the parse it started."""
    with contextlib.suppress(BaseException):
        await asyncio.wait({upcoming}, timeout=30)
    upcoming.cancel()
    if upcoming.done() and not upcoming.cancelled() and upcoming.exception() is None:
        forget_reading(upcoming.result()[1])
