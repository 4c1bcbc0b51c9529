"""How the CLI shows things: one JSON object per command with --json, short lines without.

Field names are the models' own, so scripts can rely on them.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import sys
from typing import Any

from core.models import Account, Client, Document, Dossier, DossierStep, IntermediaryOffice, Message
from core.services.dossiers import DossierRow, DossierView
from core.services.telegram import TelegramStatus


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def account_json(a: Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "username": a.username,
        "email": a.email,
        "name": a.name,
        "role": _plain(a.role),
        "language": _plain(a.language),
        "client_id": a.client_id,
        "intermediary_id": a.intermediary_id,
        "is_main": a.is_main,
    }


def account_row_json(a: Account, telegram: TelegramStatus) -> dict[str, Any]:
    """An account as `loket account list` and `loket dossier show` list it."""
    return {
        **account_json(a),
        "active": a.active,
        "two_factor": _plain(a.two_factor),
        "telegram": telegram.linked,
        "telegram_blocked": telegram.blocked_at is not None,
    }


def account_line(a: dict) -> str:
    """An account in one line, for a person: who, and how they can be reached."""
    telegram = "; Telegram: bot blocked" if a["telegram_blocked"] else "; Telegram"
    return (
        f"{a['username']} <{a['email']}> ({a['role']}"
        f"{'' if a['active'] else ', inactive'}"
        f"{'' if a['two_factor'] == 'none' else ', two-step ' + a['two_factor']}"
        f"{telegram if a['telegram'] else ''})"
    )


def client_json(c: Client, main: Account) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "kind": _plain(c.kind),
        "username": main.username,
        "account": account_json(main),
    }


def client_row_json(c: Client, dossiers: int, accounts: list[dict[str, Any]]) -> dict[str, Any]:
    """A client as `loket client list` shows it: with its accounts and number of dossiers."""
    return {
        "id": c.id,
        "name": c.name,
        "kind": _plain(c.kind),
        "created_at": _plain(c.created_at),
        "dossiers": dossiers,
        "accounts": accounts,
    }


def intermediary_json(o: IntermediaryOffice, account: Account) -> dict[str, Any]:
    return {
        "id": o.id,
        "name": o.name,
        "email": o.email,
        "username": account.username,
        "account": account_json(account),
    }


def dossier_json(d: Dossier) -> dict[str, Any]:
    return {
        "id": d.id,
        "number": d.number,
        "description": d.description,
        "kind": d.kind,
        "status": _plain(d.status),
        "client_id": d.client_id,
        "intermediary_id": d.intermediary_id,
        "visible_to_client": d.visible_to_client,
        "handler_id": d.handler_id,
        "created_at": _plain(d.created_at),
        "updated_at": _plain(d.updated_at),
    }


def dossier_row_json(row: DossierRow) -> dict[str, Any]:
    """A dossier as `loket dossier list` shows it."""
    return {
        **dossier_json(row.dossier),
        "client_name": row.client_name,
        "steps_done": row.steps_done,
        "steps_total": row.steps_total,
    }


def step_json(s: DossierStep) -> dict[str, Any]:
    return {"id": s.id, "position": s.position, "title": s.title, "done_at": _plain(s.done_at)}


def document_json(d: Document) -> dict[str, Any]:
    return {
        "id": d.id,
        "dossier_id": d.dossier_id,
        "category": _plain(d.category),
        "filename": d.filename,
        "content_type": d.content_type,
        "size": d.size,
        "sha256": d.sha256,
        "source_channel": _plain(d.source_channel),
        "uploaded_by_id": d.uploaded_by_id,
        "message_id": d.message_id,
        "review_state": _plain(d.review_state),
        "checklist_id": d.checklist_id,
        "replaced_by_id": d.replaced_by_id,
        "created_at": _plain(d.created_at),
    }


def message_json(m: Message, sender: str | None = None) -> dict[str, Any]:
    """``sender``: the address a message that came by mail was sent from (its inbound mail's),
    which names the writer when no account does (a stranger's mail filed by staff)."""
    return {
        "id": m.id,
        "dossier_id": m.dossier_id,
        "direction": _plain(m.direction),
        "channel": _plain(m.channel),
        "author": m.author.username if m.author is not None else None,
        "author_id": m.author_id,
        "sender": sender,
        "subject": m.subject,
        "body": m.body,
        "parent_id": m.parent_id,
        "created_at": _plain(m.created_at),
        "attachments": [document_json(d) for d in m.attachments],
    }


def dossier_show_json(
    view: DossierView,
    documents: list[Document],
    messages: list[Message],
    senders: dict[int, str] | None = None,
    accounts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        **dossier_json(view.dossier),
        "accounts": accounts or [],
        "steps_done": view.steps_done,
        "steps_total": len(view.steps),
        "steps": [step_json(s) for s in view.steps],
        "documents": [document_json(d) for d in documents],
        "messages": [message_json(m, (senders or {}).get(m.id)) for m in messages],
    }


def emit(as_json: bool, data: Any, human: str) -> None:
    """Print the result: the JSON document, or the sentence for a person."""
    if as_json:
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(human)
