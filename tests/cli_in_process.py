"""``loket …`` run in the test's own process (no interpreter start per command): the same
``main`` a process runs, with its environment, standard streams and exit status, minus the
seconds an interpreter takes to start and import Loket."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_cli(
    argv: Sequence[str], env: Mapping[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run ``loket argv`` under ``env`` (the whole environment, as a process would get it),
    with ``stdin`` as its input; what it printed and its exit status, as from a process."""
    from loket.cli import main

    out, err = io.StringIO(), io.StringIO()
    with (
        _environment(env),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _stdin(stdin),
    ):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse refusing the command line, or --help
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(list(argv), code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _stdin(text: str) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def loket_with_dossier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """On a fresh SQLite data dir that holds a client (id 1) and its dossier D1: ``loket``
    whose exit status is returned (its output is left to pytest's capture)."""
    from loket.cli import main

    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LOKET_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    assert main(["client", "add", "--name", "Alice", "--email", "alice@example.nl"]) == 0
    assert main(["dossier", "add", "--number", "D1", "--description", "d", "--client", "1"]) == 0

    def loket(argv: Sequence[str]) -> int:
        return main(list(argv))

    return loket
