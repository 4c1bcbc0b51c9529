"""A real S3 protocol server for the tests: moto in server mode, on a free port, one per test
process; each test gets its own bucket. ``Bucket`` looks at what the store left there, the
way the local store's tests look at its folders."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from core.storage_s3 import S3FileStore

REGION = "eu-west-1"
KEYS = {"aws_access_key_id": "loket-test", "aws_secret_access_key": "loket-test-secret"}


@dataclass
class S3Server:
    endpoint: str

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, **KEYS)

    def new_bucket(self) -> str:
        name = f"loket-{secrets.token_hex(6)}"
        self.client().create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return name

    def store(self, bucket: str, prefix: str = "loket/", *, limit: int) -> S3FileStore:
        return S3FileStore(
            bucket,
            prefix,
            limit=limit,
            endpoint_url=self.endpoint,
            region=REGION,
            access_key=KEYS["aws_access_key_id"],
            secret_key=KEYS["aws_secret_access_key"],
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()


def bucket_contents(server: S3Server, bucket: str) -> dict[str, bytes]:
    """Every object in the bucket, by name, with its bytes as stored."""
    s3 = server.client()
    names = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", ())]
    return {name: s3.get_object(Bucket=bucket, Key=name)["Body"].read() for name in names}


def unfinished_uploads(server: S3Server, bucket: str) -> list[str]:
    uploads = server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", ())
    return [u["Key"] for u in uploads]
