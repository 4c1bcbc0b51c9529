"""Loket on an S3 store: a client's upload through the web lands in the bucket and comes
back on download; ``LOKET_STORE_URL`` chooses the store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import Database
from core.models import Document
from core.storage import LocalFileStore
from core.storage_s3 import S3FileStore
from loket.config import ConfigError, load_settings
from loket.runtime import build_store

from .conftest import PASSWORD, Firm, set_password
from .s3server import S3Server, bucket_contents
from .webclient import Browser


@pytest.fixture
async def store(s3_server: S3Server):
    """The S3 store in place of the local one, for the browser fixture too."""
    s3 = s3_server.store(s3_server.new_bucket(), limit=1024 * 1024)
    yield s3
    await s3.close()


async def test_an_upload_through_the_web_is_kept_in_the_bucket(
    browser: Browser, db: Database, firm: Firm, store: S3FileStore, s3_server: S3Server
) -> None:
    scan = b"%PDF-1.4 loonstrook " + bytes(range(256)) * 300
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    response = await browser.post_multipart(
        "/dossiers/2026-0001/messages",
        [("subject", "Loonstrook"), ("body", "Hierbij.")],
        [("files", "jan.pdf", scan, "application/pdf")],
    )
    assert response.status == 200 and "Uw bericht is verstuurd." in browser.last_html
    async with db.read() as s:
        document = await s.scalar(select(Document))
    key = hashlib.sha256(scan).hexdigest()
    assert document.storage_key == key
    assert bucket_contents(s3_server, store.bucket) == {f"loket/objects/{key}": scan}

    download = await browser.get(f"/documents/{document.id}/download")
    assert download.status == 200 and await download.read() == scan


def test_the_store_url_chooses_the_store(tmp_path: Path) -> None:
    local = build_store(load_settings({"LOKET_DATA_DIR": str(tmp_path)}))
    assert isinstance(local, LocalFileStore) and local.root == tmp_path / "store"
    settings = load_settings(
        {
            "LOKET_STORE_URL": "s3://documenten/kantoor/loket/",
            "LOKET_STORE_ENDPOINT": "http://127.0.0.1:9000",
            "LOKET_STORE_ACCESS_KEY": "sleutel",
            "LOKET_STORE_SECRET_KEY": "geheim",
        }
    )
    s3 = build_store(settings)
    assert isinstance(s3, S3FileStore)
    assert (s3.bucket, s3.prefix) == ("documenten", "kantoor/loket/")
    assert "geheim" not in repr(settings)
    with pytest.raises(ConfigError, match="LOKET_STORE_URL must be empty .* or s3://"):
        load_settings({"LOKET_STORE_URL": "/srv/loket/store"})


async def test_healthz_reports_the_bucket(s3_server: S3Server, store: S3FileStore) -> None:
    await store.check()  # the bucket is there: no error
    gone = s3_server.store("no-such-bucket", limit=1024)
    try:
        with pytest.raises(Exception, match="404|Not Found|NoSuchBucket"):
            await gone.check()
    finally:
        await gone.close()
