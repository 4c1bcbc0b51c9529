"""Reminder timing with a controlled clock: a first digest two days after assignment, then
weekly, one per client across checklists, quiet hours held back, and an expected date given
with "not available" moving that item's reminder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core import reminders
from core.db import Database
from core.models import Checklist, OutboxItem
from core.reminders import Open
from core.services import checklists
from core.settings import Settings

from .conftest import SYSTEM, Firm

AMS = ZoneInfo("Europe/Amsterdam")
TEMPLATES = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"
SETTINGS = Settings()
MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=AMS)


def item(
    n: int = 1, *, assigned: dt.datetime = MONDAY_10, last: dt.datetime | None = None, missing=None
) -> Open:
    return Open(
        checklist_id=n,
        assigned_at=assigned,
        last_reminder_at=last,
        title={"nl": f"Checklist {n}", "en": f"Checklist {n}"},
        dossier=f"2026-000{n}",
        missing=missing
        if missing is not None
        else [({"nl": "Jaaropgave", "en": "Annual statement"}, None)],
    )


def test_first_reminder_after_two_days() -> None:
    assigned = {7: [item()]}
    assert reminders.plan(assigned, MONDAY_10 + dt.timedelta(days=1, hours=23), SETTINGS) == []
    [digest] = reminders.plan(assigned, MONDAY_10 + dt.timedelta(days=2), SETTINGS)
    assert digest.account_id == 7 and digest.lines("en") == [
        "2026-0001 · Checklist 1: Annual statement"
    ]


def test_then_at_most_weekly() -> None:
    sent = MONDAY_10 + dt.timedelta(days=2)
    assigned = {7: [item(last=sent)]}
    assert reminders.plan(assigned, sent + dt.timedelta(days=6, hours=23), SETTINGS) == []
    assert reminders.plan(assigned, sent + dt.timedelta(days=7), SETTINGS)


def test_one_digest_per_client_across_checklists() -> None:
    assigned = {7: [item(1), item(2)]}
    [digest] = reminders.plan(assigned, MONDAY_10 + dt.timedelta(days=3), SETTINGS)
    assert digest.lines("nl") == [
        "2026-0001 · Checklist 1: Jaaropgave",
        "2026-0002 · Checklist 2: Jaaropgave",
    ]


@pytest.mark.parametrize(
    "hour,minute,sent",
    [(20, 59, True), (21, 0, False), (23, 30, False), (3, 0, False), (7, 59, False), (8, 0, True)],
)
def test_quiet_hours_hold_reminders_back(hour: int, minute: int, sent: bool) -> None:
    now = dt.datetime(2026, 11, 26, hour, minute, tzinfo=AMS)
    assert bool(reminders.plan({7: [item()]}, now, SETTINGS)) is sent


def test_quiet_hours_follow_amsterdam_time_in_summer_and_winter() -> None:
    summer = dt.datetime(2026, 7, 1, 19, 30, tzinfo=dt.UTC)  # 21:30 in Amsterdam (CEST)
    winter = dt.datetime(2026, 12, 1, 19, 30, tzinfo=dt.UTC)  # 20:30 in Amsterdam (CET)
    assert reminders.quiet(summer, SETTINGS) and not reminders.quiet(winter, SETTINGS)


def test_an_expected_date_moves_that_items_reminder() -> None:
    later = (MONDAY_10 + dt.timedelta(days=10)).date()
    waiting = item(missing=[({"nl": "WOZ", "en": "WOZ"}, later)])
    assert reminders.plan({7: [waiting]}, MONDAY_10 + dt.timedelta(days=3), SETTINGS) == []
    assert reminders.plan({7: [waiting]}, MONDAY_10 + dt.timedelta(days=10), SETTINGS)


async def test_digests_are_queued_once_and_stop_after_submission(
    db: Database, firm: Firm, store
) -> None:
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "notaris-koopwoning.yaml").read_text()
        )
        first = await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting"
        )
        await checklists.assign(s, SYSTEM, number="2026-0002", template_name="notaris-koopwoning")
    day3 = first.assigned_at.astimezone(AMS).replace(hour=10) + dt.timedelta(days=3)
    async with db.begin() as s:
        assert await reminders.send_due(s, SETTINGS, day3) == 1
    async with db.begin() as s:
        assert await reminders.send_due(s, SETTINGS, day3 + dt.timedelta(hours=2)) == 0
    async with db.read() as s:
        [digest] = list(await s.scalars(select(OutboxItem).where(OutboxItem.kind == "reminder")))
        stamped = list(await s.scalars(select(Checklist.last_reminder_at)))
    assert digest.recipient == "alice@example.nl"
    assert any("Checklist aangifte inkomstenbelasting" in line for line in digest.payload["items"])
    assert any("Vragenlijst aankoop woning" in line for line in digest.payload["items"])
    assert all(stamp is not None for stamp in stamped)

    async with db.begin() as s:
        for c in await s.scalars(select(Checklist)):
            c.status = c.status.SUBMITTED
    async with db.begin() as s:
        assert await reminders.send_due(s, SETTINGS, day3 + dt.timedelta(days=8)) == 0
