"""Which handler takes which kind of update. Each kind has its own small module; here typed
text and pressed buttons are sent on by what the chat waits for (its state in core) and by
the button's action."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from core.services import telegram

from . import commands, files, messages, other, render, walk
from .commands import set_commands
from .updates import LINK_FIRST, Turn, handler

__all__ = ["register", "set_commands"]

Typed = Callable[[Turn, str], Awaitable[None]]
Pressed = Callable[[Turn, list[str]], Awaitable[None]]

# What typed text answers, by what the chat waits for.
TYPED: dict[str, Typed] = {
    telegram.WAITING_EMAIL: commands.email_typed,
    telegram.WAITING_ANSWER: walk.typed,
    telegram.WAITING_NOT_AVAILABLE_REASON: walk.reason_typed,
    telegram.WAITING_NOT_AVAILABLE_DATE: walk.date_typed,
    telegram.WAITING_MESSAGE_SUBJECT: messages.subject_typed,
    telegram.WAITING_MESSAGE_BODY: messages.body_typed,
    telegram.WAITING_UPLOAD: files.typed_while_uploading,
    telegram.WAITING_DOCUMENT_DOSSIER: files.typed_while_choosing,
}

# What a button does, by the action its callback data starts with.
PRESSED: dict[str, Pressed] = {
    render.ANSWER: walk.chose,
    render.TOGGLE: walk.toggled,
    render.CHOSEN: walk.chosen,
    render.HELP: walk.helped,
    render.NOT_AVAILABLE: walk.not_there,
    render.NO_REASON: walk.no_reason,
    render.NO_DATE: walk.no_date,
    render.SKIP: walk.skipped,
    render.BACK: walk.back,
    render.NEXT: walk.forward,
    render.UPLOADED: files.uploaded,
    render.SUBMIT: walk.submitted,
    messages.PICK: messages.picked,
    messages.CANCEL: messages.cancelled,
    commands.PICK: commands.checklist_picked,
}
# Buttons that work in a chat not linked (yet).
UNLINKED_BUTTONS = {commands.LANGUAGE: commands.language_chosen}


async def typed(turn: Turn) -> None:
    text = turn.message.text if turn.message is not None else None
    if not text:
        return
    if turn.actor is None:
        await commands.unlinked_text(turn, text)
        return
    assert turn.message is not None
    delivery = await messages.delivery_replied(turn.session, turn.message)
    if delivery is not None:
        await messages.reply_typed(turn, delivery, text)
        return
    if turn.waiting == telegram.WAITING_MESSAGE_ALBUM:  # the album is over
        await turn.set_state(None)
    answer = TYPED.get(turn.waiting or "", other.unclear)
    await answer(turn, text)


async def pressed(turn: Turn) -> None:
    query = turn.update.callback_query
    action, *args = render.parts(query.data if query else None)
    if action in UNLINKED_BUTTONS:
        await UNLINKED_BUTTONS[action](turn, args)
        return
    if turn.actor is None:
        turn.toast = turn._(LINK_FIRST)
        return
    answer = PRESSED.get(action)
    if answer is None:
        turn.toast = turn._(walk.MOVED_ON)
        return
    await answer(turn, args)


def _button(answer: Pressed) -> Callable[[Turn], Awaitable[None]]:
    async def run(turn: Turn) -> None:
        query = turn.update.callback_query
        await answer(turn, render.parts(query.data if query else None)[1:])

    return run


def _reset(effect: Callable[[Turn], Awaitable[None]]) -> Callable[[Turn], Awaitable[None]]:
    """A command ends whatever the chat was waiting for (an unfinished message, say)."""

    async def run(turn: Turn) -> None:
        if turn.waiting not in (None, telegram.WAITING_ANSWER):
            await turn.set_state(None)
        await effect(turn)

    return run


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the bot's handlers to ``app``; the first that matches an update takes it."""
    private = filters.ChatType.PRIVATE
    app.add_handler(MessageHandler(~private, handler(other.anything, linked=False)))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, handler(other.edited, linked=False)))
    for name, effect, linked in (
        ("start", commands.start, False),
        ("help", commands.help_, False),
        ("language", commands.language, False),
        ("unlink", commands.unlink, True),
        ("checklist", commands.checklist, True),
        ("dossiers", commands.dossiers_, True),
        ("message", messages.start, True),
    ):
        app.add_handler(CommandHandler(name, handler(_reset(effect), linked=linked)))
    app.add_handler(
        CallbackQueryHandler(
            handler(_button(files.chose_dossier), prepare=files.prepare_choice),
            pattern=f"^{files.CHOOSE}:",
        )
    )
    app.add_handler(CallbackQueryHandler(handler(pressed, linked=False)))
    app.add_handler(MessageHandler(filters.COMMAND, handler(commands.unknown, linked=False)))
    app.add_handler(
        MessageHandler(
            filters.PHOTO | filters.Document.ALL,
            handler(files.received, prepare=files.prepare),
        )
    )
    app.add_handler(MessageHandler(filters.TEXT, handler(typed, linked=False)))
    app.add_handler(MessageHandler(filters.ALL, handler(other.anything, linked=False)))
