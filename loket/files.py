"""Checking a local file named on the command line before any work starts."""

from __future__ import annotations

from pathlib import Path

from core.errors import ValidationError


def readable_file(path: Path) -> Path:
    """``path`` if it is a readable regular file, else a clear error before anything starts."""
    if not path.exists():
        raise ValidationError(f"The file {path} does not exist.", field="file")
    if not path.is_file():
        raise ValidationError(f"{path} is not a regular file.", field="file")
    try:
        path.open("rb").close()
    except OSError as exc:
        raise ValidationError(f"Cannot read {path}: {exc.strerror}.", field="file") from None
    return path
