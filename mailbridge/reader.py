"""Parsing mail off the event loop.

Parsing is pure CPU work in the standard library: a mail with a 30 MB attachment takes about
two seconds, one with 500 small attachments half a second. On the event loop that would stall
every web request and chat update served by the same process for as long. ``MailReader`` runs
the parser in a worker process instead (a thread would keep the loop turning but, holding the
GIL, would still slow it), so parsing also runs beside the database work on another core. The
parsed mail comes back pickled, which costs a few hundredths of a millisecond.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .parse import ParsedMail, parse


class MailReader:
    """Parses raw mails in ``workers`` worker processes, started on first use."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool: Executor | None = None

    def _executor(self) -> Executor:
        if self._pool is None:
            # "spawn": forking a process that runs threads (aiosqlite's, the executor's) can
            # copy a lock in its held state into the child.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        return self._pool

    async def read(self, raw: bytes) -> ParsedMail:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor(), parse, raw)
        except BrokenProcessPool:
            # A worker died (killed, out of memory) on this mail: the pool is unusable from
            # now on, so the next mail gets a fresh one; this one fails (to quarantine).
            self.close()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


async def read_in_thread(raw: bytes) -> ParsedMail:
    """Without a ``MailReader``: still off the event loop, in the loop's thread pool."""
    return await asyncio.to_thread(parse, raw)
