"""Which database each test ran on, counted for the end of the run: a run that tested
PostgreSQL says so in numbers, and one that did not says why."""

from __future__ import annotations

from collections import Counter

import pytest

# The database each collected test runs on, by node id (tests that use no database: absent).
BACKEND_OF: dict[str, str] = {}
# Of the reports a test leaves, the last one in this order decides how it is counted: a test
# that passed and then failed in teardown counts as failed.
ORDER = {
    "passed": "passed",
    "xpassed": "passed",
    "xfailed": "skipped",
    "skipped": "skipped",
    "error": "failed",
    "failed": "failed",
}


def note(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "database_url" in callspec.params:
            BACKEND_OF[item.nodeid] = callspec.params["database_url"]


def outcomes(stats: dict[str, list]) -> dict[str, Counter[str]]:
    """Per database, how many of its tests passed, failed or were skipped."""
    final: dict[str, str] = {}
    for category, outcome in ORDER.items():
        for report in stats.get(category, []):
            if getattr(report, "nodeid", None) in BACKEND_OF:
                final[report.nodeid] = outcome
    counts: dict[str, Counter[str]] = {"sqlite": Counter(), "postgresql": Counter()}
    for nodeid, outcome in final.items():
        counts.setdefault(BACKEND_OF[nodeid], Counter())[outcome] += 1
    return counts


def report(terminal, postgresql_note: str) -> None:
    if not BACKEND_OF:
        return
    terminal.section("tests per database")
    for name, counts in outcomes(terminal.stats).items():
        line = ", ".join(f"{counts[o]} {o}" for o in ("passed", "failed", "skipped"))
        if name == "postgresql" and postgresql_note:
            line += f" ({postgresql_note})"
        terminal.write_line(f"{name:<12} {line}")
