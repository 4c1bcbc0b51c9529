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
            show_if: {question: partner, equals: true}   # or in: […], or not_equals: …

Errors name the line and the question, in words a person understands.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import ValidationError

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
    condition = q.get("show_if")
    if condition is not None:
        if not isinstance(condition, dict) or "question" not in condition:
            raise _fail(
                line,
                "show_if of '%(key)s' needs 'question' and 'equals', 'in' or 'not_equals'.",
                key=key,
            )
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
        out["show_if"] = {"question": target, ops[0]: condition[ops[0]]}
    return out


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
    }
