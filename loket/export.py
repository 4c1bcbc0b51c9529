"""``loket export --account U PATH``: a zip of everything held about a person, with
``index.html`` in their language (what each part is, and links to the files), ``data.json``
for machines, and the documents themselves under ``documents/``."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import re
from pathlib import Path
from typing import Any

from core.i18n import gettext_for
from core.services.export import PersonalData
from core.storage import FileStore

from .backup import BackupError, ZipWriter
from .output import _plain

_UNSAFE = re.compile(r"[^\w.\- ]+")


def _row(obj: Any, *names: str) -> dict[str, Any]:
    return {n: _plain(getattr(obj, n)) for n in names}


def _file_name(document: Any) -> str:
    safe = _UNSAFE.sub("_", document.filename).strip(" .")[:100] or "file"
    return f"documents/{document.id}-{safe}"


def as_json(data: PersonalData) -> dict[str, Any]:
    a = data.account
    return {
        "account": _row(
            a,
            "id",
            "username",
            "email",
            "name",
            "role",
            "language",
            "phone",
            "active",
            "two_factor",
            "notifications",
            "email_verified_at",
            "password_changed_at",
            "created_at",
            "email_failing_since",
            "email_failure_reason",
        )
        | {"password_set": a.password_hash is not None, "telegram_chat_id": a.telegram_chat_id},
        "client": _row(data.client, "id", "name", "kind", "created_at") if data.client else None,
        "intermediary": _row(data.office, "id", "name", "email") if data.office else None,
        "dossiers": [
            _row(d, "id", "number", "description", "kind", "status", "created_at", "updated_at")
            for d in data.dossiers
        ],
        "messages": [
            _row(
                m,
                "id",
                "dossier_id",
                "direction",
                "channel",
                "author_id",
                "subject",
                "body",
                "created_at",
            )
            for m in data.messages
        ],
        "documents": [
            _row(
                d,
                "id",
                "dossier_id",
                "category",
                "filename",
                "content_type",
                "size",
                "sha256",
                "uploaded_by_id",
                "review_state",
                "review_reason",
                "created_at",
            )
            | {"file": _file_name(d)}
            for d in data.documents
        ],
        "checklist_answers": [
            {"checklist_id": c.id, "dossier_id": c.dossier_id, "status": _plain(c.status)}
            | _row(
                a,
                "question_key",
                "value",
                "not_available",
                "not_available_reason",
                "channel",
                "updated_at",
            )
            for c, a in data.answers
        ],
        "audit_events": [
            _row(
                e,
                "id",
                "at",
                "actor_id",
                "action",
                "channel",
                "dossier_id",
                "subject_type",
                "subject_id",
                "details",
            )
            for e in data.audit
        ],
        "sessions": [
            _row(s, "created_at", "last_seen_at", "expires_at", "ip") for s in data.sessions
        ],
        "telegram": _row(data.telegram, "chat_id", "language", "created_at", "blocked_at")
        if data.telegram
        else None,
    }


def index_html(data: PersonalData, firm: str) -> str:
    """The readable index, in the person's language."""
    _ = gettext_for(data.account.language.value)
    e = html.escape
    title = _("Your data at %(firm)s") % {"firm": firm}
    intro = _(
        "Everything we hold about you on the portal. The same, for computers, is in data.json."
    )
    a = data.account
    telegram = _("linked") if data.telegram else _("not linked")
    fields = [
        (_("Username"), a.username),
        (_("Name"), a.name),
        (_("Email address"), a.email),
        (_("Phone"), a.phone or ""),
        (_("Language"), a.language.value),
        (_("Two-step verification"), a.two_factor.value),
        (_("Telegram"), telegram),
    ]
    sections = [
        (
            _("Dossiers"),
            [f"{e(d.number)}: {e(d.description)} ({e(d.status.value)})" for d in data.dossiers],
        ),
        (
            _("Messages"),
            [f"{e(m.created_at.date().isoformat())}: {e(m.subject)}" for m in data.messages],
        ),
        (
            _("Documents"),
            [f"<a href='{e(_file_name(d))}'>{e(d.filename)}</a>" for d in data.documents],
        ),
        (
            _("Checklist answers"),
            [
                f"{e(x.question_key)}: {e(json.dumps(x.value, ensure_ascii=False))}"
                for _c, x in data.answers
            ],
        ),
        (_("Audit trail"), [f"{e(ev.at.isoformat())}: {e(ev.action)}" for ev in data.audit]),
    ]
    account_heading = _("Your account")
    parts = [
        f"<!doctype html><html lang='{e(a.language.value)}'><meta charset='utf-8'>",
        f"<title>{e(title)}</title><h1>{e(title)}</h1><p>{e(intro)}</p>",
        f"<h2>{e(account_heading)}</h2><table>",
        *(f"<tr><th>{e(label)}</th><td>{e(str(value))}</td></tr>" for label, value in fields),
        "</table>",
    ]
    for heading, items in sections:
        parts.append(f"<h2>{e(heading)}</h2><ul>")
        parts += [f"<li>{item}</li>" for item in items]
        parts.append("</ul>")
    parts.append("</html>\n")
    return "\n".join(parts)


async def write_export(data: PersonalData, store: FileStore, target: Path, *, firm: str) -> int:
    """The zip at ``target`` (a new file); how many documents it holds."""
    target = Path(target)
    if await asyncio.to_thread(target.exists):
        raise BackupError(f"{target} exists already; give a new file name")
    partial = target.with_name(target.name + ".part")
    archive = await asyncio.to_thread(ZipWriter, partial)
    try:
        body = json.dumps(as_json(data), ensure_ascii=False, indent=2).encode()
        await asyncio.to_thread(archive.add_bytes, "data.json", body)
        await asyncio.to_thread(archive.add_bytes, "index.html", index_html(data, firm).encode())
        for document in data.documents:
            member = await asyncio.to_thread(archive.open, _file_name(document), compress=False)
            try:
                async for chunk in store.open(document.storage_key):
                    await asyncio.to_thread(member.write, chunk)
            finally:
                await asyncio.to_thread(member.close)
        await asyncio.to_thread(archive.close)
        await asyncio.to_thread(os.replace, partial, target)
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(archive.close)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(partial.unlink)
        raise
    return len(data.documents)
