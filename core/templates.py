"""Checklist and questionnaire templates: the YAML a firm writes, checked and normalised.

    name: inkomstenbelasting            # letters, digits, - and _
    kind: checklist                     # or questionnaire
    title: {nl: …, en: …}
    sections:
      - title: {nl: …, en: …}
        help: {nl: …, en: …}            # optional
        questions:
          - key: partner                # unique in the template
            type: yesno                 # text, longtext, number, amount, date, yesno,
                                        # choice, multichoice, upload
            label: {nl: …, en: …}
            help: {nl: …, en: …}        # optional: the extra help behind the question mark
            required: true              # default true
            allow_not_available: false  # upload questions: may the client say "not available"
            options:                    # choice and multichoice
              - {value: loondienst, label: {nl: …, en: …}}
            min: 0                      # number and amount: the lowest answer allowed; a
                                        # number counts, so its default is 0 (min: null
                                        # allows any); an amount has none unless set
            show_if: {question: partner, equals: true}   # or in: […], or not_equals: …
            document: {nl: …, en: …}    # text, number and amount questions: the document
                                        # that goes with the answer (its upload is offered
                                        # right there, beside the answer; optional)
    on_approve:                         # optional: what approving a submission does
      status: in_treatment              # the dossier's new status (default), or null: none
      steps: [Stukken compleet]         # progress steps (by title) ticked as done

A condition (``show_if``) looks at an earlier yes/no, choice or multiple-choice question:
``equals``/``not_equals`` take one of its options (true or false for yes/no), ``in`` a list
of them; a multiple-choice question only takes ``in`` (shown when any of them is ticked). A
question whose condition looks at a question that does not apply does not apply either.

Errors name the line and the question, in words a person understands.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from . import walker
from .errors import ValidationError
from .models import DossierStatus

# The templates the project ships: an income-tax checklist and a notary's questionnaire.
SHIPPED = Path(__file__).parent / "data" / "templates"
TYPES = ("text", "longtext", "number", "amount", "date", "yesno", "choice", "multichoice", "upload")
KINDS = ("checklist", "questionnaire")
LANGUAGES = ("nl", "en")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")


class _LineLoader(yaml.SafeLoader):
    """Keeps the line of every mapping, so errors can say where."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _fail(line: int | None, message: str, **params: Any) -> ValidationError:
    where = f"line {line}: " if line else ""
    return ValidationError(where + message % params if params else where + message)


def _text(
    node: Any, field: str, line: int | None, *, required: bool = True
) -> dict[str, str] | None:
    if node is None and not required:
        return None
    if isinstance(node, str):
        node = {"nl": node, "en": node}
    if not isinstance(node, dict):
        raise _fail(
            line, "'%(field)s' needs a Dutch and an English text (nl: …, en: …).", field=field
        )
    missing = [lang for lang in LANGUAGES if not str(node.get(lang) or "").strip()]
    if missing:
        raise _fail(
            node.get("__line__", line),
            "'%(field)s' has no text in: %(langs)s.",
            field=field,
            langs=", ".join(missing),
        )
    return {lang: str(node[lang]).strip() for lang in LANGUAGES}


def _question(q: Any, seen: dict[str, dict[str, Any]], section_line: int) -> dict[str, Any]:
    if not isinstance(q, dict):
        raise _fail(section_line, "Each question must be a mapping with key, type and label.")
    line = q.get("__line__")
    key = str(q.get("key") or "")
    if not _KEY.fullmatch(key):
        raise _fail(
            line, "'%(key)s' is not a valid question key (lower-case letters, digits, _).", key=key
        )
    if key in seen:
        raise _fail(line, "The question key '%(key)s' is used twice.", key=key)
    qtype = str(q.get("type") or "")
    if qtype not in TYPES:
        raise _fail(
            line,
            "Question '%(key)s' has type '%(type)s'; use one of: %(types)s.",
            key=key,
            type=qtype,
            types=", ".join(TYPES),
        )
    out: dict[str, Any] = {
        "key": key,
        "type": qtype,
        "label": _text(q.get("label"), f"{key}.label", line),
        "help": _text(q.get("help"), f"{key}.help", line, required=False),
        "required": bool(q.get("required", True)),
        "allow_not_available": bool(q.get("allow_not_available", False)),
    }
    if qtype in ("choice", "multichoice"):
        options = q.get("options")
        if not isinstance(options, list) or len(options) < 2:
            raise _fail(line, "Question '%(key)s' needs at least two options.", key=key)
        values = []
        out["options"] = []
        for option in options:
            if not isinstance(option, dict) or not str(option.get("value") or "").strip():
                raise _fail(line, "Each option of '%(key)s' needs a value and a label.", key=key)
            value = str(option["value"]).strip()
            if value in values:
                raise _fail(
                    option.get("__line__", line),
                    "Option '%(value)s' of '%(key)s' is used twice.",
                    value=value,
                    key=key,
                )
            values.append(value)
            out["options"].append(
                {
                    "value": value,
                    "label": _text(
                        option.get("label"), f"{key}.options", option.get("__line__", line)
                    ),
                }
            )
    elif "options" in q:
        raise _fail(
            line, "Only choice questions have options ('%(key)s' is %(type)s).", key=key, type=qtype
        )
    if "min" in q:
        if qtype not in ("number", "amount"):
            raise _fail(
                line,
                "Only number and amount questions have a minimum ('%(key)s' is %(type)s).",
                key=key,
                type=qtype,
            )
        out["min"] = _minimum(q["min"], key, line)
    if q.get("document") is not None:
        if qtype not in walker.DOCUMENT_BESIDE:
            raise _fail(
                line,
                "Only text, number and amount questions take a document beside the answer "
                "('%(key)s' is %(type)s).",
                key=key,
                type=qtype,
            )
        out["document"] = _text(q.get("document"), f"{key}.document", line)
    condition = q.get("show_if")
    if condition is not None:
        out["show_if"] = _condition(condition, key, seen, line)
    return out


def _minimum(value: Any, key: str, line: int | None) -> str | None:
    """``min`` as a decimal string; None (``min: null``) for no minimum at all."""
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidOperation
        number = Decimal(str(value).strip())
        if not number.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise _fail(line, "min of '%(key)s' must be a number, like 0 or -100.", key=key) from None
    return format(number.normalize(), "f")


_CONDITION_TYPES = ("yesno", "choice", "multichoice")


def _condition(
    condition: Any, key: str, seen: dict[str, dict[str, Any]], line: int | None
) -> dict[str, Any]:
    """A ``show_if`` that can come true: on an earlier yes/no or choice question, with values
    that question can have."""
    if not isinstance(condition, dict) or "question" not in condition:
        raise _fail(
            line,
            "show_if of '%(key)s' needs 'question' and 'equals', 'in' or 'not_equals'.",
            key=key,
        )
    line = condition.get("__line__", line)
    target = str(condition["question"])
    if target not in seen:
        raise _fail(
            line,
            "show_if of '%(key)s' refers to '%(target)s', which is not an earlier question.",
            key=key,
            target=target,
        )
    ops = [op for op in ("equals", "in", "not_equals") if op in condition]
    if len(ops) != 1:
        raise _fail(
            line, "show_if of '%(key)s' needs exactly one of equals, in, not_equals.", key=key
        )
    op = ops[0]
    looked_at = seen[target]
    kind = looked_at["type"]
    if kind not in _CONDITION_TYPES:
        raise _fail(
            line,
            "show_if of '%(key)s' looks at '%(target)s', a %(type)s question; a condition can "
            "only look at a yes/no, choice or multiple-choice question.",
            key=key,
            target=target,
            type=kind,
        )
    if kind == "multichoice" and op != "in":
        raise _fail(
            line,
            "show_if of '%(key)s' looks at the multiple-choice question '%(target)s': use "
            "in: [...] with the options that make '%(key)s' appear.",
            key=key,
            target=target,
        )
    raw = condition[op]
    if op == "in":
        if not isinstance(raw, list) or not raw:
            raise _fail(
                line,
                "show_if of '%(key)s': 'in' needs a list of options of '%(target)s', "
                "like in: [a, b].",
                key=key,
                target=target,
            )
        values = [_condition_value(v, key, looked_at, line) for v in raw]
        return {"question": target, "in": list(dict.fromkeys(values))}
    return {"question": target, op: _condition_value(raw, key, looked_at, line)}


def _condition_value(value: Any, key: str, looked_at: dict[str, Any], line: int | None) -> Any:
    """One value a condition compares with, as the answer to ``looked_at`` is stored."""
    if looked_at["type"] == "yesno":
        if not isinstance(value, bool):
            raise _fail(
                line,
                "show_if of '%(key)s': '%(target)s' is a yes/no question, so compare with true "
                "or false, not '%(value)s'.",
                key=key,
                target=looked_at["key"],
                value=value,
            )
        return value
    options = [o["value"] for o in looked_at["options"]]
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
    )
    if text not in options:
        raise _fail(
            line,
            "show_if of '%(key)s': '%(value)s' is not an option of '%(target)s' (%(options)s).",
            key=key,
            value=value,
            target=looked_at["key"],
            options=", ".join(options),
        )
    return text


def parse_template(text: str) -> dict[str, Any]:
    """The normalised definition of a template written in YAML; ValidationError otherwise."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _fail(
            mark.line + 1 if mark else None,
            "This is not valid YAML: %(problem)s.",
            problem=getattr(exc, "problem", None) or str(exc),
        ) from None
    if not isinstance(data, dict):
        raise _fail(None, "A template is a mapping with name, kind, title and sections.")
    name = str(data.get("name") or "")
    if not _NAME.fullmatch(name):
        raise _fail(data.get("__line__"), "'%(name)s' is not a valid template name.", name=name)
    kind = str(data.get("kind") or "checklist")
    if kind not in KINDS:
        raise _fail(
            data.get("__line__"),
            "kind must be checklist or questionnaire, not '%(kind)s'.",
            kind=kind,
        )
    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        raise _fail(data.get("__line__"), "A template needs at least one section.")
    seen: dict[str, dict[str, Any]] = {}
    out_sections = []
    for section in sections:
        if not isinstance(section, dict):
            raise _fail(
                data.get("__line__"), "Each section must be a mapping with title and questions."
            )
        line = section.get("__line__")
        questions = section.get("questions")
        if not isinstance(questions, list) or not questions:
            raise _fail(line, "Each section needs at least one question.")
        out_questions = []
        for q in questions:
            normalised = _question(q, seen, line)
            seen[normalised["key"]] = normalised
            out_questions.append(normalised)
        out_sections.append(
            {
                "title": _text(section.get("title"), "section title", line),
                "help": _text(section.get("help"), "section help", line, required=False),
                "questions": out_questions,
            }
        )
    return {
        "name": name,
        "kind": kind,
        "title": _text(data.get("title"), "title", data.get("__line__")),
        "sections": out_sections,
        "on_approve": _on_approve(data.get("on_approve", {}), data.get("__line__")),
    }


# Approving a submission takes the dossier into treatment unless the template says otherwise:
# "we take a dossier into treatment once we have every document we need" (the seeds).
DEFAULT_APPROVE_STATUS = DossierStatus.IN_TREATMENT.value


def on_approve(definition: dict[str, Any]) -> dict[str, Any]:
    """What approving a checklist of this template does (templates imported before
    ``on_approve`` existed get the default)."""
    return definition.get("on_approve") or {"status": DEFAULT_APPROVE_STATUS, "steps": []}


def _on_approve(node: Any, line: int | None) -> dict[str, Any]:
    if node is None:
        node = {"status": None}
    if not isinstance(node, dict):
        raise _fail(line, "on_approve is a mapping with status and steps.")
    line = node.get("__line__", line)
    status = node.get("status", DEFAULT_APPROVE_STATUS)
    if status is not None and status not in {s.value for s in DossierStatus}:
        raise _fail(
            line,
            "on_approve: '%(status)s' is not a dossier status; use one of: %(known)s.",
            status=status,
            known=", ".join(s.value for s in DossierStatus),
        )
    steps = node.get("steps") or []
    if not isinstance(steps, list) or not all(isinstance(t, str) and t.strip() for t in steps):
        raise _fail(line, "on_approve: steps is a list of step titles.")
    return {"status": status, "steps": [t.strip() for t in steps]}
