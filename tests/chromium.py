"""One Chromium per pytest worker, which every browser test connects to over the DevTools
protocol: launching it costs a second or more, and each test works in browser contexts of its
own (own cookies, own storage), so sharing the process shares nothing a test could see."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--no-sandbox",
]


class ChromiumServer:
    """Headless Chromium listening for DevTools connections on a loopback port."""

    def __init__(self) -> None:
        assert Path(CHROMIUM).exists(), (
            "Chromium is missing: scripts/test installs it (apt chromium)"
        )
        self.profile = Path(tempfile.mkdtemp(prefix="loket-chromium-"))
        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                *ARGS,
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.endpoint = self._read_endpoint()

    def _read_endpoint(self) -> str:
        deadline = time.monotonic() + 30
        seen = []
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                # Nothing reads stderr from here on: let Chromium write it nowhere.
                self.proc.stderr.close()
                return found.group(1)
        self.stop()
        raise RuntimeError("Chromium did not start: " + "".join(seen[-20:]))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


@contextlib.asynccontextmanager
async def connect(endpoint: str) -> AsyncIterator[Browser]:
    """The worker's Chromium; closing it at the end drops this test's contexts only."""
    async with async_playwright() as pw:
        browser = await pw.chromium.connect_over_cdp(endpoint)
        try:
            yield browser
        finally:
            await browser.close()
