"""loket template import, checklist assign, checklist show."""

from __future__ import annotations

import argparse
import asyncio
import codecs
import datetime as dt
from pathlib import Path

from core import walker
from core.actor import Actor
from core.errors import ValidationError
from core.services import checklists

from ..files import readable_file
from ..output import emit
from ..runtime import Runtime

SYSTEM = Actor.system()


def parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    for pattern in ("%Y-%m-%d", "%d-%m-%Y"):
        try:
            return dt.datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise ValidationError("'%(value)s' is not a date; use 2026-12-31 or 31-12-2026.", value=value)


def template_text(path: Path, raw: bytes) -> str:
    """The text of a template file: UTF-8 (with or without a byte order mark), or UTF-16 with
    one (Notepad's "Unicode"). Anything else is refused rather than guessed: nearly any bytes
    decode as Windows-1252, so a guess cannot be checked, and a wrong one would put garbled
    letters in front of clients."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ValidationError(
                "%(path)s is not UTF-8 text (byte %(byte)s on line %(line)d): "
                "save it with the encoding UTF-8 and import it again.",
                field="file",
                path=str(path),
                byte=f"0x{raw[exc.start]:02x}",
                line=line,
            ) from None
    raise ValidationError(
        "%(path)s is not UTF-16 text, although it starts like it: "
        "save it with the encoding UTF-8 and import it again.",
        field="file",
        path=str(path),
    )


async def template_import(rt: Runtime, args: argparse.Namespace) -> None:
    path = readable_file(Path(args.file))
    text = template_text(path, await asyncio.to_thread(path.read_bytes))
    async with rt.db.begin() as s:
        template = await checklists.import_template(s, SYSTEM, text)
    questions = sum(len(sec["questions"]) for sec in template.definition["sections"])
    emit(
        args.json,
        {
            "id": template.id,
            "name": template.name,
            "version": template.version,
            "kind": template.kind,
            "sections": len(template.definition["sections"]),
            "questions": questions,
        },
        f"Template {template.name} version {template.version} imported "
        f"({len(template.definition['sections'])} sections, {questions} questions).",
    )


async def checklist_assign(rt: Runtime, args: argparse.Namespace) -> None:
    due = parse_date(args.due)
    async with rt.db.begin() as s:
        checklist = await checklists.assign(
            s,
            SYSTEM,
            number=args.dossier,
            template_name=args.template,
            usernames=args.account or None,
            due=due,
        )
    emit(
        args.json,
        {
            "id": checklist.id,
            "dossier": args.dossier,
            "template": args.template,
            "status": checklist.status.value,
            "due_date": due.isoformat() if due else None,
        },
        f"Checklist {checklist.id} ({args.template}) assigned in dossier {args.dossier}.",
    )


async def checklist_show(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.read() as s:
        loaded = await checklists.load(s, SYSTEM, args.id)
    given = loaded.given
    shown = [q["key"] for q in walker.visible(loaded.definition, given)]
    answers = []
    for key in shown:
        a = loaded.answers.get(key)
        answers.append(
            {
                "question_key": key,
                "value": a.value if a else None,
                "not_available": a.not_available if a else False,
                "channel": a.channel.value if a else None,
                "review_state": a.review_state.value if a else None,
                "shown": walker.show(loaded.definition, key, given.get(key), "nl"),
            }
        )
    c = loaded.checklist
    data = {
        "id": c.id,
        "dossier": loaded.dossier.number,
        "template": loaded.template.name,
        "version": loaded.template.version,
        "status": c.status.value,
        "locked": c.locked,
        "position": c.position,
        "review_reason": c.review_reason,
        "missing": walker.missing_required(loaded.definition, given),
        "answers": answers,
    }
    lines = [
        f"Checklist {c.id}: {loaded.template.name} v{loaded.template.version} in "
        f"{loaded.dossier.number} — {c.status.value}{' (locked)' if c.locked else ''}"
    ]
    lines += [f"  {a['question_key']:<28} {a['shown']}" for a in answers]
    emit(args.json, data, "\n".join(lines))
