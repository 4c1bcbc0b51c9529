"""Behind a reverse proxy, login throttling counts each client under its own address: the
one the trusted proxy wrote into X-Forwarded-For; from anyone else the header means nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from core.db import Database
from core.storage import LocalFileStore
from web.peer import client_address

from .conftest import PASSWORD, Firm, set_password
from .test_observability import served
from .webclient import Browser

PROXY = "10.0.0.5"


class Transport:
    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default=None):
        return (self.peer, 40000) if name == "peername" else default


def address(peer: str, forwarded: str | None, trusted: str | None = f"{PROXY},10.0.1.0/24"):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    request = make_mocked_request("POST", "/login", headers=headers, transport=Transport(peer))
    return client_address(request, trusted)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "counted"),
    [
        (PROXY, "203.0.113.9", f"{PROXY},10.0.1.0/24", "203.0.113.9"),
        # What the client wrote itself stands left of what our proxy appended.
        (PROXY, "1.1.1.1, 203.0.113.9", f"{PROXY},10.0.1.0/24", "203.0.113.9"),
        # A second proxy of ours (in a trusted network) in between.
        (PROXY, "203.0.113.9, 10.0.1.7", f"{PROXY},10.0.1.0/24", "203.0.113.9"),
        (PROXY, "2001:db8::1", f"{PROXY},10.0.1.0/24", "2001:db8::1"),
        # Not from a trusted proxy: the header is the client's own words.
        ("198.51.100.4", "203.0.113.9", f"{PROXY},10.0.1.0/24", "198.51.100.4"),
        # No proxies trusted (the default): the peer.
        (PROXY, "203.0.113.9", None, PROXY),
        # Nothing usable forwarded: the proxy's own address.
        (PROXY, None, f"{PROXY},10.0.1.0/24", PROXY),
        (PROXY, "203.0.113.9, not-an-address", f"{PROXY},10.0.1.0/24", PROXY),
    ],
)
def test_the_address_a_login_is_counted_under(peer, forwarded, trusted, counted) -> None:
    assert address(peer, forwarded, trusted) == counted


async def test_clients_behind_the_proxy_are_throttled_each_on_their_own(
    aiohttp_client, db: Database, firm: Firm, store: LocalFileStore, tmp_path: Path
) -> None:
    await set_password(db, firm.alice.id)
    client = await served(aiohttp_client, db, store, tmp_path, trusted_proxies="127.0.0.1")
    browser = Browser(client)

    async def login(password: str, via: str):
        await browser.get("/login")
        form = {"username": "alice", "password": password}
        return await browser.post("/login", form, headers={"X-Forwarded-For": via})

    for n in range(10):
        assert (await login(f"guess-{n}", "6.6.6.6")).status == 401
    assert (await login(PASSWORD, "6.6.6.6")).status == 429
    # Alice herself, elsewhere, behind the same proxy: not held up by the guesser.
    assert (await login(PASSWORD, "7.7.7.7")).url.path == "/"


def test_a_wrong_trusted_proxies_setting_is_refused() -> None:
    from loket.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="LOKET_TRUSTED_PROXIES"):
        load_settings({"LOKET_TRUSTED_PROXIES": "127.0.0.1, proxy.example"})
