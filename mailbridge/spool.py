"""The bridge's temporary files: a large mail fetched into a file (mailbridge.imap) and a large
attachment decoded into one (mailbridge.parse). Each is removed once its mail is handled; a
process killed in the middle of a mail leaves its files behind, which the next start sweeps."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from pathlib import Path

MAIL_PREFIX = "loket-mail-"
PART_PREFIX = "loket-part-"
# Far longer than any mail takes to handle: a file this old belongs to no running process
# (another bridge on the same machine may be in the middle of a mail right now).
LEFT_BEHIND_SECONDS = 6 * 3600


def sweep(older_than: float = LEFT_BEHIND_SECONDS) -> tuple[int, int]:
    """Remove spool files last written more than ``older_than`` seconds ago from the
    temporary folder: how many, and their bytes. Blocking: run it in a thread."""
    folder = Path(tempfile.gettempdir())
    cutoff = time.time() - older_than
    removed = size = 0
    for path in folder.iterdir():
        if not path.name.startswith((MAIL_PREFIX, PART_PREFIX)):
            continue
        with contextlib.suppress(FileNotFoundError):
            found = path.lstat()
            if not stat.S_ISREG(found.st_mode) or found.st_mtime > cutoff:
                continue
            os.unlink(path)
            removed, size = removed + 1, size + found.st_size
    return removed, size
