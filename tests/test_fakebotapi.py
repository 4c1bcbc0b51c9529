"""The fake Bot API speaks Telegram's protocol well enough for the real python-telegram-bot:
a small Application written here, polling the fake through tests/telegram.py, gets commands,
buttons, photos, documents and albums, downloads files, and meets Telegram's failures as the
exceptions PTB raises for the real ones."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest
from aiohttp import ClientSession, web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from .fakebotapi import DOWNLOAD, DOWNLOAD_LIMIT, SECRET_HEADER, FakeBotAPI
from .telegram import (
    bot_builder,
    fake_telegram_fixture,  # noqa: F401 (the fake_telegram fixture)
    run_bot,
)

# PTB 22 warns that time periods (retry_after, durations) will become timedeltas.
PTB_INT_PERIODS = "ignore::telegram.warnings.PTBDeprecationWarning"
CHOICES = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Ja", callback_data="yes"),
            InlineKeyboardButton("Nee", callback_data="no"),
        ]
    ]
)


# --- a minimal bot ---------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(
        f"start {' '.join(context.args) or '-'}", reply_markup=CHOICES
    )


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer(f"chose {query.data}")
    await query.edit_message_text(f"<b>You chose</b> {query.data}", parse_mode="HTML")


async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    data = await (await message.photo[-1].get_file()).download_as_bytearray()
    await message.reply_text(_described(data, message.media_group_id, message.caption))


async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    try:
        file = await message.document.get_file()
    except BadRequest as error:
        await message.reply_text(f"refused: {error.message}")
        return
    data = await file.download_as_bytearray()
    described = _described(data, message.media_group_id, message.caption)
    await message.reply_text(f"{message.document.file_name} {described}")


async def fail(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    raise RuntimeError("the handler broke")


async def apologise(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if isinstance(update, Update) and update.effective_chat:
        await context.bot.send_message(update.effective_chat.id, "Sorry, something went wrong.")


def _described(data: bytes | bytearray, group: str | None, caption: str | None) -> str:
    return (
        f"{len(data)} bytes {hashlib.sha256(data).hexdigest()[:12]} group={group} caption={caption}"
    )


def minimal_bot(fake: FakeBotAPI, read_timeout: float = 5.0) -> Application:
    request = HTTPXRequest(connection_pool_size=8, read_timeout=read_timeout)
    app = bot_builder(fake).request(request).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("fail", fail))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.PHOTO, photo))
    app.add_handler(MessageHandler(filters.Document.ALL, document))
    app.add_error_handler(apologise)
    return app


def described(data: bytes, group: str | None = None, caption: str | None = None) -> str:
    return _described(data, group, caption)


def seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else value


# --- commands and buttons --------------------------------------------------------------------


async def test_a_command_with_its_argument_and_a_button_pressed(fake_telegram: FakeBotAPI):
    async with run_bot(minimal_bot(fake_telegram), fake_telegram):
        anna = fake_telegram.private_chat("Anna", language_code="nl")
        anna.command("start", "ABC123")
        reply = await anna.next_message()
        assert reply.text == "start ABC123"
        assert reply.buttons == ["Ja", "Nee"] == anna.buttons

        press = anna.press("Nee")
        await fake_telegram.wait_for("editMessageText", chat_id=anna.id)
        assert fake_telegram.callback_answer(press)["text"] == "chose no"
        edited = fake_telegram.message(anna.id, reply.message_id)
        # As in Telegram: the tags are gone, the edit without reply_markup took the buttons.
        assert edited["text"] == "You chose no"
        assert edited["entities"] == [{"type": "bold", "offset": 0, "length": 9}]
        assert anna.buttons == []
        assert anna.texts == ["start ABC123"]

        # The buttons are gone; a press that left before the edit arrived still comes.
        with pytest.raises(AssertionError, match="no button 'Ja'"):
            anna.press("Ja", reply)
        late = anna.press("Ja", reply, as_sent=True)
        assert late["callback_query"]["message"]["text"] == "You chose no"
        await fake_telegram.wait_for("answerCallbackQuery", count=2)


async def test_commands_in_a_group_name_the_bot(fake_telegram: FakeBotAPI):
    async def factory() -> Application:  # run_bot takes a factory too, sync or async
        return minimal_bot(fake_telegram)

    async with run_bot(factory, fake_telegram):
        group = fake_telegram.group_chat("Familie", supergroup=True)
        update = group.command("start", "XY")
        assert update["message"]["text"] == "/start@loket_test_bot XY"
        assert (await group.next_message()).text == "start XY"


@pytest.mark.filterwarnings(PTB_INT_PERIODS)
async def test_every_kind_of_update_reads_as_ptb_expects(fake_telegram: FakeBotAPI):
    seen: list[Update] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    app = bot_builder(fake_telegram).build()
    app.add_handler(TypeHandler(Update, record))
    async with run_bot(app, fake_telegram) as bot:
        anna = fake_telegram.private_chat("Anna", last_name="de Vries", language_code="en")
        first = anna.send("hallo")
        anna.edit(first, "hallo!")
        anna.send("antwoord", reply_to=first)
        anna.voice(duration=4)
        anna.sticker("🙂")
        anna.location(52.09, 5.12)
        fake_telegram.group_chat("Familie").send("in een groep")
        fake_telegram.channel_chat("Nieuws").send("in een kanaal")
        await bot.idle()

    ids = [update.update_id for update in seen]
    assert ids == sorted(ids) and len(set(ids)) == 8
    text, edit, reply, voice, sticker, location, group, channel = seen
    assert text.message.text == "hallo" and text.effective_user.language_code == "en"
    assert text.message.chat.type == "private" and text.message.chat.id == anna.id
    assert edit.edited_message.text == "hallo!" and edit.edited_message.edit_date
    assert edit.edited_message.message_id == text.message.message_id
    # The replied-to message comes as it is now, edits included.
    assert reply.message.reply_to_message.message_id == text.message.message_id
    assert reply.message.reply_to_message.text == "hallo!"
    assert voice.message.voice.duration == 4
    assert sticker.message.sticker.emoji == "🙂"
    assert location.message.location.latitude == 52.09
    assert group.message.chat.type == "group" and group.effective_user.id != anna.id
    assert channel.channel_post.chat.type == "channel" and channel.effective_user is None


# --- files -----------------------------------------------------------------------------------


async def test_a_photo_is_downloaded_in_its_largest_size(fake_telegram: FakeBotAPI):
    data = bytes(range(256)) * 400
    async with run_bot(minimal_bot(fake_telegram), fake_telegram):
        anna = fake_telegram.private_chat()
        update = anna.photo(data, caption="loonstrook")
        sizes = update["message"]["photo"]
        assert [size["file_size"] for size in sizes] == sorted({s["file_size"] for s in sizes})

        reply = await anna.next_message()
        assert reply.text == described(data, None, "loonstrook")
        [download] = fake_telegram.calls_of(DOWNLOAD)
        assert download.params["file_path"] == fake_telegram.files[sizes[-1]["file_id"]].file_path


async def test_a_document_is_downloaded_with_its_name(fake_telegram: FakeBotAPI):
    data = b"%PDF-1.7\n" + b"\x00\xff\r\n" * 50_000
    async with run_bot(minimal_bot(fake_telegram), fake_telegram):
        anna = fake_telegram.private_chat()
        anna.document(data, file_name="jaaropgave 2024 é.pdf")
        reply = await anna.next_message()
        assert reply.text == f"jaaropgave 2024 é.pdf {described(data)}"


async def test_an_album_arrives_as_messages_sharing_a_media_group(fake_telegram: FakeBotAPI):
    photos = [b"\xff\xd8" + bytes([n]) * 3000 for n in range(3)]
    async with run_bot(minimal_bot(fake_telegram), fake_telegram) as bot:
        anna = fake_telegram.private_chat()
        updates = anna.album(photos, caption="bonnetjes")
        group = updates[0]["message"]["media_group_id"]
        await fake_telegram.wait_for("sendMessage", chat_id=anna.id, count=3)
        await bot.idle()
        assert sorted(anna.texts) == sorted(
            [described(photos[0], group, "bonnetjes")]
            + [described(data, group, None) for data in photos[1:]]
        )

        documents = anna.album([("a.pdf", b"one"), ("b.pdf", b"two")])
        assert len({u["message"]["media_group_id"] for u in documents}) == 1
        await fake_telegram.wait_for("sendMessage", chat_id=anna.id, count=5)


async def test_a_file_over_the_download_limit_is_refused_by_get_file(fake_telegram: FakeBotAPI):
    async with run_bot(minimal_bot(fake_telegram), fake_telegram) as bot:
        anna = fake_telegram.private_chat()
        update = anna.document(file_name="scan.pdf", file_size=DOWNLOAD_LIMIT + 1)
        assert (await anna.next_message()).text == "refused: File is too big"

        with pytest.raises(BadRequest, match="File is too big"):
            await bot.bot.get_file(update["message"]["document"]["file_id"])
        assert fake_telegram.count(DOWNLOAD, done=None) == 0


async def test_what_the_bot_uploads_is_kept_and_served(fake_telegram: FakeBotAPI):
    async with run_bot(minimal_bot(fake_telegram), fake_telegram) as bot:
        anna = fake_telegram.private_chat()
        data = b"%PDF-1.4 the firm's letter\r\n\x00\x01"
        sent = await bot.bot.send_document(
            anna.id,
            document=data,
            filename='brief "2024" é.pdf',
            caption="Uw aangifte",
            thumbnail=b"\xff\xd8 thumbnail",
        )
        [call] = fake_telegram.calls_of("sendDocument", chat_id=anna.id)
        assert fake_telegram.upload(call, "document") == data
        assert call.files["document"].filename == 'brief "2024" é.pdf'
        # Sent as attach://<part>, the thumbnail is found under its parameter's name.
        assert fake_telegram.upload(call, "thumbnail") == b"\xff\xd8 thumbnail"
        assert call.text == "Uw aangifte" == sent.caption
        file = await bot.bot.get_file(sent.document.file_id)
        assert await file.download_as_bytearray() == data


async def test_a_download_cut_short_raises_network_error(fake_telegram: FakeBotAPI):
    async with run_bot(minimal_bot(fake_telegram), fake_telegram) as bot:
        anna = fake_telegram.private_chat()
        update = anna.document(b"x" * 300_000, file_name="groot.pdf")
        await anna.next_message()
        fake_telegram.cut_download()
        file = await bot.bot.get_file(update["message"]["document"]["file_id"])
        with pytest.raises(NetworkError):
            await file.download_as_bytearray()
        assert await file.download_as_bytearray() == b"x" * 300_000


# --- faults ----------------------------------------------------------------------------------


@pytest.mark.filterwarnings(PTB_INT_PERIODS)
async def test_flood_control_raises_retry_after_for_that_chat_only(fake_telegram: FakeBotAPI):
    async with run_bot(minimal_bot(fake_telegram), fake_telegram) as bot:
        anna, bob = fake_telegram.private_chat("Anna"), fake_telegram.private_chat("Bob")
        fault = fake_telegram.retry_after("sendMessage", 3, chat_id=anna.id)
        await bot.bot.send_message(bob.id, "voor Bob")
        with pytest.raises(RetryAfter) as raised:
            await bot.bot.send_message(anna.id, "voor Anna")
        assert seconds(raised.value.retry_after) == 3
        await bot.bot.send_message(anna.id, "voor Anna")

        assert fault.hits == 1
        assert fake_telegram.count("sendMessage", chat_id=anna.id, done=None) == 2
        assert anna.texts == ["voor Anna"] and bob.texts == ["voor Bob"]


async def test_a_blocked_chat_raises_forbidden_until_unblocked(fake_telegram: FakeBotAPI):
    async with run_bot(minimal_bot(fake_telegram), fake_telegram) as bot:
        anna = fake_telegram.private_chat()
        blocked = fake_telegram.block(anna.id)
        for _ in range(2):
            with pytest.raises(Forbidden, match="bot was blocked by the user"):
                await bot.bot.send_message(anna.id, "hallo")
        blocked.cancel()
        await bot.bot.send_message(anna.id, "hallo")
        assert anna.texts == ["hallo"]


@pytest.mark.parametrize("html", [False, True], ids=["json", "nginx"])
async def test_bad_gateway_raises_network_error(fake_telegram: FakeBotAPI, html: bool):
    async with run_bot(minimal_bot(fake_telegram), fake_telegram) as bot:
        anna = fake_telegram.private_chat()
        fake_telegram.bad_gateway("sendMessage", html=html)
        with pytest.raises(NetworkError, match="Bad Gateway") as raised:
            await bot.bot.send_message(anna.id, "hallo")
        assert type(raised.value) is NetworkError
        assert anna.texts == []


async def test_a_hang_raises_timed_out(fake_telegram: FakeBotAPI):
    async with run_bot(minimal_bot(fake_telegram, read_timeout=0.2), fake_telegram) as bot:
        anna = fake_telegram.private_chat()
        fake_telegram.hang("sendMessage")
        with pytest.raises(TimedOut):
            await bot.bot.send_message(anna.id, "niet bezorgd")
        # Carried out although the answer never came: a blind retry would send it twice.
        fake_telegram.hang("sendMessage", deliver=True)
        with pytest.raises(TimedOut):
            await bot.bot.send_message(anna.id, "wel bezorgd")
        assert anna.texts == ["wel bezorgd"]
        assert fake_telegram.count("sendMessage", done=None) == 2


async def test_a_late_answer_comes_after_its_delay(fake_telegram: FakeBotAPI):
    async with run_bot(minimal_bot(fake_telegram), fake_telegram) as bot:
        anna = fake_telegram.private_chat()
        fake_telegram.hang("sendMessage", delay=0.05)
        message = await bot.bot.send_message(anna.id, "laat")
        assert message.text == "laat"
        [call] = fake_telegram.calls_of("sendMessage")
        assert call.status == "ok (late)"


async def test_an_error_in_a_handler_reaches_the_error_handler(fake_telegram: FakeBotAPI):
    async with run_bot(minimal_bot(fake_telegram), fake_telegram, allow_errors=True) as bot:
        anna = fake_telegram.private_chat()
        anna.command("fail")
        assert (await anna.next_message()).text == "Sorry, something went wrong."

        # A send refused inside a handler is an error there too.
        fake_telegram.block(anna.id, method="sendMessage", times=1)
        anna.command("start")
        await bot.idle()
        assert [type(error) for error in bot.errors] == [RuntimeError, Forbidden]
        assert anna.texts == ["Sorry, something went wrong.", "Sorry, something went wrong."]


async def test_an_error_escaping_a_handler_fails_the_test(fake_telegram: FakeBotAPI):
    with pytest.raises(AssertionError, match="escaped the handlers"):
        async with run_bot(minimal_bot(fake_telegram), fake_telegram) as bot:
            fake_telegram.private_chat().command("fail")
            await bot.idle()


async def test_polling_survives_a_bad_gateway_on_get_updates(fake_telegram: FakeBotAPI):
    async with run_bot(minimal_bot(fake_telegram), fake_telegram) as bot:
        fake_telegram.bad_gateway("getUpdates")
        await fake_telegram.wait_for("getUpdates", done=False)
        anna = fake_telegram.private_chat()
        anna.command("start", "na")
        assert (await anna.next_message()).text == "start na"
        assert [type(error) for error in bot.polling_errors] == [NetworkError]


# --- the protocol itself ---------------------------------------------------------------------


async def post(fake: FakeBotAPI, method: str, token: str | None = None, **form: str):
    async with (
        ClientSession() as session,
        session.post(f"{fake.base_url}{token or fake.token}/{method}", data=form) as response,
    ):
        return response.status, await response.json()


async def test_get_updates_long_polls_and_drops_what_the_offset_confirms(
    fake_telegram: FakeBotAPI,
):
    anna = fake_telegram.private_chat()
    first, second = anna.send("een"), anna.send("twee")
    assert second["update_id"] == first["update_id"] + 1

    status, body = await post(fake_telegram, "getUpdates", offset="0")
    assert (status, [u["update_id"] for u in body["result"]]) == (
        200,
        [u["update_id"] for u in (first, second)],
    )
    _, body = await post(fake_telegram, "getUpdates", offset=str(second["update_id"]))
    assert body["result"] == [second]
    assert fake_telegram.pending == [second]

    # A long poll returns as soon as an update comes, not when its timeout ends.
    poll = post(fake_telegram, "getUpdates", offset=str(second["update_id"] + 1), timeout="30")
    task = asyncio.ensure_future(poll)
    await fake_telegram.wait_for("getUpdates", count=3, done=None)
    third = anna.send("drie")
    _, body = await asyncio.wait_for(task, 5)
    assert body["result"] == [third]


async def test_a_second_poller_ends_the_first_with_conflict(fake_telegram: FakeBotAPI):
    first = asyncio.ensure_future(post(fake_telegram, "getUpdates", timeout="30"))
    await fake_telegram.wait_for("getUpdates", done=None)
    second = asyncio.ensure_future(post(fake_telegram, "getUpdates", timeout="0"))
    status, body = await asyncio.wait_for(first, 5)
    assert status == 409 and body["description"].startswith("Conflict: terminated by other")
    assert (await second)[0] == 200


async def test_unknown_methods_and_tokens_are_refused_as_telegram_does(fake_telegram: FakeBotAPI):
    assert await post(fake_telegram, "sendDice") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert (await post(fake_telegram, "getMe", token="1:wrong"))[0] == 401
    status, body = await post(fake_telegram, "sendMessage", chat_id="999", text="hallo")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


async def test_the_bot_api_refuses_what_telegram_refuses(fake_telegram: FakeBotAPI):
    anna = fake_telegram.private_chat()
    app = bot_builder(fake_telegram).build()
    async with run_bot(app, fake_telegram) as bot:
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.bot.send_message(anna.id, "kies", reply_markup=too_long)
        with pytest.raises(BadRequest, match="(?i)unsupported start tag"):
            await bot.bot.send_message(anna.id, "<Jan> & co", parse_mode="HTML")
        sent = await bot.bot.send_message(anna.id, "zelfde", reply_markup=CHOICES)
        with pytest.raises(BadRequest, match="not modified"):
            await bot.bot.edit_message_text(
                "zelfde", anna.id, sent.message_id, reply_markup=CHOICES
            )
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.bot.answer_callback_query("12345")


async def test_commands_set_in_post_init_are_recorded_per_language(fake_telegram: FakeBotAPI):
    async def register(app: Application) -> None:
        await app.bot.set_my_commands([("start", "Koppelen"), ("help", "Hulp")])
        await app.bot.set_my_commands([("start", "Link"), ("help", "Help")], language_code="en")

    async with run_bot(bot_builder(fake_telegram).post_init(register).build(), fake_telegram):
        assert [c["description"] for c in fake_telegram.commands()] == ["Koppelen", "Hulp"]
        assert [c["command"] for c in fake_telegram.commands("en")] == ["start", "help"]


async def test_webhook_updates_carry_the_secret_token(fake_telegram: FakeBotAPI):
    received: list[tuple[str | None, dict]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.Response()

    site_app = web.Application()
    site_app.router.add_post("/telegram", hook)
    runner = web.AppRunner(site_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/telegram"
    try:
        app = bot_builder(fake_telegram).updater(None).build()
        async with run_bot(app, fake_telegram) as bot:
            await bot.bot.set_webhook(url, secret_token="s3cret")
            with pytest.raises(Conflict):
                await bot.bot.get_updates()
            anna = fake_telegram.private_chat()
            update = anna.send("via webhook")
            assert await fake_telegram.deliver_webhook() == [200]
            assert await fake_telegram.post_update(url, update, secret_token="wrong") == 200
    finally:
        await runner.cleanup()
    assert received == [("s3cret", update), ("wrong", update)]
    assert fake_telegram.pending == []
