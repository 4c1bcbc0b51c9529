"""The IMAP source: fetch each waiting mail, run it through the pipeline, and only then move it
to the done folder. IDLE where the server has it, polling otherwise; reconnects with back-off.

Exactly once across crashes: a mail handled but not yet moved is recognised on the next pass by
(mailbox, UIDVALIDITY, UID), or by its bytes after a UIDVALIDITY change, and only moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aioimaplib

from core.settings import Settings
from core.storage import StoredFile

from . import spool
from .parse import ParsedMail, Spooled
from .pipeline import Pipeline, forget_reading

log = logging.getLogger(__name__)
TIMEOUT = 30
IDLE_SECONDS = 240
POLL_SECONDS = 30
MAX_BACKOFF = 300
MOVE_BATCH = 50
# Mails are fetched (and handed to the parser) in batches of at most this many, holding at
# most FETCH_BYTES together: one round trip to the server, and one to the parsing worker, for
# many mails. A mail larger than that comes alone.
FETCH_BATCH = 25
FETCH_BYTES = 4 * 1024 * 1024
SIZES_AT_ONCE = 200
# A mail larger than this (by the size the server gives) is fetched in pieces of FETCH_PIECE
# (``BODY.PEEK[]<offset.length>``) into a file, which the parser and the store read from there:
# fetched whole, aioimaplib holds a 41 MB mail in about 113 MB, and the parsing worker
# would receive it pickled.
SPOOL_ABOVE = FETCH_BYTES
FETCH_PIECE = 1024 * 1024
_FETCHED = re.compile(r"^\d+ FETCH \(")
_UID = re.compile(r"\bUID (\d+)")
_SIZE = re.compile(r"\bRFC822\.SIZE (\d+)")


class ImapError(Exception):
    pass


@dataclass
class Fetched:
    uid: int
    raw: bytes | Path | None  # a Path: the file ``spooled`` (a large mail)
    parsing: asyncio.Future[ParsedMail] | None
    spooled: Spooled | None = None
    # The original's write to the store, started with the fetch (a mail in memory only).
    keeping: asyncio.Future[StoredFile] | None = None

    def discard(self) -> None:
        """Its parsing (and the write of its original) forgotten and its file, if it has
        one, removed."""
        forget_reading(self.parsing)
        forget_reading(self.keeping)
        if self.spooled is not None:
            self.spooled.discard()


def _ok(response: aioimaplib.Response, what: str) -> aioimaplib.Response:
    if response.result != "OK":
        raise ImapError(f"{what} failed: {response.result} {response.lines[-1:]!r}")
    return response


def _text(line: object) -> str:
    return line.decode(errors="replace") if isinstance(line, bytes | bytearray) else str(line)


def uid_set(uids: list[int]) -> str:
    """``uids`` as an IMAP set, runs written as ranges: ``1:40,42,44:45``."""
    runs: list[list[int]] = []
    for uid in sorted(set(uids)):
        if runs and uid == runs[-1][1] + 1:
            runs[-1][1] = uid
        else:
            runs.append([uid, uid])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in runs)


def _bodies(lines: list[object]) -> dict[int, bytes]:
    """The mails of a UID FETCH of BODY[] by their UID. Each answer starts with a
    ``n FETCH (`` line; the UID is on it or, after the literal, on the line closing it."""
    found: dict[int, bytes] = {}
    uid: int | None = None
    body: bytes | None = None
    for line in [*lines, "0 FETCH ("]:  # the sentinel ends the last answer
        if isinstance(line, bytearray):
            body = bytes(line)
            continue
        text = _text(line)
        if _FETCHED.match(text):
            if uid is not None and body is not None:
                found[uid] = body
            uid, body = None, None
        if uid is None and (number := _UID.search(text)):
            uid = int(number.group(1))
    return found


_EMPTY_PIECE = re.compile(r'\bBODY\[\]<\d+> ""')


def _past_end(lines: list[object], uid: int) -> bool:
    """Whether a UID FETCH of part of BODY[] answered for ``uid`` with an empty string in
    quotes (RFC 3501's answer past a mail's end, where Dovecot sends a literal of 0 bytes).
    NIL, or no answer at all, is a mail that is gone."""
    for line in lines:
        if isinstance(line, bytearray):
            continue
        text = _text(line)
        found = _UID.search(text)
        if _FETCHED.match(text) and found and int(found.group(1)) == uid:
            return _EMPTY_PIECE.search(text) is not None
    return False


def _piece(lines: list[object], uid: int, offset: int, size: int) -> bytes | None:
    """The piece of ``uid``'s mail at ``offset`` in a UID FETCH answer. b"" past its end: an
    empty string or a literal of 0 bytes, or NIL (as some servers answer there) once
    ``offset`` reached ``size``, its RFC822.SIZE; a mail whose size is a whole number of
    pieces ends so. None: the mail is gone (nothing at its start). Nothing further in, short
    of its size: ImapError, and the mail is fetched again on the next pass."""
    data = _bodies(lines).get(uid)
    if data is not None:
        return data
    if _past_end(lines, uid) or (offset and offset >= size):
        return b""
    if offset:
        raise ImapError(f"UID FETCH: no piece at {offset} of a mail of {size} bytes")
    return None


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapSource:
    def __init__(
        self, settings: Settings, pipeline: Pipeline, *, spool_above: int = SPOOL_ABOVE
    ) -> None:
        if not settings.imap_host:
            raise ValueError("no IMAP host configured")
        self.settings = settings
        self.pipeline = pipeline
        self.spool_above = spool_above
        self.client: aioimaplib.IMAP4 | None = None
        self.uidvalidity: int | None = None
        self._sizes: dict[int, int] = {}  # of this pass's mails, by UID

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

    async def _batches(self, uids: list[int]) -> list[list[int]]:
        """``uids`` in fetch batches (``FETCH_BATCH``, ``FETCH_BYTES``), by the sizes the
        server gives for them (``SIZES_AT_ONCE`` in one command)."""
        if not uids:
            return []
        assert self.client is not None
        sizes: dict[int, int] = {}
        # aioimaplib reads an answer's lines recursively, a level each (a thousand at once
        # exceed Python's recursion limit): the sizes are asked for a few hundred at a time.
        for start in range(0, len(uids), SIZES_AT_ONCE):
            part = uid_set(uids[start : start + SIZES_AT_ONCE])
            response = _ok(await self.client.uid("fetch", part, "(RFC822.SIZE)"), "UID FETCH")
            for line in response.lines:
                text = _text(line)
                if (uid := _UID.search(text)) and (size := _SIZE.search(text)):
                    sizes[int(uid.group(1))] = int(size.group(1))
        self._sizes = sizes
        batches: list[list[int]] = []
        batch: list[int] = []
        held = 0
        for uid in uids:
            size = sizes.get(uid, 0)
            if size > self.spool_above:  # fetched alone, into a file; in turn all the same
                batches += [batch, [uid]] if batch else [[uid]]
                batch, held = [], 0
                continue
            if batch and (len(batch) >= FETCH_BATCH or held + size > FETCH_BYTES):
                batches.append(batch)
                batch, held = [], 0
            batch.append(uid)
            held += size
        return [*batches, batch] if batch else batches

    async def _fetch_many(self, uids: list[int]) -> dict[int, bytes]:
        assert self.client is not None
        response = _ok(await self.client.uid("fetch", uid_set(uids), "(BODY.PEEK[])"), "UID FETCH")
        return _bodies(response.lines)

    async def _fetch(self, uid: int) -> bytes | None:
        return (await self._fetch_many([uid])).get(uid)

    async def _fetch_into_file(self, uid: int) -> Spooled | None:
        """The mail in a new file, fetched FETCH_PIECE at a time and written in a thread;
        None when the server no longer has it. On any error the file goes."""
        assert self.client is not None
        fd, path = tempfile.mkstemp(prefix=spool.MAIL_PREFIX, suffix=".eml")
        spooled = Spooled(path, 0)
        try:
            with os.fdopen(fd, "wb") as fh:
                while True:
                    piece = f"(BODY.PEEK[]<{spooled.size}.{FETCH_PIECE}>)"
                    response = _ok(await self.client.uid("fetch", str(uid), piece), "UID FETCH")
                    size = self._sizes.get(uid, 0)
                    data = _piece(response.lines, uid, spooled.size, size)
                    if data is None:  # expunged meanwhile (NIL, or no answer): nothing to do
                        spooled.discard()
                        return None
                    if len(data) > FETCH_PIECE:
                        raise ImapError(f"UID FETCH: {len(data)} bytes for {FETCH_PIECE} asked")
                    await asyncio.to_thread(fh.write, data)
                    spooled.size += len(data)
                    if len(data) < FETCH_PIECE:  # the mail's end
                        return spooled
        except BaseException:
            spooled.discard()
            raise

    async def _fetch_and_read(self, uids: list[int]) -> list[Fetched]:
        """The batch's mails (None: gone from the server meanwhile), and their parsing
        already under way (in the pipeline's reader, all in one job). A large mail comes
        alone, in a file."""
        if len(uids) == 1 and self._sizes.get(uids[0], 0) > self.spool_above:
            [uid] = uids
            spooled = await self._fetch_into_file(uid)
            if spooled is None:
                return [Fetched(uid, None, None)]
            path = Path(spooled.path)
            [reading] = self.pipeline.start_reading_all([path])
            return [Fetched(uid, path, reading, spooled)]
        bodies = await self._fetch_many(uids)
        present = [uid for uid in uids if uid in bodies]
        readings = self.pipeline.start_reading_all([bodies[uid] for uid in present])
        parsing = dict(zip(present, readings, strict=True))
        # The originals go to the store now, in threads, while the mails before them are
        # handled: writing and fsyncing each only when its outcome is recorded kept the
        # pipeline waiting for the disk.
        return [
            Fetched(
                uid,
                bodies.get(uid),
                parsing.get(uid),
                keeping=self.pipeline.start_keeping(bodies[uid]) if uid in bodies else None,
            )
            for uid in uids
        ]

    async def _done(self, uids: list[int]) -> None:
        if not uids:
            return
        assert self.client is not None
        folder = _quote(self.settings.imap_done_folder)
        uids_ = uid_set(uids)
        if self.client.has_capability("MOVE"):
            _ok(await self.client.uid("move", uids_, folder), "UID MOVE")
            return
        _ok(await self.client.uid("copy", uids_, folder), "UID COPY")
        _ok(await self.client.uid("store", uids_, "+FLAGS", "(\\Deleted)"), "UID STORE")
        _ok(await self.client.expunge(), "EXPUNGE")

    async def fetch_once(self) -> dict[str, int]:
        """One pass over the folder; returns how many mails ended how."""
        if self.client is None:
            await self.connect()
        counts: dict[str, int] = {}
        handled: list[int] = []
        batches = await self._batches(await self._uids())
        # The next batch is fetched and parsed while this one goes through the pipeline.
        upcoming = asyncio.ensure_future(self._fetch_and_read(batches[0])) if batches else None
        waiting: list[Fetched] = []  # fetched, not yet handed to the pipeline
        try:
            for following in [*batches[1:], None] if batches else []:
                assert upcoming is not None
                waiting = await upcoming
                upcoming = (
                    asyncio.ensure_future(self._fetch_and_read(following))
                    if following is not None
                    else None
                )
                while waiting:
                    mail = waiting.pop(0)
                    if mail.raw is not None:
                        try:
                            result = await self.pipeline.handle(
                                mail.raw,
                                mailbox=self.mailbox,
                                uidvalidity=self.uidvalidity,
                                uid=mail.uid,
                                parsing=mail.parsing,
                                keeping=mail.keeping,
                            )
                        finally:
                            mail.discard()
                        # Its outcome is recorded: from now on it may leave the inbox. Moves
                        # go in batches; one not yet moved when we stop is recognised next
                        # time.
                        handled.append(mail.uid)
                        counts[result.outcome] = counts.get(result.outcome, 0) + 1
                    if len(handled) >= MOVE_BATCH:
                        if upcoming is not None:
                            await asyncio.wait({upcoming})  # one IMAP command at a time
                        await self._done(handled)
                        handled = []
        except BaseException:
            for mail in waiting:
                mail.discard()
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
                # Abort, and CommandTimeout: how aioimaplib tells of a connection lost during
                # a command (it notices no closed connection, only the missing answer).
                aioimaplib.AioImapException,
                asyncio.IncompleteReadError,
            ) as exc:
                log.warning("IMAP: %s; reconnecting in %.0fs", exc, backoff)
                await self.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        await self.close()


async def _drop_prefetch(upcoming: asyncio.Future[list[Fetched]]) -> None:
    """Let the fetch in flight finish, so that the moves after it are the only IMAP command,
    then drop it and the parsing it started."""
    with contextlib.suppress(BaseException):
        await asyncio.wait({upcoming}, timeout=30)
    upcoming.cancel()
    if upcoming.done() and not upcoming.cancelled() and upcoming.exception() is None:
        for mail in upcoming.result():
            mail.discard()
