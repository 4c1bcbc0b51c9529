"""Which database each test ran on, counted for the end of the run: a run that tested
PostgreSQL says so in numbers, and one that did not says why."""

from __future__ import annotations

from collections import Counter

import pytest

# The name under which a test's database travels on its reports (``user_properties``): from
# pytest-xdist's workers, which collect and run the tests, to the controller, which prints.
KEY = "loket_database"
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
            item.user_properties.append((KEY, callspec.params["database_url"]))


def backend_of(report) -> str | None:
    """The database the test of ``report`` ran on (tests that use no database: None)."""
    return dict(getattr(report, "user_properties", None) or ()).get(KEY)


def outcomes(stats: dict[str, list]) -> dict[str, Counter[str]]:
    """Per database, how many of its tests passed, failed or were skipped."""
    final: dict[str, tuple[str, str]] = {}
    for category, outcome in ORDER.items():
        for report in stats.get(category, []):
            backend = backend_of(report)
            if backend is not None:
                final[report.nodeid] = (backend, outcome)
    counts: dict[str, Counter[str]] = {"sqlite": Counter(), "postgresql": Counter()}
    for backend, outcome in final.values():
        counts.setdefault(backend, Counter())[outcome] += 1
    return counts


def report(terminal, postgresql_note: str) -> None:
    counts_of = outcomes(terminal.stats)
    if not any(counts_of.values()):
        return
    terminal.section("tests per database")
    for name, counts in counts_of.items():
        line = ", ".join(f"{counts[o]} {o}" for o in ("passed", "failed", "skipped"))
        if name == "postgresql" and postgresql_note:
            line += f" ({postgresql_note})"
        terminal.write_line(f"{name:<12} {line}")
