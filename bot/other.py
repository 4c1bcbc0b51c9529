"""Everything the bot does not take: voice messages, stickers, locations, edited messages and
whatever else a chat can send. Each gets a short, polite answer of what the bot does
understand; nothing is stored and the conversation stays where it was."""

from __future__ import annotations

from core.i18n import N_

from . import render
from .updates import Turn

UNDERSTOOD = N_("I understand text, photos and documents, and the commands in /help.")
VOICE = N_("I cannot listen to voice or sound messages. Please type your answer.")
STICKER = N_("Thank you! I cannot read stickers, though.")
LOCATION = N_("I do not need a location.")
EDITED = N_(
    "You changed a message after sending it. I keep what you sent first; to change an "
    "answer, send it again (or use Back in the checklist)."
)


def _said(turn: Turn, first: str) -> None:
    turn.say(render.e(turn._(first) + " " + turn._(UNDERSTOOD)))


async def anything(turn: Turn) -> None:
    message = turn.message
    if message is None:
        return
    if message.voice or message.audio or message.video_note:
        _said(turn, VOICE)
    elif message.sticker:
        _said(turn, STICKER)
    elif message.location or message.venue:
        _said(turn, LOCATION)
    else:
        turn.say(render.e(turn._(UNDERSTOOD)))


async def edited(turn: Turn) -> None:
    turn.say(render.e(turn._(EDITED)))


async def unclear(turn: Turn, text: str) -> None:
    """Text while the chat waits for nothing."""
    del text
    turn.say(
        render.e(
            turn._(
                "I am not sure what this is about. To fill in a checklist, send /checklist; to "
                "write to us, send /message or reply to one of our messages."
            )
        )
    )
