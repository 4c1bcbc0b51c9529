"""Temporary files of a mail process killed in the middle of a large mail (the mail fetched into
a file, its attachments decoded into files) are removed when the mail process starts again;
files of a mail being handled right now, and anything else in the temporary folder, stay."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from core.db import Database
from core.storage import LocalFileStore
from loket.runtime import Runtime
from loket.serve import mail_sources
from mailbridge import spool

from .conftest import mail_settings

DAY = 24 * 3600


def left(folder: Path, name: str, *, age: float, size: int = 10) -> Path:
    path = folder / name
    path.write_bytes(b"x" * size)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_only_old_spool_files_go(temp_folder: Path) -> None:
    old_mail = left(temp_folder, "loket-mail-abc.eml", age=DAY, size=4000)
    old_part = left(temp_folder, "loket-part-def.bin", age=DAY, size=300)
    in_use = left(temp_folder, "loket-part-ghi.bin", age=60)
    not_ours = left(temp_folder, "report-2026.pdf", age=DAY)
    (temp_folder / "loket-mail-folder").mkdir()
    os.symlink(not_ours, temp_folder / "loket-part-link.bin")

    assert spool.sweep() == (2, 4300)
    assert not old_mail.exists() and not old_part.exists()
    assert in_use.exists() and not_ours.exists()
    assert (temp_folder / "loket-mail-folder").is_dir()
    assert (temp_folder / "loket-part-link.bin").is_symlink()


async def test_the_mail_process_sweeps_when_it_starts(
    db: Database, store: LocalFileStore, tmp_path: Path, temp_folder: Path
) -> None:
    old = left(temp_folder, "loket-mail-killed.eml", age=DAY)
    fresh = left(temp_folder, "loket-mail-busy.eml", age=5)
    stop = asyncio.Event()
    running = asyncio.create_task(
        mail_sources(Runtime(settings=mail_settings(tmp_path), db=db, store=store), stop)
    )
    for _ in range(200):
        if not old.exists():
            break
        await asyncio.sleep(0.01)
    stop.set()
    await running
    assert not old.exists() and fresh.exists()
