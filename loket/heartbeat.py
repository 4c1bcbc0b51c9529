"""A process's heartbeats (core.heartbeats): each long-running part calls its Pulse when it
has done a round of work; at most one write per ``every`` seconds."""

from __future__ import annotations

import logging
import os
import socket
import time

from core import heartbeats
from core.db import Database

log = logging.getLogger(__name__)
EVERY_SECONDS = 30.0


def instance() -> str:
    """This process, as the heartbeats name it."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Pulse:
    def __init__(self, db: Database, component: str, *, every: float = EVERY_SECONDS) -> None:
        self.db, self.component, self.every = db, component, every
        self._last = -float("inf")

    async def __call__(self) -> None:
        if time.monotonic() - self._last < self.every:
            return
        try:
            async with self.db.begin() as s:
                await heartbeats.beat(s, self.component, instance())
            self._last = time.monotonic()
        except Exception as exc:  # the database away: the part's own work says so too
            log.warning("heartbeat of %s not recorded: %s", self.component, type(exc).__name__)
