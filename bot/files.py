"""Photos and documents sent in the chat: the answer to an upload question, an attachment to
a message, or (sent outside both) a document delivered to a dossier the client picks.

A file is streamed from the Bot API into the file store before the update's unit of work
begins (``prepare``), so the database is never held while it downloads; what no record came
to refer to is removed afterwards. Of a photo the largest size is taken. The Bot API gives a
bot files of at most 20 MB: for a larger one an upload question offers a one-time web link.

An album arrives as one message per file, sharing a ``media_group_id``: the chat's state
keeps the album's id, so its files go to the same answer (or message, or dossier) and are
confirmed in one message that grows. A caption names a photo (a photo has no name of its
own) and goes before a document's name, so it is kept wherever the file is shown.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from core import walker
from core.actor import Actor
from core.errors import LoketError
from core.i18n import N_
from core.services import checklists, documents, dossiers, telegram, upload_links
from core.services.documents import Upload
from core.storage import CHUNK, FileStore, StoredFile, read_chunks

from . import app as bot_app
from . import messages, render, walk
from .updates import Turn

log = logging.getLogger(__name__)

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # what the Bot API lets a bot download
TRIES = 3
PENDING_MAX = 20  # files waiting for their dossier to be chosen
CAPTION_IN_NAME = 80
CHOOSE = "f"  # callback: the dossier for the files sent outside a question

# Where a file goes, by what the chat is doing.
UPLOAD = "upload"  # an upload question's answer
MESSAGE = "message"  # the message being written (/message)
REPLY = "reply"  # a reply to a notification: a message in its dossier
MESSAGE_ALBUM = "message_album"  # another photo of an album sent with a message
OUTSIDE = "outside"  # anything else: delivered to a dossier, asked which

TOO_BIG = N_(
    "%(name)s is larger than 20 MB: more than Telegram lets me fetch. Please upload it on "
    "the website: %(url)s"
)
FAILED = N_("I could not fetch %(name)s from Telegram. Please send it again.")


@dataclass(frozen=True)
class Incoming:
    """A file as a message carries it (of a photo, its largest size)."""

    file_id: str
    photo: bool
    file_name: str | None
    content_type: str | None
    size: int | None
    caption: str | None
    album: str | None
    message_id: int
    date: dt.datetime

    def name(self, _: Callable[[str], str], *, caption: bool = True) -> str:
        said = " ".join((self.caption or "").split())[:CAPTION_IN_NAME].strip() if caption else ""
        if self.photo:
            default = "{}-{:%Y-%m-%d}-{}".format(_("photo"), self.date, self.message_id)
            return (said or default) + ".jpg"
        name = self.file_name or "{}-{}".format(_("document"), self.message_id)
        return f"{said} - {name}" if said else name

    def pending(self, _: Callable[[str], str]) -> dict[str, Any]:
        """The file as the chat's state keeps it until its dossier is chosen: its id at
        Telegram, not its bytes."""
        return {
            "id": self.file_id,
            "name": self.name(_),
            "type": self.content_type,
            "size": self.size,
        }


def incoming(message: Message | None, timezone: str) -> Incoming | None:
    """The file ``message`` carries; its date on the firm's clock (``timezone``), as the name
    of a photo shows it."""
    if message is None:
        return None
    common = {
        "caption": message.caption,
        "album": message.media_group_id,
        "message_id": message.message_id,
        "date": message.date.astimezone(ZoneInfo(timezone)),
    }
    if message.photo:
        largest = message.photo[-1]
        return Incoming(largest.file_id, True, None, "image/jpeg", largest.file_size, **common)
    if message.document:
        doc = message.document
        return Incoming(doc.file_id, False, doc.file_name, doc.mime_type, doc.file_size, **common)
    return None


# --- fetching from the Bot API ---------------------------------------------------------------


@dataclass
class Fetched:
    """A file fetched into the store, or why not."""

    stored: StoredFile | None = None
    too_big: bool = False
    failed: bool = False


class _Incomplete(Exception):
    pass


async def fetch(bot: Bot, store: FileStore, file_id: str, size: int | None) -> Fetched:
    """Stream one file from the Bot API into the store; a broken download is tried again."""
    if size is not None and size > DOWNLOAD_LIMIT:
        return Fetched(too_big=True)
    for attempt in range(TRIES):
        try:
            found = await bot.get_file(file_id)
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                return Fetched(too_big=True)
            log.warning("Telegram would not give a file: %s", exc.message)
            return Fetched(failed=True)
        except TelegramError as exc:
            log.warning("Telegram would not give a file: %s", type(exc).__name__)
            return Fetched(failed=True)
        try:
            return Fetched(stored=await store.put(_chunks(bot, found.file_path, found.file_size)))
        except (aiohttp.ClientError, TimeoutError, _Incomplete) as exc:
            # Never the URL in the log: it holds the bot's token.
            log.warning("a file download broke off (%s), try %d", type(exc).__name__, attempt + 1)
        except LoketError as exc:  # the store's own limit
            log.warning("a file was refused by the store: %s", exc.message)
            return Fetched(failed=True)
    return Fetched(failed=True)


async def _chunks(bot: Bot, path: str | None, size: int | None) -> AsyncIterator[bytes]:
    if not path:
        raise _Incomplete("no file path")
    if bot.local_mode:  # a local Bot API server gives the file's own path
        async for chunk in read_chunks(Path(path)):
            yield chunk
        return
    got = 0
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(path) as response,
    ):
        if response.status != 200:
            raise _Incomplete(f"HTTP {response.status}")
        async for chunk in response.content.iter_chunked(CHUNK):
            got += len(chunk)
            yield chunk
    if size is not None and got != size:
        raise _Incomplete(f"{got} of {size} bytes")


# --- where a file goes -----------------------------------------------------------------------


async def route(
    session: AsyncSession, actor: Actor, state: dict[str, Any] | None, message: Message
) -> str:
    """Where the file in ``message`` goes, given what the chat is doing."""
    waiting = state.get("waiting") if state else None
    state = state or {}
    if (
        waiting == telegram.WAITING_MESSAGE_ALBUM
        and message.media_group_id
        and state.get("album") == message.media_group_id
    ):
        return MESSAGE_ALBUM
    if await messages.delivery_replied(session, message) is not None:
        return REPLY
    if waiting == telegram.WAITING_UPLOAD:
        return UPLOAD
    if waiting == telegram.WAITING_ANSWER and state.get("question"):
        try:
            loaded = await checklists.load(session, actor, state["checklist_id"])
            q = walker.question(loaded.definition, state["question"])
        except LoketError:
            return OUTSIDE
        # An upload question's answer, or the document beside an answer (walker.takes_files).
        return UPLOAD if walker.takes_files(q) else OUTSIDE
    if waiting == telegram.WAITING_MESSAGE_BODY:
        return MESSAGE
    return OUTSIDE


async def prepare(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Fetched | None:
    """Before the unit of work: fetch the file, if where it goes takes it now (a file sent
    outside a question waits at Telegram until its dossier is chosen)."""
    message, chat = update.effective_message, update.effective_chat
    d = bot_app.deps(context)
    item = incoming(message, d.settings.timezone)
    if item is None or message is None or chat is None or chat.type != telegram.PRIVATE:
        return None
    async with d.db.read() as s:
        actor = await telegram.chat_actor(s, chat.id)
        view = await telegram.get_chat(s, chat.id)
        if actor is None or await route(s, actor, view.state if view else None, message) == OUTSIDE:
            return None
    return await fetch(context.bot, d.store, item.file_id, item.size)


async def received(turn: Turn) -> None:
    """A photo or a document, where the chat's state says it goes."""
    item = incoming(turn.message, turn.deps.settings.timezone)
    assert item is not None and turn.message is not None
    _ = turn._
    where = await route(turn.session, turn.actor, turn.state, turn.message)
    fetched: Fetched | None = turn.fetched
    if where != OUTSIDE and fetched is None:
        where = OUTSIDE  # the chat moved on while the file was on its way: keep it pending
    if where == OUTSIDE:
        await _pending(turn, item)
        return
    assert fetched is not None
    if fetched.too_big:
        await _too_big(turn, item, where)
        return
    if fetched.stored is None:
        turn.say(render.e(_(FAILED) % {"name": item.name(_)}))
        return
    upload = Upload(
        item.name(_, caption=where == UPLOAD), None, item.content_type, stored=fetched.stored
    )
    if where == UPLOAD:
        await _answer(turn, item, upload)
    else:
        await messages.with_file(turn, where, item.caption, upload)


async def _too_big(turn: Turn, item: Incoming, where: str) -> None:
    _ = turn._
    state = turn.state or {}
    if where == UPLOAD:
        url = await upload_links.issue_upload_link(
            turn.session,
            turn.deps.settings,
            turn.actor,
            checklist_id=state["checklist_id"],
            question_key=state["question"],
        )
        turn.say(
            render.e(
                _(
                    "%(name)s is larger than 20 MB: more than Telegram lets me fetch. Upload it "
                    "for this question on the website instead, with this link (it works once):"
                )
                % {"name": item.name(_)}
            )
            + "\n"
            + render.e(url)
        )
        return
    turn.say(render.e(_(TOO_BIG) % {"name": item.name(_), "url": turn.deps.settings.public_url}))


async def _answer(turn: Turn, item: Incoming, upload: Upload) -> None:
    """A file for the upload question the chat is at: saved with the answer at once; more
    may follow until "Done"."""
    state = turn.state or {}
    cid, key = state["checklist_id"], state["question"]
    loaded = await checklists.attach(turn.session, turn.deps.store, turn.actor, cid, key, [upload])
    filed = (await checklists.filed_by_question(turn.session, loaded)).get(key, [])
    ids, names = [d.id for d in filed], [d.filename for d in filed]
    mine = list(state.get("document_ids", [])) if turn.waiting == telegram.WAITING_UPLOAD else []
    mine.append(ids[-1])
    same_album = (
        turn.waiting == telegram.WAITING_UPLOAD
        and item.album is not None
        and state.get("album") == item.album
    )
    await turn.set_state(
        {
            "waiting": telegram.WAITING_UPLOAD,
            "checklist_id": cid,
            "question": key,
            "document_ids": mine,
            "album": item.album,
        }
    )
    name_of = dict(zip(ids, names, strict=False))
    q = render.question_index(loaded.definition, key)
    text, buttons = render.uploaded(
        [name_of.get(i, "?") for i in mine], cid, q, turn._, turn.ngettext
    )
    turn.say(text, buttons, asks=True, edit=turn.live_message if same_album else None)


async def uploaded(turn: Turn, args: list[str]) -> None:
    """ "Done" under the files of an upload question: on to the next question."""
    state = turn.state or {}
    if (
        turn.waiting != telegram.WAITING_UPLOAD
        or not turn.pressed_live
        or walk.number(args[0] if args else None) != state.get("checklist_id")
    ):
        turn.toast = turn._(walk.MOVED_ON)
        return
    loaded = await checklists.load(turn.session, turn.actor, state["checklist_id"])
    n = len(state.get("document_ids", []))
    note = "✓ " + turn.ngettext("%(n)d file saved.", "%(n)d files saved.", n) % {"n": n}
    turn.say(None, None, edit=turn.pressed)
    await walk.show(turn, loaded, note=note)


async def typed_while_uploading(turn: Turn, text: str) -> None:
    del text
    turn.say(render.e(turn._("Send a photo or a document, or press Done when that was all.")))


# --- files sent outside a question: delivered to a dossier -----------------------------------


async def _pending(turn: Turn, item: Incoming) -> None:
    """Ask which dossier a file is for; the files of an album wait together."""
    _ = turn._
    state = turn.state if turn.waiting == telegram.WAITING_DOCUMENT_DOSSIER else None
    files = list((state or {}).get("files", []))
    if len(files) >= PENDING_MAX:
        turn.say(render.e(_("Please choose the dossier for the files sent so far first.")))
        return
    files.append(item.pending(_))
    rows = (await dossiers.list_dossiers(turn.session, turn.actor)).rows
    if not rows:
        turn.say(render.e(_("You have no dossier yet to put this in.")))
        return
    same_album = state is not None and item.album is not None and state.get("album") == item.album
    await turn.set_state(
        {"waiting": telegram.WAITING_DOCUMENT_DOSSIER, "files": files, "album": item.album}
    )
    text = turn.ngettext(
        "Which dossier is this file for?", "Which dossier are these %(n)d files for?", len(files)
    ) % {"n": len(files)}
    buttons = render.keyboard(
        [
            [render.button(f"{r.dossier.number} · {r.dossier.description}", CHOOSE, r.dossier.id)]
            for r in rows
        ]
    )
    turn.say(render.e(text), buttons, asks=True, edit=turn.live_message if same_album else None)


async def prepare_choice(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> dict[str, Fetched] | None:
    """Before the unit of work of a dossier chosen: fetch the files waiting for it."""
    chat = update.effective_chat
    if chat is None:
        return None
    d = bot_app.deps(context)
    async with d.db.read() as s:
        view = await telegram.get_chat(s, chat.id)
    if view is None or view.waiting != telegram.WAITING_DOCUMENT_DOSSIER:
        return None
    out = {}
    for pending in view.state.get("files", []):
        out[pending["id"]] = await fetch(context.bot, d.store, pending["id"], pending.get("size"))
    return out


async def chose_dossier(turn: Turn, args: list[str]) -> None:
    """The dossier for the files sent outside a question: delivered there."""
    _ = turn._
    dossier_id = walk.number(args[0] if args else None)
    fetched: dict[str, Fetched] = turn.fetched or {}
    state = turn.state or {}
    files = state.get("files", []) if turn.waiting == telegram.WAITING_DOCUMENT_DOSSIER else []
    if dossier_id is None or not files or not turn.pressed_live:
        turn.toast = _(walk.MOVED_ON)
        return
    filed, lines = [], []
    for pending in files:
        got = fetched.get(pending["id"]) or Fetched(failed=True)
        if got.stored is not None:
            upload = Upload(pending["name"], None, pending.get("type"), stored=got.stored)
            document = await documents.deliver_document(
                turn.session, turn.deps.store, turn.actor, upload=upload, dossier_id=dossier_id
            )
            filed.append(document)
        elif got.too_big:
            lines.append(
                _(TOO_BIG) % {"name": pending["name"], "url": turn.deps.settings.public_url}
            )
        else:
            lines.append(_(FAILED) % {"name": pending["name"]})
    await turn.set_state(None)
    if filed:
        number = (
            await dossiers.open_dossier(turn.session, turn.actor, dossier_id=dossier_id)
        ).dossier.number
        head = _("Filed in dossier %(number)s, under Delivered by me:") % {"number": number}
        lines.insert(0, "\n".join([head, *(f"• {d.filename}" for d in filed)]))
    turn.say(None, None, edit=turn.pressed)
    turn.say(render.e("\n\n".join(lines)))


async def typed_while_choosing(turn: Turn, text: str) -> None:
    del text
    turn.say(
        render.e(turn._("First choose, with the buttons above, which dossier your files are for."))
    )
