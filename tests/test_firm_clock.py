"""Times on the firm's clock everywhere a person reads them: with the firm far from UTC
(Kiritimati, UTC+14), a time stored in UTC shows as that zone's clock on a web page, in a mail,
in a chat text and in the command line's listing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import update

from bot.compose import render as chat_render
from core.clock import HAPPENED_AT
from core.db import Database
from core.models import InboundMail, Message, OutboxItem
from core.services import messages, quarantine
from core.storage import LocalFileStore
from loket.commands.mailin import _line
from mailbridge.compose import compose
from mailbridge.compose import render as mail_render

from .conftest import PASSWORD, Firm, mail_settings, open_browser, set_password

FAR = "Pacific/Kiritimati"  # UTC+14: every UTC time here is on the next day
UTC_TIME = dt.datetime(2026, 3, 1, 20, 30, tzinfo=dt.UTC)
FIRM_TIME = "02-03-2026 10:30"


async def test_a_page_shows_the_firms_clock(
    aiohttp_client, db: Database, store: LocalFileStore, tmp_path: Path, smtp, firm: Firm
) -> None:
    async with db.begin() as s:
        sent = await messages.send_message(
            s, store, firm.actor(firm.alice), number="2026-0001", subject="Vraag", body="…"
        )
        await s.execute(update(Message).where(Message.id == sent.id).values(created_at=UTC_TIME))
    browser = await open_browser(
        aiohttp_client, db, store, tmp_path, smtp, settings_extra={"timezone": FAR}
    )
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    await browser.get("/dossiers/2026-0001?tab=messages")
    assert FIRM_TIME in browser.last_html and "01-03-2026 20:30" not in browser.last_html
    await browser.get("/staff/inbox")
    assert FIRM_TIME in browser.last_html and "01-03-2026" not in browser.last_html


def item(kind: str, channel: str) -> OutboxItem:
    return OutboxItem(
        channel=channel,
        kind=kind,
        recipient="alice@example.nl" if channel == "email" else "4242",
        language="nl",
        payload={"username": "alice", HAPPENED_AT: UTC_TIME.isoformat()},
        idempotency_key=f"{kind}:{channel}",
    )


def test_a_mail_shows_the_firms_clock(tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, timezone=FAR)
    composed = mail_render(item("wrong_codes", "email"), settings)
    assert f"Tijdstip: {FIRM_TIME}" in composed.text
    assert f"Tijdstip: {FIRM_TIME}" in composed.html
    # The header too carries the firm's offset, for a reader that shows it as it is.
    assert compose(item("wrong_codes", "email"), settings)["Date"].endswith("+1400")


def test_a_chat_text_shows_the_firms_clock(tmp_path: Path) -> None:
    notice = chat_render(
        item("telegram_unlinked", "telegram"), mail_settings(tmp_path, timezone=FAR)
    )
    assert f"Tijdstip: {FIRM_TIME}" in notice.text


def test_the_command_line_lists_on_the_firms_clock() -> None:
    mail = InboundMail(id=7, sha256="x", outcome="quarantined", received_at=UTC_TIME, path=[])
    line = _line(quarantine.Waiting(mail, None), FAR)
    assert "2026-03-02 10:30" in line


def test_a_photo_sent_in_the_chat_is_named_by_the_firms_date() -> None:
    from telegram import Chat, Message, PhotoSize

    import bot.app  # noqa: F401 (the bot's modules load in their order from there)
    from bot.files import incoming

    sent = Message(
        message_id=5,
        date=UTC_TIME,
        chat=Chat(1, Chat.PRIVATE),
        photo=[PhotoSize("f", "u", 10, 10)],
    )
    item = incoming(sent, FAR)
    assert item is not None and item.name(lambda s: {"photo": "foto"}.get(s, s)) == (
        "foto-2026-03-02-5.jpg"
    )
