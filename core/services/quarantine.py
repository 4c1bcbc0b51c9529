"""Mail that could not be filed on its own waits here for staff, with the reason and, where
one was found, the dossier it would have gone to (the suggestion staff file it in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access
from ..actor import Actor
from ..errors import NotFound, ValidationError
from ..models import Dossier, InboundMail

QUARANTINED = "quarantined"


@dataclass(frozen=True)
class Waiting:
    mail: InboundMail
    suggested: str | None  # the number of the dossier the mail named, if it still exists


@dataclass(frozen=True)
class Filed:
    inbound_id: int
    message_id: int
    dossier_number: str


class MailFiler(Protocol):
    """Files a quarantined mail into a dossier: the one named, or else the suggested one.
    The mail bridge implements it (it reads the original mail again); adapters that must not
    know the mail bridge, such as the web view, are handed one by the composition root."""

    async def file(self, actor: Actor, inbound_id: int, number: str | None = None) -> Filed: ...


async def waiting(session: AsyncSession, actor: Actor, *, limit: int = 100) -> list[Waiting]:
    access.require(access.can_manage_firm(actor), "Only staff may see quarantined mail.")
    rows = await session.execute(
        select(InboundMail, Dossier.number)
        .outerjoin(Dossier, Dossier.id == InboundMail.dossier_id)
        .where(InboundMail.outcome == QUARANTINED)
        .order_by(InboundMail.received_at.desc(), InboundMail.id.desc())
        .limit(limit)
    )
    return [Waiting(mail, number) for mail, number in rows]


async def quarantined_mail(
    session: AsyncSession, actor: Actor, inbound_id: int, *, for_update: bool = False
) -> InboundMail:
    """The mail, still in quarantine. ``for_update``: locked until the unit of work ends, so
    that two staff members filing it at once (a double click) file it once."""
    access.require(access.can_manage_firm(actor), "Only staff may file quarantined mail.")
    row = await session.get(InboundMail, inbound_id, with_for_update=for_update)
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


async def target(
    session: AsyncSession, actor: Actor, row: InboundMail, number: str | None
) -> Dossier:
    """The dossier to file ``row`` in: the one named, or else the one it was matched to."""
    if number:
        return await access.visible_dossier(session, actor, number=number)
    if row.dossier_id is None:
        raise ValidationError(
            "Mail %(id)s names no dossier: give a dossier number.", field="dossier", id=row.id
        )
    return await access.visible_dossier(session, actor, dossier_id=row.dossier_id)


async def filed_into(session: AsyncSession, actor: Actor, inbound_id: int) -> str | None:
    """The number of the dossier a mail from quarantine was filed in (None: not filed)."""
    access.require(access.can_manage_firm(actor), "Only staff may see quarantined mail.")
    return await session.scalar(
        select(Dossier.number)
        .join(InboundMail, InboundMail.dossier_id == Dossier.id)
        .where(InboundMail.id == inbound_id, InboundMail.filed_at.is_not(None))
    )
