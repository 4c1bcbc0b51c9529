"""Template filters for what every page shows the same way: times in the firm's time zone,
and a value as one segment of a path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import quote
from zoneinfo import ZoneInfo

from core.clock import SHOWN, firm_time


def path_segment(value: object) -> str:
    """``value`` quoted as one path segment: a dossier number "2026/0042" must not become two
    (Jinja's ``urlencode`` keeps the "/")."""
    return quote(str(value), safe="")


def local_time(timezone: str) -> Callable[..., str]:
    """A filter showing a stored (UTC) time as the firm's clock shows it."""
    ZoneInfo(timezone)  # an unknown zone fails at start, not on the first page

    def show(when: dt.datetime | None, format: str = SHOWN) -> str:
        return firm_time(when, timezone, format)

    return show
