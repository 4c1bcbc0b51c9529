"""Mail that could not be filed on its own waits here for staff, with the reason and, where
one was found, the dossier it would have gone to (the suggestion staff file it in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access, audit
from ..actor import Actor
from ..errors import NotFound, ValidationError
from ..models import Client, Dossier, InboundMail

QUARANTINED = "quarantined"
DISCARDED = "discarded"  # by staff: kept, with its original, for the audit; listed no more
CANDIDATES = 10


@dataclass(frozen=True)
class Waiting:
    mail: InboundMail
    suggested: str | None  # the number of the dossier the mail named, if it still exists


@dataclass(frozen=True)
class Filed:
    inbound_id: int
    message_id: int
    dossier_number: str


@dataclass(frozen=True)
class AttachmentInfo:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Original:
    """A quarantined mail as staff read it: its text only (an HTML mail turned into text, so
    nothing of it runs), and what it carries, listed, never opened."""

    text: str
    attachments: list[AttachmentInfo]


class MailFiler(Protocol):
    """Files a quarantined mail into a dossier: the one named, or else the suggested one,
    and reads its original for staff. The mail bridge implements it (it reads the original
    mail again); adapters that must not know the mail bridge, such as the web view, are
    handed one by the composition root."""

    async def file(self, actor: Actor, inbound_id: int, number: str | None = None) -> Filed: ...

    async def original(self, actor: Actor, inbound_id: int) -> Original: ...


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
    session: AsyncSession,
    actor: Actor,
    inbound_id: int,
    *,
    for_update: bool = False,
    need_original: bool = True,
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
    if need_original and not row.raw_storage_key:
        raise ValidationError("The original of mail %(id)s was not kept.", id=inbound_id)
    return row


async def one(session: AsyncSession, actor: Actor, inbound_id: int) -> Waiting:
    """A mail in quarantine, with the dossier it named (if that still exists)."""
    row = await quarantined_mail(session, actor, inbound_id, need_original=False)
    suggested = (
        await session.scalar(select(Dossier.number).where(Dossier.id == row.dossier_id))
        if row.dossier_id is not None
        else None
    )
    return Waiting(row, suggested)


async def discard(session: AsyncSession, actor: Actor, inbound_id: int) -> InboundMail:
    """Take a mail out of quarantine without filing it: it stays, with its original and the
    record of who discarded it, but is not listed again."""
    row = await quarantined_mail(session, actor, inbound_id, for_update=True, need_original=False)
    row.outcome = DISCARDED
    row.path = [*row.path, "discarded by staff"]
    audit.record(session, actor, "mail.discard", subject=row, sender=row.sender)
    return row


async def candidates(
    session: AsyncSession, actor: Actor, term: str, *, suggested: str | None = None
) -> list[tuple[str, str, str]]:
    """Dossiers to file a mail in, as (number, description, client name): the suggested one
    first, then those whose number, description or client's name holds ``term``."""
    access.require(access.can_manage_firm(actor), "Only staff may file quarantined mail.")
    found: list[tuple[str, str, str]] = []
    columns = (Dossier.number, Dossier.description, Client.name)
    if suggested:
        found += [
            tuple(r)
            for r in await session.execute(
                select(*columns)
                .join(Client, Client.id == Dossier.client_id)
                .where(Dossier.number == suggested)
            )
        ]
    term = term.strip()[:100]
    if term:
        rows = await session.execute(
            select(*columns)
            .join(Client, Client.id == Dossier.client_id)
            .where(
                or_(
                    Dossier.number.icontains(term, autoescape=True),
                    Dossier.description.icontains(term, autoescape=True),
                    Client.name.icontains(term, autoescape=True),
                ),
                access.visible_dossiers(actor),
            )
            .order_by(Dossier.updated_at.desc(), Dossier.id.desc())
            .limit(CANDIDATES)
        )
        found += [tuple(r) for r in rows if r[0] != suggested]
    return found  # type: ignore[return-value]


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
