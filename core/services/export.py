"""Everything Loket holds about one person (AVG/GDPR art. 15 and 20), gathered for
``loket export``: the account, the dossiers it sees (a staff member: the ones it handles), the
messages in them, the documents it sent or may download, its checklists' answers, the audit
events about it, its sessions and its Telegram link."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..access import can_manage_firm, require, visible_dossiers
from ..actor import Actor
from ..models import (
    Account,
    Answer,
    AuditEvent,
    Channel,
    Checklist,
    ChecklistAssignee,
    Client,
    Document,
    Dossier,
    IntermediaryOffice,
    Message,
    Role,
    TelegramChat,
    WebSession,
)
from .accounts import account_by_username


@dataclass
class PersonalData:
    account: Account
    client: Client | None
    office: IntermediaryOffice | None
    dossiers: list[Dossier]
    messages: list[Message]
    documents: list[Document]
    answers: list[tuple[Checklist, Answer]]
    audit: list[AuditEvent]
    sessions: list[WebSession]
    telegram: TelegramChat | None


async def gather(session: AsyncSession, actor: Actor, username: str) -> PersonalData:
    require(can_manage_firm(actor))
    account = await account_by_username(session, username)
    if account.role is Role.STAFF:
        seen = Dossier.handler_id == account.id
    else:
        seen = visible_dossiers(Actor.of(account, Channel.SYSTEM))
    dossiers = list(await session.scalars(select(Dossier).where(seen).order_by(Dossier.number)))
    ids = [d.id for d in dossiers]
    messages = await session.scalars(
        select(Message)
        .where(or_(Message.dossier_id.in_(ids), Message.author_id == account.id))
        .order_by(Message.created_at, Message.id)
    )
    documents = await session.scalars(
        select(Document)
        .where(or_(Document.dossier_id.in_(ids), Document.uploaded_by_id == account.id))
        .order_by(Document.created_at, Document.id)
    )
    mine = select(ChecklistAssignee.checklist_id).where(ChecklistAssignee.account_id == account.id)
    answers = await session.execute(
        select(Checklist, Answer)
        .join(Answer, Answer.checklist_id == Checklist.id)
        .where(or_(Checklist.id.in_(mine), Answer.answered_by_id == account.id))
        .order_by(Checklist.id, Answer.id)
    )
    audit = await session.scalars(
        select(AuditEvent)
        .where(
            (AuditEvent.actor_id == account.id)
            | ((AuditEvent.subject_type == "Account") & (AuditEvent.subject_id == account.id))
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    sessions = await session.scalars(
        select(WebSession).where(WebSession.account_id == account.id).order_by(WebSession.id)
    )
    return PersonalData(
        account=account,
        client=await session.get(Client, account.client_id) if account.client_id else None,
        office=await session.get(IntermediaryOffice, account.intermediary_id)
        if account.intermediary_id
        else None,
        dossiers=dossiers,
        messages=list(messages),
        documents=list(documents),
        answers=[(c, a) for c, a in answers.all()],
        audit=list(audit),
        sessions=list(sessions),
        telegram=await session.get(TelegramChat, account.telegram_chat_id)
        if account.telegram_chat_id is not None
        else None,
    )
