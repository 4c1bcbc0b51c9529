"""Linking a chat in Telegram, through the real bot: /start with the code from My details,
/start with the email address the firm knows (the same words whether it knows it or not),
the refusals (a group, a dead code), /unlink; an unlinked chat reaches nothing but /start,
/help and /language; and the command menu, in Dutch and English."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from core.actor import Actor
from core.db import Database
from core.models import Account, Channel, Document, OutboxItem
from core.services import telegram
from core.storage import LocalFileStore
from mailbridge.compose import render

from .botkit import bot_settings, chat_state, income_tax, running
from .conftest import Firm
from .fakebotapi import FakeBotAPI
from .telegram import fake_telegram_fixture  # noqa: F401 (the fake_telegram fixture)

SAME_WORDS = (
    "Dank u wel. Als wij dit adres kennen, is er een e-mail met een code naar dat adres onderweg. "
    "Stuur die code hier als /start CODE; hij werkt 15 minuten."
)
LINK_FIRST = (
    "Deze chat is nog niet aan een account gekoppeld. Stuur /start om hem te koppelen; "
    "/help vertelt meer."
)


async def code_for(db: Database, settings, account: Account) -> telegram.LinkCode:
    async with db.begin() as s:
        return await telegram.issue_link_code(s, settings, Actor.of(account, Channel.WEB))


async def linked_to(db: Database, chat_id: int) -> int | None:
    async with db.read() as s:
        actor = await telegram.chat_actor(s, chat_id)
        return actor.account_id if actor else None


async def mails(db: Database, kind: str) -> list[OutboxItem]:
    async with db.read() as s:
        return list(await s.scalars(select(OutboxItem).where(OutboxItem.kind == kind)))


async def test_a_code_from_my_details_links_the_chat(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    settings = bot_settings(tmp_path, fake_telegram)
    await income_tax(db)
    anna = fake_telegram.private_chat("Alice", language_code="en")
    async with running(db, store, settings, fake_telegram):
        code = await code_for(db, settings, firm.alice)
        assert code.deep_link == f"https://t.me/{fake_telegram.username}?start={code.code}"
        anna.command("start", code.code)  # what the deep link sends
        # The account's language (Dutch) from now on, whatever the Telegram app's.
        assert (await anna.next_message()).text == (
            "Gelukt! Deze chat is nu gekoppeld aan het account van Alice de Vries (alice).\n"
            "Stuur /help om te zien wat ik voor u kan doen."
        )
        assert (await anna.next_message()).text == (
            "Er staat 1 checklist voor u klaar: stuur /checklist."
        )
        assert await linked_to(db, anna.id) == firm.alice.id

        # The same code again, from another chat: it worked once.
        other = fake_telegram.private_chat("Mallory", language_code="nl")
        other.command("start", code.code)
        dead = (await other.next_message()).text
        assert dead.startswith("Deze code werkt niet (meer)")
        assert await linked_to(db, other.id) is None
        assert await linked_to(db, anna.id) == firm.alice.id


async def test_an_address_gets_a_code_by_mail_with_the_same_words_known_or_not(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    settings = bot_settings(tmp_path, fake_telegram)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    stranger = fake_telegram.private_chat("Sam", language_code="nl")
    async with running(db, store, settings, fake_telegram) as bot:
        anna.command("start")
        assert "typt u het e-mailadres" in (await anna.next_message()).text
        assert await chat_state(db, anna) == {"waiting": telegram.WAITING_EMAIL}
        anna.send(" Alice@Example.nl ")
        known = (await anna.next_message()).text
        stranger.command("start")
        await stranger.next_message()
        stranger.send("niemand@example.nl")
        unknown = (await stranger.next_message()).text
        assert known == unknown == SAME_WORDS
        [mail] = await mails(db, "telegram_link")
        assert (mail.recipient, mail.account_id) == ("alice@example.nl", firm.alice.id)

        # Not an address at all: said so, and still asked for one.
        stranger.command("start")
        await stranger.next_message()
        stranger.send("mijn adres")
        assert "geen geldig e-mailadres" in (await stranger.next_message()).text
        assert await chat_state(db, stranger) == {"waiting": telegram.WAITING_EMAIL}

        # The mailed code, typed as it stands in the mail (without /start), links.
        anna.send(mail.payload["secret_code"].lower())
        assert "Gelukt" in (await anna.next_message()).text
        await bot.idle()
    assert await linked_to(db, anna.id) == firm.alice.id
    assert await linked_to(db, stranger.id) is None


async def test_groups_and_channels_are_refused_politely(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    settings = bot_settings(tmp_path, fake_telegram)
    code = await code_for(db, settings, firm.alice)
    group = fake_telegram.group_chat("Familie de Vries")
    supergroup = fake_telegram.group_chat("Kantoor", supergroup=True)
    async with running(db, store, settings, fake_telegram) as bot:
        group.command("start", code.code)
        refused = (await group.next_message()).text
        assert refused == (
            "Koppelen kan alleen in een privéchat met de bot, niet in een groep of kanaal: "
            "uw dossiers zijn niet voor iedereen daarin bestemd."
        )
        supergroup.command("checklist")
        assert (await supergroup.next_message()).text == refused
        channel = fake_telegram.channel_chat("Nieuws")
        channel.command("start")
        assert (await channel.next_message()).text == refused
        group.send("Hallo allemaal")  # talk in the group is not the bot's business
        group.photo()
        await bot.idle()
        assert len(group.sent) == 1
    assert await linked_to(db, group.id) is None
    # The code was not used up: the private chat links with it.
    anna = fake_telegram.private_chat("Alice")
    async with running(db, store, settings, fake_telegram):
        anna.command("start", code.code)
        assert "Gelukt" in (await anna.next_message()).text
    async with db.read() as s:
        assert await s.scalar(select(func.count(Document.id))) == 0


async def test_an_unlinked_chat_reaches_nothing_but_start_help_and_language(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    settings = bot_settings(tmp_path, fake_telegram)
    await income_tax(db)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    async with running(db, store, settings, fake_telegram) as bot:
        for command in ("checklist", "dossiers", "message", "unlink"):
            anna.command(command)
            assert (await anna.next_message()).text == LINK_FIRST, command
        anna.photo(caption="loonstrook")
        assert (await anna.next_message()).text == LINK_FIRST
        anna.send("2026-0001")
        assert "Koppel deze chat eerst" in (await anna.next_message()).text
        anna.command("help")
        assert "Koppel deze chat eerst" in (await anna.next_message()).text
        anna.command("language")
        assert (await anna.next_message()).buttons == ["Nederlands", "English"]
        anna.press("English")
        assert (await anna.next_message()).text == "From now on I write to you in English."
        anna.command("checklist")
        assert (await anna.next_message()).text == (
            "This chat is not linked to an account yet. Send /start to link it; /help says more."
        )
        await bot.idle()
    async with db.read() as s:
        assert await s.scalar(select(func.count(Document.id))) == 0
        assert (await telegram.get_chat(s, anna.id)).language.value == "en"
    assert await chat_state(db, anna) is None


async def test_unlink_in_the_chat(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI, firm: Firm
) -> None:
    settings = bot_settings(tmp_path, fake_telegram)
    code = await code_for(db, settings, firm.alice)
    anna = fake_telegram.private_chat("Alice", language_code="nl")
    async with running(db, store, settings, fake_telegram):
        anna.command("start", code.code)
        await anna.next_message()
        anna.command("unlink")
        assert "losgekoppeld" in (await anna.next_message()).text
        anna.command("dossiers")
        assert (await anna.next_message()).text == LINK_FIRST
        anna.command("unlink")
        assert (await anna.next_message()).text == LINK_FIRST
    assert await linked_to(db, anna.id) is None
    [told] = await mails(db, "telegram_unlinked")
    assert told.channel == "email" and told.account_id == firm.alice.id
    assert "Tijdstip: " in render(told, settings).text  # when, on the firm's clock


async def test_the_command_menu_in_dutch_and_english(
    db: Database, store: LocalFileStore, tmp_path: Path, fake_telegram: FakeBotAPI
) -> None:
    async with running(db, store, bot_settings(tmp_path, fake_telegram), fake_telegram):
        pass
    names = ["checklist", "dossiers", "message", "language", "help", "start", "unlink"]
    dutch = fake_telegram.commands("nl")
    english = fake_telegram.commands("en")
    assert [c["command"] for c in dutch] == [c["command"] for c in english] == names
    assert fake_telegram.commands("") == english  # the default, for other languages
    assert dutch[0]["description"] == "Een checklist invullen, vraag voor vraag"
    assert english[0]["description"] == "Fill in a checklist, question by question"
