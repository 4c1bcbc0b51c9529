"""The unit of work of one update, shared by every handler.

For each update, in one database transaction (see core.services.telegram):
``claim_update`` (an update handled before, say before a crash and a restart, does nothing
at all), ``chat_context`` (the chat and who acts through it, in one read), then the
handler's effect in a savepoint, so that a domain error undoes the effect and still leaves
the claim and the error's answer standing.
The effect does not talk to Telegram: it says what to answer (``Turn.say``), and the answers
go out once the transaction is committed, so a send that waits (the per-chat limit, a retry)
never holds the database, and a rolled-back effect never answered anything.

Files are fetched from Telegram before the transaction (``prepare``), into the file store;
what no record came to refer to is removed afterwards (core.storekeeping).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from core import logcontext, metrics, storekeeping
from core.actor import Actor
from core.errors import LoketError
from core.i18n import N_, gettext_for, language_of, ngettext_for
from core.services import telegram
from core.services.telegram import ChatInfo, ChatView

from . import app as bot_app

if TYPE_CHECKING:
    from .app import Deps

log = logging.getLogger(__name__)

Effect = Callable[["Turn"], Awaitable[None]]
Prepare = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[Any]]

LINK_FIRST = N_(
    "This chat is not linked to an account yet. Send /start to link it; /help says more."
)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
SORRY = N_("Something went wrong on our side. Please try again in a moment.")


@dataclass
class Reply:
    """One answer: a new message, or (``edit``) a new text for one of the bot's messages
    (text None: new buttons only)."""

    text: str | None
    keyboard: InlineKeyboardMarkup | None = None
    # This message asks the current question: its buttons are the live ones (set_question).
    asks: bool = False
    edit: int | None = None


@dataclass
class Turn:
    """One update being handled: the unit of work's session, who writes, and the answers."""

    session: AsyncSession
    deps: Deps
    update: Update
    chat: ChatInfo
    view: ChatView
    actor: Actor | None
    fetched: Any = None  # what ``prepare`` fetched before the transaction
    replies: list[Reply] = field(default_factory=list)
    toast: str | None = None  # the short answer to a pressed button
    language: str = "nl"
    state: dict[str, Any] | None = None  # the chat's state as this turn leaves it
    held: object = None  # what the unit of work must keep alive (the chat's row)
    recorded: int | None = None  # the chat's question message as the unit of work left it

    def __post_init__(self) -> None:
        self.language = self.view.language.value
        self.state = dict(self.view.state) if self.view.state else None

    @property
    def _(self) -> Callable[[str], str]:
        return gettext_for(self.language)

    @property
    def ngettext(self) -> Callable[[str, str, int], str]:
        return ngettext_for(self.language)

    @property
    def message(self) -> Message | None:
        return self.update.effective_message

    @property
    def pressed(self) -> int | None:
        """The message whose button was pressed (a callback query), else None."""
        query = self.update.callback_query
        return query.message.message_id if query and query.message else None

    @property
    def pressed_live(self) -> bool:
        """Whether the button pressed is on the message that asks the current question: the
        one recorded, or one sent after it. The bot records a message once it is sent, in a
        unit of work after the send; a person who answers the new question before that is
        committed presses a message newer than the one recorded (a chat's message ids only
        grow), and the button's data must still name what the chat waits for."""
        pressed, live = self.pressed, self.view.question_message_id
        return pressed is not None and live is not None and pressed >= live

    @property
    def waiting(self) -> str | None:
        return self.state.get("waiting") if self.state else None

    @property
    def live_message(self) -> int | None:
        """The bot's message that asks the current question (its buttons are not stale)."""
        return self.view.question_message_id

    def say(
        self,
        text: str | None,
        keyboard: InlineKeyboardMarkup | None = None,
        *,
        asks: bool = False,
        edit: int | None = None,
    ) -> None:
        self.replies.append(Reply(text, keyboard, asks, edit))

    async def set_state(self, state: dict[str, Any] | None) -> None:
        await telegram.set_state(self.session, self.chat.id, state)
        self.state = dict(state) if state else None


def chat_info(update: Update) -> ChatInfo | None:
    chat = update.effective_chat
    if chat is None:
        return None
    user = update.effective_user
    return ChatInfo(chat.id, chat.type, user.language_code if user else None)


def handler(
    effect: Effect, *, linked: bool = True, prepare: Prepare | None = None
) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    """A PTB callback running ``effect`` in the update's unit of work. ``linked``: only for
    a chat linked to an account (any other is told to link first)."""

    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await run(update, context, effect, linked=linked, prepare=prepare)

    return handle


async def run(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    effect: Effect,
    *,
    linked: bool = True,
    prepare: Prepare | None = None,
) -> None:
    with logcontext.bound(**{logcontext.UPDATE: update.update_id}):
        await _run(update, context, effect, linked=linked, prepare=prepare)


async def _run(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    effect: Effect,
    *,
    linked: bool,
    prepare: Prepare | None,
) -> None:
    chat = chat_info(update)
    if chat is None:
        return
    d = bot_app.deps(context)
    try:
        async with storekeeping.removing_unused(d.db, d.store):
            fetched = await prepare(update, context) if prepare is not None else None
            turn = await _unit(d, update, chat, effect, linked=linked, fetched=fetched)
    except Exception:
        # A fault of ours, not of what was sent: nothing of it was stored (the unit of work
        # rolled back). Say so, and let PTB's error handlers log it.
        metrics.BOT_UPDATES.inc("failed")
        sorry = gettext_for(language_of(chat.language_code))(SORRY)
        await _send(context.bot, chat.id, Reply(sorry))
        raise
    metrics.BOT_UPDATES.inc("handled" if turn is not None else "duplicate")
    if turn is not None:
        await deliver(context.bot, d, turn)


async def _unit(
    d: Deps, update: Update, chat: ChatInfo, effect: Effect, *, linked: bool, fetched: Any
) -> Turn | None:
    # The question message the chat's previous update sent, recorded with this one's effect
    # (core.services.telegram.Asked); kept for the next if this one records nothing.
    asked = d.asked.pop(chat.id, None)
    committed = False
    try:
        async with d.unit() as s:
            if not await telegram.claim_update(s, update.update_id):
                return None
            seen = await telegram.chat_context(s, chat, asked=asked)
            turn = Turn(s, d, update, chat, seen.view, seen.actor, fetched, held=seen.row)
            await _effect(turn, effect, linked=linked)
            # In the session's greenlet: a refused effect's savepoint may have expired the row.
            turn.recorded = await s.run_sync(lambda _: seen.row.question_message_id)
        committed = True
    finally:
        if not committed and asked is not None:
            d.asked.setdefault(chat.id, asked)
    return turn


async def _effect(turn: Turn, effect: Effect, *, linked: bool) -> None:
    if turn.chat.type != telegram.PRIVATE:
        _refuse_group(turn)
        return
    if linked and turn.actor is None:
        turn.say(turn._(LINK_FIRST))
        return
    said = len(turn.replies)
    try:
        async with turn.session.begin_nested():
            await effect(turn)
    except LoketError as exc:
        # The effect is undone; what it meant to answer goes with it.
        del turn.replies[said:]
        turn.say(exc.translated(turn._))


def _refuse_group(turn: Turn) -> None:
    """Groups and channels reach nothing: a command there is answered once, politely;
    everything else said there is not the bot's business."""
    message = turn.message
    if message is not None and (message.text or "").startswith("/"):
        turn.say(turn._(telegram.NOT_PRIVATE))


async def deliver(bot: Bot, d: Deps, turn: Turn) -> None:
    """Send what the turn answers, in order, now that its unit of work is committed. A
    message that asks the current question is to be recorded as the chat's live one, by the
    chat's next unit of work (core.services.telegram.Asked)."""
    query = turn.update.callback_query
    if query is not None:
        try:
            await query.answer(text=turn.toast)
        except TelegramError as exc:  # too old, or pressed twice: nothing to undo
            log.info("a button press could not be answered: %s", type(exc).__name__)
    asks: int | None = None
    for reply in turn.replies:
        sent = await _send(bot, turn.chat.id, reply)
        if sent is not None and reply.asks:
            asks = sent
    if asks is not None and asks != turn.recorded:
        d.asked[turn.chat.id] = telegram.Asked(turn.recorded, asks)


async def _send(bot: Bot, chat_id: int, reply: Reply) -> int | None:
    try:
        if reply.edit is not None and reply.text is None:
            await bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=reply.edit, reply_markup=reply.keyboard
            )
            return reply.edit
        if reply.edit is not None:
            await bot.edit_message_text(
                reply.text,
                chat_id=chat_id,
                message_id=reply.edit,
                reply_markup=reply.keyboard,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
            )
            return reply.edit
        message = await bot.send_message(
            chat_id,
            reply.text or "…",
            reply_markup=reply.keyboard,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
        )
        return message.message_id
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return reply.edit
        log.warning("Telegram refused an answer: %s", exc.message)
    except TelegramError as exc:
        log.warning("an answer could not be sent: %s", type(exc).__name__)
    return None
