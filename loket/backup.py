"""``loket backup`` and ``loket restore``: the database and the documents in one zip archive.

Consistency while Loket runs: the database is snapshotted first, and the archive then takes
exactly the stored objects that snapshot refers to (documents and kept mail originals). A mail
filed after the snapshot is simply not in it, whole: its rows are not in the snapshot, and its
objects are not taken. Objects are content-addressed and never change, so copying them after
the snapshot is safe; an object the snapshot refers to that is gone by then (a retention run
between the two) fails the backup rather than leave a hole in it.

- SQLite: SQLite's online backup API, in a worker thread (a copy of a live file in WAL mode
  could be torn). The archive holds the database file itself.
- PostgreSQL: a logical export, one JSON-lines file per table, read in one REPEATABLE READ,
  read-only transaction (one snapshot for all tables). Not pg_dump: that needs a client of the
  server's major version on the machine that runs the backup, and its output needs pg_restore;
  this export restores through Loket itself, into any PostgreSQL Loket runs on, all in one
  transaction.

The archive: ``loket-backup.json`` (what it holds), ``database.sqlite3`` or ``database/*.jsonl``,
``objects/<sha256>`` and, when the secret key lives in the data dir, ``secret_key`` (without
it, restored two-step secrets could not be opened). It is written under a temporary name and
renamed when complete, so a failed backup leaves no archive.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from alembic import command
from sqlalchemy import Date, DateTime, Float, MetaData, Table, insert, inspect, null, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import JSON

from core import schema
from core.db import Database
from core.errors import NotFound
from core.models import Base
from core.storage import CHUNK, FileStore

MANIFEST = "loket-backup.json"
FORMAT = 1
SQLITE_MEMBER = "database.sqlite3"
SECRET_MEMBER = "secret_key"
ROWS_PER_BATCH = 500


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


@dataclass
class BackupSummary:
    path: Path
    database: str
    revision: str
    objects: int
    object_bytes: int
    rows: int | None  # PostgreSQL: the rows exported; SQLite: the database file is whole
    secret_key: bool


# -- writing ------------------------------------------------------------------------------------


class ZipWriter:
    """The zip being written. Blocking: each method runs in a worker thread."""

    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path, "w", allowZip64=True)

    def open(self, name: str, *, compress: bool) -> IO[bytes]:
        info = zipfile.ZipInfo(name, date_time=dt.datetime.now().timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        return self.zip.open(info, "w", force_zip64=True)

    def add_file(self, name: str, path: Path) -> None:
        self.zip.write(path, name, compress_type=zipfile.ZIP_DEFLATED)

    def add_bytes(self, name: str, data: bytes) -> None:
        self.zip.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)

    def close(self) -> None:
        self.zip.close()


def _kind(column: Any) -> str:
    """How a column's values are written as JSON, so the restore reads them back alike."""
    kind = column.type
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        return "datetime"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, Float):
        return "float"
    return "plain"


def _encode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind in ("datetime", "date"):
        return value.isoformat()
    return value


def _decode(value: Any, kind: str) -> Any:
    if value is None:
        return null() if kind == "json" else None
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    return value


def _sqlite_snapshot(source: str, target: Path) -> tuple[str, list[str]]:
    """Copy the live database with SQLite's backup API; its revision and the stored objects
    it refers to, read from the copy."""
    src = sqlite3.connect(source, timeout=30)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # all pages in one step: one consistent read of the source
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            revision = dst.execute("SELECT version_num FROM alembic_version").fetchone()[0]
            keys = [
                row[0]
                for row in dst.execute(
                    "SELECT storage_key FROM documents UNION "
                    "SELECT raw_storage_key FROM inbound_mails WHERE raw_storage_key IS NOT NULL"
                )
            ]
        finally:
            dst.close()
    finally:
        src.close()
    return revision, keys


async def _export_postgresql(
    db: Database, archive: ZipWriter, tables: dict[str, Any]
) -> tuple[str, list[str], int]:
    """Every table, read in one snapshot, as ``database/<table>.jsonl``."""
    total = 0
    keys: list[str] = []
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        async with conn.begin():
            revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            for table in Base.metadata.sorted_tables:
                kinds = {c.name: _kind(c) for c in table.columns}
                member = await asyncio.to_thread(
                    archive.open, f"database/{table.name}.jsonl", compress=True
                )
                count = 0
                try:
                    result = await conn.stream(select(table).order_by(*table.primary_key.columns))
                    async for rows in result.partitions(ROWS_PER_BATCH):
                        lines = "".join(
                            json.dumps(
                                {k: _encode(v, kinds[k]) for k, v in row._mapping.items()},
                                ensure_ascii=False,
                            )
                            + "\n"
                            for row in rows
                        )
                        await asyncio.to_thread(member.write, lines.encode())
                        count += len(rows)
                finally:
                    await asyncio.to_thread(member.close)
                tables[table.name] = {"rows": count, "columns": kinds}
                total += count
            documents = Base.metadata.tables["documents"].c.storage_key
            mails = Base.metadata.tables["inbound_mails"].c.raw_storage_key
            keys = list(
                await conn.scalars(select(documents).union(select(mails).where(mails.is_not(None))))
            )
    return revision, keys, total


async def _copy_object(store: FileStore, archive: ZipWriter, key: str) -> int:
    """One object into the archive, checked against its name (its sha256) as it goes."""
    digest = hashlib.sha256()
    size = 0
    member = await asyncio.to_thread(archive.open, f"objects/{key}", compress=False)
    try:
        async for chunk in store.open(key):
            digest.update(chunk)
            size += len(chunk)
            await asyncio.to_thread(member.write, chunk)
    finally:
        await asyncio.to_thread(member.close)
    if digest.hexdigest() != key:
        raise BackupError(f"the stored file {key} is damaged (its content does not match)")
    return size


async def _copy_objects(store: FileStore, archive: ZipWriter, keys: list[str]) -> tuple[int, int]:
    total = 0
    for key in sorted(set(keys)):
        try:
            total += await _copy_object(store, archive, key)
        except NotFound:
            raise BackupError(
                f"the stored file {key} that the database refers to is missing (removed while "
                "the backup ran, or lost): run the backup again, and `loket store sweep` is "
                "not the cause: it never removes what a record refers to"
            ) from None
    return len(set(keys)), total


async def backup(
    db: Database, store: FileStore, target: Path, *, secret_key_file: Path | None = None
) -> BackupSummary:
    """Write the archive to ``target`` (which must not exist yet)."""
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} exists already; give a new file name")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    backend = db.engine.dialect.name
    partial = target.with_name(target.name + ".part")
    archive = await asyncio.to_thread(ZipWriter, partial)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": backend,
    }
    try:
        rows = None
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(dir=target.parent) as work:
                copy = Path(work) / SQLITE_MEMBER
                source = make_url(db.engine.url).database
                revision, keys = await asyncio.to_thread(_sqlite_snapshot, source, copy)
                await asyncio.to_thread(archive.add_file, SQLITE_MEMBER, copy)
        else:
            tables: dict[str, Any] = {}
            revision, keys, rows = await _export_postgresql(db, archive, tables)
            manifest["tables"] = tables
        count, size = await _copy_objects(store, archive, keys)
        has_key = secret_key_file is not None and await asyncio.to_thread(secret_key_file.is_file)
        if has_key:
            await asyncio.to_thread(archive.add_file, SECRET_MEMBER, secret_key_file)
        manifest |= {"revision": revision, "objects": count, "object_bytes": size}
        manifest["secret_key"] = has_key
        await asyncio.to_thread(
            archive.add_bytes, MANIFEST, json.dumps(manifest, indent=2).encode()
        )
        await asyncio.to_thread(archive.close)
        await asyncio.to_thread(_publish, partial, target)
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(archive.close)
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return BackupSummary(target, backend, revision, count, size, rows, has_key)


def _publish(partial: Path, target: Path) -> None:
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    os.link(partial, target)  # never over a file that appeared meanwhile
    partial.unlink()


# -- restoring ----------------------------------------------------------------------------------


@dataclass
class RestoreSummary:
    database: str
    revision: str  # the archive's; the database is at the newest schema afterwards
    objects: int
    rows: int | None
    secret_key: bool


def _read_manifest(source: Path) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    try:
        archive = zipfile.ZipFile(source)
    except FileNotFoundError:
        raise BackupError(f"there is no file {source}") from None
    except zipfile.BadZipFile:
        raise BackupError(f"{source} is not a Loket backup (not a zip archive)") from None
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError):
        archive.close()
        raise BackupError(f"{source} is not a Loket backup (it has no {MANIFEST})") from None
    if manifest.get("format") != FORMAT:
        archive.close()
        raise BackupError(f"{source} has backup format {manifest.get('format')}, not {FORMAT}")
    return archive, manifest


async def _member_chunks(archive: zipfile.ZipFile, name: str) -> AsyncIterator[bytes]:
    fh = await asyncio.to_thread(archive.open, name)
    try:
        while chunk := await asyncio.to_thread(fh.read, CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(fh.close)


def _is_empty(folder: Path) -> bool:
    return not folder.exists() or (folder.is_dir() and not any(folder.iterdir()))


async def _database_is_empty(db: Database) -> bool:
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    return not names


def _extract(archive: zipfile.ZipFile, name: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    # Readable by the owner only from the start: the database and the key are private.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with archive.open(name) as src, os.fdopen(fd, "wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(partial, target)


async def _load_postgresql(
    conn: AsyncConnection, archive: zipfile.ZipFile, manifest: dict[str, Any]
) -> int:
    """Rows of every table, at the archive's schema, into the connection's transaction."""
    revision = manifest["revision"]
    await conn.run_sync(lambda c: command.upgrade(schema.alembic_config(c), revision))
    metadata = MetaData()
    await conn.run_sync(lambda c: metadata.reflect(c))
    total = 0
    # Parents before children: the export wrote them in that order, and the manifest keeps it.
    for name, described in manifest["tables"].items():
        table: Table = metadata.tables[name]
        kinds = described["columns"]
        fh = await asyncio.to_thread(archive.open, f"database/{name}.jsonl")
        try:
            while True:
                lines = await asyncio.to_thread(_read_lines, fh, ROWS_PER_BATCH)
                if not lines:
                    break
                rows = [
                    {k: _decode(v, kinds[k]) for k, v in json.loads(line).items()} for line in lines
                ]
                await conn.execute(insert(table), rows)
                total += len(rows)
        finally:
            await asyncio.to_thread(fh.close)
        if "id" in table.c:
            # The ids were given: move the table's sequence (if it has one) past them.
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"COALESCE((SELECT max(id) FROM {name}), 0) + 1, false)"
                )
            )
    return total


def _read_lines(fh: IO[bytes], count: int) -> list[bytes]:
    lines = []
    for _ in range(count):
        line = fh.readline()
        if not line:
            break
        lines.append(line)
    return lines


async def restore(
    db: Database,
    store: FileStore,
    source: Path,
    *,
    data_dir: Path,
    secret_key_file: Path | None,
) -> RestoreSummary:
    """Bring the archive into an empty data dir and an empty database; afterwards the database
    is at the newest schema. On failure what was restored is removed again."""
    data_dir = Path(data_dir)
    if not await asyncio.to_thread(_is_empty, data_dir):
        raise BackupError(
            f"the data dir {data_dir} is not empty: restore only into an empty (or new) data "
            "dir, so that nothing there is overwritten or mixed with the backup"
        )
    archive, manifest = await asyncio.to_thread(_read_manifest, Path(source))
    backend = db.engine.dialect.name
    try:
        if manifest["database"] != backend:
            raise BackupError(
                f"the backup holds a {manifest['database']} database, but LOKET_DATABASE_URL "
                f"names a {backend} one: restore into the same kind of database"
            )
        sqlite_file = Path(make_url(db.engine.url).database or "") if backend == "sqlite" else None
        if sqlite_file is not None:
            if sqlite_file.exists() and sqlite_file.stat().st_size:
                raise BackupError(f"the database file {sqlite_file} exists already")
        elif not await _database_is_empty(db):
            raise BackupError(
                "the database LOKET_DATABASE_URL names is not empty: restore into an empty one"
            )
        try:
            summary = await _restore(db, store, archive, manifest, data_dir, sqlite_file)
        except BaseException:
            await asyncio.to_thread(_empty, data_dir, sqlite_file)
            raise
        if manifest.get("secret_key") and secret_key_file is not None:
            await asyncio.to_thread(_extract, archive, SECRET_MEMBER, secret_key_file)
            summary.secret_key = True
        return summary
    finally:
        await asyncio.to_thread(archive.close)


async def _restore(
    db: Database,
    store: FileStore,
    archive: zipfile.ZipFile,
    manifest: dict[str, Any],
    data_dir: Path,
    sqlite_file: Path | None,
) -> RestoreSummary:
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    names = [n for n in archive.namelist() if n.startswith("objects/")]
    for name in names:
        key = name.removeprefix("objects/")
        stored = await store.put(_member_chunks(archive, name), limit=2**63)
        if stored.key != key:
            raise BackupError(f"the archive's copy of {key} is damaged")
    rows = None
    if sqlite_file is not None:
        await asyncio.to_thread(_extract, archive, SQLITE_MEMBER, sqlite_file)
    else:
        async with db.engine.connect() as conn, conn.begin():
            rows = await _load_postgresql(conn, archive, manifest)
            # Brought to the newest schema in the same transaction: all or nothing.
            await conn.run_sync(lambda c: command.upgrade(schema.alembic_config(c), "head"))
    await schema.upgrade(db.engine)
    return RestoreSummary(manifest["database"], manifest["revision"], len(names), rows, False)


def _empty(data_dir: Path, sqlite_file: Path | None) -> None:
    """Back to the empty data dir the restore started from."""
    for path in data_dir.iterdir() if data_dir.is_dir() else ():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if sqlite_file is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
