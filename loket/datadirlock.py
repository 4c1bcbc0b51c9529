"""One `loket serve` per data dir on SQLite.

SQLite lets several processes write one file, but two `loket serve` on one data dir would
each run an outbox worker, read the same mailbox and poll Telegram for the same bot. The
first holds an exclusive lock on a file in the data dir for as long as it runs (the kernel
lets go of it when the process ends, however it ends); a second is refused with a sentence
that says why. On PostgreSQL several processes are the point, and nothing is locked here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from core.db import is_sqlite
from core.settings import Settings

from .config import ConfigError

LOCK_FILE = "serve.lock"


@contextlib.contextmanager
def serving_alone(settings: Settings) -> Iterator[None]:
    """Hold the data dir's serve lock (SQLite only) for the body."""
    if not is_sqlite(settings.resolved_database_url()):
        yield
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(_refusal(path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing lets go of the lock


def _refusal(path: Path) -> str:
    holder = ""
    with contextlib.suppress(OSError, ValueError):
        holder = f" (process {int(path.read_text().strip())})"
    return (
        f"another `loket serve`{holder} is already running on the data dir {path.parent}; "
        "on SQLite one process serves a data dir. Stop that one first, or move to "
        "PostgreSQL (LOKET_DATABASE_URL) to run several."
    )
