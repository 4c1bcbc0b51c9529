"""Writing the audit trail. Every service that changes something, or hands out a document,
records who did it, through which channel, to what."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .actor import Actor
from .models import AuditEvent, utcnow


def _fields(
    actor: Actor, action: str, dossier_id: int | None, subject: Any, details: dict[str, Any]
) -> dict[str, Any]:
    """An event's columns, but its time: one place for what an event says."""
    return {
        "actor_id": actor.account_id,
        "action": action,
        "channel": actor.channel.value,
        "dossier_id": dossier_id,
        "subject_type": type(subject).__name__ if subject is not None else None,
        "subject_id": getattr(subject, "id", None),
        "details": details,
    }


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    dossier_id: int | None = None,
    subject: Any = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the current unit of work (committed with it, or not at all)."""
    event = AuditEvent(**_fields(actor, action, dossier_id, subject, details))
    session.add(event)
    return event


# Built once: a statement costs more to build than to run (see ``record_now``).
_INSERT = insert(AuditEvent.__table__)


async def record_now(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    dossier_id: int | None = None,
    subject: Any = None,
    **details: Any,
) -> None:
    """``record``, written at once by a plain INSERT rather than by the unit of work's flush:
    for a hot path (each inbound mail) that needs no AuditEvent object, where the flush's
    bookkeeping costs more than the statement. Same transaction, same row."""
    fields = _fields(actor, action, dossier_id, subject, details)
    await session.execute(_INSERT, {"at": utcnow(), **fields})
