"""A fake Telegram Bot API server for tests: the real HTTP protocol on a free loopback port.

The bot under test is the real python-telegram-bot Application (see tests/telegram.py), so
everything it does crosses HTTP exactly as it would to api.telegram.org: `POST
/bot<token>/<method>` with form-urlencoded or multipart bodies, `{"ok": true, "result": …}`
answers, errors with Telegram's codes and descriptions, and file downloads from
`GET /file/bot<token>/<file_path>`. This module knows nothing of PTB.

    async with FakeBotAPI() as fake:                     # or the fake_telegram fixture
        anna = fake.private_chat("Anna", language_code="nl")
        anna.command("start", "ABC123")                  # an update for getUpdates
        reply = await anna.next_message()                # the bot's next message to Anna
        assert "gekoppeld" in reply.text and reply.buttons == ["Ja", "Nee"]
        anna.press("Ja")                                 # a callback query on that button
        fake.retry_after("sendMessage", 3, chat_id=anna.id)  # her next send answers 429
        await fake.wait_for("sendMessage", chat_id=anna.id, count=2)

What is here, in order: the records (Call, Upload, StoredFile, Fault), the chats that build
updates (FakeChat), and the server (FakeBotAPI): lifecycle, the update queue, reading what the
bot sent, faults, files, webhook, then the Bot API methods themselves. A method the fake does
not know answers 404 like Telegram, so a bot using a new method fails loudly: add it here.
"""

# Waiting helpers take `timeout=` as the tests read best; they bound their own waits.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import ClientSession, ClientTimeout, web

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
# getFile refuses files over this size; bots must offer another way (Bot API limit).
DOWNLOAD_LIMIT = 20 * 1024 * 1024
# The fault key and recorded method name of `GET /file/bot<token>/<file_path>`.
DOWNLOAD = "download"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The methods by which the bot puts a new message in a chat (FakeChat.next_message reads them).
SEND_METHODS = ("sendMessage", "sendPhoto", "sendDocument")

# Parameters holding free text are never JSON-decoded, so a message "42" stays the string "42".
# Every other value that parses as JSON is decoded, as PTB JSON-encodes all non-strings.
TEXT_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "file_id",
        "parse_mode",
        "url",
        "secret_token",
        "language_code",
        "inline_message_id",
        "business_connection_id",
        "title",
        "description",
        "short_description",
        "name",
        "emoji",
        "question",
        "explanation",
        "ip_address",
    }
)

BLOCKED = "Forbidden: bot was blocked by the user"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
# How long a waiting helper waits for what must come: only a hang should reach it. A long walk
# on a loaded 2-core machine running the suite on two workers took 18 s; 5 s made it flaky.
WAIT = 30.0
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


# --- records -------------------------------------------------------------------------------


@dataclass(eq=False)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(eq=False)
class Call:
    """One request the bot made, as the fake received and answered it.

    `done` says Telegram carried it out (the user sees the message), whether or not the bot
    heard back; `status` is what the bot got: "ok", "429 Too Many Requests: retry after 3",
    "no answer", or "pending" while it is being answered.
    """

    method: str
    params: dict[str, Any]
    files: dict[str, Upload]
    time: float  # the event loop's clock when the request arrived
    seq: int  # its position in FakeBotAPI.calls
    status: str = "pending"
    done: bool = False
    result: Any = None  # what the fake answered (or would have) under "result"

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def message(self) -> dict | None:
        """The Message this call created or edited, as Telegram returned it."""
        if isinstance(self.result, dict) and "message_id" in self.result:
            return self.result
        return None

    @property
    def message_id(self) -> int | None:
        return self.message["message_id"] if self.message else self.params.get("message_id")

    @property
    def text(self) -> str | None:
        """What the user reads: the text (tags of parse_mode HTML removed) or the caption."""
        source = self.message or self.params
        return source.get("text", source.get("caption"))

    @property
    def keyboard(self) -> list[list[dict]]:
        """The inline keyboard sent with this call (rows of buttons), or []."""
        markup = self.params.get("reply_markup")
        return markup.get("inline_keyboard", []) if isinstance(markup, dict) else []

    @property
    def buttons(self) -> list[str]:
        """The texts of the inline buttons, row by row."""
        return [button["text"] for row in self.keyboard for button in row]

    def matches(self, method: str | None, params: dict[str, Any]) -> bool:
        if method is not None and self.method != method:
            return False
        return all(self.params.get(key) == value for key, value in params.items())

    def __str__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k != "reply_markup"}
        if self.buttons:
            shown["buttons"] = self.buttons
        return f"{self.method} {shown} -> {self.status}"


@dataclass(eq=False)
class StoredFile:
    """A file the fake can serve: sent by a user (registered by a test) or uploaded by the bot.

    `data` is None for a file that only claims a size (to play one over the download limit).
    """

    file_id: str
    file_unique_id: str
    file_path: str
    file_size: int
    data: bytes | None

    def as_json(self, **extra: Any) -> dict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            **extra,
        }


@dataclass(eq=False)
class Fault:
    """A planned failure of the next `times` calls (None: until cancelled) of `method` (None:
    any method) that name `chat_id` (None: any chat). `hits` counts the calls it answered."""

    kind: str  # "error", "bad_gateway", "hang" or "cut"
    method: str | None = None
    chat_id: Any = None
    times: int | None = 1
    status: int = 0
    description: str = ""
    retry_after: int | None = None
    delay: float | None = None
    deliver: bool = False
    html: bool = False
    hits: int = 0

    @property
    def active(self) -> bool:
        return self.times is None or self.hits < self.times

    def applies_to(self, call: Call) -> bool:
        if not self.active or (self.method is not None and self.method != call.method):
            return False
        return self.chat_id is None or call.chat_id == self.chat_id

    def cancel(self) -> None:
        self.times = self.hits


class ApiError(Exception):
    """Raised by a method to answer `{"ok": false, ...}` with Telegram's code and words."""

    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


# --- chats and the updates their users send ------------------------------------------------


class FakeChat:
    """A chat with the bot: builds the updates its user sends (each queued for getUpdates and
    returned as the Update's JSON) and reads what the bot sent to it.

    Made by FakeBotAPI.private_chat, .group_chat or .channel_chat. In a group the default
    sender is the member given there; `sender=` (a user dict, see FakeBotAPI.user) overrides it.
    """

    def __init__(self, fake: FakeBotAPI, chat: dict, sender: dict | None) -> None:
        self.fake = fake
        self.chat = chat
        self.sender = sender
        self._read = 0

    @property
    def id(self) -> int:
        return self.chat["id"]

    @property
    def type(self) -> str:
        return self.chat["type"]

    def __repr__(self) -> str:
        return f"<FakeChat {self.type} {self.id}>"

    # Messages the user sends.

    def send(self, text: str, *, reply_to: Any = None, sender: dict | None = None) -> dict:
        """A text message; `reply_to` (a Call, Update, Message or message id) makes it a reply."""
        return self._post(self._message(sender, reply_to, text=text))

    def command(self, command: str, *args: str, sender: dict | None = None) -> dict:
        """`/command arg…` with its bot_command entity (in groups `/command@bot`, as clients
        send it there). Without the entity PTB's CommandHandler would not see a command."""
        word = "/" + command.lstrip("/")
        if self.type != "private":
            word += "@" + self.fake.username
        text = " ".join([word, *args])
        entity = {"type": "bot_command", "offset": 0, "length": _utf16_len(word)}
        return self._post(self._message(sender, None, text=text, entities=[entity]))

    def photo(
        self,
        data: bytes | None = None,
        *,
        caption: str | None = None,
        file_size: int | None = None,
        media_group_id: str | None = None,
        reply_to: Any = None,
        sender: dict | None = None,
    ) -> dict:
        """A photo: three PhotoSizes of increasing size, the last (largest) holding `data`.
        `file_size` claims another size for the largest (e.g. over the download limit)."""
        content = {"photo": self.fake.add_photo(data, file_size=file_size)}
        return self._post(self._media(sender, reply_to, content, caption, media_group_id))

    def document(
        self,
        data: bytes | None = None,
        *,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        file_size: int | None = None,
        media_group_id: str | None = None,
        reply_to: Any = None,
        sender: dict | None = None,
    ) -> dict:
        """A document; `file_size` claims another size (e.g. over the download limit)."""
        if data is None:
            data = b"%PDF-1.4\n% a document sent in a test\n%%EOF\n"
        stored = self.fake.add_file(data, folder="documents", name=file_name, file_size=file_size)
        document = stored.as_json(file_name=file_name, mime_type=mime_type)
        content = {"document": document}
        return self._post(self._media(sender, reply_to, content, caption, media_group_id))

    def album(
        self, items: list[bytes] | list[tuple[str, bytes]], *, caption: str | None = None
    ) -> list[dict]:
        """Several messages sharing one media_group_id, as clients send an album: photos (give
        bytes) or documents (give (file_name, bytes)); the caption rides on the first."""
        group = str(next(self.fake._ids) + 13_000_000_000_000_000)
        updates = []
        for position, item in enumerate(items):
            text = caption if position == 0 else None
            if isinstance(item, tuple):
                name, data = item
                updates.append(
                    self.document(data, file_name=name, caption=text, media_group_id=group)
                )
            else:
                updates.append(self.photo(item, caption=text, media_group_id=group))
        return updates

    def edit(self, update: dict, text: str) -> dict:
        """The user edits the text of a message sent earlier (`update` as returned by send)."""
        original = _message_of(update)
        edited = {**original, "text": text, "edit_date": int(time.time())}
        edited.pop("entities", None)
        self.fake._messages[self.id][edited["message_id"]] = edited
        kind = "edited_channel_post" if self.type == "channel" else "edited_message"
        return self.fake.push({kind: edited})

    def voice(self, data: bytes = b"OggS voice", *, duration: int = 3) -> dict:
        stored = self.fake.add_file(data, folder="voice", name="voice.oga")
        voice = stored.as_json(duration=duration, mime_type="audio/ogg")
        return self._post(self._message(None, None, voice=voice))

    def sticker(self, emoji: str = "👍") -> dict:
        stored = self.fake.add_file(b"RIFF sticker WEBP", folder="stickers", name="s.webp")
        sticker = stored.as_json(
            type="regular",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
            emoji=emoji,
            set_name="HotCherry",
        )
        return self._post(self._message(None, None, sticker=sticker))

    def location(self, latitude: float = 52.3676, longitude: float = 4.9041) -> dict:
        location = {"latitude": latitude, "longitude": longitude}
        return self._post(self._message(None, None, location=location))

    def press(
        self,
        button: str,
        message: Any = None,
        *,
        as_sent: bool = False,
        sender: dict | None = None,
    ) -> dict:
        """A callback query: the user presses the inline button labelled `button` under
        `message` (a Call, Message or message id; by default the newest bot message that
        shows such a button now). The query carries the message as it now is.

        `as_sent=True` (with a Call) presses a button the message showed when sent, though an
        edit has taken it away since: the user pressed before the edit reached them."""
        if message is None:
            found = self.fake._newest_with_button(self.id, button)
        else:
            found = self.fake._messages[self.id].get(_message_id_of(message))
        markup = (found or {}).get("reply_markup", {})
        if as_sent and isinstance(message, Call):
            markup = message.params.get("reply_markup") or {}
        buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
        match = next((b for b in buttons if b["text"] == button), None)
        if match is None or "callback_data" not in match:
            raise AssertionError(
                f"no button {button!r} to press in chat {self.id}; buttons there: "
                f"{[b['text'] for b in buttons] if found else self.fake.buttons(self.id)}"
            )
        query_id = str(next(self.fake._ids) + 4_382_000_000_000_000_000)
        self.fake._queries[query_id] = None
        query = {
            "id": query_id,
            "from": sender or self.sender,
            "message": found,
            "chat_instance": str(-8_532_000_000_000_000_000 - self.id),
            "data": match["callback_data"],
        }
        return self.fake.push({"callback_query": query})

    # What the bot sent here.

    async def next_message(self, timeout: float = WAIT) -> Call:
        """The next message the bot put in this chat (sendMessage, sendPhoto, sendDocument)
        that this method has not returned yet; waits for it."""
        calls = await self.fake.wait_for(
            SEND_METHODS, chat_id=self.id, count=self._read + 1, timeout=timeout
        )
        self._read += 1
        return calls[self._read - 1]

    @property
    def sent(self) -> list[Call]:
        """Every message the bot put in this chat, in order."""
        return self.fake.calls_of(SEND_METHODS, chat_id=self.id)

    @property
    def texts(self) -> list[str]:
        return self.fake.sent_texts(self.id)

    @property
    def buttons(self) -> list[str]:
        return self.fake.buttons(self.id)

    # Building.

    def _message(self, sender: dict | None, reply_to: Any, **content: Any) -> dict:
        message: dict[str, Any] = {
            "message_id": self.fake._next_message_id(self.id),
            "date": int(time.time()),
            "chat": self.chat,
        }
        if self.type == "channel":
            message["sender_chat"] = self.chat
        else:
            message["from"] = sender or self.sender
        if reply_to is not None:
            message["reply_to_message"] = self.fake._resolve(self.id, reply_to)
        message.update(content)
        return message

    def _media(
        self,
        sender: dict | None,
        reply_to: Any,
        content: dict,
        caption: str | None,
        media_group_id: str | None,
    ) -> dict:
        message = self._message(sender, reply_to, **content)
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        if caption is not None:
            message["caption"] = caption
        return message

    def _post(self, message: dict) -> dict:
        self.fake._messages[self.id][message["message_id"]] = message
        return self.fake.push({"channel_post" if self.type == "channel" else "message": message})


# --- the server ----------------------------------------------------------------------------


class FakeBotAPI:
    """The fake Bot API. Start it with `async with FakeBotAPI() as fake` (or `await start()` /
    `await close()`); point the bot at `base_url` and `base_file_url`.

    Everything the bot sends is in `calls`; read it with calls_of, count, wait_for, sent_texts,
    keyboard, buttons, message and commands. Plan failures with retry_after, bad_gateway,
    block, hang, error and cut_download.
    """

    def __init__(
        self, token: str = TOKEN, *, username: str = "loket_test_bot", first_name: str = "Loket"
    ) -> None:
        self.token = token
        self.username = username
        self.bot_user = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.port = 0
        self.calls: list[Call] = []
        self._by_chat: dict[Any, list[Call]] = {}  # chat_id -> its calls, for quick waiting
        self._chat_changed: dict[Any, asyncio.Event] = {}
        self.faults: list[Fault] = []
        self.files: dict[str, StoredFile] = {}
        self.webhook: dict | None = None
        self._pending: list[dict] = []  # updates not yet confirmed by a getUpdates offset
        self._next_update_id = 700_000_001
        self._ids = itertools.count(1)
        self._users = itertools.count(1001)
        self._message_ids: dict[int, itertools.count] = {}
        self._messages: dict[int, dict[int, dict]] = {}  # chat id -> message id -> Message
        self._chats: dict[int, FakeChat] = {}
        self._queries: dict[str, dict | None] = {}  # callback query id -> its answer
        self._commands: dict[tuple[str, str], list[dict]] = {}
        self._paths: dict[str, StoredFile] = {}
        self._poll = 0  # the newest getUpdates; an older one still waiting gets 409
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, tuple[str, Callable[[Call], Awaitable[Any]]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "logOut": self._true,
                "close": self._true,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setMyDescription": self._true,
                "setMyShortDescription": self._true,
                "setChatMenuButton": self._true,
                "sendChatAction": self._send_chat_action,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "getFile": self._get_file,
            }.items()
        }

    # Lifecycle.

    @property
    def url(self) -> str:
        """The server's root, e.g. http://127.0.0.1:43121 (for LOKET_TELEGRAM_API_URL)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """PTB's `base_url`: the token and method are appended to it."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """PTB's `base_file_url`: the token and file_path are appended to it."""
        return f"{self.url}/file/bot"

    async def start(self) -> FakeBotAPI:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)
        # A client that gives up (timeout, cancelled long poll) cancels its handler, and a
        # handler left waiting at close is not waited for long.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        # Port 0 (a free one) unless set before start (tests/telegram_console.py).
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        self._closed.set()
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # Chats.

    def user(
        self,
        first_name: str = "Anna",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "nl",
        user_id: int | None = None,
    ) -> dict:
        """A Telegram User (a person, not a bot), with a new id unless `user_id` is given."""
        user: dict[str, Any] = {
            "id": user_id or next(self._users),
            "is_bot": False,
            "first_name": first_name,
        }
        for key, value in (
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
        ):
            if value is not None:
                user[key] = value
        return user

    def private_chat(self, first_name: str = "Anna", **details: Any) -> FakeChat:
        """A person's private chat with the bot (the chat id is the user id). `details` are
        user()'s: last_name, username, language_code (default "nl"), user_id."""
        user = self.user(first_name, **details)
        chat = {"id": user["id"], "type": "private", "first_name": first_name}
        chat.update({k: user[k] for k in ("last_name", "username") if k in user})
        return self._add_chat(chat, user)

    def group_chat(
        self, title: str = "Familie", *, supergroup: bool = False, member: dict | None = None
    ) -> FakeChat:
        """A group (or supergroup) with the bot in it; `member` sends (default: a new user)."""
        number = next(self._ids)
        if supergroup:
            chat = {"id": -1_001_000_000_000 - number, "type": "supergroup", "title": title}
        else:
            chat = {"id": -4_000_000_000 - number, "type": "group", "title": title}
        return self._add_chat(chat, member or self.user("Groepslid"))

    def channel_chat(self, title: str = "Nieuws") -> FakeChat:
        """A channel where the bot is an admin: its posts arrive as channel_post updates."""
        chat = {"id": -1_002_000_000_000 - next(self._ids), "type": "channel", "title": title}
        return self._add_chat(chat, None)

    def chat(self, chat_id: int) -> FakeChat:
        return self._chats[chat_id]

    def _add_chat(self, chat: dict, sender: dict | None) -> FakeChat:
        fake_chat = FakeChat(self, chat, sender)
        self._chats[chat["id"]] = fake_chat
        self._messages[chat["id"]] = {}
        self._message_ids[chat["id"]] = itertools.count(1)
        return fake_chat

    def _next_message_id(self, chat_id: int) -> int:
        # One sequence per chat, shared by the user's and the bot's messages, as in Telegram.
        return next(self._message_ids[chat_id])

    # The update queue.

    def push(self, update: dict) -> dict:
        """Queue an Update (JSON) for getUpdates, giving it the next update_id."""
        update = {"update_id": self._next_update_id, **update}
        self._next_update_id += 1
        self._pending.append(update)
        self._notify()
        return update

    @property
    def pending(self) -> list[dict]:
        """Updates the bot has not yet confirmed (by asking getUpdates for a later offset)."""
        return list(self._pending)

    async def wait_confirmed(self, timeout: float = WAIT) -> None:
        """Wait until the bot has fetched and confirmed every queued update. PTB confirms
        right after putting them in its update queue: handling may still be under way."""
        await self._until(lambda: not self._pending, timeout, "updates still pending")

    # Reading what the bot sent.

    def calls_of(
        self,
        method: str | tuple[str, ...] | None = None,
        *,
        done: bool | None = True,
        since: int = 0,
        **params: Any,
    ) -> list[Call]:
        """The calls of `method` (a name, several, or None for all) whose params include
        `params`. By default only those Telegram carried out (`done=None`: every attempt)."""
        methods = (method,) if isinstance(method, str) or method is None else method
        pool = self._by_chat.get(params["chat_id"], []) if "chat_id" in params else self.calls
        return [
            call
            for call in pool
            if call.seq >= since
            and (done is None or call.done == done)
            and any(call.matches(name, params) for name in methods)
        ]

    def count(self, method: str | tuple[str, ...] | None = None, **kwargs: Any) -> int:
        """How many calls calls_of would return: `count("sendMessage", text=…) == 1` proves
        nothing was sent twice; `count(…, done=None)` counts the attempts too."""
        return len(self.calls_of(method, **kwargs))

    def mark(self) -> int:
        """A position in `calls`: pass it as `since=` to look only at what comes after."""
        return len(self.calls)

    async def wait_for(
        self,
        method: str | tuple[str, ...] | None,
        *,
        count: int = 1,
        timeout: float = WAIT,
        done: bool | None = True,
        since: int = 0,
        **params: Any,
    ) -> list[Call]:
        """Wait until calls_of(method, …) holds at least `count` calls, and return them.
        On timeout, fails with the calls that did arrive."""
        await self._until(
            lambda: len(self.calls_of(method, done=done, since=since, **params)) >= count,
            timeout,
            f"{count} x {method} {params}",
            params.get("chat_id"),
        )
        return self.calls_of(method, done=done, since=since, **params)

    def sent_texts(self, chat_id: int) -> list[str]:
        """The texts of the messages (sendMessage) the bot sent to the chat, as the user reads
        them, in order."""
        return [call.text for call in self.calls_of("sendMessage", chat_id=chat_id)]

    def message(self, chat_id: int, message_id: int) -> dict:
        """A message of the chat as it is now (after edits)."""
        return self._messages[chat_id][message_id]

    def keyboard(self, chat_id: int) -> list[list[dict]]:
        """The inline keyboard of the newest bot message in the chat that shows one now."""
        for message in reversed(self._messages[chat_id].values()):
            markup = message.get("reply_markup")
            if self._from_bot(message) and markup:
                return markup["inline_keyboard"]
        return []

    def buttons(self, chat_id: int) -> list[str]:
        return [button["text"] for row in self.keyboard(chat_id) for button in row]

    def commands(self, language_code: str = "", scope: dict | None = None) -> list[dict]:
        """The commands set with setMyCommands for a language ("" is the default list)."""
        return self._commands.get(_commands_key(scope, language_code), [])

    def callback_answer(self, update: dict) -> dict | None:
        """The bot's answerCallbackQuery params for a pressed button (the update press made)."""
        return self._queries.get(update["callback_query"]["id"])

    # Faults.

    def retry_after(
        self, method: str | None, seconds: int, *, chat_id: Any = None, times: int | None = 1
    ) -> Fault:
        """429 Too Many Requests with parameters.retry_after, as Telegram's flood control."""
        return self._plan(
            Fault(
                "error",
                method,
                chat_id,
                times,
                status=429,
                description=f"Too Many Requests: retry after {seconds}",
                retry_after=seconds,
            )
        )

    def bad_gateway(
        self,
        method: str | None,
        *,
        chat_id: Any = None,
        times: int | None = 1,
        html: bool = False,
    ) -> Fault:
        """502 Bad Gateway: the Bot API's JSON error, or (`html=True`) the nginx page that
        Telegram's front also answers with."""
        return self._plan(Fault("bad_gateway", method, chat_id, times, status=502, html=html))

    def block(self, chat_id: Any, *, method: str | None = None, times: int | None = None) -> Fault:
        """The user blocked the bot: 403 "Forbidden: bot was blocked by the user" for every
        call naming the chat, until cancelled (or for `times` calls)."""
        return self._plan(Fault("error", method, chat_id, times, status=403, description=BLOCKED))

    def hang(
        self,
        method: str | None,
        *,
        chat_id: Any = None,
        times: int | None = 1,
        delay: float | None = None,
        deliver: bool = False,
    ) -> Fault:
        """No answer, so the client's timeout fires. With `delay` the normal answer comes after
        that many seconds (the call is carried out on arrival). `deliver=True` carries the call
        out although no answer ever comes: the case that makes a blind retry send twice."""
        return self._plan(
            Fault("hang", method, chat_id, times, delay=delay, deliver=deliver or delay is not None)
        )

    def error(
        self,
        method: str | None,
        status: int,
        description: str,
        *,
        chat_id: Any = None,
        times: int | None = 1,
    ) -> Fault:
        """Any other Bot API error: error("sendMessage", 400, "Bad Request: chat not found")."""
        return self._plan(Fault("error", method, chat_id, times, status, description))

    def cut_download(self, *, times: int | None = 1) -> Fault:
        """A file download whose connection drops after half of the bytes."""
        return self._plan(Fault("cut", DOWNLOAD, None, times))

    def _plan(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    # Files.

    def add_file(
        self,
        data: bytes | None,
        *,
        folder: str = "documents",
        name: str = "file.pdf",
        file_size: int | None = None,
    ) -> StoredFile:
        """Register a file the Bot API can serve (getFile, then the download). `file_size`
        claims a size without the bytes, e.g. DOWNLOAD_LIMIT + 1 to be refused by getFile."""
        number = next(self._ids)
        suffix = name[name.rfind(".") :] if "." in name else ""
        stored = StoredFile(
            file_id=f"BQACAgQAAxkBAAIB{number:06d}Zm9vYmFy{number * 7919:08x}",
            file_unique_id=f"AgAD{number:06d}",
            # A relative path that exists in the working directory would make PTB read it
            # locally instead of downloading; Telegram's shape, numbered, is safe here.
            file_path=f"{folder}/file_{number}{suffix}",
            file_size=file_size if file_size is not None else len(data or b""),
            data=data,
        )
        self.files[stored.file_id] = stored
        self._paths[stored.file_path] = stored
        return stored

    def add_photo(self, data: bytes | None, *, file_size: int | None = None) -> list[dict]:
        """Register a photo as Telegram keeps one: a list of PhotoSize, smallest first, the
        largest holding `data` (the smaller ones hold a part of it, so they differ)."""
        if data is None:
            data = b"\xff\xd8\xff\xe0 a photo sent in a test " + bytes(range(256)) * 8
        dimensions = ((90, 67), (320, 240), (1280, 960))
        sizes = []
        for position, (width, height) in enumerate(dimensions, start=1):
            largest = position == len(dimensions)
            part = data if largest else data[: max(1, len(data) * position // 4)]
            claimed = file_size if largest else None
            stored = self.add_file(part, folder="photos", name="p.jpg", file_size=claimed)
            sizes.append(stored.as_json(width=width, height=height))
        return sizes

    def upload(self, call: Call, name: str) -> bytes:
        """The bytes the bot uploaded as parameter `name` (e.g. "document") in a call."""
        return call.files[name].data

    # Webhook.

    async def post_update(
        self, url: str, update: dict, *, secret_token: str | None = None, timeout: float = 10.0
    ) -> int:
        """POST an update to a webhook URL as Telegram does; return the HTTP status."""
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers[SECRET_HEADER] = secret_token
        async with (
            ClientSession(timeout=ClientTimeout(total=timeout)) as session,
            session.post(url, data=json.dumps(update), headers=headers) as response,
        ):
            await response.read()
            return response.status

    async def deliver_webhook(self) -> list[int]:
        """Deliver the pending updates to the webhook set with setWebhook (with its secret),
        in order, as Telegram does: each answered 2xx is done, the first failure stops (it
        stays pending for a later try). Returns the statuses."""
        if self.webhook is None:
            raise AssertionError("no webhook set: the bot has not called setWebhook")
        statuses = []
        while self._pending:
            update = self._pending[0]
            status = await self.post_update(
                self.webhook["url"], update, secret_token=self.webhook.get("secret_token")
            )
            statuses.append(status)
            if not 200 <= status < 300:
                break
            self._pending.remove(update)
            self._notify()
        return statuses

    # HTTP.

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _answer_error(ApiError(401, "Unauthorized"))
        params, files = await _read_params(request)
        name, handler = self._methods.get(
            request.match_info["method"].lower(), (request.match_info["method"], None)
        )
        call = self._record(name, params, files)
        if handler is None:
            return self._finish(call, ApiError(404, "Not Found"))
        fault = self._fault_for(call)
        if fault is None:
            return await self._perform(call, handler)
        if fault.kind == "hang":
            return await self._hang(call, handler, fault)
        if fault.kind == "bad_gateway" and fault.html:
            call.status = "502 Bad Gateway (nginx page)"
            self._notify(call)
            return web.Response(status=502, text=NGINX_502, content_type="text/html")
        if fault.kind == "bad_gateway":
            return self._finish(call, ApiError(502, "Bad Gateway"))
        parameters = {"retry_after": fault.retry_after} if fault.retry_after else None
        return self._finish(call, ApiError(fault.status, fault.description, parameters))

    async def _perform(self, call: Call, handler: Callable[[Call], Awaitable[Any]]) -> web.Response:
        try:
            result = await handler(call)
        except ApiError as error:
            return self._finish(call, error)
        call.result, call.done, call.status = result, True, "ok"
        self._notify(call)
        return web.json_response({"ok": True, "result": result})

    async def _hang(
        self, call: Call, handler: Callable[[Call], Awaitable[Any]], fault: Fault
    ) -> web.StreamResponse:
        response = await self._perform(call, handler) if fault.deliver else None
        call.status = "no answer"
        self._notify(call)
        await self._sleep(fault.delay)
        if fault.delay is None or response is None:
            # Closing: whoever still waits gets what a dying front end gives.
            return web.Response(status=502, text=NGINX_502, content_type="text/html")
        call.status = "ok (late)"
        return response

    def _finish(self, call: Call, error: ApiError) -> web.Response:
        call.status = f"{error.code} {error.description}"
        self._notify(call)
        return _answer_error(error)

    def _record(self, method: str, params: dict, files: dict[str, Upload]) -> Call:
        call = Call(method, params, files, asyncio.get_running_loop().time(), len(self.calls))
        self.calls.append(call)
        if call.chat_id is not None:
            self._by_chat.setdefault(call.chat_id, []).append(call)
        self._notify(call)
        return call

    def _fault_for(self, call: Call) -> Fault | None:
        for fault in self.faults:
            if fault.applies_to(call):
                fault.hits += 1
                return fault
        return None

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        call = self._record(DOWNLOAD, {"file_path": path}, {})
        stored = self._paths.get(path)
        if request.match_info["token"] != self.token or stored is None or stored.data is None:
            return self._finish(call, ApiError(404, "Not Found"))
        fault = self._fault_for(call)
        if fault is not None and fault.kind == "hang":
            call.status = "no answer"
            self._notify(call)
            await self._sleep(fault.delay)
            if fault.delay is None:
                return web.Response(status=502, text=NGINX_502, content_type="text/html")
        elif fault is not None and fault.kind != "cut":
            return self._finish(
                call, ApiError(fault.status or 502, fault.description or "Bad Gateway")
            )
        data = stored.data
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(data)
        await response.prepare(request)
        end = len(data) // 2 if fault is not None and fault.kind == "cut" else len(data)
        for start in range(0, end, 64 * 1024):
            await response.write(data[start : min(start + 64 * 1024, end)])
        if end < len(data):
            call.status = f"cut after {end} of {len(data)} bytes"
            self._notify(call)
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write_eof()
        call.result, call.done, call.status = len(data), True, "ok"
        self._notify(call)
        return response

    # Waiting.

    def _notify(self, call: Call | None = None) -> None:
        """Wake the waiters: all of them, and those waiting on the call's chat. (A waiter on
        one chat sleeps through the others: hundreds of chats stay cheap.)"""
        self._changed.set()
        self._changed = asyncio.Event()
        if call is not None and call.chat_id in self._chat_changed:
            self._chat_changed.pop(call.chat_id).set()

    async def _until(
        self, condition: Callable[[], bool], timeout: float, what: str, chat_id: Any = None
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                calls = [call for call in self.calls if call.method != "getUpdates"]
                recent = "\n  ".join(str(call) for call in calls[-15:]) or "(none)"
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; last calls:\n  {recent}"
                )
            await self._wait_change(remaining, chat_id)

    async def _wait_change(self, timeout: float | None, chat_id: Any = None) -> None:
        if chat_id is None:
            changed = self._changed
        else:
            changed = self._chat_changed.setdefault(chat_id, asyncio.Event())
        waiters = [
            asyncio.ensure_future(changed.wait()),
            asyncio.ensure_future(self._closed.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _sleep(self, delay: float | None) -> None:
        """Sleep `delay` seconds (None: until the fake closes), but never past closing."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), delay)

    # Lookups.

    def _from_bot(self, message: dict) -> bool:
        return message.get("from", {}).get("id") == self.bot_user["id"]

    def _newest_with_button(self, chat_id: int, text: str) -> dict | None:
        for message in reversed(self._messages[chat_id].values()):
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            if self._from_bot(message) and any(b["text"] == text for row in rows for b in row):
                return message
        return None

    def _resolve(self, chat_id: int, reference: Any) -> dict:
        message = self._messages[chat_id].get(_message_id_of(reference))
        if message is None:
            raise AssertionError(f"no message {reference!r} in chat {chat_id}")
        return {k: v for k, v in message.items() if k != "reply_to_message"}

    def _chat_of(self, call: Call) -> int:
        chat_id = call.params.get("chat_id")
        if chat_id not in self._chats:
            raise bad_request("chat not found")
        return chat_id

    def _bot_message(self, call: Call) -> dict:
        """A new message from the bot in the call's chat (stored, and returned as the result)."""
        chat_id = self._chat_of(call)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chats[chat_id].chat,
            "date": int(time.time()),
        }
        reply = call.params.get("reply_parameters") or {}
        replied = self._messages[chat_id].get(
            reply.get("message_id") or call.params.get("reply_to_message_id")
        )
        if replied is not None:
            message["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        markup = _inline_markup(call.params.get("reply_markup"))
        if markup:
            message["reply_markup"] = markup
        self._messages[chat_id][message["message_id"]] = message
        return message

    def _message_to_edit(self, call: Call) -> dict:
        if "inline_message_id" in call.params:
            raise bad_request("inline messages are not supported by the fake")
        chat_id = self._chat_of(call)
        message = self._messages[chat_id].get(call.params.get("message_id"))
        if message is None:
            raise bad_request("message to edit not found")
        if not self._from_bot(message):
            raise bad_request("message can't be edited")
        return message

    # --- Bot API methods (each takes the Call, returns the result or raises ApiError) ---

    async def _true(self, call: Call) -> bool:
        return True

    async def _get_me(self, call: Call) -> dict:
        return self.bot_user

    async def _get_updates(self, call: Call) -> list[dict]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(call.params.get("offset") or 0)
        if offset < 0:
            self._pending = self._pending[offset:]
        elif offset:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        limit = int(call.params.get("limit") or 100)
        allowed = call.params.get("allowed_updates") or None
        timeout = float(call.params.get("timeout") or 0)
        self._poll += 1
        poll = self._poll
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if poll != self._poll:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            ready = [u for u in self._pending if allowed is None or _kind(u) in allowed]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closed.is_set():
                return ready[:limit]
            await self._wait_change(remaining)

    async def _set_webhook(self, call: Call) -> bool:
        url = call.params.get("url") or ""
        secret = call.params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        if not url:
            return await self._delete_webhook(call)
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": call.params.get("allowed_updates"),
            "max_connections": call.params.get("max_connections", 40),
        }
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _delete_webhook(self, call: Call) -> bool:
        self.webhook = None
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(self, call: Call) -> dict:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
        return info

    async def _set_my_commands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list):
            raise bad_request('parameter "commands" is required')
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("command description must be non-empty")
        key = _commands_key(call.params.get("scope"), call.params.get("language_code", ""))
        self._commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, call: Call) -> list[dict]:
        return self.commands(call.params.get("language_code", ""), call.params.get("scope"))

    async def _delete_my_commands(self, call: Call) -> bool:
        key = _commands_key(call.params.get("scope"), call.params.get("language_code", ""))
        self._commands.pop(key, None)
        return True

    async def _send_chat_action(self, call: Call) -> bool:
        self._chat_of(call)
        return True

    async def _send_message(self, call: Call) -> dict:
        self._chat_of(call)
        text, entities = _visible_text(call.params.get("text"), call.params.get("parse_mode"))
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > 4096:
            raise bad_request("message is too long")
        _check_markup(call.params.get("reply_markup"))
        message = self._bot_message(call)
        message["text"] = text
        if entities:
            message["entities"] = entities
        return message

    async def _send_photo(self, call: Call) -> dict:
        upload = self._upload(call, "photo")
        sizes = (
            self.add_photo(upload.data)
            if isinstance(upload, Upload)
            else [upload.as_json(width=1280, height=960)]
        )
        return self._send_media(call, {"photo": sizes})

    async def _send_document(self, call: Call) -> dict:
        upload = self._upload(call, "document")
        if isinstance(upload, Upload):
            name = upload.filename or "document"
            stored = self.add_file(upload.data, folder="documents", name=name)
            document = stored.as_json(
                file_name=name, mime_type=upload.content_type or "application/octet-stream"
            )
        else:
            document = upload.as_json(file_name=upload.file_path.rsplit("/", 1)[-1])
        return self._send_media(call, {"document": document})

    def _upload(self, call: Call, name: str) -> Upload | StoredFile:
        """The file of a send call: uploaded in the body, or a file_id already known."""
        if name in call.files:
            return call.files[name]
        file_id = call.params.get(name)
        if file_id in self.files:
            return self.files[file_id]
        raise bad_request(f"wrong file identifier/HTTP URL specified ({name})")

    def _send_media(self, call: Call, content: dict) -> dict:
        self._chat_of(call)
        caption, entities = _visible_text(call.params.get("caption"), call.params.get("parse_mode"))
        if len(caption) > 1024:
            raise bad_request("message caption is too long")
        _check_markup(call.params.get("reply_markup"))
        message = self._bot_message(call)
        message.update(content)
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        return message

    async def _edit_message_text(self, call: Call) -> dict:
        message = self._message_to_edit(call)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text, entities = _visible_text(call.params.get("text"), call.params.get("parse_mode"))
        if not text.strip():
            raise bad_request("message text is empty")
        _check_markup(call.params.get("reply_markup"))
        return self._edit(message, text=text, entities=entities, markup=call)

    async def _edit_message_reply_markup(self, call: Call) -> dict:
        message = self._message_to_edit(call)
        _check_markup(call.params.get("reply_markup"))
        return self._edit(message, markup=call)

    def _edit(self, message: dict, *, markup: Call, **changes: Any) -> dict:
        """Apply an edit. As in Telegram, an edit without reply_markup removes the keyboard,
        and an edit that changes nothing is refused."""
        edited = {**message, **{k: v for k, v in changes.items() if v}}
        if "entities" in changes and not changes["entities"]:
            edited.pop("entities", None)
        new_markup = _inline_markup(markup.params.get("reply_markup"))
        edited.pop("reply_markup", None)
        if new_markup:
            edited["reply_markup"] = new_markup
        unchanged = {k: v for k, v in message.items() if k != "edit_date"}
        if unchanged == {k: v for k, v in edited.items() if k != "edit_date"}:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        edited["edit_date"] = int(time.time())
        self._messages[message["chat"]["id"]][message["message_id"]] = edited
        return edited

    async def _delete_message(self, call: Call) -> bool:
        chat_id = self._chat_of(call)
        if self._messages[chat_id].pop(call.params.get("message_id"), None) is None:
            raise bad_request("message to delete not found")
        return True

    async def _answer_callback_query(self, call: Call) -> bool:
        query_id = call.params.get("callback_query_id")
        if query_id not in self._queries or self._queries[query_id] is not None:
            raise bad_request(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        self._queries[query_id] = call.params
        return True

    async def _get_file(self, call: Call) -> dict:
        stored = self.files.get(call.params.get("file_id"))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.file_size > DOWNLOAD_LIMIT:
            raise bad_request("file is too big")
        return stored.as_json(file_path=stored.file_path)


# --- protocol helpers ----------------------------------------------------------------------


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """The call's parameters (query string and body) and uploaded files. The body is read
    once and parsed from the saved bytes (reading it twice through aiohttp fails)."""
    raw: dict[str, str] = dict(request.query)
    files: dict[str, Upload] = {}
    body = await request.read()
    if request.content_type == "multipart/form-data":
        boundary = _boundary(request.headers["Content-Type"])
        for name, upload in _parse_multipart(body, boundary):
            if upload.filename is None:
                raw[name] = upload.data.decode()
            else:
                files[name] = upload
    elif request.content_type == "application/json":
        for name, value in json.loads(body).items():
            raw[name] = value if isinstance(value, str) else json.dumps(value)
    elif body:
        raw.update(parse_qsl(body.decode(), keep_blank_values=True))
    params = {name: _decode(name, value) for name, value in raw.items()}
    # A file sent as attach://<part> belongs to the parameter that names it.
    for name, value in params.items():
        if isinstance(value, str) and value.startswith("attach://"):
            part = value.removeprefix("attach://")
            if part in files:
                files[name] = files.pop(part)
    return params, files


def _decode(name: str, value: str) -> Any:
    if name in TEXT_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _boundary(content_type: str) -> bytes:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise web.HTTPBadRequest(text="multipart without boundary")
    return match.group(1).encode()


def _parse_multipart(body: bytes, boundary: bytes) -> list[tuple[str, Upload]]:
    parts = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _disposition_param(disposition, "name")
        if name is None:
            continue
        upload = Upload(
            filename=_disposition_param(disposition, "filename"),
            content_type=headers.get("content-type"),
            data=data.removesuffix(b"\r\n"),
        )
        parts.append((name, upload))
    return parts


def _disposition_param(disposition: str, key: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{key}="((?:[^"\\]|\\.)*)"', disposition)
    if match is None:
        return None
    # httpx encodes form parameters the HTML5 way: " as %22, control characters as %XX.
    value = re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), match.group(1))
    return value.replace("\\\\", "\\")


def _answer_error(error: ApiError) -> web.Response:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": error.code,
        "description": error.description,
    }
    if error.parameters:
        body["parameters"] = error.parameters
    return web.json_response(body, status=error.code)


def _kind(update: dict) -> str:
    return next(key for key in update if key != "update_id")


def _message_of(update: dict) -> dict:
    return update[_kind(update)] if "update_id" in update else update


def _message_id_of(reference: Any) -> int:
    if isinstance(reference, int):
        return reference
    if isinstance(reference, Call):
        return reference.message_id  # type: ignore[return-value]
    return _message_of(reference)["message_id"]


def _commands_key(scope: dict | None, language_code: str | None) -> tuple[str, str]:
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code or ""


def _inline_markup(markup: Any) -> dict | None:
    """Telegram keeps (and returns with the Message) only an inline keyboard."""
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        return {"inline_keyboard": markup["inline_keyboard"]}
    return None


def _check_markup(markup: Any) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
            actions = {"callback_data", "url", "web_app", "login_url", "switch_inline_query"}
            if not actions & button.keys():
                raise bad_request("text buttons are unallowed in the inline keyboard")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# parse_mode HTML: the tags Telegram knows, and the entity each makes.
HTML_ENTITIES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}


class _TelegramHTML(HTMLParser):
    """Telegram's reading of parse_mode HTML: the visible text and its entities, or the
    "can't parse entities" refusal a bot gets for an unknown or unclosed tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.entities: list[dict] = []
        self.open: list[tuple[str, int, dict]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_ENTITIES:
            raise bad_request(f'can\'t parse entities: Unsupported start tag "{tag}"')
        self.open.append((tag, _utf16_len(self.text), dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            raise bad_request(f'can\'t parse entities: Unexpected end tag "{tag}"')
        _, offset, attrs = self.open.pop()
        entity = {"type": HTML_ENTITIES[tag], "offset": offset}
        entity["length"] = _utf16_len(self.text) - offset
        if tag == "a":
            entity["url"] = attrs.get("href") or ""
        if entity["length"]:
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.text += data


def _visible_text(text: Any, parse_mode: str | None) -> tuple[str, list[dict]]:
    if text is None:
        return "", []
    text = str(text)
    if (parse_mode or "").upper() != "HTML":
        return text, []
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.open:
        raise bad_request(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{parser.open[-1][0]}"'
        )
    parser.entities.sort(key=lambda e: e["offset"])
    return parser.text, parser.entities
