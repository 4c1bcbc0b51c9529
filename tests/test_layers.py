"""The dependency rule, read from the source: core/ imports no adapter and not loket/; an
adapter (web/, bot/, mailbridge/) imports core/ and never another adapter or loket/, which
composes them. Words two channels share live in core."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = {"web", "bot", "mailbridge"}
FORBIDDEN = {
    "core": ADAPTERS | {"loket"},
    **{adapter: (ADAPTERS - {adapter}) | {"loket"} for adapter in ADAPTERS},
}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """The top-level package of each absolute import in ``path``, with its line."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_what_lies_beneath_it(package: str) -> None:
    crossings = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name, line in sorted(imported_packages(path))
        if name in FORBIDDEN[package]
    ]
    assert crossings == []
