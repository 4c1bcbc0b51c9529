"""A fixed clock for core.throttle, so that a test's tries never straddle two windows and a
test can let a window end without waiting for it."""

from __future__ import annotations

import datetime as dt

import pytest

from core import throttle


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # A minute into a UTC day: every window (a quarter, an hour, a day) has just begun.
        today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.now = today + dt.timedelta(minutes=1)
        monkeypatch.setattr(throttle, "utcnow", lambda: self.now)

    def advance(self, minutes: float) -> None:
        self.now += dt.timedelta(minutes=minutes)
