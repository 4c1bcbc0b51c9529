"""The web view as ``loket serve`` starts it (loket.serve.start_web), in the test's process on
a free port: its own limits, and aiohttp's handling of a client that goes away, are those of
production (the test client's server cancels handlers instead)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from core.db import Database
from core.storage import LocalFileStore
from loket.runtime import Runtime
from loket.serve import start_web

from .conftest import mail_settings


@contextlib.asynccontextmanager
async def served(
    db: Database, store: LocalFileStore, tmp_path: Path, **limits: int
) -> AsyncIterator[int]:
    """The web view, started and listening: its port. Timeouts of a second unless given."""
    settings = mail_settings(
        tmp_path,
        public_url="http://127.0.0.1",
        http_port=0,
        **{"http_header_timeout_seconds": 1, "http_body_timeout_seconds": 1, **limits},
    )
    runner = await start_web(Runtime(settings=settings, db=db, store=store))
    try:
        yield next(iter(runner.sites)).port
    finally:
        await runner.cleanup()


def _csrf(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


async def logged_in(port: int, username: str, password: str, page: str) -> tuple[str, str]:
    """Log in; the Cookie header of the session and the CSRF token on ``page``."""
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = await http.get(f"{base}/login")
        await http.post(
            f"{base}/login",
            data={"csrf": _csrf(await login.text()), "username": username, "password": password},
            headers={"Origin": base},
        )
        token = _csrf(await (await http.get(base + page)).text())
        return "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar), token
