"""The walk through a checklist in the chat: one question at a time, answered with a button
or by typing, through the same walker and services as the web form and ``loket chat``.

The chat's state names the checklist and the question it shows (WAITING_ANSWER). Whatever
core says is the current question decides: a typed answer or a pressed button for a question
that has moved on (answered on the website meanwhile, or an older message's button) changes
nothing and is answered so, with the question the checklist is at now.
"""

from __future__ import annotations

import datetime as dt

from core import walker
from core.errors import ValidationError
from core.i18n import N_
from core.services import checklists, telegram
from core.services.checklists import Loaded
from core.walker import Prompt

from . import render
from .updates import Turn

MOVED_ON = N_("This question has moved on.")
MOVED_ON_NOTE = N_(
    "That question has moved on (answered on the website meanwhile, perhaps); nothing was "
    "changed. This is where the checklist is now:"
)
LOCKED = N_("This checklist has been submitted and is locked.")


def number(text: str | None) -> int | None:
    """A number from callback data, or None (data no button of ours would carry)."""
    return int(text) if text and text.isdigit() and len(text) < 12 else None


def title_of(loaded: Loaded, language: str) -> str:
    title = loaded.template.title
    return title.get(language) or title.get("nl") or loaded.template.name


async def start(turn: Turn, checklist_id: int) -> None:
    """Open a checklist in the chat at its current question (/checklist, or picked)."""
    loaded = await checklists.load(turn.session, turn.actor, checklist_id)
    _ = turn._
    note = _("%(title)s (dossier %(number)s)") % {
        "title": title_of(loaded, turn.language),
        "number": loaded.dossier.number,
    }
    if loaded.checklist.review_reason and loaded.checklist.status in checklists.OPEN_STATES:
        note += "\n" + _("Sent back by us: %(reason)s") % {"reason": loaded.checklist.review_reason}
    await show(turn, loaded, note=note)


async def show(turn: Turn, loaded: Loaded, *, note: str | None = None) -> None:
    """Ask the checklist's current question, or show the summary once nothing is left to
    ask, and wait for the answer."""
    _ = turn._
    cid = loaded.checklist.id
    if not _open(loaded):
        await turn.set_state(None)
        turn.say(render.e(_(LOCKED)))
        return
    here = checklists.current(loaded, turn.language)
    if here is None:
        sections = checklists.summary(loaded, turn.language)
        pages = render.summary(title_of(loaded, turn.language), sections, cid, _)
        for i, (text, buttons) in enumerate(pages):
            if i == 0 and note:
                text = f"{render.e(note)}\n\n{text}"
            turn.say(text, buttons, asks=buttons is not None)
        await turn.set_state({"waiting": telegram.WAITING_ANSWER, "checklist_id": cid})
        return
    first = walker.visible_in_section(loaded.definition, loaded.given, here.section_index)[:1]
    text, buttons = render.question(
        here,
        loaded.definition,
        cid,
        _,
        shown=_shown(loaded, here.key, turn.language) if _has_answer(here) else None,
        note=note,
        section_help=first == [here.key],
    )
    turn.say(text, buttons, asks=True)
    await turn.set_state(
        {"waiting": telegram.WAITING_ANSWER, "checklist_id": cid, "question": here.key}
    )


def _open(loaded: Loaded) -> bool:
    """Whether the checklist can still be answered (not submitted, not approved)."""
    return not loaded.checklist.locked and loaded.checklist.status in checklists.OPEN_STATES


def _has_answer(prompt: Prompt) -> bool:
    return prompt.current is not None and prompt.current.answered


def _shown(loaded: Loaded, key: str, language: str) -> str:
    return walker.show(loaded.definition, key, loaded.given.get(key), language)


def saved(loaded: Loaded, key: str, turn: Turn) -> str:
    return "✓ " + turn._("Saved: %(answer)s") % {"answer": _shown(loaded, key, turn.language)}


async def moved_on(turn: Turn, loaded: Loaded) -> None:
    """A button or an answer for a question the checklist is no longer at: nothing changes.
    The chat is shown the question it is at now, unless it shows that one already."""
    turn.toast = turn._(MOVED_ON)
    here = checklists.current(loaded, turn.language)
    state = turn.state or {}
    if (
        not loaded.checklist.locked
        and turn.waiting == telegram.WAITING_ANSWER
        and state.get("checklist_id") == loaded.checklist.id
        and state.get("question") == (here.key if here else None)
    ):
        if turn.update.callback_query is None:
            turn.say(render.e(turn._(MOVED_ON)))
        return
    await show(turn, loaded, note=turn._(MOVED_ON_NOTE))


async def _pressed(turn: Turn, args: list[str]) -> tuple[Loaded, Prompt | None] | None:
    """The checklist and question a button names, if it is the live one: on the message
    that asks the current question, for the question the checklist is at. Otherwise the
    press is answered as moved on, and None."""
    cid = number(args[0]) if args else None
    if cid is None:
        turn.toast = turn._(MOVED_ON)
        return None
    loaded = await checklists.load(turn.session, turn.actor, cid)
    if not _open(loaded):
        await show(turn, loaded)  # says it is locked, and the chat stops waiting for it
        return None
    here = checklists.current(loaded, turn.language)
    named = args[1] if len(args) > 1 else None
    index = number(named)
    questions = walker.all_questions(loaded.definition)
    key = questions[index][1]["key"] if index is not None and index < len(questions) else None
    wanted = here.key if here is not None else None
    if not turn.pressed_live or key != wanted or (key is None and named != render.END):
        await moved_on(turn, loaded)
        return None
    return loaded, here


async def _at_question(turn: Turn, args: list[str]) -> tuple[Loaded, Prompt] | None:
    """As ``_pressed``, for a button of a question (not of the summary)."""
    found = await _pressed(turn, args)
    if found is None or found[1] is None:
        return None
    return found[0], found[1]


async def chose(turn: Turn, args: list[str]) -> None:
    """Yes/no or one of the choices, by its button."""
    found = await _at_question(turn, args)
    if found is None:
        return
    loaded, here = found
    position = number(args[2]) if len(args) > 2 else None
    if here.type == "yesno" and position in (0, 1):
        raw: object = position == 1
    elif here.type == "choice" and position is not None and position < len(here.options):
        raw = here.options[position][0]
    else:
        await moved_on(turn, loaded)
        return
    await _answered(turn, loaded, here, raw)


async def _answered(turn: Turn, loaded: Loaded, here: Prompt, raw: object) -> None:
    """Save a button's answer; the next question says what was saved, as after a typed
    answer. (The question's message keeps its buttons: pressed again, they are answered as
    moved on. Editing it to show the answer cost a third Bot API call a press.)"""
    state = turn.state or {}
    loaded = await checklists.answer(
        turn.session,
        turn.actor,
        state["checklist_id"],
        here.key,
        raw,
        turn.language,
        loaded=loaded,
    )
    await show(turn, loaded, note=saved(loaded, here.key, turn))


async def toggled(turn: Turn, args: list[str]) -> None:
    """A multiple-choice option ticked or unticked: only the buttons change, until Done."""
    found = await _at_question(turn, args)
    if found is None:
        return
    loaded, here = found
    mask, option = (
        _mask(args[2] if len(args) > 2 else None),
        number(args[3] if len(args) > 3 else None),
    )
    if here.type != "multichoice" or mask is None or option is None or option >= len(here.options):
        await moved_on(turn, loaded)
        return
    _text, buttons = render.question(
        here, loaded.definition, loaded.checklist.id, turn._, mask=mask ^ (1 << option)
    )
    turn.say(None, buttons, edit=turn.pressed, asks=True)


async def chosen(turn: Turn, args: list[str]) -> None:
    """A multiple choice done: the ticked options are the answer."""
    found = await _at_question(turn, args)
    if found is None:
        return
    loaded, here = found
    mask = _mask(args[2] if len(args) > 2 else None)
    if here.type != "multichoice" or mask is None:
        await moved_on(turn, loaded)
        return
    await _answered(turn, loaded, here, render.chosen(here, mask))


def _mask(text: str | None) -> int | None:
    try:
        return int(text, 16) if text and len(text) <= 16 else None
    except ValueError:
        return None


async def helped(turn: Turn, args: list[str]) -> None:
    """The "?" button: the question's help (any question's: reading changes nothing)."""
    cid = number(args[0]) if args else None
    index = number(args[1]) if len(args) > 1 else None
    if cid is None or index is None:
        return
    loaded = await checklists.load(turn.session, turn.actor, cid)
    questions = walker.all_questions(loaded.definition)
    if index >= len(questions):
        return
    prompt = walker.prompt(
        loaded.definition, loaded.given, questions[index][1]["key"], turn.language
    )
    text = prompt.help or prompt.section_help or turn._("There is no extra help for this question.")
    turn.say(f"<b>{render.e(prompt.label)}</b>\n{render.e(text)}")


async def typed(turn: Turn, text: str) -> None:
    """A typed answer to the question the chat shows; the walker's error is the reply."""
    state = turn.state or {}
    loaded = await checklists.load(turn.session, turn.actor, state["checklist_id"])
    if not _open(loaded):
        await show(turn, loaded)
        return
    here = checklists.current(loaded, turn.language)
    if (here.key if here else None) != state.get("question"):
        await show(turn, loaded, note=turn._(MOVED_ON_NOTE))
        return
    if here is None:
        turn.say(
            render.e(
                turn._(
                    "Everything is answered: press Submit under your answers to send it, or "
                    "Back to change something first."
                )
            )
        )
        return
    if text.strip() == "?":
        await helped(
            turn,
            [str(loaded.checklist.id), str(render.question_index(loaded.definition, here.key))],
        )
        return
    loaded = await checklists.answer(
        turn.session, turn.actor, loaded.checklist.id, here.key, text, turn.language, loaded=loaded
    )
    await show(turn, loaded, note=saved(loaded, here.key, turn))


async def skipped(turn: Turn, args: list[str]) -> None:
    found = await _at_question(turn, args)
    if found is None:
        return
    loaded, here = found
    loaded = await checklists.skip(turn.session, turn.actor, loaded.checklist.id, loaded=loaded)
    skipped = turn._("Skipped")
    await show(turn, loaded, note=f"✓ {skipped}: {here.label}")


async def back(turn: Turn, args: list[str]) -> None:
    await _step(turn, args, -1)


async def forward(turn: Turn, args: list[str]) -> None:
    """ "Next" on a question that has its answer: the next one in order, answer kept."""
    await _step(turn, args, +1)


async def _step(turn: Turn, args: list[str], offset: int) -> None:
    found = await _pressed(turn, args)
    if found is None:
        return
    loaded = await checklists.move(
        turn.session, turn.actor, found[0].checklist.id, offset, loaded=found[0]
    )
    await show(turn, loaded)


# --- "not available": a reason, then an expected date ---------------------------------------


async def not_there(turn: Turn, args: list[str]) -> None:
    """ "Not there" pressed: ask why, then when it is expected; stored once both are given."""
    found = await _at_question(turn, args)
    if found is None:
        return
    loaded, here = found
    if not here.allow_not_available:
        raise ValidationError('For this question "not available" is not an option.')
    await turn.set_state(
        {
            "waiting": telegram.WAITING_NOT_AVAILABLE_REASON,
            "checklist_id": loaded.checklist.id,
            "question": here.key,
        }
    )
    q = render.question_index(loaded.definition, here.key)
    turn.say(
        f"<b>{render.e(here.label)}</b>\n"
        + render.e(turn._("Why don't you have it? Type the reason in a few words."))
        + "\n<i>"
        + render.e(turn._("No reason to give? Press the button."))
        + "</i>",
        render.keyboard(
            [[render.button(turn._("No reason"), render.NO_REASON, loaded.checklist.id, q)]]
        ),
        asks=True,
    )


def _waiting_for(turn: Turn, waiting: str, args: list[str]) -> bool:
    """Whether a button of the "not available" questions is the live one."""
    state = turn.state or {}
    return (
        turn.waiting == waiting
        and turn.pressed_live
        and len(args) > 1
        and number(args[0]) == state.get("checklist_id")
    )


async def reason_typed(turn: Turn, text: str) -> None:
    await _ask_date(turn, text.strip()[:500] or None)


async def no_reason(turn: Turn, args: list[str]) -> None:
    if not _waiting_for(turn, telegram.WAITING_NOT_AVAILABLE_REASON, args):
        turn.toast = turn._(MOVED_ON)
        return
    await _ask_date(turn, None)


async def _ask_date(turn: Turn, reason: str | None) -> None:
    state = dict(turn.state or {})
    state.update(waiting=telegram.WAITING_NOT_AVAILABLE_DATE, reason=reason)
    await turn.set_state(state)
    loaded = await checklists.load(turn.session, turn.actor, state["checklist_id"])
    q = render.question_index(loaded.definition, state["question"])
    turn.say(
        render.e(turn._("When do you expect to have it? Type a date, like 15-3-2025."))
        + "\n<i>"
        + render.e(turn._("Not known yet? Press the button."))
        + "</i>",
        render.keyboard(
            [[render.button(turn._("Not known"), render.NO_DATE, state["checklist_id"], q)]]
        ),
        asks=True,
    )


async def date_typed(turn: Turn, text: str) -> None:
    await _not_available(turn, walker.read_date(text))


async def no_date(turn: Turn, args: list[str]) -> None:
    if not _waiting_for(turn, telegram.WAITING_NOT_AVAILABLE_DATE, args):
        turn.toast = turn._(MOVED_ON)
        return
    await _not_available(turn, None)


async def _not_available(turn: Turn, expected: dt.date | None) -> None:
    state = turn.state or {}
    loaded = await checklists.load(turn.session, turn.actor, state["checklist_id"])
    here = checklists.current(loaded, turn.language)
    if here is None or here.key != state.get("question"):
        # Answered elsewhere while the reason was being typed: that answer stands.
        await show(turn, loaded, note=turn._(MOVED_ON_NOTE))
        return
    loaded = await checklists.not_available(
        turn.session,
        turn.actor,
        loaded.checklist.id,
        here.key,
        reason=state.get("reason"),
        expected=expected,
        loaded=loaded,
    )
    _ = turn._
    note = "✓ " + _("Saved: not available yet")
    if expected is not None:
        note += ", " + _("expected %(date)s") % {"date": expected.strftime("%d-%m-%Y")}
    await show(turn, loaded, note=note)


# --- the end ---------------------------------------------------------------------------------


async def submitted(turn: Turn, args: list[str]) -> None:
    """ "Submit" under the summary: locked and filed exactly as the web's submit does."""
    found = await _pressed(turn, args)
    if found is None:
        return
    loaded, _here = found
    settings = turn.deps.settings
    await checklists.submit(
        turn.session,
        turn.deps.store,
        turn.actor,
        loaded.checklist.id,
        firm=settings.firm_name,
        language=turn.language,
        timezone=settings.timezone,
    )
    await turn.set_state(None)
    turn.say(
        render.e(
            turn._(
                "Submitted. Thank you! We will get to work on it; you will hear from us. Your "
                "answers are in the dossier as a PDF."
            )
        )
    )
