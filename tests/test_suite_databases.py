"""The test run itself: PostgreSQL runs never vanish. Without LOKET_TEST_DATABASE_URL they are
skipped with the reason; with it set and no PostgreSQL answering, they fail; either way the
end of the run says how many tests ran on each database. The process boundary is what is
tested here, so each case runs pytest in a subprocess on one small test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .mailcatcher import free_port

ROOT = Path(__file__).resolve().parent.parent
PROBE = "tests/test_outbox.py::test_a_claimed_item_is_leased_for_five_minutes"


def run_pytest(**env: str | None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "LOKET_TEST_DATABASE_URL"}
    environment |= {k: v for k, v in env.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "pytest", PROBE, "-p", "no:cacheprovider", "-q"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def summary(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "tests per database" in line)
    return lines[start + 1 : start + 3]


def test_without_the_variable_postgresql_is_skipped_and_says_why() -> None:
    run = run_pytest()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 1 skipped" in run.stdout
    assert "PostgreSQL not tested: LOKET_TEST_DATABASE_URL is not set" in run.stdout
    sqlite, postgresql = summary(run.stdout)
    assert sqlite.split() == ["sqlite", "1", "passed,", "0", "failed,", "0", "skipped"]
    assert postgresql.startswith("postgresql   0 passed, 0 failed, 1 skipped (PostgreSQL not")


def test_with_the_variable_set_a_postgresql_that_does_not_answer_fails_the_run() -> None:
    nobody = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test"
    run = run_pytest(LOKET_TEST_DATABASE_URL=nobody)
    assert run.returncode != 0
    last = run.stdout.strip().splitlines()[-1]  # "1 passed, 1 error in …" (warnings between)
    assert "1 passed" in last and "1 error" in last, last
    assert "LOKET_TEST_DATABASE_URL is set, but PostgreSQL at" in run.stdout
    assert "does not answer" in run.stdout
    sqlite, postgresql = summary(run.stdout)
    assert sqlite.split() == ["sqlite", "1", "passed,", "0", "failed,", "0", "skipped"]
    assert postgresql.split() == ["postgresql", "0", "passed,", "1", "failed,", "0", "skipped"]
