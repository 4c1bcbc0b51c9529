"""Reminders: one digest per client and channel of everything still missing across their
checklists — never one mail per item. Only the accounts a checklist is given to are reminded of
it, as long as they may open it (core/access.py).

The first comes `reminder_first_days` after a checklist was assigned, then at most every
`reminder_every_days`, until it is submitted. An item marked "not available" with an expected
date is not asked for before that date. Nothing goes out in the quiet hours (default
21:00–08:00 in the firm's time zone): the next pass after them sends it.

`plan` is pure (give it the clock); `send_due` reads the database and queues the digests.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import access, locks, walker
from .actor import Actor
from .models import (
    Account,
    Answer,
    Channel,
    Checklist,
    ChecklistAssignee,
    ChecklistStatus,
    ChecklistTemplate,
    Dossier,
    OutboxItem,
)
from .notifications import Kind, recipients
from .settings import Settings
from .walker import Given


@dataclass
class Open:
    """An open checklist as the planner needs it."""

    checklist_id: int
    assigned_at: dt.datetime
    last_reminder_at: dt.datetime | None
    title: dict[str, str]  # per language
    dossier: str
    missing: list[
        tuple[dict[str, str], dt.date | None]
    ]  # (label, expected date if "not available")


@dataclass
class Digest:
    account_id: int
    items: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    checklist_ids: list[int] = field(default_factory=list)

    def lines(self, language: str) -> list[str]:
        return [
            f"{dossier} · {title.get(language, title['nl'])}: {label.get(language, label['nl'])}"
            for dossier, title, label in self.items
        ]


def quiet(now: dt.datetime, settings: Settings) -> bool:
    hour = now.astimezone(ZoneInfo(settings.timezone)).hour
    start, end = settings.quiet_hours_start, settings.quiet_hours_end
    return hour >= start or hour < end if start > end else start <= hour < end


def is_due(item: Open, now: dt.datetime, settings: Settings) -> bool:
    if item.last_reminder_at is None:
        return now >= item.assigned_at + dt.timedelta(days=settings.reminder_first_days)
    return now >= item.last_reminder_at + dt.timedelta(days=settings.reminder_every_days)


def still_asked(item: Open, now: dt.datetime, settings: Settings) -> list[dict[str, str]]:
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    return [label for label, expected in item.missing if expected is None or expected <= today]


def plan(assigned: dict[int, list[Open]], now: dt.datetime, settings: Settings) -> list[Digest]:
    """Per account, the lines of one digest, or nothing if none is due now."""
    if quiet(now, settings):
        return []
    digests = []
    for account_id, items in sorted(assigned.items()):
        due = [i for i in items if is_due(i, now, settings) and still_asked(i, now, settings)]
        if not due:
            continue
        digest = Digest(account_id)
        for item in due:
            for label in still_asked(item, now, settings):
                digest.items.append((item.dossier, item.title, label))
            digest.checklist_ids.append(item.checklist_id)
        digests.append(digest)
    return digests


async def _open_items(session: AsyncSession) -> dict[int, list[Open]]:
    """Per account, the open checklists given to it that it may still open (an account that
    no longer sees the dossier is not reminded of it)."""
    rows = await session.execute(
        select(Checklist, ChecklistTemplate, Dossier, Account)
        .join(ChecklistTemplate, ChecklistTemplate.id == Checklist.template_id)
        .join(Dossier, Dossier.id == Checklist.dossier_id)
        .join(ChecklistAssignee, ChecklistAssignee.checklist_id == Checklist.id)
        .join(Account, Account.id == ChecklistAssignee.account_id)
        .where(Checklist.status.in_([ChecklistStatus.OPEN, ChecklistStatus.REJECTED]))
        .order_by(Checklist.id, Account.id)
    )
    by_account: dict[int, list[Open]] = defaultdict(list)
    cache: dict[int, Open] = {}
    for checklist, template, dossier, account in rows:
        if not access.can_open_checklist(Actor.of(account, Channel.EMAIL), dossier, {account.id}):
            continue
        if checklist.id not in cache:
            answers = {
                a.question_key: a
                for a in await session.scalars(
                    select(Answer).where(Answer.checklist_id == checklist.id)
                )
            }
            given = {k: Given(a.value, a.not_available) for k, a in answers.items()}
            missing = []
            for q in walker.visible(template.definition, given):
                answer = answers.get(q["key"])
                label = q["label"]
                if answer is not None and answer.not_available:
                    if answer.expected_date is not None:  # asked again from that date on
                        missing.append((label, answer.expected_date))
                elif q.get("required", True) and not (given.get(q["key"]) or Given()).answered:
                    missing.append((label, None))
            cache[checklist.id] = Open(
                checklist.id,
                checklist.assigned_at,
                checklist.last_reminder_at,
                template.title,
                dossier.number,
                missing,
            )
        by_account[account.id].append(cache[checklist.id])
    return by_account


async def send_due(session: AsyncSession, settings: Settings, now: dt.datetime) -> int:
    """Queue the digests that are due now; returns how many were queued. Each goes where
    notifications.recipients says: an intermediary's logins share the office's address, and
    so one digest of all their lines.

    With several workers on PostgreSQL, one pass runs at a time; a worker that finds another
    one's pass under way skips its own (0), as that one queues the same digests."""
    if not await locks.try_transaction_lock(session, "reminders"):
        return 0
    digests = plan(await _open_items(session), now, settings)
    queued: dict[str, OutboxItem] = {}
    for digest in digests:
        account = await session.get(Account, digest.account_id)
        reached = await recipients(session, Kind.REMINDER, [account] if account else [])
        if not reached:
            continue  # an account removed since: not reminded, nothing stamped
        for to in reached:
            key = f"reminder:{to.party}:{to.channel}:{now.date().isoformat()}"
            lines = digest.lines(to.language)
            if key in queued:
                items = queued[key].payload["items"]
                queued[key].payload = {
                    **queued[key].payload,
                    "items": items + [x for x in lines if x not in items],
                }
                continue
            if await session.scalar(select(OutboxItem.id).where(OutboxItem.idempotency_key == key)):
                continue
            queued[key] = OutboxItem(
                channel=to.channel,
                kind=Kind.REMINDER.value,
                recipient=to.address,
                account_id=to.account_id,
                language=to.language,
                payload={"name": to.name, "items": lines},
                idempotency_key=key,
            )
            session.add(queued[key])
        for checklist_id in digest.checklist_ids:
            checklist = await session.get(Checklist, checklist_id)
            if checklist is not None:
                checklist.last_reminder_at = now
    return len(queued)
