"""The commands: /start (link this chat), /checklist, /dossiers, /message, /language, /help,
/unlink; and the menu of them Telegram shows, in Dutch and English (setMyCommands).

An unlinked chat reaches /start, /help and /language only; the others answer "link first"
(bot.updates). /start with a code links the chat; without one it asks for the email address
the firm knows and has a code mailed there, with the same words whether the address is known
or not.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from telegram import Bot, BotCommand
from telegram.error import TelegramError

from core.i18n import N_, gettext_for
from core.services import checklists, dossiers, telegram
from core.services.telegram import Linked

from . import render, walk
from .updates import Turn

log = logging.getLogger(__name__)

PICK = "c"  # callback: the checklist to fill in
LANGUAGE = "l"  # callback: the chat's language
LANGUAGES = (("nl", "Nederlands"), ("en", "English"))

# The menu, in this order. The descriptions are the catalogue's, per language.
MENU = (
    ("checklist", N_("Fill in a checklist, question by question")),
    ("dossiers", N_("Your dossiers and how far they are")),
    ("message", N_("Write to us about a dossier")),
    ("language", N_("Nederlands or English")),
    ("help", N_("What I can do for you")),
    ("start", N_("Link this chat to your account")),
    ("unlink", N_("Unlink this chat from your account")),
)


async def set_commands(bot: Bot) -> None:
    """The command menu in Dutch (for Telegram users who use it in Dutch) and in English (the
    default, and for English)."""
    for language, code in (("nl", "nl"), ("en", "en"), ("en", None)):
        _ = gettext_for(language)
        menu = [BotCommand(name, _(description)) for name, description in MENU]
        try:
            await bot.set_my_commands(menu, language_code=code)
        except TelegramError as exc:  # only the menu is missing; the commands work
            log.warning("the command menu could not be set: %s", type(exc).__name__)


def help_text(turn: Turn) -> str:
    _ = turn._
    if turn.actor is None:
        firm = turn.deps.settings.firm_name
        lines = [
            _("I am the chat of %(firm)s's client portal.") % {"firm": firm},
            _(
                "First link this chat to your account: send /start and I will ask for your "
                "email address, or send /start with the code from My details on the website."
            ),
            "/language — " + _("Nederlands or English"),
        ]
        return render.e("\n\n".join(lines))
    lines = [_("This is what I can do:")]
    lines += [f"/{name} — {_(description)}" for name, description in MENU if name != "start"]
    lines += [
        "",
        _(
            "While you fill in a checklist, answer with the buttons or type your answer; send "
            "a photo or a document where a document is asked for. A file sent at another "
            "moment is filed in a dossier you choose. Reply to one of our messages to answer it."
        ),
    ]
    return render.e("\n".join(lines))


async def help_(turn: Turn) -> None:
    turn.say(help_text(turn))


def _args(turn: Turn) -> list[str]:
    text = turn.message.text if turn.message is not None and turn.message.text else ""
    return text.split()[1:]


async def start(turn: Turn) -> None:
    """/start CODE links this chat; /start alone asks for the email address (when not linked)."""
    code = " ".join(_args(turn))
    if code:
        await link(turn, code)
        return
    if turn.actor is not None:
        turn.say(help_text(turn))
        return
    await turn.set_state({"waiting": telegram.WAITING_EMAIL})
    _ = turn._
    turn.say(
        render.e(
            _(
                "Welcome! To link this chat to your account, type the email address we know "
                "you by. I will mail a code there."
            )
            + "\n\n"
            + _("Do you have a code from My details already? Send /start followed by the code.")
        )
    )


async def link(turn: Turn, code: str) -> None:
    linked = await telegram.link_chat(turn.session, turn.chat, code)
    turn.language = linked.language.value
    turn.actor = await telegram.chat_actor(turn.session, turn.chat.id)
    turn.state = None
    turn.say(render.e(_linked_text(turn, linked)))
    waiting = await checklists.listed_actions(turn.session, turn.actor) if turn.actor else []
    if waiting:
        turn.say(
            render.e(
                turn.ngettext(
                    "There is %(n)d checklist for you to fill in: send /checklist.",
                    "There are %(n)d checklists for you to fill in: send /checklist.",
                    len(waiting),
                )
                % {"n": len(waiting)}
            )
        )


def _linked_text(turn: Turn, linked: Linked) -> str:
    _ = turn._
    if linked.already:
        lines = [_("This chat was linked to your account already (%(username)s).")]
    else:
        lines = [_("Done! This chat is now linked to the account of %(name)s (%(username)s).")]
    if linked.previous_username:
        lines.append(_("It is no longer linked to %(previous)s; that account was told by mail."))
    if linked.previous_chat:
        lines.append(_("Your account was linked in another chat; that chat is unlinked now."))
    lines.append(_("Send /help to see what I can do."))
    values = {
        "name": linked.name,
        "username": linked.username,
        "previous": linked.previous_username or "",
    }
    return "\n".join(line % values for line in lines)


async def email_typed(turn: Turn, text: str) -> None:
    """The address after /start: a code goes there if it is a client's; the answer is the
    same either way."""
    if _looks_like_code(text):
        await link(turn, text)
        return
    await telegram.request_link_by_email(turn.session, turn.deps.settings, turn.chat, text)
    await turn.set_state(None)
    turn.say(
        render.e(
            turn._(
                "Thank you. If we know this address, a mail with a code is on its way to it. "
                "Send that code here as /start CODE; it works for 15 minutes."
            )
        )
    )


def _looks_like_code(text: str) -> bool:
    code = telegram.normalise_code(text)
    return (
        "@" not in text
        and len(code) == telegram.CODE_LENGTH
        and all(ch in telegram.CODE_ALPHABET for ch in code)
    )


async def unlinked_text(turn: Turn, text: str) -> None:
    """Text in a chat not linked (and not asked for an address): a code typed without
    /start still links; anything else is told to link first."""
    if turn.waiting == telegram.WAITING_EMAIL:
        await email_typed(turn, text)
    elif _looks_like_code(text):
        await link(turn, text)
    else:
        turn.say(help_text(turn))


async def unlink(turn: Turn) -> None:
    if await telegram.unlink(turn.session, turn.chat.id):
        turn.say(
            render.e(
                turn._(
                    "This chat is unlinked from your account: nothing of your dossiers reaches "
                    "it any more. We sent you a mail about it. Send /start to link again."
                )
            )
        )
    else:
        turn.say(render.e(turn._("This chat was not linked.")))


async def language(turn: Turn) -> None:
    buttons = render.keyboard([[render.button(label, LANGUAGE, code) for code, label in LANGUAGES]])
    turn.say(render.e(turn._("Which language shall I use?")), buttons)


async def language_chosen(turn: Turn, args: list[str]) -> None:
    chosen = await telegram.set_language(turn.session, turn.chat, args[0] if args else "")
    turn.language = chosen.value
    turn.say(None, None, edit=turn.pressed)
    turn.say(render.e(turn._("From now on I write to you in English.")))


async def checklist(turn: Turn) -> None:
    """/checklist: go on with the one the chat was at, or the only one; else pick."""
    waiting = await checklists.listed_actions(turn.session, turn.actor)
    if not waiting:
        turn.say(render.e(turn._("There is nothing for you to fill in right now.")))
        return
    at = (turn.state or {}).get("checklist_id")
    ids = [a.checklist.id for a in waiting]
    if at in ids or len(waiting) == 1:
        await walk.start(turn, at if at in ids else ids[0])
        return
    rows, lines = [], [render.e(turn._("Which one do you want to fill in?"))]
    for action in waiting:
        title = action.title.get(turn.language) or action.title.get("nl") or ""
        label = f"{title} · {action.dossier.number}"
        rows.append([render.button(label, PICK, action.checklist.id)])
        # How far each is goes in the text: a button's label is cut short.
        how_far = render.counts(action.counts, turn._, turn.ngettext)
        lines.append(render.e(f"• {label}: {how_far}"))
    turn.say("\n".join(lines), render.keyboard(rows))


async def checklist_picked(turn: Turn, args: list[str]) -> None:
    checklist_id = walk.number(args[0] if args else None)
    if checklist_id is not None:
        await walk.start(turn, checklist_id)


async def dossiers_(turn: Turn) -> None:
    """/dossiers: each dossier's status and progress, with its checklists to fill in."""
    _ = turn._
    listing = await dossiers.list_dossiers(turn.session, turn.actor)
    if not listing.rows:
        turn.say(render.e(_("You have no dossiers yet.")))
        return
    open_ones = defaultdict(list)
    for action in await checklists.listed_actions(turn.session, turn.actor):
        open_ones[action.dossier.id].append(action)
    blocks = []
    for row in listing.rows:
        d = row.dossier
        lines = [f"<b>{render.e(d.number)}</b> {render.e(d.description)}"]
        status = _(dossiers.STATUS_LABELS[d.status])
        if row.steps_total:
            status += " · " + turn.ngettext(
                "%(done)d of %(total)d step done",
                "%(done)d of %(total)d steps done",
                row.steps_total,
            ) % {
                "done": row.steps_done,
                "total": row.steps_total,
            }
        lines.append(render.e(status))
        for action in open_ones[d.id]:
            title = action.title.get(turn.language) or action.title.get("nl") or ""
            how_far = render.counts(action.counts, _, turn.ngettext)
            lines.append("• " + render.e(f"{title}: {how_far}"))
        blocks.append("\n".join(lines))
    more = listing.total - len(listing.rows)
    footer = _("You will find everything, documents included, in the portal: %(url)s") % {
        "url": turn.deps.settings.public_url
    }
    if more > 0:
        footer = _("And %(n)d more.") % {"n": more} + " " + footer
    blocks.append(render.e(footer))
    for text in render.split(blocks):
        turn.say(text)


async def unknown(turn: Turn) -> None:
    turn.say(render.e(turn._("I do not know that command.")) + "\n\n" + help_text(turn))
