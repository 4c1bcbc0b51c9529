"""``loket backup`` and ``loket restore``: an archive written while mail keeps arriving holds a
consistent snapshot (every message it holds comes with all its attachments, every file it
refers to is there and whole); mail filed after the snapshot is not in it at all. A restore
goes only into an empty data dir and database, and leaves the database at the newest schema."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload

from core import schema
from core.db import Database, create_engine
from core.models import Client, InboundMail, Message
from core.services import clients
from core.storage import LocalFileStore
from loket import backup as backups
from mailbridge.pipeline import Pipeline

from .cli_in_process import loket_with_dossier
from .conftest import PG_SCHEMA, SYSTEM, Firm, mail_settings, pg_url
from .mails import reply_mail

RESTORE_SCHEMA = "loket_restore"


def mail(n: int, content: bytes) -> bytes:
    return reply_mail(
        sender="Alice de Vries <alice@example.nl>",
        to="portaal@kantoor.example",
        subject=f"Re: [2026-0001] stukken {n}",
        text=f"Mail nummer {n}.",
        attachments=[
            (f"bijlage-{n}.pdf", "application/pdf", content),
            ("gedeeld.pdf", "application/pdf", b"%PDF dezelfde inhoud in elke mail"),
        ],
    )


@pytest.fixture
async def empty_target(db: Database, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database of the same kind as ``db``, to restore into."""
    if db.engine.dialect.name == "sqlite":
        target = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'loket.sqlite3'}")
        yield target
        await target.dispose()
        return
    admin = create_engine(pg_url())
    async with admin.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {RESTORE_SCHEMA} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {RESTORE_SCHEMA}"))
    target = Database.connect(
        pg_url(), connect_args={"server_settings": {"search_path": RESTORE_SCHEMA}}
    )
    yield target
    await target.dispose()
    async with admin.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA {RESTORE_SCHEMA} CASCADE"))
    await admin.dispose()
    assert PG_SCHEMA != RESTORE_SCHEMA


async def messages_with_attachments(db: Database) -> dict[int, list[tuple[str, str]]]:
    async with db.read() as s:
        found = await s.scalars(select(Message).options(selectinload(Message.attachments)))
        return {
            m.id: sorted((d.filename, d.storage_key) for d in m.attachments) for m in found.all()
        }


async def read_all(store: LocalFileStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.open(key)])


async def test_a_backup_while_mail_arrives_restores_a_whole_snapshot(
    db: Database,
    firm: Firm,
    store: LocalFileStore,
    empty_target: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline = Pipeline(db, store, mail_settings(tmp_path, mail_authserv_id="mx.kantoor.example"))
    for n in range(3):
        assert (await pipeline.handle(mail(n, f"%PDF eerst {n}".encode()))).outcome == "stored"
    before = await messages_with_attachments(db)

    # Filed after the snapshot was taken, while the archive is being written.
    late_content = b"%PDF na de momentopname"
    copy_objects = backups._copy_objects

    async def mail_meanwhile(*args):
        assert (await pipeline.handle(mail(99, late_content))).outcome == "stored"
        return await copy_objects(*args)

    monkeypatch.setattr(backups, "_copy_objects", mail_meanwhile)

    # And mail arriving the whole time, as the mail process does beside the backup.
    arriving = asyncio.Event()

    async def keep_arriving() -> None:
        n = 100
        while not arriving.is_set():
            await pipeline.handle(mail(n, f"%PDF tijdens {n}".encode()))
            n += 1
            await asyncio.sleep(0)

    feeder = asyncio.create_task(keep_arriving())
    archive = tmp_path / "loket-backup.zip"
    try:
        summary = await backups.backup(db, store, archive)
    finally:
        arriving.set()
        await feeder
    assert summary.objects >= 4 and not archive.with_name(archive.name + ".part").exists()

    restored_store = LocalFileStore(tmp_path / "restored" / "store", limit=1024 * 1024)
    result = await backups.restore(
        empty_target, restored_store, archive, data_dir=tmp_path / "restored", secret_key_file=None
    )
    assert result.objects == summary.objects

    after = await messages_with_attachments(empty_target)
    original = await messages_with_attachments(db)
    # Everything filed before the backup began is there, with all its attachments.
    assert {m: after[m] for m in before} == before
    for message_id, attachments in after.items():
        # Nothing half: each restored message has exactly the attachments it was filed with.
        assert attachments == original[message_id]
        assert len(attachments) == 2
        for _, key in attachments:
            assert hashlib.sha256(await read_all(restored_store, key)).hexdigest() == key
    async with empty_target.read() as s:
        raw_keys = list(await s.scalars(select(InboundMail.raw_storage_key)))
        assert "Mail nummer 99." not in set(await s.scalars(select(Message.body)))
    for key in raw_keys:
        assert await restored_store.exists(key)
    # The mail that came after the snapshot is not in it, nor is its file.
    late_key = hashlib.sha256(late_content).hexdigest()
    assert not await restored_store.exists(late_key)
    with zipfile.ZipFile(archive) as zf:
        assert f"objects/{late_key}" not in zf.namelist()

    current, head = await schema.revision(empty_target.engine)
    assert current == head
    # The restored database takes new records after the restored ones.
    async with empty_target.begin() as s:
        top = await s.scalar(select(func.max(Client.id)))
        new, _ = await clients.create_client(s, SYSTEM, name="Nieuw", email="nieuw@example.nl")
    assert new.id == top + 1


async def test_a_backup_refers_to_no_file_that_is_missing(
    db: Database, firm: Firm, store: LocalFileStore, tmp_path: Path
) -> None:
    pipeline = Pipeline(db, store, mail_settings(tmp_path, mail_authserv_id="mx.kantoor.example"))
    await pipeline.handle(mail(1, b"%PDF weg"))
    await store.delete(hashlib.sha256(b"%PDF weg").hexdigest())  # lost from the disk
    archive = tmp_path / "b.zip"
    with pytest.raises(backups.BackupError, match="missing"):
        await backups.backup(db, store, archive)
    assert list(tmp_path.glob("b.zip*")) == []


async def test_a_restore_refuses_a_data_dir_or_database_in_use(
    db: Database, firm: Firm, store: LocalFileStore, tmp_path: Path
) -> None:
    archive = tmp_path / "b.zip"
    await backups.backup(db, store, archive)
    used = tmp_path / "in-gebruik"
    used.mkdir()
    (used / "iets").write_text("x")
    with pytest.raises(backups.BackupError, match="not empty"):
        await backups.restore(db, store, archive, data_dir=used, secret_key_file=None)
    # The database itself holds a firm already.
    with pytest.raises(backups.BackupError, match="exists already|not empty"):
        await backups.restore(db, store, archive, data_dir=tmp_path / "leeg", secret_key_file=None)
    assert not (tmp_path / "leeg").exists() or not any((tmp_path / "leeg").iterdir())


def test_loket_backup_and_restore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main = loket_with_dossier(tmp_path, monkeypatch)
    (tmp_path / "brief.pdf").write_bytes(b"%PDF brief")
    brief = str(tmp_path / "brief.pdf")
    assert main(["document", "publish", "--dossier", "D1", "--file", brief]) == 0
    capsys.readouterr()
    archive = tmp_path / "loket.zip"
    assert main(["backup", str(archive), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert (written["database"], written["objects"], written["secret_key"]) == ("sqlite", 1, True)
    assert main(["backup", str(archive)]) == 1  # never over an archive
    assert "exists already" in capsys.readouterr().err

    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path / "data"))
    assert main(["restore", str(archive)]) == 1
    assert "is not empty" in capsys.readouterr().err

    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path / "elders"))
    assert main(["restore", str(archive)]) == 0
    assert "Restored the sqlite database" in capsys.readouterr().out
    key = (tmp_path / "data" / "secret_key").read_text()
    assert (tmp_path / "elders" / "secret_key").read_text() == key
    assert os.stat(tmp_path / "elders" / "secret_key").st_mode & 0o077 == 0
    assert main(["dossier", "show", "D1", "--json"]) == 0
    [document] = json.loads(capsys.readouterr().out)["documents"]
    assert document["sha256"] == hashlib.sha256(b"%PDF brief").hexdigest()

    (tmp_path / "niets.zip").write_bytes(b"geen zip")
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path / "nog-een"))
    assert main(["restore", str(tmp_path / "niets.zip")]) == 1
    assert "not a Loket backup" in capsys.readouterr().err
