"""A Loket as `loket serve` runs it, for tests in real Chromium: the web view (with the
quarantine filer), the SMTP receiving endpoint feeding the mail bridge, and the outbox sending
to the test's aiosmtpd; plus a page and a login in Chromium."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
from playwright.async_api import Browser, Page

from core import outbox
from core.db import Database
from core.settings import Settings
from core.storage import LocalFileStore
from loket.runtime import Runtime
from loket.serve import start_web
from mailbridge.pipeline import Pipeline
from mailbridge.smtp import SmtpSender
from mailbridge.smtp_in import start_endpoint

from .conftest import mail_settings
from .mailcatcher import free_port

REPLY_ADDRESS = "reply+{token}@kantoor.example"
# One section, one document asked for; approving puts the dossier in treatment.
SMALL_CHECKLIST = """
name: stukken-2025
kind: checklist
title: {nl: Stukken aangifte 2025, en: Documents tax return 2025}
sections:
  - title: {nl: Inkomen, en: Income}
    questions:
      - key: jaaropgave
        type: upload
        label: {nl: Jaaropgave 2025 van uw werkgever, en: Annual statement 2025 from your employer}
on_approve:
  status: in_treatment
"""


@dataclass
class LiveLoket:
    base: str
    settings: Settings
    db: Database
    smtp_in_port: int

    async def send_outbox(self) -> None:
        """One pass of the outbox worker: what is queued goes out by SMTP."""
        await outbox.run_once(self.db, {"email": SmtpSender(self.settings)}, self.settings)

    async def mail_in(self, raw: bytes, *, sender: str, to: str) -> None:
        """A mail handed to the receiving endpoint, as the firm's mail server does; it
        returns once the mail bridge recorded the mail's outcome (250)."""
        await aiosmtplib.send(
            raw, sender=sender, recipients=[to], hostname="127.0.0.1", port=self.smtp_in_port
        )


@contextlib.asynccontextmanager
async def live_loket(
    db: Database, store: LocalFileStore, tmp_path: Path, smtp_port: int | None, **extra: object
) -> AsyncIterator[LiveLoket]:
    port = free_port()
    settings = mail_settings(
        tmp_path,
        smtp_port,
        public_url=f"http://127.0.0.1:{port}",
        http_port=port,
        reply_address=REPLY_ADDRESS,
        **extra,
    )
    runner = await start_web(Runtime(settings=settings, db=db, store=store))
    in_port = free_port()
    endpoint = await start_endpoint(Pipeline(db, store, settings), "127.0.0.1", in_port)
    try:
        yield LiveLoket(f"http://127.0.0.1:{port}", settings, db, in_port)
    finally:
        endpoint.close()
        await endpoint.wait_closed()
        await runner.cleanup()


async def new_page(browser: Browser, width: int = 1280, height: int = 900) -> Page:
    """A page in a context of its own (its own cookies: one person), in Dutch."""
    context = await browser.new_context(
        locale="nl-NL", viewport={"width": width, "height": height}, accept_downloads=True
    )
    # A step that never happens fails in seconds, not after Playwright's half minute.
    context.set_default_timeout(10_000)
    return await context.new_page()


async def log_in(page: Page, base: str, username: str, password: str) -> None:
    """Log in on the Dutch login page and wait for the page it leads to."""
    await page.goto(f"{base}/login")
    await page.get_by_label("Gebruikersnaam of e-mailadres").fill(username)
    await page.get_by_label("Wachtwoord").fill(password)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Inloggen").click()
