"""The checklist walker: a pure, transport-neutral engine.

Given a template's definition and the answers so far, it says what to ask next (section,
question, prompt, help, type, options, whether "not available" is allowed, "question 7 of
31"), skips questions whose condition is not met, and checks and converts an answer typed in
any channel ("1.234,56", "ja", "2", "24-11-2026") with a clear error in the reader's language.
The web form, the Telegram bot, email and `loket chat` all drive this same engine; it does no
I/O and holds no state of its own.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .errors import ValidationError
from .i18n import N_

TEXT_MAX = 1000
LONGTEXT_MAX = 4000
YES = {"ja", "j", "yes", "y", "1", "true", "waar", "jazeker", "klopt"}
NO = {"nee", "n", "no", "0", "false", "onwaar", "neen"}
# The lowest answer a number question takes unless its template sets ``min``: numbers count.
NUMBER_MIN = 0
# The types of question whose answer may have a document beside it (the template's
# ``document``: "the annual statement" next to "income from employment").
DOCUMENT_BESIDE = ("text", "longtext", "number", "amount")


@dataclass(frozen=True)
class Given:
    """An answer as stored: a value, or "not available". ``skipped``: the client passed the
    question without an answer (skipped it, or sent it empty); an optional question so passed
    has been seen and is not asked again, a required one still is."""

    value: Any = None
    not_available: bool = False
    skipped: bool = False

    @property
    def answered(self) -> bool:
        return self.not_available or (self.value not in (None, "", [], {}))


@dataclass
class Prompt:
    key: str
    section: str
    section_help: str | None
    label: str
    help: str | None
    type: str
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    required: bool = True
    allow_not_available: bool = False
    number: int = 1
    total: int = 1
    current: Given | None = None
    section_index: int = 0  # the part (section) the question is in, counted from 0
    # What to upload beside the answer, offered right at the question (None: nothing).
    document: str | None = None

    @property
    def takes_files(self) -> bool:
        """Whether files sent at this question are filed with its answer."""
        return self.type == "upload" or self.document is not None


def _lang(text: dict[str, str] | None, language: str) -> str | None:
    if not text:
        return None
    return text.get(language) or text.get("nl") or next(iter(text.values()))


def all_questions(definition: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(section, q) for section in definition["sections"] for q in section["questions"]]


def _meets(condition: dict[str, Any], answers: dict[str, Given]) -> bool:
    """Whether the answer ``condition`` looks at meets it (not whether that question shows)."""
    given = answers.get(condition["question"])
    value = given.value if given and not given.not_available else None
    if "equals" in condition:
        return value == condition["equals"]
    if "not_equals" in condition:
        return value is not None and value != condition["not_equals"]
    wanted = condition.get("in") or []
    if isinstance(wanted, str):  # a definition imported before show_if was checked on import
        wanted = [wanted]
    if isinstance(value, list):
        return any(v in wanted for v in value)
    return value in wanted


def _shown_keys(definition: dict[str, Any], answers: dict[str, Given]) -> set[str]:
    """The keys of the questions that apply. A question whose condition looks at a question
    that does not apply itself does not apply either, whatever was answered there before: the
    conditions are followed down the chain (the question looked at always comes earlier)."""
    shown: set[str] = set()
    for _, q in all_questions(definition):
        condition = q.get("show_if")
        if not condition or (condition["question"] in shown and _meets(condition, answers)):
            shown.add(q["key"])
    return shown


def visible(definition: dict[str, Any], answers: dict[str, Given]) -> list[dict[str, Any]]:
    """The questions that apply, in order, given the answers so far."""
    shown = _shown_keys(definition, answers)
    return [q for _, q in all_questions(definition) if q["key"] in shown]


def prompt(
    definition: dict[str, Any], answers: dict[str, Given], key: str, language: str
) -> Prompt:
    shown = visible(definition, answers)
    keys = [q["key"] for q in shown]
    for index, section in enumerate(definition["sections"]):
        for q in section["questions"]:
            if q["key"] != key:
                continue
            return Prompt(
                key=key,
                section=_lang(section["title"], language) or "",
                section_help=_lang(section.get("help"), language),
                label=_lang(q["label"], language) or key,
                help=_lang(q.get("help"), language),
                type=q["type"],
                options=[
                    (o["value"], _lang(o["label"], language) or o["value"])
                    for o in q.get("options", [])
                ],
                required=q.get("required", True),
                allow_not_available=q.get("allow_not_available", False),
                number=keys.index(key) + 1 if key in keys else 0,
                total=len(keys),
                current=answers.get(key),
                section_index=index,
                document=_lang(q.get("document"), language) if takes_document(q) else None,
            )
    raise ValidationError("There is no question '%(key)s'.", key=key)


def takes_document(q: dict[str, Any]) -> bool:
    """Whether a question that is answered in words or figures also takes a document beside
    its answer (an upload question's answer is the document itself)."""
    return q["type"] in DOCUMENT_BESIDE and bool(q.get("document"))


def takes_files(q: dict[str, Any]) -> bool:
    """Whether files sent at question ``q`` are filed with its answer."""
    return q["type"] == "upload" or takes_document(q)


def section_of(definition: dict[str, Any], key: str | None) -> int:
    """The index of the section (part) that asks ``key``; 0 when no section does."""
    for index, section in enumerate(definition["sections"]):
        if any(q["key"] == key for q in section["questions"]):
            return index
    return 0


def visible_in_section(
    definition: dict[str, Any], answers: dict[str, Given], index: int
) -> list[str]:
    """The keys of the questions of section ``index`` that apply, given the answers so far."""
    shown = _shown_keys(definition, answers)
    return [q["key"] for q in definition["sections"][index]["questions"] if q["key"] in shown]


def _start_after(definition: dict[str, Any], keys: list[str], after: str | None) -> int:
    """Where in ``keys`` (the questions that apply) the walk goes on after ``after``; a
    question that no longer applies is placed where the template has it."""
    if after is None:
        return 0
    if after in keys:
        return keys.index(after) + 1
    order = [q["key"] for _, q in all_questions(definition)]
    if after not in order:
        return 0
    before = set(order[: order.index(after)])
    return sum(1 for key in keys if key in before)


def _to_ask(q: dict[str, Any], given: Given | None) -> bool:
    """Whether the walk still has to ask ``q``: it has no answer, and it is required or the
    client has not passed it yet (an optional question is offered once)."""
    if given is None:
        return True
    if given.answered:
        return False
    return q.get("required", True) or not given.skipped


def next_key(
    definition: dict[str, Any], answers: dict[str, Given], after: str | None = None
) -> str | None:
    """The next question still to ask after ``after`` (wrapping to the start), or None when
    the walk is done: every required question that applies is answered and every optional
    one was answered or passed (skipped, or sent empty). Time to submit."""
    shown = visible(definition, answers)
    start = _start_after(definition, [q["key"] for q in shown], after)
    for q in shown[start:] + shown[:start]:
        if _to_ask(q, answers.get(q["key"])):
            return q["key"]
    return None


def after_answer(
    definition: dict[str, Any],
    answers: dict[str, Given],
    key: str,
    *,
    has_document: bool,
) -> str | None:
    """Where the walk goes once ``key`` has its answer: on to the next question, except that
    a question with a document beside its answer (``document``) waits for that document
    first, so that a chat can offer its upload right there; sending it, or skipping, goes on.
    The answer is enough: the document is never required."""
    if takes_document(question(definition, key)) and not has_document:
        return key
    return next_key(definition, answers, after=key)


def resume(
    definition: dict[str, Any], answers: dict[str, Given], position: str | None
) -> str | None:
    """The question to show for a checklist stored at ``position``: that question while it
    applies, the next one to ask when it no longer does, and from the start when the walk had
    ended (None) — for a question an answer has since brought up, or None: still done."""
    if position is not None and position in {q["key"] for q in visible(definition, answers)}:
        return position
    return next_key(definition, answers, after=position)


def step(
    definition: dict[str, Any], answers: dict[str, Given], key: str | None, offset: int
) -> str | None:
    """The question ``offset`` places before (-1) or after (+1) ``key``: back and skip.

    Skip on the last question goes on as after an answer: to a question still to ask, or to
    the end (None). ``key`` None is the end, from where back goes to the last question."""
    keys = [q["key"] for q in visible(definition, answers)]
    if not keys:
        return None
    if key is None:
        return keys[-1] if offset < 0 else next_key(definition, answers)
    if key not in keys:
        return keys[0]
    index = keys.index(key) + offset
    if index >= len(keys):
        return next_key(definition, answers, after=key)
    return keys[max(index, 0)]


def missing_required(definition: dict[str, Any], answers: dict[str, Given]) -> list[str]:
    """Keys of applicable required questions without an answer (submission is refused)."""
    return [
        q["key"]
        for q in visible(definition, answers)
        if q.get("required", True) and not (answers.get(q["key"]) or Given()).answered
    ]


def question(definition: dict[str, Any], key: str) -> dict[str, Any]:
    for _, q in all_questions(definition):
        if q["key"] == key:
            return q
    raise ValidationError("There is no question '%(key)s'.", key=key)


# --- checking answers ---------------------------------------------------------------------


# Spaces that phones and word processors put between digits, and minus signs that are not "-".
_TYPED = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2212": "-", "\u2013": "-"})
_CURRENCY = r"(?:€|eur|euro|euros|euro's)"
_NUMBER = re.compile(r"(?P<sign>-)?\s*(?P<digits>[0-9][0-9., ]*)")
_AMOUNT = re.compile(
    rf"(?P<sign>-)?\s*(?:{_CURRENCY}\s*)?(?P<sign2>-)?\s*(?P<digits>[0-9][0-9., ]*?)"
    rf"\s*(?P<whole>[.,]-{{1,2}})?\s*{_CURRENCY}?",
    re.IGNORECASE,
)
# Thousands in groups of three, after a first group of one to three digits: 1.234.567,
# 1,234,567 or 1 234 567.
_GROUPED = [re.compile(rf"[1-9][0-9]{{0,2}}({sep}[0-9]{{3}})+") for sep in (r"\.", ",", " ")]
_TYPED_MAX = 40


class _Unreadable(Exception):
    pass


def _decimal(digits: str) -> tuple[Decimal, int]:
    """Digits as people type them, read Dutch first, with the number of decimals.

    With both "." and ",", the last one separates the decimals (1.234,56 and 1,234.56). A
    single "," is a decimal comma (1234,5). A single "." followed by exactly three digits
    groups thousands, as in the Netherlands: 1.234 is one thousand two hundred and
    thirty-four, and so is 1,234,567 with more than one group; any other single "." is a
    decimal point (12.5, 0.250). Spaces only group thousands (45 000)."""
    if "," in digits and "." in digits:
        sep: str | None = "," if digits.rfind(",") > digits.rfind(".") else "."
    elif digits.count(",") == 1:
        sep = ","
    elif digits.count(".") == 1 and not _GROUPED[0].fullmatch(digits):
        sep = "."
    else:
        sep = None
    whole, fraction = digits, ""
    if sep is not None:
        whole, _, fraction = digits.rpartition(sep)
        if not re.fullmatch(r"[0-9]+", fraction):
            raise _Unreadable
    if not re.fullmatch(r"[0-9]+", whole):
        if not any(g.fullmatch(whole) for g in _GROUPED):
            raise _Unreadable
        whole = re.sub(r"[., ]", "", whole)
    return Decimal(f"{whole}.{fraction}" if fraction else whole), len(fraction)


def _typed_number(raw: str, kind: str) -> Decimal:
    """A number, or for an amount also "€ 45.000", "€45.000,-", "EUR 45000", "45.000 euro",
    "- 12,50" (whether a negative one is allowed is the question's ``min``)."""
    text = " ".join(raw.translate(_TYPED).split())
    found = (_AMOUNT if kind == "amount" else _NUMBER).fullmatch(text)
    if len(text) > _TYPED_MAX or found is None:
        raise _Unreadable
    signs = [found.group("sign"), found.groupdict().get("sign2")]
    if all(signs):
        raise _Unreadable
    number, decimals = _decimal(found.group("digits"))
    if kind == "amount":
        if found.group("whole") and decimals:  # "12,50,-"
            raise _Unreadable
        if decimals > 2:
            raise ValidationError(
                N_("An amount has at most two decimals (cents); write thousands as 1.234 or 1234.")
            )
    return -number if any(signs) else number


# --- dates as people type them --------------------------------------------------------------

MONTHS = {
    **dict.fromkeys(("januari", "january", "jan"), 1),
    **dict.fromkeys(("februari", "february", "feb"), 2),
    **dict.fromkeys(("maart", "march", "mrt", "mar"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    **dict.fromkeys(("mei", "may"), 5),
    **dict.fromkeys(("juni", "june", "jun"), 6),
    **dict.fromkeys(("juli", "july", "jul"), 7),
    **dict.fromkeys(("augustus", "august", "aug"), 8),
    **dict.fromkeys(("september", "sep", "sept"), 9),
    **dict.fromkeys(("oktober", "october", "okt", "oct"), 10),
    **dict.fromkeys(("november", "nov"), 11),
    **dict.fromkeys(("december", "dec"), 12),
}
_DAY_MONTH_YEAR = re.compile(r"([0-9]{1,2}) ?([-/.]) ?([0-9]{1,2})(?: ?\2 ?([0-9]+))?")
_YEAR_MONTH_DAY = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})")
_ORDINAL = r"(?:st|nd|rd|th|e)?"
_DAY_NAME_YEAR = re.compile(rf"([0-9]{{1,2}}){_ORDINAL} ([a-z]+)\.?,?(?: ([0-9]+))?")
_NAME_DAY_YEAR = re.compile(rf"([a-z]+)\.? ([0-9]{{1,2}}){_ORDINAL}(?:,? ([0-9]+))?")
DATE_HINT = N_("Enter a date as day-month-year, like 24-11-2026 or 24 November 2026.")


def _date_parts(text: str) -> tuple[str, str | int, str | None, bool] | None:
    """(day, month as digits or a month number, year or None, whether the month came
    first in digits: ISO), or None for text that is no date of any form we read."""
    if found := _YEAR_MONTH_DAY.fullmatch(text):
        year, _, month, day = found.groups()
        return day, month, year, True
    if found := _DAY_MONTH_YEAR.fullmatch(text):
        day, _, month, year = found.groups()
        return day, month, year, False
    for pattern, day_at, name_at in ((_DAY_NAME_YEAR, 0, 1), (_NAME_DAY_YEAR, 1, 0)):
        if (found := pattern.fullmatch(text)) and found.group(name_at + 1) in MONTHS:
            groups = found.groups()
            return groups[day_at], MONTHS[groups[name_at]], groups[2], False
    return None


def read_date(raw: str) -> dt.date:
    """A date as people type it, day first (Dutch): 15-3-2025, 15-03-2025, 15/3/2025,
    15.3.2025, 2025-03-15, 15 maart 2025, 15 mrt 2025, 15 March 2025, March 15, 2025.

    The year is never guessed: a date without one ("15 maart") or with two digits
    ("15-3-25": 1925 or 2025? a birth date and a key date look alike) is asked again. Nor is
    the order: 3/15/2025 has no month 15. Public for the other dates a channel asks for (when
    a document that is "not available" is expected), read by the same rules."""
    text = " ".join(raw.lower().translate(_TYPED).split()).rstrip(".")
    parts = _date_parts(text) if len(text) <= _TYPED_MAX else None
    if parts is None:
        raise ValidationError(DATE_HINT)
    day, month, year, iso = parts
    if year is None:
        raise ValidationError(N_("Write the date with its year, like 24-11-2026."))
    if len(year) == 2:
        raise ValidationError(N_("Write the year with four digits, like 24-11-2026."))
    if len(year) != 4:
        raise ValidationError(DATE_HINT)
    shown = raw.strip()
    if not 1 <= int(month) <= 12:
        if iso:
            raise ValidationError(
                N_("%(date)s is not a date: there is no month %(month)d."),
                date=shown,
                month=int(month),
            )
        raise ValidationError(
            N_(
                "%(date)s is not a date: there is no month %(month)d. Write the day first, "
                "like 24-11-2026."
            ),
            date=shown,
            month=int(month),
        )
    days = calendar.monthrange(int(year), int(month))[1]
    if not 1 <= int(day) <= days:
        raise ValidationError(
            N_("%(date)s does not exist: that month has %(days)d days."), date=shown, days=days
        )
    return dt.date(int(year), int(month), int(day))


def _pick(q: dict[str, Any], token: str, language: str) -> str:
    options = q["options"]
    token = token.strip()
    if re.fullmatch(r"[0-9]{1,6}", token) and 1 <= int(token) <= len(options):
        return options[int(token) - 1]["value"]
    for option in options:
        labels = {option["value"].lower(), *(v.lower() for v in option["label"].values())}
        if token.lower() in labels:
            return option["value"]
    raise ValidationError(
        N_("'%(answer)s' is not one of the choices; answer with a number from 1 to %(n)d."),
        answer=token[:50],
        n=len(options),
    )


def _number(q: dict[str, Any], raw: Any, kind: str) -> Decimal:
    """``raw`` as a number or an amount, at least the question's minimum (``min``: a number
    question counts, so 0 unless the template says otherwise; an amount has none)."""
    try:
        number = _typed_number(str(raw), kind) + 0  # + 0: -0 is 0
    except _Unreadable:
        if kind == "amount":
            raise ValidationError(
                N_("Enter an amount in euros, like 1.234,56 or 1234.56.")
            ) from None
        raise ValidationError(N_("Enter a number, like 12 or 12,5.")) from None
    minimum = q.get("min", NUMBER_MIN if kind == "number" else None)
    if minimum is not None and number < Decimal(str(minimum)):
        shown = format(Decimal(str(minimum)).normalize(), "f")
        if kind == "amount":
            raise ValidationError(N_("Enter an amount of at least € %(min)s."), min=shown)
        raise ValidationError(N_("Enter a number of at least %(min)s."), min=shown)
    return number


def check(definition: dict[str, Any], key: str, raw: Any, language: str = "nl") -> Any:
    """The stored value for ``raw`` typed as an answer to ``key``, or ValidationError with a
    message (a catalogue msgid) that says what is wrong, in the words of the question's type.

    Amounts and dates are taken the ways people type them, Dutch first: "1.234,50",
    "€ 45.000,-", "45.000 euro", "- 12,50"; "15-3-2025", "15 maart 2025", "March 15, 2025".
    An ambiguous "1.234" is one thousand two hundred and thirty-four, as in the Netherlands
    (see ``_decimal``); an amount with more than two decimals ("45,000") is refused, not
    rounded or guessed at; a date without a four-digit year is asked again (``read_date``)."""
    q = question(definition, key)
    kind = q["type"]
    if kind == "upload":
        raise ValidationError(N_("This question is answered with a document, not with text."))
    if isinstance(raw, str):
        raw = raw.strip()
    if raw in (None, "", []):
        return _empty(q)
    if kind == "text":
        if len(raw) > TEXT_MAX:
            raise ValidationError(N_("At most %(max)d characters, please."), max=TEXT_MAX)
        return raw
    if kind == "longtext":
        if len(raw) > LONGTEXT_MAX:
            raise ValidationError(N_("At most %(max)d characters, please."), max=LONGTEXT_MAX)
        return raw
    if kind == "number":
        return format(_number(q, raw, kind).normalize(), "f")
    if kind == "amount":
        return str(_number(q, raw, kind).quantize(Decimal("0.01")))
    if kind == "date":
        return read_date(str(raw)).isoformat()
    if kind == "yesno":
        if isinstance(raw, bool):
            return raw
        word = str(raw).lower().strip(" .!")
        if word in YES:
            return True
        if word in NO:
            return False
        raise ValidationError(N_("Please answer yes or no."))
    if kind == "choice":
        return _pick(q, str(raw), language)
    if kind == "multichoice":
        tokens = raw if isinstance(raw, list) else re.split(r"[,;\n]+", str(raw))
        values = [_pick(q, str(t), language) for t in tokens if str(t).strip()]
        if not values:  # "," or ";": separators and nothing between them
            return _empty(q)
        return sorted(set(values), key=[o["value"] for o in q["options"]].index)
    raise ValidationError("Unknown question type %(type)s.", type=kind)


def _empty(q: dict[str, Any]) -> None:
    """An empty answer: refused where one is required; otherwise it leaves the question empty."""
    if q.get("required", True):
        raise ValidationError(N_("An answer is required."))
    return None


def show(definition: dict[str, Any], key: str, given: Given | None, language: str) -> str:
    """An answer as a person reads it back (summary, PDF, chat)."""
    from .i18n import gettext_for

    _ = gettext_for(language)
    if given is None or not given.answered:
        return "—"
    if given.not_available:
        return _("Not available")
    q = question(definition, key)
    value = given.value
    if q["type"] == "yesno":
        return _("Yes") if value else _("No")
    if q["type"] in ("choice", "multichoice"):
        labels = {o["value"]: _lang(o["label"], language) for o in q["options"]}
        values = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(v, v) or v for v in values)
    if q["type"] == "amount":
        euros = Decimal(value)
        text = f"{euros:,.2f}"
        if language == "nl":
            text = text.replace(",", "_").replace(".", ",").replace("_", ".")
        return f"€ {text}"
    if q["type"] == "date":
        day = dt.date.fromisoformat(value)
        return day.strftime("%d-%m-%Y")
    if q["type"] == "upload":
        names = (value or {}).get("filenames", []) if isinstance(value, dict) else []
        return ", ".join(names) or "—"
    return str(value)
