"""Linking a Telegram chat to an account, in core (the bot only passes updates on): by a
one-time code from My details, by a code mailed to the address the firm knows, and unlinking,
each side told; one chat per account and one account per chat."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from core.actor import Actor
from core.db import Database
from core.errors import LinkExpired, PermissionDenied, TooManyAttempts, ValidationError
from core.models import (
    Account,
    AuditEvent,
    Channel,
    Language,
    OutboxItem,
    OutboxStatus,
    Token,
    TwoFactorMethod,
)
from core.services import telegram
from core.services.telegram import ChatInfo
from mailbridge.compose import render

from .conftest import Firm, mail_settings
from .throttle_clock import Clock

# Telegram's ids go beyond 32 bits (a 32-bit column refuses this one on PostgreSQL).
CHAT = ChatInfo(7_123_456_789, "private", "nl")
OTHER_CHAT = ChatInfo(7_123_456_790, "private", "en")
DEEP_LINK_PARAMETER = re.compile(r"[A-Za-z0-9_-]{1,64}")


@pytest.fixture
def settings(tmp_path: Path):
    return mail_settings(tmp_path, telegram_token="123:abc", telegram_bot_username="kantoor_bot")


async def issue(db: Database, settings, account: Account) -> telegram.LinkCode:
    async with db.begin() as s:
        return await telegram.issue_link_code(s, settings, Actor.of(account, Channel.WEB))


async def link(db: Database, chat: ChatInfo, code: str) -> telegram.Linked:
    async with db.begin() as s:
        return await telegram.link_chat(s, chat, code)


async def chat_of(db: Database, account: Account) -> int | None:
    async with db.read() as s:
        return (await s.get(Account, account.id)).telegram_chat_id


async def actor_of(db: Database, chat_id: int) -> Actor | None:
    async with db.read() as s:
        return await telegram.chat_actor(s, chat_id)


async def outbox(db: Database, kind: str | None = None) -> list[OutboxItem]:
    async with db.read() as s:
        stmt = select(OutboxItem).order_by(OutboxItem.id)
        if kind is not None:
            stmt = stmt.where(OutboxItem.kind == kind)
        return list(await s.scalars(stmt))


def waiting_chat_message(s, account: Account) -> None:
    s.add(
        OutboxItem(
            channel="telegram",
            kind="new_message",
            recipient=str(CHAT.id),
            account_id=account.id,
            payload={"dossier_number": "2026-0001"},
            idempotency_key="pending-for-alice",
        )
    )


async def test_a_code_from_my_details_links_the_chat(db: Database, firm: Firm, settings) -> None:
    code = await issue(db, settings, firm.alice)
    assert len(code.code) == 10 and set(code.code) <= set(telegram.CODE_ALPHABET)
    assert DEEP_LINK_PARAMETER.fullmatch(code.code)
    assert code.display == f"{code.code[:5]}-{code.code[5:]}"
    assert code.deep_link == f"https://t.me/kantoor_bot?start={code.code}"
    assert code.minutes == 15
    async with db.read() as s:
        stored = list(await s.scalars(select(Token.token_hash)))
    assert code.code not in " ".join(stored)  # only its hash is kept

    linked = await link(db, CHAT, code.code)
    assert (linked.account_id, linked.username, linked.language) == (
        firm.alice.id,
        "alice",
        Language.NL,
    )
    assert not linked.already and linked.previous_username is None and not linked.previous_chat
    assert await chat_of(db, firm.alice) == CHAT.id
    actor = await actor_of(db, CHAT.id)
    assert actor is not None and actor.account_id == firm.alice.id
    assert actor.channel is Channel.TELEGRAM and actor.client_id == firm.alice.client_id
    async with db.read() as s:
        actions = list(await s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["telegram.link_code", "telegram.link"]


async def test_a_code_is_taken_as_people_type_it(db: Database, firm: Firm, settings) -> None:
    code = await issue(db, settings, firm.alice)
    await link(db, CHAT, f" {code.display.lower()} ")
    assert await chat_of(db, firm.alice) == CHAT.id


async def test_without_the_bots_name_there_is_no_deep_link(
    db: Database, firm: Firm, tmp_path: Path
) -> None:
    plain = mail_settings(tmp_path, telegram_token="123:abc")
    assert (await issue(db, plain, firm.alice)).deep_link is None
    async with db.begin() as s:  # the bot process, from getMe at its start
        await telegram.record_bot(s, 123, "loket_test_bot")
    code = await issue(db, plain, firm.alice)
    assert code.deep_link == f"https://t.me/loket_test_bot?start={code.code}"


async def test_an_expired_code_is_refused_in_clear_words(
    db: Database, firm: Firm, settings
) -> None:
    code = await issue(db, settings, firm.alice)
    async with db.begin() as s:  # the clock moved 15 minutes and a second on
        for token in await s.scalars(select(Token)):
            token.expires_at -= dt.timedelta(minutes=15, seconds=1)
    with pytest.raises(LinkExpired) as info:
        await link(db, CHAT, code.code)
    assert "works once, for 15 minutes" in info.value.message
    assert "/start" in info.value.message
    assert await chat_of(db, firm.alice) is None
    assert await actor_of(db, CHAT.id) is None


async def test_a_code_works_once(db: Database, firm: Firm, settings) -> None:
    code = await issue(db, settings, firm.alice)
    await link(db, CHAT, code.code)
    with pytest.raises(LinkExpired):
        await link(db, OTHER_CHAT, code.code)
    assert await chat_of(db, firm.alice) == CHAT.id


async def test_a_newer_code_kills_the_older(db: Database, firm: Firm, settings) -> None:
    first = await issue(db, settings, firm.alice)
    second = await issue(db, settings, firm.alice)
    with pytest.raises(LinkExpired):
        await link(db, CHAT, first.code)
    await link(db, CHAT, second.code)
    assert await chat_of(db, firm.alice) == CHAT.id


async def test_an_unknown_code_is_refused(db: Database, firm: Firm) -> None:
    for typed in ("", "ABCDE-FGHJK", "x" * 500):
        with pytest.raises(LinkExpired):
            await link(db, CHAT, typed)


@pytest.mark.parametrize("kind", ["group", "supergroup", "channel"])
async def test_groups_and_channels_are_refused_politely(
    db: Database, firm: Firm, settings, kind: str
) -> None:
    code = await issue(db, settings, firm.alice)
    with pytest.raises(PermissionDenied) as info:
        await link(db, ChatInfo(-1001234567890, kind), code.code)
    assert "private chat" in info.value.message
    with pytest.raises(PermissionDenied):
        async with db.begin() as s:
            await telegram.request_link_by_email(
                s, settings, ChatInfo(-1001234567890, kind), "alice@example.nl"
            )
    assert await outbox(db, "telegram_link") == []
    await link(db, CHAT, code.code)  # the code was not used up by the refusal
    assert await chat_of(db, firm.alice) == CHAT.id


async def test_a_disabled_account_is_not_linked(db: Database, firm: Firm, settings) -> None:
    code = await issue(db, settings, firm.bv_extra)
    async with db.begin() as s:
        (await s.get(Account, firm.bv_extra.id)).active = False
    with pytest.raises(PermissionDenied) as info:
        await link(db, CHAT, code.code)
    assert "not active" in info.value.message
    assert await chat_of(db, firm.bv_extra) is None


async def test_staff_cannot_link_telegram(db: Database, firm: Firm, settings) -> None:
    with pytest.raises(PermissionDenied):
        await issue(db, settings, firm.staff)


async def test_linking_another_account_from_a_chat_moves_it_and_tells_the_first(
    db: Database, firm: Firm, settings
) -> None:
    await link(db, CHAT, (await issue(db, settings, firm.alice)).code)
    async with db.begin() as s:
        await telegram.set_state(s, CHAT.id, {"waiting": "message_body", "dossier_id": 1})
        waiting_chat_message(s, firm.alice)  # alice's news, not sent yet

    linked = await link(db, CHAT, (await issue(db, settings, firm.bv_main)).code)

    assert linked.previous_username == "alice" and not linked.previous_chat
    assert await chat_of(db, firm.alice) is None
    assert await chat_of(db, firm.bv_main) == CHAT.id
    assert (await actor_of(db, CHAT.id)).account_id == firm.bv_main.id
    [told] = await outbox(db, "telegram_moved")
    assert (told.channel, told.recipient) == ("email", "alice@example.nl")
    [pending] = [i for i in await outbox(db) if i.idempotency_key == "pending-for-alice"]
    assert pending.status is OutboxStatus.FAILED  # alice's news no longer goes to this chat
    async with db.read() as s:
        view = await telegram.get_chat(s, CHAT.id)
    assert view.state is None  # what the chat was doing for alice is forgotten
    assert view.account_id == firm.bv_main.id


async def test_linking_an_account_in_another_chat_moves_it_and_tells_the_old_chat(
    db: Database, firm: Firm, settings
) -> None:
    await link(db, CHAT, (await issue(db, settings, firm.alice)).code)
    async with db.begin() as s:
        (await s.get(Account, firm.alice.id)).language = Language.EN

    linked = await link(db, OTHER_CHAT, (await issue(db, settings, firm.alice)).code)

    assert linked.previous_chat and linked.previous_username is None
    assert await chat_of(db, firm.alice) == OTHER_CHAT.id
    assert await actor_of(db, CHAT.id) is None
    [told] = await outbox(db, "telegram_moved")
    assert (told.channel, told.recipient, told.language) == ("telegram", str(CHAT.id), "en")
    assert told.account_id == firm.alice.id


async def test_linking_the_same_chat_again_changes_nothing(
    db: Database, firm: Firm, settings
) -> None:
    await link(db, CHAT, (await issue(db, settings, firm.alice)).code)
    again = await link(db, CHAT, (await issue(db, settings, firm.alice)).code)
    assert again.already and again.previous_username is None and not again.previous_chat
    assert [i.kind for i in await outbox(db)] == []


async def ask_by_email(db: Database, settings, chat: ChatInfo, email: str) -> None:
    async with db.begin() as s:
        assert await telegram.request_link_by_email(s, settings, chat, email) is None


async def test_a_known_address_gets_a_code_by_mail_that_links_the_chat(
    db: Database, firm: Firm, settings
) -> None:
    # alice was invited and never logged in: many clients only ever use mail and chat.
    await ask_by_email(db, settings, CHAT, "Alice@Example.nl")
    [mail] = await outbox(db, "telegram_link")
    assert (mail.channel, mail.recipient, mail.account_id) == (
        "email",
        "alice@example.nl",
        firm.alice.id,
    )
    code = mail.payload["secret_code"]
    assert mail.payload["secret_link"] == (
        f"https://t.me/kantoor_bot?start={telegram.normalise_code(code)}"
    )
    dutch = render(mail, settings)
    assert code in dutch.text and "15 minuten" in dutch.text
    assert mail.payload["secret_link"] in dutch.text
    mail.language = "en"  # the same mail to someone who reads English
    english = render(mail, settings)
    assert "works once, for 15 minutes" in english.text and code in english.text

    await link(db, CHAT, code)
    assert await chat_of(db, firm.alice) == CHAT.id


def test_without_the_bots_name_the_mail_says_to_send_start(tmp_path: Path) -> None:
    item = OutboxItem(
        channel="email",
        kind="telegram_link",
        recipient="alice@example.nl",
        language="en",
        payload={"secret_code": "ABCDE-FGHJK", "minutes": 15, "bot": ""},
        idempotency_key="x",
    )
    text = render(item, mail_settings(tmp_path)).text
    assert "send /start ABCDE-FGHJK to our bot" in text and "t.me" not in text


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    db: Database, firm: Firm, settings
) -> None:
    await ask_by_email(db, settings, CHAT, "nobody@nowhere.example")
    await ask_by_email(db, settings, CHAT, "sanne@firm.example")  # staff: not through a chat
    assert await outbox(db) == []


async def test_an_account_with_two_step_verification_links_only_from_my_details(
    db: Database, firm: Firm, settings
) -> None:
    async with db.begin() as s:
        (await s.get(Account, firm.alice.id)).two_factor = TwoFactorMethod.TOTP
    await ask_by_email(db, settings, CHAT, "alice@example.nl")
    assert await outbox(db) == []
    await link(db, CHAT, (await issue(db, settings, firm.alice)).code)
    assert await chat_of(db, firm.alice) == CHAT.id


async def test_something_that_is_no_address_is_said_so(db: Database, firm: Firm, settings) -> None:
    with pytest.raises(ValidationError):
        await ask_by_email(db, settings, CHAT, "hallo")


async def test_a_chat_asks_for_three_mails_an_hour_at_most(
    db: Database, firm: Firm, settings, monkeypatch
) -> None:
    clock = Clock(monkeypatch)
    for address in ("alice@example.nl", "nobody@nowhere.example", "carol@example.nl"):
        await ask_by_email(db, settings, CHAT, address)
    # The fourth is refused whether or not the address is known: the refusal tells nothing.
    for address in ("info@bakkerij.example", "niemand@nergens.example"):
        with pytest.raises(TooManyAttempts) as info:
            await ask_by_email(db, settings, CHAT, address)
        assert "Try again in" in info.value.message and info.value.retry_after > 0
    await ask_by_email(db, settings, OTHER_CHAT, "info@bakkerij.example")  # another chat may
    assert [m.recipient for m in await outbox(db, "telegram_link")] == [
        "alice@example.nl",
        "carol@example.nl",
        "info@bakkerij.example",
    ]
    clock.advance(60)
    await ask_by_email(db, settings, CHAT, "boekhouding@bakkerij.example")
    assert len(await outbox(db, "telegram_link")) == 4


async def test_an_address_gets_three_mails_an_hour_at_most(
    db: Database, firm: Firm, settings, monkeypatch
) -> None:
    Clock(monkeypatch)
    for n in range(3):
        await ask_by_email(db, settings, ChatInfo(100 + n), "alice@example.nl")
    with pytest.raises(TooManyAttempts):
        await ask_by_email(db, settings, ChatInfo(200), "ALICE@example.nl")
    with pytest.raises(TooManyAttempts):  # unknown addresses are counted all the same
        for n in range(4):
            await ask_by_email(db, settings, ChatInfo(300 + n), "nobody@nowhere.example")
    assert len(await outbox(db, "telegram_link")) == 3


async def test_unlink_from_the_chat_tells_the_account_holder_by_mail(
    db: Database, firm: Firm, settings
) -> None:
    await link(db, CHAT, (await issue(db, settings, firm.alice)).code)
    async with db.begin() as s:
        assert await telegram.unlink(s, CHAT.id)
    assert await chat_of(db, firm.alice) is None
    assert await actor_of(db, CHAT.id) is None
    [told] = await outbox(db, "telegram_unlinked")
    assert (told.channel, told.recipient) == ("email", "alice@example.nl")
    assert "/unlink" in render(told, settings).text
    async with db.begin() as s:
        assert not await telegram.unlink(s, CHAT.id)  # nothing left to unlink
    assert len(await outbox(db, "telegram_unlinked")) == 1


async def test_unlink_from_my_details_tells_the_chat(db: Database, firm: Firm, settings) -> None:
    await link(db, CHAT, (await issue(db, settings, firm.alice)).code)
    async with db.begin() as s:
        waiting_chat_message(s, firm.alice)
    async with db.begin() as s:
        assert await telegram.unlink(s, Actor.of(firm.alice, Channel.WEB))
    assert await chat_of(db, firm.alice) is None
    [told] = await outbox(db, "telegram_unlinked")
    assert (told.channel, told.recipient, told.status) == (
        "telegram",
        str(CHAT.id),
        OutboxStatus.PENDING,
    )
    [pending] = await outbox(db, "new_message")
    assert pending.status is OutboxStatus.FAILED
    async with db.read() as s:
        events = list(
            await s.scalars(select(AuditEvent).where(AuditEvent.action == "telegram.unlink"))
        )
    assert [(e.channel, e.details["why"]) for e in events] == [("web", "web")]


async def test_language_of_a_chat(db: Database, firm: Firm, settings) -> None:
    async with db.begin() as s:
        assert (await telegram.chat_seen(s, OTHER_CHAT)).language is Language.EN
        assert (await telegram.chat_seen(s, ChatInfo(5, language_code="de"))).language is (
            Language.EN
        )
        assert (await telegram.chat_seen(s, ChatInfo(6))).language is Language.NL
        await telegram.set_language(s, OTHER_CHAT, "nl")
        assert (await telegram.chat_seen(s, OTHER_CHAT)).language is Language.NL
        with pytest.raises(ValidationError):
            await telegram.set_language(s, OTHER_CHAT, "de")
    await link(db, CHAT, (await issue(db, settings, firm.alice)).code)
    async with db.begin() as s:
        await telegram.set_language(s, CHAT, "en")  # a linked chat: the account's language
    async with db.read() as s:
        assert (await s.get(Account, firm.alice.id)).language is Language.EN
        assert (await telegram.get_chat(s, CHAT.id)).language is Language.EN
