"""``loket store sweep``: objects that no record refers to and that are older than the grace
period go, with unfinished writes of that age; what a document or a kept mail uses stays, and
so does anything younger (an upload on its way)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from core import storekeeping
from core.db import Database
from core.models import InboundMail
from core.services import documents
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes

from .cli_in_process import loket_with_dossier
from .conftest import SYSTEM, Firm

DAY = 24 * 3600


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_the_sweep_removes_old_orphans_only(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        document = await documents.publish_document(
            s, store, SYSTEM, number="2026-0001", upload=Upload("a.pdf", aiter_bytes(b"in gebruik"))
        )
        raw = await store.put_bytes(b"From: alice@example.nl\r\n\r\nde mail zelf")
        s.add(
            InboundMail(
                mailbox="INBOX", sha256=raw.sha256, outcome="stored", raw_storage_key=raw.key
            )
        )
    old_orphan = await store.put_bytes(b"niemand " * 100)
    fresh_orphan = await store.put_bytes(b"nog onderweg")
    for key in (document.storage_key, raw.key, old_orphan.key):
        age(store.path_for(key), 2 * DAY)
    (store.root / "tmp").mkdir(exist_ok=True)
    stale_write = store.root / "tmp" / "afgebroken.part"
    stale_write.write_bytes(b"x" * 10)
    age(stale_write, 2 * DAY)
    fresh_write = store.root / "tmp" / "bezig.part"
    fresh_write.write_bytes(b"y")

    result = await storekeeping.sweep(db, store, grace=dt.timedelta(hours=24))

    assert (result.objects, result.object_bytes) == (1, len(b"niemand " * 100))
    assert (result.temporary, result.temporary_bytes, result.kept) == (1, 10, 2)
    assert not await store.exists(old_orphan.key)
    for kept in (document.storage_key, raw.key, fresh_orphan.key):
        assert await store.exists(kept)
    assert not stale_write.exists() and fresh_write.exists()


async def test_an_old_orphan_that_an_upload_just_shared_stays(
    db: Database, store: LocalFileStore
) -> None:
    orphan = await store.put_bytes(b"gedeeld")
    age(store.path_for(orphan.key), 2 * DAY)
    # The same bytes again: an upload whose document is not saved yet.
    await store.put(aiter_bytes(b"gedeeld"))
    result = await storekeeping.sweep(db, store, grace=dt.timedelta(hours=24))
    assert result.objects == 0 and await store.exists(orphan.key)


async def test_an_old_orphan_shared_while_the_sweep_runs_stays(
    db: Database, store: LocalFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    orphan = await store.put_bytes(b"gedeeld")
    age(store.path_for(orphan.key), 2 * DAY)
    listed = store.objects

    async def upload_arrives(**kw):
        found = await listed(**kw)
        await store.put(aiter_bytes(b"gedeeld"))  # after the sweep looked
        return found

    monkeypatch.setattr(store, "objects", upload_arrives)
    result = await storekeeping.sweep(db, store, grace=dt.timedelta(hours=24))
    assert result.objects == 0 and await store.exists(orphan.key)


def test_loket_store_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main = loket_with_dossier(tmp_path, monkeypatch)
    (tmp_path / "brief.pdf").write_bytes(b"%PDF brief")
    assert (
        main(["document", "publish", "--dossier", "D1", "--file", str(tmp_path / "brief.pdf")]) == 0
    )
    objects = tmp_path / "data" / "store" / "objects"
    [published] = [p for p in objects.rglob("*") if p.is_file()]
    key = hashlib.sha256(b"weg ermee").hexdigest()
    orphan = objects / key[:2] / key[2:4] / key  # as a crash mid-request leaves one
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"weg ermee")
    age(orphan, 3 * 3600)
    age(published, 3 * 3600)
    capsys.readouterr()

    assert main(["store", "sweep", "--json"]) == 0  # the default grace is a day
    assert json.loads(capsys.readouterr().out)["removed"] == 0 and orphan.exists()
    assert main(["store", "sweep", "--grace-hours", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "id": "store",
        "grace_hours": 2,
        "removed": 1,
        "removed_bytes": 9,
        "temporary_removed": 0,
        "temporary_bytes": 0,
        "kept": 1,
    }
    assert not orphan.exists() and published.exists()
    assert main(["store", "sweep"]) == 0
    assert capsys.readouterr().out.startswith("Removed 0 stored file(s)")
    with pytest.raises(SystemExit):
        main(["store", "sweep", "--grace-hours", "0"])
