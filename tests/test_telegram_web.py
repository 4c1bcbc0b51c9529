"""Telegram in the web view and the CLI: My details offers a one-time code and deep link where a
bot runs, and unlinks; staff see who has Telegram and whose chat blocked the bot; `loket
dossier show` and `loket account list` say so too."""

from __future__ import annotations

import argparse
import html
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import Database
from core.models import Account, OutboxItem
from core.services import telegram
from core.services.telegram import ChatInfo
from loket.commands import dossiers as dossier_commands
from loket.commands import people
from loket.config import ConfigError, load_settings
from loket.runtime import Runtime

from .conftest import PASSWORD, Firm, mail_settings, open_browser, set_password
from .webclient import Browser

CHAT = ChatInfo(6_000_000_001)
CODE = re.compile(r'data-testid="telegram-code">/start ([A-Z0-9]{5}-[A-Z0-9]{5})<')


@pytest.fixture
async def bot_browser(aiohttp_client, db: Database, store, tmp_path: Path, smtp) -> Browser:
    """The web view of a portal whose Telegram bot runs."""
    return await open_browser(aiohttp_client, db, store, tmp_path, smtp, telegram=True)


async def logged_in(browser: Browser, db: Database, account: Account) -> None:
    await set_password(db, account.id)
    response = await browser.login(account.username, PASSWORD)
    assert response.status == 200


async def has_chat(db: Database, account: Account) -> None:
    async with db.begin() as s:
        (await s.get(Account, account.id)).telegram_chat_id = CHAT.id


async def test_without_a_bot_my_details_offers_no_telegram(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await logged_in(browser, db, firm.alice)
    page = await (await browser.get("/me")).text()
    assert "Telegram koppelen" not in page and 'id="telegram"' not in page
    assert 'name="new_message:telegram"' in page and "disabled" in page
    response = await browser.post("/me/telegram/link", allow_redirects=False)
    assert response.status == 303  # nothing to link to


async def test_my_details_gives_a_code_and_deep_link_and_unlinks(
    bot_browser: Browser, db: Database, firm: Firm
) -> None:
    async with db.begin() as s:  # the bot process, from getMe at its start
        await telegram.record_bot(s, 4242, "kantoor_test_bot")
    await logged_in(bot_browser, db, firm.alice)
    page = await (await bot_browser.get("/me")).text()
    assert "Telegram koppelen" in page
    assert re.search(r'name="new_message:telegram"[^>]*disabled', page)

    response = await bot_browser.post("/me/telegram/link")
    assert response.status == 200
    page = bot_browser.last_html
    code = CODE.search(page).group(1)
    raw = code.replace("-", "")
    assert f'href="https://t.me/kantoor_test_bot?start={raw}"' in page
    assert "15 minuten" in page
    assert "<svg" in page  # the deep link as a QR code, for a phone beside the computer

    async with db.begin() as s:
        await telegram.link_chat(s, CHAT, code)
    page = await (await bot_browser.get("/me")).text()
    assert 'data-testid="telegram-linked"' in page
    assert not re.search(r'name="new_message:telegram"[^>]*disabled', page)

    response = await bot_browser.post("/me/telegram/unlink")
    assert response.status == 200 and "Opgeslagen" in bot_browser.last_html
    assert "Telegram koppelen" in bot_browser.last_html
    async with db.read() as s:
        assert (await s.get(Account, firm.alice.id)).telegram_chat_id is None
        told = await s.scalar(select(OutboxItem).where(OutboxItem.kind == "telegram_unlinked"))
    assert (told.channel, told.recipient) == ("telegram", str(CHAT.id))


async def test_without_the_bots_name_the_page_says_to_send_start(
    bot_browser: Browser, db: Database, firm: Firm
) -> None:
    await logged_in(bot_browser, db, firm.alice)
    await bot_browser.get("/me")
    await bot_browser.post("/me/telegram/link")
    page = bot_browser.last_html
    assert CODE.search(page) and "t.me/" not in page
    assert "Stuur dit naar onze bot in Telegram" in page


async def test_staff_are_not_offered_telegram(
    bot_browser: Browser, db: Database, firm: Firm
) -> None:
    await logged_in(bot_browser, db, firm.staff)
    page = await (await bot_browser.get("/me")).text()
    assert "Telegram koppelen" not in page
    response = await bot_browser.post("/me/telegram/link")
    assert response.status == 403


async def test_saving_notifications_before_linking_keeps_the_telegram_choices(
    bot_browser: Browser, db: Database, firm: Firm
) -> None:
    await logged_in(bot_browser, db, firm.alice)
    await bot_browser.get("/me")
    # The Telegram boxes are disabled, so a browser sends none of them.
    await bot_browser.post("/me/notifications", {"new_message:email": "on"})
    async with db.begin() as s:
        alice = await s.get(Account, firm.alice.id)
        assert alice.notifications["new_document"] == {"email": False, "telegram": True}
        alice.telegram_chat_id = CHAT.id
    page = await (await bot_browser.get("/me")).text()
    assert re.search(r'name="new_document:telegram"[^>]*checked', page)


async def test_staff_see_who_has_telegram_and_whose_chat_blocked_the_bot(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await has_chat(db, firm.alice)
    await logged_in(browser, db, firm.staff)
    page = await (await browser.get("/dossiers/2026-0001")).text()
    assert "Telegram gekoppeld" in _cell(page, "alice")
    async with db.begin() as s:
        await telegram.mark_blocked(s, CHAT.id)
    page = await (await browser.get("/dossiers/2026-0001")).text()
    assert "Telegram: bot geblokkeerd" in _cell(page, "alice")
    page = await (await browser.get("/staff/outbox")).text()
    assert 'data-testid="blocked"><td>alice</td>' in page


async def test_a_company_sees_which_of_its_accounts_have_telegram(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await has_chat(db, firm.bv_extra)
    await logged_in(browser, db, firm.bv_main)
    page = await (await browser.get("/me/accounts")).text()
    assert "Telegram gekoppeld" in _cell(page, "bakkerij.boekhouding")
    assert "Telegram gekoppeld" not in _cell(page, "bakkerij")


def _cell(page: str, username: str) -> str:
    found = re.search(rf'data-testid="telegram-{re.escape(username)}">(.*?)</td>', page, re.S)
    assert found, f"no Telegram cell for {username}"
    return html.unescape(found.group(1))


async def test_the_cli_shows_telegram_per_account(
    db: Database, firm: Firm, store, tmp_path: Path, capsys
) -> None:
    async with db.begin() as s:
        (await s.get(Account, firm.alice.id)).telegram_chat_id = CHAT.id
        await telegram.mark_blocked(s, CHAT.id)
        (await s.get(Account, firm.bv_main.id)).telegram_chat_id = CHAT.id + 1
    rt = Runtime(settings=mail_settings(tmp_path), db=db, store=store)

    await dossier_commands.dossier_show(rt, argparse.Namespace(number="2026-0001", json=True))
    shown = json.loads(capsys.readouterr().out)
    [alice] = shown["accounts"]
    assert (alice["username"], alice["telegram"], alice["telegram_blocked"]) == (
        "alice",
        True,
        True,
    )
    await dossier_commands.dossier_show(rt, argparse.Namespace(number="2026-0001", json=False))
    assert "account alice <alice@example.nl> (client; Telegram: bot blocked)" in (
        capsys.readouterr().out
    )

    await people.account_list(rt, argparse.Namespace(json=True))
    listed = {a["username"]: a for a in json.loads(capsys.readouterr().out)}
    assert listed["bakkerij"]["telegram"] and not listed["bakkerij"]["telegram_blocked"]
    assert not listed["carol"]["telegram"]
    assert {k: listed["sanne"][k] for k in ("role", "active", "two_factor", "email")} == {
        "role": "staff",
        "active": True,
        "two_factor": "none",
        "email": "sanne@firm.example",
    }


def test_the_bots_username_is_checked_when_the_settings_are_read() -> None:
    read = load_settings({"LOKET_TELEGRAM_BOT_USERNAME": "@Kantoor_Bot"})
    assert read.telegram_bot_username == "Kantoor_Bot"
    assert load_settings({}).telegram_bot_username is None
    for wrong in ("kantoor bot", "kantoor", "https://t.me/kantoor_bot"):
        with pytest.raises(ConfigError, match="TELEGRAM_BOT_USERNAME"):
            load_settings({"LOKET_TELEGRAM_BOT_USERNAME": wrong})
