"""A form has a limit on its parts and on its text in all, whether it is streamed part by part
(the message form, the checklist form) or read whole (every other form): beyond, the answer
is 413 with a page in the reader's language, and nothing is saved. Was: 2,000 parts of 60 KB
were read into memory."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from aiohttp import FormData
from sqlalchemy import func, select

from core.db import Database
from core.models import Account, Message
from web import uploads

from .conftest import PASSWORD, Firm, set_password
from .webclient import Browser

TOO_LARGE = "Dit formulier is te groot om te versturen."


@pytest.fixture
async def alice(browser: Browser, db: Database, firm: Firm) -> Browser:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    return browser


async def post_message(browser: Browser, fields: list[tuple[str, str]]):
    form = FormData(default_to_multipart=True)
    form.add_field("csrf", browser.csrf())
    for name, value in [("subject", "Vraag"), ("body", "Tekst"), *fields]:
        form.add_field(name, value)
    return await browser.client.post(
        "/dossiers/2026-0001/messages", data=form, headers={"Origin": browser.origin}
    )


async def messages(db: Database) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(Message))


async def test_a_streamed_form_with_too_many_parts_is_413(alice: Browser, db: Database) -> None:
    response = await post_message(alice, [("x", "y")] * uploads.MAX_FIELDS)
    assert response.status == 413 and TOO_LARGE in await response.text()
    assert await messages(db) == 0


async def test_a_streamed_form_with_too_much_text_is_413(alice: Browser, db: Database) -> None:
    # Each part within the limit of one field, together over the limit of a form.
    part = "x" * (60 * 1024)
    count = uploads.MAX_TEXT // len(part) + 1
    response = await post_message(alice, [(f"veld{n}", part) for n in range(count)])
    assert response.status == 413 and TOO_LARGE in await response.text()
    assert await messages(db) == 0


async def test_a_streamed_form_within_the_limits_is_sent(alice: Browser, db: Database) -> None:
    response = await post_message(alice, [("x", "y")] * (uploads.MAX_FIELDS - 4))
    assert response.status == 200 and "Uw bericht is verstuurd." in await response.text()
    assert await messages(db) == 1


@pytest.mark.parametrize("content_type", ["urlencoded", "multipart"])
async def test_a_form_read_whole_with_too_many_fields_is_413(
    alice: Browser, db: Database, firm: Firm, content_type: str
) -> None:
    await alice.get("/me")
    fields = [("csrf", alice.csrf()), ("language", "en")] + [("x", "y")] * uploads.MAX_FIELDS
    if content_type == "urlencoded":
        data, headers = urlencode(fields), {"Content-Type": "application/x-www-form-urlencoded"}
    else:
        data, headers = FormData(fields, default_to_multipart=True), {}
    response = await alice.client.post(
        "/me/language", data=data, headers={"Origin": alice.origin, **headers}
    )
    assert response.status == 413 and TOO_LARGE in await response.text()
    async with db.read() as s:
        assert (await s.get(Account, firm.alice.id)).language.value == "nl"


async def test_a_form_read_whole_with_too_much_text_is_413(
    alice: Browser, db: Database, firm: Firm
) -> None:
    await alice.get("/me")
    response = await alice.post(
        "/me/language", {"language": "en", "x": "y" * (uploads.MAX_TEXT + 1)}
    )
    assert response.status == 413 and TOO_LARGE in alice.last_html
    async with db.read() as s:
        assert (await s.get(Account, firm.alice.id)).language.value == "nl"
