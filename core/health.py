"""What /healthz reports: each component of Loket, and one verdict.

- database and store: what this process needs to answer at all; either failing makes the
  verdict "down" (HTTP 503: a proxy sends requests elsewhere);
- worker, mail and bot: the processes that may run elsewhere, judged by their heartbeats
  (core.heartbeats). One that beat too long ago is "stale" and the verdict "degraded" (still
  200: this web process serves fine; ``strict`` monitoring asks for 503 then). One that was
  never seen is "unseen" (a process still starting, or a part this firm does not run); one
  that is not configured here is "off". Neither changes the verdict.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from . import heartbeats
from .db import Database
from .models import utcnow
from .settings import Settings
from .storage import FileStore

OK, DEGRADED, DOWN = "ok", "degraded", "down"


def allowed_silence(settings: Settings) -> dict[str, dt.timedelta]:
    """How long each part may be silent before it counts as stale: a few of its beats."""
    return {
        heartbeats.WORKER: dt.timedelta(seconds=max(120, 6 * settings.outbox_poll_seconds)),
        # The IMAP reader beats after each pass, and waits in IDLE up to four minutes.
        heartbeats.MAIL: dt.timedelta(minutes=10),
        heartbeats.BOT: dt.timedelta(minutes=5),
    }


@dataclass
class Report:
    status: str
    components: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "components": self.components}


async def report(db: Database, store: FileStore, settings: Settings) -> Report:
    components: dict[str, dict[str, Any]] = {}
    seen: dict[str, dt.datetime] = {}
    try:
        async with db.read() as s:
            await s.execute(text("SELECT 1"))
            seen = await heartbeats.latest(s)
        components["database"] = {"status": OK}
    except Exception as exc:  # any trouble is "down" with its kind, never a crash
        components["database"] = {"status": "error", "error": type(exc).__name__}
    try:
        await store.check()
        components["store"] = {"status": OK}
    except Exception as exc:
        components["store"] = {"status": "error", "error": type(exc).__name__}

    configured = {
        heartbeats.WORKER: True,
        heartbeats.MAIL: bool(settings.imap_host),
        heartbeats.BOT: settings.telegram_configured,
    }
    now = utcnow()
    for name, silence in allowed_silence(settings).items():
        last = seen.get(name)
        if last is None:
            state: dict[str, Any] = {"status": "unseen" if configured[name] else "off"}
        else:
            age = max(0, round((now - last).total_seconds()))
            state = {"status": OK if now - last <= silence else "stale", "seconds_ago": age}
        components[name] = state

    if any(c["status"] == "error" for c in components.values()):
        verdict = DOWN
    elif any(c["status"] == "stale" for c in components.values()):
        verdict = DEGRADED
    else:
        verdict = OK
    return Report(verdict, components)
