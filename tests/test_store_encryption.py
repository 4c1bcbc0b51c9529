"""Documents encrypted at rest (LOKET_STORE_KEY), in the local store and in the bucket alike:
what is kept is not the plaintext, what is read back is; a changed object fails to open
instead of serving garbage; `loket store rotate-key` moves every object to a new key."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from core.storage import FileStore, LocalFileStore, aiter_bytes
from core.store_cipher import SEGMENT, DamagedFile, StoreCipher, new_key_text

from .cli_in_process import loket_with_dossier
from .s3server import S3Server

OLD, NEW = new_key_text(), new_key_text()
SCAN = b"%PDF-1.4 paspoort " + os.urandom(3 * SEGMENT + 77)  # several segments


class Where:
    """One place objects are kept, opened as a store with whichever keys a test gives."""

    def __init__(self, kind: str, tmp_path: Path, server: S3Server | None) -> None:
        self.kind, self.tmp_path, self.server = kind, tmp_path, server
        self.bucket = server.new_bucket() if server else ""
        self.opened: list[FileStore] = []

    def store(self, key: str | None = None, previous: str | None = None) -> FileStore:
        cipher = StoreCipher.from_settings(key, previous)
        if self.server is None:
            store: FileStore = LocalFileStore(
                self.tmp_path / "store", limit=10 * SEGMENT, cipher=cipher
            )
        else:
            store = self.server.store(self.bucket, limit=10 * SEGMENT)
            store.cipher = cipher
        self.opened.append(store)
        return store

    def stored_bytes(self, key: str) -> bytes:
        if self.server is None:
            return (self.tmp_path / "store" / "objects" / key[:2] / key[2:4] / key).read_bytes()
        s3 = self.server.client()
        return s3.get_object(Bucket=self.bucket, Key=f"loket/objects/{key}")["Body"].read()

    def change(self, key: str, data: bytes) -> None:
        if self.server is None:
            (self.tmp_path / "store" / "objects" / key[:2] / key[2:4] / key).write_bytes(data)
        else:
            s3 = self.server.client()
            s3.put_object(Bucket=self.bucket, Key=f"loket/objects/{key}", Body=data)


@pytest.fixture(params=["local", "s3"])
async def where(request: pytest.FixtureRequest, tmp_path: Path):
    server = request.getfixturevalue("s3_server") if request.param == "s3" else None
    place = Where(request.param, tmp_path, server)
    yield place
    for store in place.opened:
        await store.close()


async def read_all(store: FileStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.open(key)])


async def test_kept_encrypted_read_back_plain(where: Where) -> None:
    store = where.store(NEW)
    streamed = await store.put(aiter_bytes(SCAN, chunk_size=10_000))
    small = await store.put_bytes(b"BSN 123456782")
    for stored, plain in ((streamed, SCAN), (small, b"BSN 123456782")):
        at_rest = where.stored_bytes(stored.key)
        assert plain[:16] not in at_rest and at_rest.startswith(b"LOKETENC")
        assert await read_all(store, stored.key) == plain
    # Still one object per content: the name is the plaintext's hash.
    again = await store.put(aiter_bytes(SCAN))
    assert again.key == streamed.key and again.created is None
    chunks = [c async for c in store.open(streamed.key, chunk_size=1000)]
    assert max(map(len, chunks)) == 1000 and b"".join(chunks) == SCAN


@pytest.mark.parametrize("where_in", ["first segment", "last segment", "cut off", "header"])
async def test_a_changed_object_does_not_open(where: Where, where_in: str) -> None:
    store = where.store(NEW)
    stored = await store.put(aiter_bytes(SCAN))
    data = bytearray(where.stored_bytes(stored.key))
    if where_in == "first segment":
        data[40] ^= 1
    elif where_in == "last segment":
        data[-5] ^= 1
    elif where_in == "cut off":
        del data[-(len(SCAN) % SEGMENT + 16) :]  # the whole last segment: the rest is intact
    else:
        data[30] ^= 1  # the salt
    where.change(stored.key, bytes(data))
    received = bytearray()
    with pytest.raises(DamagedFile) as info:
        async for chunk in store.open(stored.key):
            received += chunk
    assert "damaged or was changed" in info.value.message
    assert SCAN.startswith(bytes(received))  # what came before the failure was checked


async def test_plain_objects_stay_readable_and_rotation_moves_all_keys(where: Where) -> None:
    before = where.store()  # no key yet: as Loket stored files until now
    plain = await before.put_bytes(b"oude aangifte")
    assert where.stored_bytes(plain.key) == b"oude aangifte"

    with_old = where.store(OLD)
    assert await read_all(with_old, plain.key) == b"oude aangifte"
    sealed = await with_old.put(aiter_bytes(SCAN))

    rotating = where.store(NEW, previous=OLD)
    assert await rotating.reseal(plain.key) and await rotating.reseal(sealed.key)
    assert not await rotating.reseal(sealed.key)  # done already: a rerun skips it

    only_new = where.store(NEW)
    assert await read_all(only_new, plain.key) == b"oude aangifte"
    assert await read_all(only_new, sealed.key) == SCAN
    assert b"oude aangifte" not in where.stored_bytes(plain.key)
    with pytest.raises(DamagedFile, match="key that is not configured"):
        await read_all(where.store(OLD), sealed.key)
    assert [o.key for o in await only_new.objects(older_than=2e9)] != []


def test_loket_store_rotate_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main = loket_with_dossier(tmp_path, monkeypatch)
    (tmp_path / "akte.pdf").write_bytes(b"%PDF akte van levering")
    assert (
        main(["document", "publish", "--dossier", "D1", "--file", str(tmp_path / "akte.pdf")]) == 0
    )
    [path] = [p for p in (tmp_path / "data" / "store" / "objects").rglob("*") if p.is_file()]
    assert path.read_bytes() == b"%PDF akte van levering"
    monkeypatch.setenv("LOKET_STORE_KEY", OLD)
    capsys.readouterr()
    assert main(["store", "rotate-key", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["resealed"] == 1
    at_old = path.read_bytes()
    assert b"akte" not in at_old

    monkeypatch.setenv("LOKET_STORE_KEY", NEW)
    monkeypatch.setenv("LOKET_STORE_KEY_PREVIOUS", OLD)
    assert main(["store", "rotate-key", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["resealed"], out["unchanged"], out["damaged"]) == (1, 0, [])
    assert main(["store", "rotate-key", "--json"]) == 0  # resumed or rerun: nothing to do
    assert json.loads(capsys.readouterr().out)["unchanged"] == 1
    at_new = path.read_bytes()
    assert at_new != at_old

    # A file no configured key opens (cut off, or sealed under a third key) is left as it is,
    # named, and the run fails: dropping the previous key now could lose more.
    path.write_bytes(path.read_bytes()[:-5])
    monkeypatch.setenv("LOKET_STORE_KEY", OLD)
    monkeypatch.setenv("LOKET_STORE_KEY_PREVIOUS", NEW)
    assert main(["store", "rotate-key", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["damaged"] == [path.name]
    assert "1 stored file(s) could not be opened" in captured.err
    path.write_bytes(at_new)

    monkeypatch.setenv("LOKET_STORE_KEY", NEW)
    monkeypatch.delenv("LOKET_STORE_KEY_PREVIOUS")
    store = LocalFileStore(
        tmp_path / "data" / "store", limit=1000, cipher=StoreCipher.from_settings(NEW, None)
    )
    assert asyncio.run(read_all(store, path.name)) == b"%PDF akte van levering"


def test_a_bad_store_key_is_refused() -> None:
    from loket.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="LOKET_STORE_KEY must be 32 random bytes in base64"):
        load_settings({"LOKET_STORE_KEY": "geheim"})
    assert NEW not in repr(load_settings({"LOKET_STORE_KEY": NEW}))
