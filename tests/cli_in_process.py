"""``loket …`` run in the test's own process (no interpreter start per command), on a fresh
SQLite data dir that holds a client (id 1) and its dossier D1."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest


def loket_with_dossier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    from loket.cli import main

    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LOKET_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    assert main(["client", "add", "--name", "Alice", "--email", "alice@example.nl"]) == 0
    assert main(["dossier", "add", "--number", "D1", "--description", "d", "--client", "1"]) == 0

    def loket(argv: Sequence[str]) -> int:
        return main(list(argv))

    return loket
