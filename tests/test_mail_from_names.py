"""A mail whose From has non-ASCII characters (an unencoded UTF-8 name or address, or an
encoded-word name) is read like any other: its name decoded, its address kept as text, and a
mail from an unknown address waits in quarantine where staff read it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import Database
from core.models import InboundMail
from core.storage import LocalFileStore
from mailbridge.parse import parse
from mailbridge.pipeline import Pipeline

from . import test_quarantine_filing as quarantine_tests
from .conftest import Firm
from .test_quarantine_filing import logged_in
from .webclient import Browser


def sample(from_line: bytes, body: str = "Hallo, één vraag over mijn aangifte.") -> bytes:
    return (
        b"From: " + from_line + b"\r\n"
        b"To: portaal@kantoor.example\r\n"
        b"Subject: Vraag\r\n"
        b"Message-ID: <zoe-1@example.nl>\r\n"
        b"Date: Mon, 24 Nov 2026 10:00:00 +0100\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body.encode() + b"\r\n"
    )


# The quarantine tests' fixtures: mail settings, and the web view with the mail bridge's filer.
settings = quarantine_tests.settings
staff_web = quarantine_tests.staff_web

FROMS = {
    "utf-8 name and address": ("Zoë Jansen <zoë@example.nl>".encode(), "zoë@example.nl"),
    "utf-8 name": ("Zoë Jansen <zoe@example.nl>".encode(), "zoe@example.nl"),
    "encoded-word name": (b"=?utf-8?q?Zo=C3=AB_Jansen?= <zoe@example.nl>", "zoe@example.nl"),
    "encoded-word name, base64": (
        b"=?UTF-8?B?Wm/DqyBKYW5zZW4=?= <zoe@example.nl>",
        "zoe@example.nl",
    ),
    "latin-1 name": ("Zoë Jansen <zoe@example.nl>".encode("latin-1"), "zoe@example.nl"),
}


@pytest.mark.parametrize("case", FROMS)
def test_the_sender_is_read_whatever_its_characters(case: str) -> None:
    from_line, address = FROMS[case]
    mail = parse(sample(from_line))
    assert mail.senders == [address]
    assert "Zo" in mail.header("From") and address in mail.header("From")
    assert mail.body_text.strip() == "Hallo, één vraag over mijn aangifte."


@pytest.mark.parametrize("case", FROMS)
async def test_an_unknown_non_ascii_sender_waits_in_quarantine_readable(
    case: str, staff_web: Browser, db: Database, store: LocalFileStore, settings, firm: Firm
) -> None:
    from_line, address = FROMS[case]
    result = await Pipeline(db, store, settings).handle(sample(from_line))
    assert result.outcome == "quarantined"
    async with db.read() as s:
        row = await s.scalar(select(InboundMail))
    assert (row.sender, row.subject, row.reason_code) == (address, "Vraag", "no_dossier")
    await logged_in(staff_web, db, firm.staff)
    await staff_web.get("/staff/quarantine")
    assert address in staff_web.last_html
    await staff_web.get(f"/staff/quarantine/{row.id}")
    page = staff_web.last_html
    assert 'data-testid="original">Hallo, één vraag over mijn aangifte.' in page
    assert "Content-Transfer-Encoding" not in page  # the mail, not its source
