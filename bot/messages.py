"""Writing to the firm from the chat: ``/message`` (the dossier, a subject, the text), and a
reply to a bot message that carried one of the firm's notifications, which becomes a portal
message in that dossier (an answer to the firm's message, if it was one). A photo or a
document sent with either is an attachment; the caption is the message's text.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message

from core import access
from core.i18n import N_
from core.models import MAX_SUBJECT_LENGTH
from core.services import dossiers, messages, telegram
from core.services.documents import Upload
from core.services.telegram import Delivery
from core.validation import required_text

from . import render
from .updates import Turn

PICK = "m"  # callback: the dossier to write about
CANCEL = "mx"  # callback: stop writing

SEE_ATTACHMENT = N_("See the attachment.")
REPLY_SUBJECT = N_("Reply in Telegram")


async def start(turn: Turn) -> None:
    """/message: which dossier (asked only when there are several), then the subject."""
    await turn.set_state(None)
    rows = (await dossiers.list_dossiers(turn.session, turn.actor)).rows
    if not rows:
        turn.say(render.e(turn._("You have no dossier yet to write about.")))
        return
    if len(rows) == 1:
        await _ask_subject(turn, rows[0].dossier.id, rows[0].dossier.number)
        return
    buttons = render.keyboard(
        [
            [render.button(f"{r.dossier.number} · {r.dossier.description}", PICK, r.dossier.id)]
            for r in rows
        ]
    )
    turn.say(render.e(turn._("Which dossier is your message about?")), buttons, asks=True)


async def picked(turn: Turn, args: list[str]) -> None:
    dossier_id = args[0] if args and args[0].isdigit() else None
    if dossier_id is None:
        return
    dossier = await access.visible_dossier(turn.session, turn.actor, dossier_id=int(dossier_id))
    await _ask_subject(turn, dossier.id, dossier.number)


def _cancel(turn: Turn) -> object:
    return render.keyboard([[render.button(turn._("Cancel"), CANCEL)]])


async def _ask_subject(turn: Turn, dossier_id: int, number: str) -> None:
    await turn.set_state(
        {"waiting": telegram.WAITING_MESSAGE_SUBJECT, "dossier_id": dossier_id, "parent_id": None}
    )
    turn.say(
        render.e(
            turn._("A message about dossier %(number)s. What is it about? Type a short subject.")
            % {"number": number}
        ),
        _cancel(turn),
        asks=True,
    )


async def subject_typed(turn: Turn, text: str) -> None:
    subject = required_text(text, field="subject", max_length=MAX_SUBJECT_LENGTH)
    state = dict(turn.state or {})
    state.update(waiting=telegram.WAITING_MESSAGE_BODY, subject=subject)
    await turn.set_state(state)
    turn.say(
        render.e(
            turn._(
                "Now type your message. A photo or a document you send now goes with it as an "
                "attachment, with its caption as the text."
            )
        ),
        _cancel(turn),
        asks=True,
    )


async def body_typed(turn: Turn, text: str) -> None:
    state = turn.state or {}
    await _send(turn, state["dossier_id"], state.get("parent_id"), state["subject"], text, None)


async def cancelled(turn: Turn, args: list[str]) -> None:
    del args
    if turn.waiting not in (telegram.WAITING_MESSAGE_SUBJECT, telegram.WAITING_MESSAGE_BODY):
        turn.toast = turn._("This question has moved on.")
        return
    await turn.set_state(None)
    turn.say(None, None, edit=turn.pressed)
    turn.say(render.e(turn._("Stopped; nothing was sent.")))


async def delivery_replied(session: AsyncSession, message: Message) -> Delivery | None:
    """The notification a message replies to, if it replies to one about a dossier."""
    replied = message.reply_to_message
    if replied is None:
        return None
    found = await telegram.delivery_for(session, message.chat_id, replied.message_id)
    return found if found is not None and found.dossier_id is not None else None


async def reply_typed(turn: Turn, delivery: Delivery, text: str) -> None:
    await _reply(turn, delivery, text, None)


async def _reply(turn: Turn, delivery: Delivery, body: str, upload: Upload | None) -> None:
    """A reply to a notification: a message in its dossier, answering the firm's message."""
    subject = turn._(REPLY_SUBJECT)
    if delivery.portal_message_id is not None:
        thread = await messages.read_message(turn.session, turn.actor, delivery.portal_message_id)
        subject = thread.message.subject
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
    assert delivery.dossier_id is not None
    await _send(
        turn,
        delivery.dossier_id,
        delivery.portal_message_id,
        subject[:MAX_SUBJECT_LENGTH],
        body,
        upload,
    )


async def _send(
    turn: Turn,
    dossier_id: int,
    parent_id: int | None,
    subject: str,
    body: str,
    upload: Upload | None,
) -> None:
    sent = await messages.send_message(
        turn.session,
        turn.deps.store,
        turn.actor,
        subject=subject,
        body=body,
        dossier_id=dossier_id,
        parent_id=parent_id,
        attachments=[upload] if upload else [],
    )
    album = turn.message.media_group_id if turn.message is not None and upload else None
    await turn.set_state(
        {"waiting": telegram.WAITING_MESSAGE_ALBUM, "message_id": sent.id, "album": album}
        if album
        else None
    )
    dossier = await access.visible_dossier(turn.session, turn.actor, dossier_id=dossier_id)
    turn.say(_sent(turn, dossier.number, len(sent.attachments)), asks=bool(album))


def _sent(turn: Turn, number: str, attachments: int) -> str:
    text = turn._("Your message has been sent to us (dossier %(number)s).") % {"number": number}
    if attachments:
        text += " " + turn.ngettext(
            "With %(n)d attachment.", "With %(n)d attachments.", attachments
        ) % {"n": attachments}
    return render.e(text)


async def with_file(turn: Turn, where: str, caption: str | None, upload: Upload) -> None:
    """A photo or document for a message: the one being written, a reply to a notification,
    or (an album's later photos) the message that went in with the first."""
    body = (caption or "").strip() or turn._(SEE_ATTACHMENT)
    state = turn.state or {}
    if where == "message_album":
        sent = await messages.add_attachments(
            turn.session, turn.deps.store, turn.actor, state["message_id"], [upload]
        )
        dossier = await access.visible_dossier(turn.session, turn.actor, dossier_id=sent.dossier_id)
        turn.say(
            _sent(turn, dossier.number, len(sent.attachments)), asks=True, edit=turn.live_message
        )
        return
    if where == "reply":
        assert turn.message is not None
        delivery = await delivery_replied(turn.session, turn.message)
        assert delivery is not None
        await _reply(turn, delivery, body, upload)
        return
    await _send(turn, state["dossier_id"], state.get("parent_id"), state["subject"], body, upload)
