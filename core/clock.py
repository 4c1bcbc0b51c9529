"""Times as the firm's clock shows them. Everything is stored in UTC; whatever a person reads
(a page, a mail, a chat text, the command line) shows the firm's time zone (settings.timezone).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SHOWN = "%d-%m-%Y %H:%M"
# The payload field of a notification that says when what it tells of happened (UTC, ISO).
HAPPENED_AT = "happened_at"


def firm_time(when: dt.datetime | str | None, timezone: str, format: str = SHOWN) -> str:
    """``when`` (UTC, or ISO text as a payload keeps it) on the firm's clock; "" for none."""
    if when is None or when == "":
        return ""
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when)
        except ValueError:
            return ""
    if when.tzinfo is None:  # read back without a zone: it was stored as UTC
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(ZoneInfo(timezone)).strftime(format)


def happened_now() -> dict[str, str]:
    """The payload field that dates a notification about something that happens now."""
    return {HAPPENED_AT: dt.datetime.now(dt.UTC).isoformat()}
