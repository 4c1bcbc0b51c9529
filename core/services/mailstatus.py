"""What staff need to see of mail: the outbox (sent, waiting, failed) and addresses that bounce."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access
from ..actor import Actor
from ..i18n import N_
from ..models import Account, OutboxItem, OutboxStatus
from ..notifications import Kind

STATUS_LABELS = {
    OutboxStatus.PENDING: N_("Waiting to be sent"),
    OutboxStatus.SENDING: N_("Being sent"),
    OutboxStatus.SENT: N_("Sent"),
    OutboxStatus.FAILED: N_("Failed"),
}

# What an outbox item is about, as staff read it in the outbox.
KIND_LABELS = {
    Kind.NEW_DOCUMENT.value: N_("New document"),
    Kind.NEW_MESSAGE.value: N_("New message"),
    Kind.NEW_QUESTIONNAIRE.value: N_("New questionnaire or checklist"),
    Kind.DOSSIER_IN_TREATMENT.value: N_("Dossier taken into treatment"),
    Kind.REPORT_READY.value: N_("Report ready"),
    Kind.DOCUMENTS_REJECTED.value: N_("Documents rejected"),
    Kind.DOCUMENTS_MISSING.value: N_("Documents still missing"),
    Kind.CHECKLIST_REJECTED.value: N_("Checklist sent back"),
    Kind.CHECKLIST_APPROVED.value: N_("Checklist approved"),
    Kind.CLIENT_MESSAGE.value: N_("Message from a client"),
    Kind.CLIENT_DOCUMENT.value: N_("Document from a client"),
    Kind.CHECKLIST_SUBMITTED.value: N_("Checklist submitted"),
    Kind.INVITATION.value: N_("Invitation"),
    Kind.SET_PASSWORD.value: N_("Link to set a password"),
    Kind.PASSWORD_SET.value: N_("Password set"),
    Kind.WRONG_CODES.value: N_("Wrong verification codes"),
    Kind.MAIL_NOT_FILED.value: N_("Mail could not be filed"),
    Kind.MAIL_HELD.value: N_("Mail held for a colleague"),
    Kind.ATTACHMENTS_LEFT_OUT.value: N_("Attachments too large to receive"),
    Kind.REMINDER.value: N_("Reminder"),
    Kind.DOCUMENT_RECEIVED.value: N_("Document received"),
    Kind.TELEGRAM_LINK.value: N_("Code to link Telegram"),
    Kind.TELEGRAM_UNLINKED.value: N_("Telegram unlinked"),
    Kind.TELEGRAM_MOVED.value: N_("Telegram linked elsewhere"),
    "sms_code": N_("Verification code by SMS"),
}


async def outbox(
    session: AsyncSession, actor: Actor, *, status: OutboxStatus | None = None, limit: int = 100
) -> list[OutboxItem]:
    access.require(access.can_manage_firm(actor), "Only staff may see the outbox.")
    stmt = select(OutboxItem).order_by(OutboxItem.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(OutboxItem.status == status)
    return list(await session.scalars(stmt))


async def failing_addresses(session: AsyncSession, actor: Actor) -> list[Account]:
    access.require(access.can_manage_firm(actor), "Only staff may see the outbox.")
    return list(
        await session.scalars(
            select(Account)
            .where(Account.email_failing_since.is_not(None))
            .order_by(Account.email_failing_since.desc())
        )
    )
