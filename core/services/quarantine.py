"""Mail that could not be matched to a dossier waits here for staff."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access
from ..actor import Actor
from ..errors import NotFound, ValidationError
from ..models import InboundMail

QUARANTINED = "quarantined"


async def waiting(session: AsyncSession, actor: Actor, *, limit: int = 100) -> list[InboundMail]:
    access.require(access.can_manage_firm(actor), "Only staff may see quarantined mail.")
    return list(
        await session.scalars(
            select(InboundMail)
            .where(InboundMail.outcome == QUARANTINED)
            .order_by(InboundMail.received_at.desc(), InboundMail.id.desc())
            .limit(limit)
        )
    )


async def quarantined_mail(session: AsyncSession, actor: Actor, inbound_id: int) -> InboundMail:
    access.require(access.can_manage_firm(actor), "Only staff may file quarantined mail.")
    row = await session.get(InboundMail, inbound_id)
    if row is None:
        raise NotFound("There is no inbound mail %(id)s.", id=inbound_id)
    if row.outcome != QUARANTINED:
        raise ValidationError(
            "Mail %(id)s is not in quarantine (it was %(outcome)s).",
            id=inbound_id,
            outcome=row.outcome,
        )
    if not row.raw_storage_key:
        raise ValidationError("The original of mail %(id)s was not kept.", id=inbound_id)
    return row
