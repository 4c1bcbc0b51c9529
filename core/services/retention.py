"""Retention: documents and messages of a dossier go once the dossier has been quiet in its
status for as long as the firm keeps that status (``LOKET_RETENTION``, e.g.
``completed=7y,archived=7y``). The dossier itself stays, with its number, status and steps,
so that the audit trail keeps making sense; an audit event per dossier records what went.

An item newer than the period stays even then (a mail filed into an old dossier without
waking it). The mails a removed message came with go too, with their kept originals. Stored
objects go once no other record shares them (core.storekeeping.remove_released).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..access import can_manage_firm, require
from ..actor import Actor
from ..models import Document, Dossier, DossierStatus, InboundMail, Message

_PART = re.compile(r"\s*([a-z_]+)\s*=\s*(\d+)\s*([ymd])\s*")


@dataclass(frozen=True)
class Period:
    count: int
    unit: str  # "y", "m" or "d"

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    def before(self, now: dt.datetime) -> dt.datetime:
        """``now`` minus this period (calendar years and months; 29 February becomes the 28th)."""
        if self.unit == "d":
            return now - dt.timedelta(days=self.count)
        months = self.count * (12 if self.unit == "y" else 1)
        year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
        day = now.day
        while True:
            try:
                return now.replace(year=year, month=month + 1, day=day)
            except ValueError:
                day -= 1


def parse_policy(text: str) -> dict[DossierStatus, Period]:
    """``"completed=7y, archived=10y"`` → periods per status; ValueError says what is wrong."""
    policy: dict[DossierStatus, Period] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        found = _PART.fullmatch(part)
        statuses = ", ".join(s.value for s in DossierStatus)
        if not found:
            raise ValueError(
                f"{part!r} is not STATUS=PERIOD, e.g. completed=7y (y years, m months, d days)"
            )
        name, count, unit = found.groups()
        try:
            status = DossierStatus(name)
        except ValueError:
            raise ValueError(f"{name!r} is not a dossier status ({statuses})") from None
        if int(count) < 1:
            raise ValueError(f"the period for {name} must be at least 1{unit}")
        policy[status] = Period(int(count), unit)
    return policy


@dataclass
class DossierRemoval:
    dossier_id: int
    number: str
    status: str
    kept_for: str
    documents: list[int] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    mails: list[int] = field(default_factory=list)
    # The stored objects the removed records referred to (documents, kept mail originals).
    keys: set[str] = field(default_factory=set)


async def due(
    session: AsyncSession, actor: Actor, policy: dict[DossierStatus, Period], now: dt.datetime
) -> list[DossierRemoval]:
    """What retention removes at ``now``, per dossier (only dossiers with something to go)."""
    require(can_manage_firm(actor))
    found = []
    for status, period in policy.items():
        cutoff = period.before(now)
        quiet = await session.scalars(
            select(Dossier)
            .where(Dossier.status == status, Dossier.updated_at < cutoff)
            .order_by(Dossier.id)
        )
        for dossier in quiet.all():
            removal = DossierRemoval(dossier.id, dossier.number, status.value, str(period))
            documents = await session.execute(
                select(Document.id, Document.storage_key)
                .where(Document.dossier_id == dossier.id, Document.created_at < cutoff)
                .order_by(Document.id)
            )
            for doc_id, key in documents:
                removal.documents.append(doc_id)
                removal.keys.add(key)
            removal.messages = list(
                await session.scalars(
                    select(Message.id)
                    .where(Message.dossier_id == dossier.id, Message.created_at < cutoff)
                    .order_by(Message.id)
                )
            )
            mails = await session.execute(
                select(InboundMail.id, InboundMail.raw_storage_key)
                .where(
                    or_(
                        InboundMail.message_id.in_(removal.messages),
                        (InboundMail.dossier_id == dossier.id) & (InboundMail.received_at < cutoff),
                    )
                )
                .order_by(InboundMail.id)
            )
            for mail_id, key in mails:
                removal.mails.append(mail_id)
                if key:
                    removal.keys.add(key)
            if removal.documents or removal.messages or removal.mails:
                found.append(removal)
    return found


async def run(
    session: AsyncSession, actor: Actor, policy: dict[DossierStatus, Period], now: dt.datetime
) -> list[DossierRemoval]:
    """Remove what is due, in this unit of work, with an audit event per dossier. The stored
    objects are the caller's to release once it has committed."""
    removals = await due(session, actor, policy, now)
    for r in removals:
        await session.execute(delete(InboundMail).where(InboundMail.id.in_(r.mails)))
        await session.execute(delete(Document).where(Document.id.in_(r.documents)))
        await session.execute(delete(Message).where(Message.id.in_(r.messages)))
        audit.record(
            session,
            actor,
            "retention.removed",
            dossier_id=r.dossier_id,
            status=r.status,
            kept_for=r.kept_for,
            documents=r.documents,
            messages=r.messages,
            mails=r.mails,
        )
    return removals
