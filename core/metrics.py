"""Counters and histograms of this process, written out in Prometheus' text format
(version 0.0.4) for GET /metrics.

By hand rather than with prometheus-client: what Loket needs (labelled counters, labelled
histograms, values read at scrape time) is this much code, and one process is one scrape
target (each `loket serve` answers for itself; Prometheus adds them up). Values that belong
to the database rather than to a process (the outbox's depth and oldest item) are read at
scrape time by the web view and given to ``render`` as gauges.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable, Sequence

# Seconds; Prometheus' own defaults, which suit a web request and a mail alike.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[tuple[str, str], ...]


def _labels(names: Sequence[str], values: Sequence[str]) -> Labels:
    if len(names) != len(values):
        raise ValueError(f"labels {names} need {len(names)} values, not {values}")
    return tuple(zip(names, (str(v) for v in values), strict=True))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _write_labels(labels: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Counter:
    def __init__(self, name: str, doc: str, labels: Sequence[str] = ()) -> None:
        self.name, self.doc, self.label_names = name, doc, tuple(labels)
        self._values: dict[Labels, float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, by: float = 1.0) -> None:
        key = _labels(self.label_names, labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + by

    def value(self, *labels: str) -> float:
        return self._values.get(_labels(self.label_names, labels), 0.0)

    def lines(self) -> list[str]:
        out = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} counter"]
        for key, value in sorted(self._values.items()):
            out.append(f"{self.name}{_write_labels(key)} {_number(value)}")
        return out


class Histogram:
    def __init__(
        self, name: str, doc: str, labels: Sequence[str] = (), buckets: Sequence[float] = BUCKETS
    ) -> None:
        self.name, self.doc, self.label_names = name, doc, tuple(labels)
        self.buckets = tuple(sorted(buckets))
        # Per label set: a count per bucket (not cumulative), the sum and the count.
        self._values: dict[Labels, tuple[list[int], float, int]] = {}
        self._lock = threading.Lock()

    def observe(self, seconds: float, *labels: str) -> None:
        key = _labels(self.label_names, labels)
        with self._lock:
            counts, total, n = self._values.get(key) or ([0] * (len(self.buckets) + 1), 0.0, 0)
            counts[bisect.bisect_left(self.buckets, seconds)] += 1
            self._values[key] = (counts, total + seconds, n + 1)

    def count(self, *labels: str) -> int:
        found = self._values.get(_labels(self.label_names, labels))
        return found[2] if found else 0

    def lines(self) -> list[str]:
        out = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} histogram"]
        for key, (counts, total, n) in sorted(self._values.items()):
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                running += count
                le = _write_labels((*key, ("le", _number(bound))))
                out.append(f"{self.name}_bucket{le} {running}")
            out.append(f"{self.name}_sum{_write_labels(key)} {_number(total)}")
            out.append(f"{self.name}_count{_write_labels(key)} {n}")
        return out


HTTP_REQUESTS = Histogram(
    "loket_http_request_duration_seconds",
    "Web requests answered, by route pattern, method and status, with their duration.",
    ("route", "method", "status"),
)
MAILS = Counter(
    "loket_mails_total",
    "Inbound mails handled, by outcome (stored, quarantined, ...).",
    ["outcome"],
)
MAIL_FAILURES = Counter(
    "loket_mail_failures_total", "Inbound mails whose handling failed in a step (quarantined)."
)
BOT_UPDATES = Counter(
    "loket_bot_updates_total", "Telegram updates handled, by result (handled, failed).", ["result"]
)
OUTBOX_RESULTS = Counter(
    "loket_outbox_attempts_total",
    "Outbox deliveries tried, by channel and result (sent, retrying, failed).",
    ["channel", "result"],
)
FAILURES = Counter(
    "loket_failures_total",
    "Unexpected errors, by component (web, worker, reminders, mail, bot).",
    ["component"],
)

REGISTRY: tuple[Counter | Histogram, ...] = (
    HTTP_REQUESTS,
    MAILS,
    MAIL_FAILURES,
    BOT_UPDATES,
    OUTBOX_RESULTS,
    FAILURES,
)


def render(gauges: Sequence[tuple[str, str, Sequence[tuple[Labels, float]]]] = ()) -> str:
    """The text format: every metric of this process, and ``gauges`` (name, help, values
    per label set) read at scrape time."""
    out: list[str] = []
    for metric in REGISTRY:
        out.extend(metric.lines())
    for name, doc, values in gauges:
        out.extend((f"# HELP {name} {doc}", f"# TYPE {name} gauge"))
        out.extend(f"{name}{_write_labels(k)} {_number(v)}" for k, v in values)
    return "\n".join(out) + "\n"
