"""Template filters for what every page shows the same way: times in the firm's time zone,
and a value as one segment of a path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import quote
from zoneinfo import ZoneInfo


def path_segment(value: object) -> str:
    """``value`` quoted as one path segment: a dossier number "2026/0042" must not become two
    (Jinja's ``urlencode`` keeps the "/")."""
    return quote(str(value), safe="")


def local_time(timezone: str) -> Callable[..., str]:
    """A filter showing a stored (UTC) time as the firm's clock shows it."""
    zone = ZoneInfo(timezone)

    def show(when: dt.datetime | None, format: str = "%d-%m-%Y %H:%M") -> str:
        if when is None:
            return ""
        if when.tzinfo is None:  # read back without a zone: it was stored as UTC
            when = when.replace(tzinfo=dt.UTC)
        return when.astimezone(zone).strftime(format)

    return show
