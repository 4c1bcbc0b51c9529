"""Checking a local file named on the command line before any work starts."""

from __future__ import annotations

from pathlib import Path

from core.errors import ValidationError


def readable_file(path: Path) -> Path:
    """``path`` if it is a readable regular file, else a clear error before anything starts."""
    if not path.exists():
        raise ValidationError("The file %(path)s does not exist.", field="file", path=str(path))
    if not path.is_file():
        raise ValidationError("%(path)s is not a regular file.", field="file", path=str(path))
    try:
        path.open("rb").close()
    except OSError as exc:
        raise ValidationError(
            "Cannot read %(path)s: %(reason)s.", field="file", path=str(path), reason=exc.strerror
        ) from None
    return path
