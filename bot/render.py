"""A walker prompt as a chat message: text (Telegram's HTML) and inline keyboard.

Callback data is ``<action>:<checklist id>:<question>:<argument>``, where the question is
its place in the template (``END`` for the summary at the end) and the argument the answer's
position (the option, or the ticked options of a multiple choice as a bit mask). So a button
says which question it answers, and a press on one whose question has moved on is known for
what it is. At most 64 bytes, Telegram's limit.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core import walker
from core.i18n import N_
from core.pdf import PdfSection
from core.services.checklists import Counts
from core.walker import Prompt

DATA_MAX = 64
MESSAGE_MAX = 4096
BUTTON_TEXT_MAX = 60
SHOWN_MAX = 300  # characters of one answer in the summary
END = "e"  # the question of a summary's buttons: the end of the walk

# Callback actions (the first part of the data).
ANSWER = "wa"  # yes/no or a choice: the option's position (yes 1, no 0)
TOGGLE = "wt"  # a multiple choice: the mask so far, and the option to tick or untick
CHOSEN = "wd"  # a multiple choice, done: the mask
HELP = "wh"
NOT_AVAILABLE = "wn"
NO_REASON = "wr"  # "not available": no reason to give
NO_DATE = "wu"  # "not available": no date to give
SKIP = "ws"
NEXT = "wf"  # on to the next question, keeping this one's answer
BACK = "wb"
UPLOADED = "wk"  # an upload question: these files are all ("Klaar")
SUBMIT = "wi"

HINTS = {
    "text": N_("Type your answer."),
    "longtext": N_("Type your answer; it may be long."),
    "number": N_("Type a number."),
    "amount": N_("Type the amount in euros, like 1,234.50."),
    "date": N_("Type the date, like 15-3-2025."),
    "yesno": N_("Press a button, or type yes or no."),
    "choice": N_("Press a button, or type the number of your choice."),
    "multichoice": N_("Tick what applies and press Done, or type the numbers, like 1, 3."),
    "upload": N_(
        "Send a photo or a document (a PDF, for example). You may send several; press Done "
        "after the last one."
    ),
}

# A question with a document beside its answer (walker.Prompt.document).
BESIDE = N_("Send %(document)s here too, as a photo or a document.")


def data(*parts: object) -> str:
    text = ":".join(str(p) for p in parts)
    if len(text.encode()) > DATA_MAX:
        raise ValueError(f"callback data over {DATA_MAX} bytes: {text!r}")
    return text


def parts(data: str | None) -> list[str]:
    return (data or "").split(":")


def e(text: object) -> str:
    """Text as it is, safe inside Telegram's HTML."""
    return html.escape(str(text), quote=False)


def button(text: str, *callback: object) -> InlineKeyboardButton:
    if len(text) > BUTTON_TEXT_MAX:
        text = text[: BUTTON_TEXT_MAX - 1] + "…"
    return InlineKeyboardButton(text, callback_data=data(*callback))


def keyboard(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    rows = [list(row) for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def question_index(definition: dict[str, Any], key: str) -> int:
    """The question's place in the template: what callback data names it by."""
    for index, (_, q) in enumerate(walker.all_questions(definition)):
        if q["key"] == key:
            return index
    raise KeyError(key)


def mask_of(prompt: Prompt) -> int:
    """The ticked options of a multiple-choice question's current answer, as bits."""
    value = prompt.current.value if prompt.current and not prompt.current.not_available else None
    chosen = set(value) if isinstance(value, list) else set()
    return sum(1 << i for i, (v, _) in enumerate(prompt.options) if v in chosen)


def chosen(prompt: Prompt, mask: int) -> list[str]:
    return [v for i, (v, _) in enumerate(prompt.options) if mask >> i & 1]


def heading(prompt: Prompt, _: Callable[[str], str]) -> str:
    need = _("required") if prompt.required else _("optional")
    return f"<i>{e(prompt.section)} · {prompt.number}/{prompt.total} · {need}</i>"


def question(
    prompt: Prompt,
    definition: dict[str, Any],
    checklist_id: int,
    _: Callable[[str], str],
    *,
    shown: str | None = None,
    note: str | None = None,
    section_help: bool = False,
    mask: int | None = None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The question as a message: ``note`` first (what was just saved, say), then where it is in
    the walk, the label, the section's explanation when the section begins, the answer it
    has now (``shown``), and how to answer; the keyboard for answering it."""
    lines = [e(note), ""] if note else []
    lines.append(heading(prompt, _))
    if section_help and prompt.section_help:
        lines.append(e(prompt.section_help))
    lines.append(f"<b>{e(prompt.label)}</b>")
    if prompt.type in ("choice", "multichoice"):
        lines += [f"{n}. {e(label)}" for n, (_v, label) in enumerate(prompt.options, start=1)]
    if shown is not None:
        lines.append(e(_("Your answer: %(answer)s") % {"answer": _shorter(shown)}))
    lines.append(f"<i>{e(_(HINTS.get(prompt.type, HINTS['text'])))}</i>")
    if prompt.document:
        beside = _(BESIDE) % {"document": prompt.document}
        lines.append(f"<i>{e(beside)}</i>")
    q = question_index(definition, prompt.key)
    rows: list[list[InlineKeyboardButton]] = []
    current = prompt.current.value if prompt.current else None
    if prompt.type == "yesno":
        rows.append(
            [
                button(_tick(_("Yes"), current is True), ANSWER, checklist_id, q, 1),
                button(_tick(_("No"), current is False), ANSWER, checklist_id, q, 0),
            ]
        )
    elif prompt.type == "choice":
        rows += [
            [button(_tick(label, value == current), ANSWER, checklist_id, q, i)]
            for i, (value, label) in enumerate(prompt.options)
        ]
    elif prompt.type == "multichoice":
        rows += multichoice_rows(
            prompt, checklist_id, q, mask_of(prompt) if mask is None else mask, _
        )
    controls = []
    if prompt.help or prompt.section_help:
        controls.append(button("?", HELP, checklist_id, q))
    if prompt.allow_not_available:
        controls.append(button(_("Not available now"), NOT_AVAILABLE, checklist_id, q))
    answered = prompt.current is not None and prompt.current.answered
    if not prompt.required and not answered:
        controls.append(button(_("Skip"), SKIP, checklist_id, q))
    if answered:
        controls.append(button(_("Next"), NEXT, checklist_id, q))
    if prompt.number > 1:
        controls.append(button(_("Back"), BACK, checklist_id, q))
    rows.append(controls)
    return "\n".join(lines), keyboard(rows)


def multichoice_rows(
    prompt: Prompt, checklist_id: int, q: int, mask: int, _: Callable[[str], str]
) -> list[list[InlineKeyboardButton]]:
    rows = [
        [button(("☑ " if mask >> i & 1 else "☐ ") + label, TOGGLE, checklist_id, q, f"{mask:x}", i)]
        for i, (_v, label) in enumerate(prompt.options)
    ]
    rows.append([button(_("Done"), CHOSEN, checklist_id, q, f"{mask:x}")])
    return rows


def _tick(label: str, on: bool) -> str:
    return f"✓ {label}" if on else label


def counts(c: Counts, _: Callable[[str], str], ngettext: Callable[[str, str, int], str]) -> str:
    """How far a checklist is, in the web page's words (checklist_counts.html): no fraction
    whose total grows as follow-up questions appear."""
    if c.to_go:
        text = _("%(answered)d answered, %(to_go)d still to answer") % {
            "answered": c.answered,
            "to_go": c.to_go,
        }
    else:
        text = _("All required questions answered")
    if c.optional_open:
        text += " · " + ngettext(
            "%(num)d optional question left open",
            "%(num)d optional questions left open",
            c.optional_open,
        ) % {"num": c.optional_open}
    return text


def uploaded(
    names: Sequence[str],
    checklist_id: int,
    q: int,
    _: Callable[[str], str],
    ngettext: Callable[[str, str, int], str],
) -> tuple[str, InlineKeyboardMarkup | None]:
    """What an upload question received so far, with "Done" to go on."""
    received = ngettext("Received %(n)d file:", "Received %(n)d files:", len(names)) % {
        "n": len(names)
    }
    lines = [e(received), *(f"• {e(name)}" for name in names), ""]
    more = _("Send another file, or press Done.")
    lines.append(f"<i>{e(more)}</i>")
    return "\n".join(lines), keyboard([[button(_("Done"), UPLOADED, checklist_id, q)]])


def summary(
    title: str,
    sections: Sequence[PdfSection],
    checklist_id: int,
    _: Callable[[str], str],
) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The answers at the end of the walk, then "Submit" (and "Back"), in as many messages
    as Telegram's length limit needs; the buttons go under the last."""
    yours = _("Your answers:")
    blocks = [f"<b>{e(title)}</b>\n{e(yours)}"]
    for section in sections:
        rows = [f"{e(label)}: <b>{e(_shorter(value))}</b>" for label, value in section.rows]
        blocks.append(f"<u>{e(section.title)}</u>\n" + "\n".join(rows))
    blocks.append(
        e(
            _(
                "Is everything right? Press Submit to send it to us. After that it can no "
                "longer be changed; to change an answer first, press Back."
            )
        )
    )
    messages = split(blocks)
    buttons = keyboard(
        [
            [
                button(_("Submit"), SUBMIT, checklist_id, END),
                button(_("Back"), BACK, checklist_id, END),
            ]
        ]
    )
    return [(text, buttons if i == len(messages) - 1 else None) for i, text in enumerate(messages)]


def _shorter(value: str, limit: int = SHOWN_MAX) -> str:
    # A long answer is read in full on the web and in the PDF; the chat shows its start.
    return value if len(value) <= limit else value[: limit - 1] + "…"


def split(blocks: Sequence[str], limit: int = MESSAGE_MAX) -> list[str]:
    """Blocks joined into messages of at most ``limit`` characters (a block too long for one
    is cut at a line)."""
    lines = [piece for block in blocks for piece in _pack(block.split("\n"), "\n", limit)]
    return _pack(lines, "\n\n", limit)


def _pack(items: Sequence[str], separator: str, limit: int) -> list[str]:
    """``items`` joined by ``separator`` into as few texts of at most ``limit`` as fit."""
    out: list[str] = []
    current = ""
    for item in items:
        joined = f"{current}{separator}{item}" if current else item
        if len(joined) <= limit:
            current = joined
        else:
            if current:
                out.append(current)
            current = item
    if current:
        out.append(current)
    return out
