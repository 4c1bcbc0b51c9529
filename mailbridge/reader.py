"""Parsing mail off the event loop.

Parsing is pure CPU work in the standard library: a mail with a 30 MB attachment takes about
two seconds, one with 500 small attachments half a second. On the event loop that would stall
every web request and chat update served by the same process for as long. ``MailReader`` runs
the parser in a worker process instead (a thread would keep the loop turning but, holding the
GIL, would still slow it), so parsing also runs beside the database work on another core. The
parsed mail comes back pickled, which costs a few hundredths of a millisecond.

Each job costs hand-offs between the loop, the pool's thread and the worker, which on a busy
machine cost more than parsing a small mail; ``read_all`` parses a batch of mails (the IMAP
source fetches them in batches) in one job.

A mail is given as bytes, or as the path of a file that holds it (a large mail, which the IMAP
source fetches into a file): the worker then reads it from there, and the mail itself never
travels to it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .parse import ParsedMail, parse, parse_file

# A mail's bytes, or the file that holds them.
Raw = bytes | Path


def parse_any(raw: Raw) -> ParsedMail:
    return (parse_file(raw) if isinstance(raw, Path) else parse(raw)).read_ahead()


def parse_all(raws: list[Raw]) -> list[ParsedMail | Exception]:
    """Each mail parsed, or what parsing it raised: one mail's error is that mail's only."""
    parsed: list[ParsedMail | Exception] = []
    for raw in raws:
        try:
            parsed.append(parse_any(raw))
        except Exception as exc:
            parsed.append(exc)
    return parsed


class MailReader:
    """Parses raw mails in ``workers`` worker processes, started on first use."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool: Executor | None = None
        self._jobs: set[asyncio.Task[None]] = set()

    def _executor(self) -> Executor:
        if self._pool is None:
            # "spawn": forking a process that runs threads (aiosqlite's, the executor's) can
            # copy a lock in its held state into the child.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        return self._pool

    async def read(self, raw: Raw) -> ParsedMail:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor(), parse_any, raw)
        except BrokenProcessPool:
            # A worker died (killed, out of memory) on this mail: the pool is unusable from
            # now on, so the next mail gets a fresh one; this one fails (to quarantine).
            self.close()
            raise

    def read_all(self, raws: list[Raw]) -> list[asyncio.Future[ParsedMail]]:
        """Start parsing ``raws`` in one job; one future per mail, all done when the job is.
        A future cancelled meanwhile is left so (its result is dropped)."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[ParsedMail]] = [loop.create_future() for _ in raws]
        if raws:
            job = asyncio.ensure_future(self._read_all(raws, futures))
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)
        return futures

    async def _read_all(self, raws: list[Raw], futures: list[asyncio.Future[ParsedMail]]) -> None:
        try:
            if len(raws) == 1:
                results = [await self._read_one(raws[0])]
            else:
                loop = asyncio.get_running_loop()
                try:
                    results = [*await loop.run_in_executor(self._executor(), parse_all, raws)]
                except BrokenProcessPool:
                    # A worker died on one of them: one at a time now (``read`` starts a
                    # fresh pool after a death), so that only the mail that kills one fails.
                    self.close()
                    results = []
                    for raw, future in zip(raws, futures, strict=True):
                        results.append(future if future.done() else await self._read_one(raw))
        except BaseException as exc:
            for future in futures:
                _settle(future, exc)
            raise
        for future, result in zip(futures, results, strict=True):
            _settle(future, result)

    async def _read_one(self, raw: Raw) -> ParsedMail | Exception:
        try:
            return await self.read(raw)
        except Exception as exc:
            return exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _settle(future: asyncio.Future[ParsedMail], result: object) -> None:
    if future.done():
        return
    if isinstance(result, asyncio.CancelledError):
        future.cancel()
    elif isinstance(result, BaseException):
        future.set_exception(result)
    else:
        assert isinstance(result, ParsedMail)
        future.set_result(result)


async def read_in_thread(raw: Raw) -> ParsedMail:
    """Without a ``MailReader``: still off the event loop, in the loop's thread pool."""
    return await asyncio.to_thread(parse_any, raw)
