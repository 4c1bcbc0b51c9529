"""Reading the audit trail (core/audit.py writes it): per dossier and per account, who saw,
downloaded, sent and changed what, through which channel, when. For the firm's staff only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access
from ..actor import Actor
from ..errors import NotFound
from ..i18n import N_
from ..models import Account, AuditEvent, Document, Dossier, Message

LIMIT = 1000  # a page shows the newest; the CSV export takes up to EXPORT_LIMIT
EXPORT_LIMIT = 50_000

# What an action is, as staff read it (the page keeps the stored action as a tooltip, the CSV
# as it is); an action without a label shows as it is stored.
ACTION_LABELS = {
    "dossier.create": N_("Dossier created"),
    "dossier.update": N_("Dossier changed"),
    "dossier.status": N_("Status changed"),
    "step.add": N_("Step added"),
    "step.tick": N_("Step ticked"),
    "document.publish": N_("Document published"),
    "document.deliver": N_("Document delivered"),
    "document.download": N_("Document downloaded"),
    "document.reject": N_("Document rejected"),
    "message.send": N_("Message sent"),
    "message.attach": N_("Attachment added"),
    "message.read": N_("Message read"),
    "message.email_in": N_("Message received by mail"),
    "checklist.assign": N_("Checklist assigned"),
    "checklist.submit": N_("Checklist submitted"),
    "checklist.approve": N_("Checklist approved"),
    "checklist.reject": N_("Checklist sent back"),
    "checklist.upload_link": N_("Upload link used"),
    "template.import": N_("Template imported"),
    "mail.file": N_("Mail filed"),
    "mail.discard": N_("Mail discarded"),
    "mail.original": N_("Original mail opened"),
    "retention.removed": N_("Removed after the retention period"),
    "client.create": N_("Client created"),
    "client.update": N_("Client changed"),
    "company.add_account": N_("Account added to the company"),
    "company.remove_account": N_("Account removed from the company"),
    "intermediary.create": N_("Intermediary office created"),
    "intermediary.update": N_("Intermediary office changed"),
    "intermediary.add_account": N_("Account added to the office"),
    "account.create": N_("Account created"),
    "account.invite": N_("Invitation sent"),
    "account.verify_email": N_("Email address confirmed"),
    "account.set_password": N_("Password set"),
    "account.change_password": N_("Password changed"),
    "account.forgot_password": N_("Password reset asked for"),
    "account.disable": N_("Account disabled"),
    "account.erased": N_("Account erased"),
    "account.enable": N_("Account enabled"),
    "profile.language": N_("Language changed"),
    "profile.notifications": N_("Notification settings changed"),
    "twofactor.enable": N_("Two-step verification turned on"),
    "twofactor.disable": N_("Two-step verification turned off"),
    "login.password": N_("Logged in (password)"),
    "login.second_step": N_("Logged in (second step)"),
    "login.failed": N_("Login failed"),
    "login.code_failed": N_("Wrong verification code"),
    "login.code_pause": N_("Logging in paused after wrong codes"),
    "login.code_lockout": N_("Logging in locked after wrong codes"),
    "telegram.link": N_("Telegram linked"),
    "telegram.link_code": N_("Telegram link code asked for"),
    "telegram.link_mail": N_("Telegram link code mailed"),
    "telegram.unlink": N_("Telegram unlinked"),
    "telegram.blocked": N_("Telegram bot blocked by the person"),
    "telegram.unblocked": N_("Telegram bot unblocked by the person"),
    "secrets.rotate": N_("Stored secrets re-sealed"),
}


@dataclass
class Entry:
    """One line of the trail, ready to show: the names, not the ids."""

    event: AuditEvent
    who: str  # the account's username, or "" for the firm itself (the CLI, a worker)
    role: str
    dossier: str  # the dossier's number, or ""
    what: str  # the document's name or the message's subject it is about, or ""

    @property
    def details(self) -> dict[str, Any]:
        return self.event.details or {}


async def for_dossier(
    session: AsyncSession, actor: Actor, number: str, *, limit: int = LIMIT
) -> tuple[Dossier, list[Entry]]:
    access.require(access.can_manage_firm(actor), "Only staff may read the audit trail.")
    dossier = await access.visible_dossier(session, actor, number=number)
    stmt = select(AuditEvent).where(AuditEvent.dossier_id == dossier.id)
    return dossier, await _entries(session, stmt, limit)


async def for_account(
    session: AsyncSession, actor: Actor, account_id: int, *, limit: int = LIMIT
) -> tuple[Account, list[Entry]]:
    """What one account did (and, for the account's own events, what was done to it)."""
    access.require(access.can_manage_firm(actor), "Only staff may read the audit trail.")
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound("There is no such account.")
    stmt = select(AuditEvent).where(AuditEvent.actor_id == account.id)
    return account, await _entries(session, stmt, limit)


async def _entries(session: AsyncSession, stmt: Any, limit: int) -> list[Entry]:
    events = list(
        await session.scalars(
            stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
        )
    )
    # Names for the page's ids, in one statement each: accounts, dossiers, documents, messages.
    people = await _by_id(session, Account, {e.actor_id for e in events})
    numbers = await _by_id(session, Dossier, {e.dossier_id for e in events})
    docs = await _by_id(
        session, Document, {e.subject_id for e in events if e.subject_type == "Document"}
    )
    msgs = await _by_id(
        session, Message, {e.subject_id for e in events if e.subject_type == "Message"}
    )
    out = []
    for e in events:
        who = people.get(e.actor_id) if e.actor_id is not None else None
        what = ""
        if e.subject_type == "Document" and e.subject_id in docs:
            what = docs[e.subject_id].filename
        elif e.subject_type == "Message" and e.subject_id in msgs:
            what = msgs[e.subject_id].subject
        elif isinstance((e.details or {}).get("filename"), str):
            what = e.details["filename"]
        dossier = numbers.get(e.dossier_id) if e.dossier_id is not None else None
        out.append(
            Entry(
                event=e,
                who=who.username if who else "",
                role=who.role.value if who else "",
                dossier=dossier.number if dossier else "",
                what=what,
            )
        )
    return out


async def _by_id(session: AsyncSession, model: Any, ids: Iterable[int | None]) -> dict[int, Any]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {row.id: row for row in await session.scalars(select(model).where(model.id.in_(wanted)))}


CSV_HEADER = ("time", "account", "role", "action", "channel", "dossier", "object", "details")


def _cell(value: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula: a filename or subject a
    # client chose must stay text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(entries: Iterable[Entry], timezone: str) -> str:
    """The trail as CSV (UTF-8, comma separated, one header line), times on the firm's clock."""
    zone = ZoneInfo(timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for e in entries:
        at = e.event.at if e.event.at.tzinfo else e.event.at.replace(tzinfo=dt.UTC)
        subject = e.what or (
            f"{e.event.subject_type} {e.event.subject_id}" if e.event.subject_type else ""
        )
        writer.writerow(
            [
                at.astimezone(zone).isoformat(timespec="seconds"),
                _cell(e.who or "system"),
                e.role,
                e.event.action,
                e.event.channel,
                _cell(e.dossier),
                _cell(subject),
                _cell(json.dumps(e.details, ensure_ascii=False, sort_keys=True, default=str)),
            ]
        )
    return out.getvalue()
