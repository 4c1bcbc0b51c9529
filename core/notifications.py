"""Domain events become outbox items: who should hear of what, on which channel.

Services call ``notify`` inside their unit of work, so a notification is queued if and only if
the change it reports is committed. Sending is the outbox worker's job.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Account, Dossier, IntermediaryOffice, OutboxItem


class Kind(enum.StrEnum):
    # To the client (or their intermediary office).
    NEW_DOCUMENT = "new_document"
    NEW_MESSAGE = "new_message"
    NEW_QUESTIONNAIRE = "new_questionnaire"
    DOSSIER_IN_TREATMENT = "dossier_in_treatment"
    REPORT_READY = "report_ready"
    DOCUMENTS_REJECTED = "documents_rejected"
    DOCUMENTS_MISSING = "documents_missing"
    # To the firm (the dossier's handler).
    CLIENT_MESSAGE = "client_message"
    CLIENT_DOCUMENT = "client_document"
    CHECKLIST_SUBMITTED = "checklist_submitted"
    # About the account itself, always by email to the account's address.
    INVITATION = "invitation"
    SET_PASSWORD = "set_password"
    PASSWORD_SET = "password_set"
    WRONG_CODES = "wrong_codes"  # the second step paused after wrong codes for the account
    MAIL_NOT_FILED = "mail_not_filed"  # no dossier could be found for a client's mail
    MAIL_HELD = "mail_held"  # a client's mail waits for staff for another reason
    ATTACHMENTS_LEFT_OUT = "attachments_left_out"  # filed, but files too large to take
    REMINDER = "reminder"
    DOCUMENT_RECEIVED = "document_received"


# The kinds a person can switch off per channel in "My details"; the others always go by email.
OPTIONAL_KINDS = (Kind.NEW_DOCUMENT, Kind.NEW_QUESTIONNAIRE, Kind.NEW_MESSAGE)
CHANNELS = ("email", "telegram")
TO_FIRM = frozenset({Kind.CLIENT_MESSAGE, Kind.CLIENT_DOCUMENT, Kind.CHECKLIST_SUBMITTED})


def wants(account: Account, kind: Kind, channel: str) -> bool:
    """Whether ``account`` wants ``kind`` on ``channel``: by email unless switched off; by
    Telegram only once a chat is linked, and then unless switched off."""
    if channel == "telegram" and account.telegram_chat_id is None:
        return False
    if kind not in OPTIONAL_KINDS:
        return channel == "email"
    prefs = (account.notifications or {}).get(kind.value, {})
    return bool(prefs.get(channel, True))


def _item(
    kind: Kind,
    dossier: Dossier,
    subject_key: str,
    channel: str,
    recipient: str,
    language: str,
    account_id: int | None,
    data: dict[str, Any],
) -> OutboxItem:
    return OutboxItem(
        channel=channel,
        kind=kind.value,
        recipient=recipient,
        account_id=account_id,
        dossier_id=dossier.id,
        language=language,
        payload={"dossier_number": dossier.number, **data},
        idempotency_key=f"{kind.value}:{subject_key}:{channel}:{account_id or recipient}",
    )


async def notify(
    session: AsyncSession,
    kind: Kind,
    dossier: Dossier,
    *,
    subject_key: str,
    data: dict[str, Any] | None = None,
    exclude_account_id: int | None = None,
) -> list[OutboxItem]:
    """Queue ``kind`` about ``dossier`` for everyone who should hear of it.

    ``subject_key`` names what happened (``message:42``) and makes the idempotency key.
    The person who caused the event (``exclude_account_id``) is not told about it.
    """
    data = data or {}
    items: list[OutboxItem] = []
    if kind in TO_FIRM:
        if dossier.handler_id is not None and dossier.handler_id != exclude_account_id:
            handler = await session.get(Account, dossier.handler_id)
            if handler is not None and handler.active:
                items.append(
                    _item(
                        kind,
                        dossier,
                        subject_key,
                        "email",
                        handler.email,
                        handler.language.value,
                        handler.id,
                        data,
                    )
                )
    elif dossier.intermediary_id is not None:
        # The office handles its clients' mail; the client is not written to directly.
        office = await session.get(IntermediaryOffice, dossier.intermediary_id)
        if office is not None:
            office_data = {**data, "intermediary_id": office.id}
            items.append(
                _item(kind, dossier, subject_key, "email", office.email, "nl", None, office_data)
            )
    elif dossier.visible_to_client:
        accounts = await session.scalars(
            select(Account)
            .where(Account.client_id == dossier.client_id, Account.active.is_(True))
            .order_by(Account.id)
        )
        for account in accounts:
            if account.id == exclude_account_id:
                continue
            for channel in CHANNELS:
                if wants(account, kind, channel):
                    recipient = (
                        account.email if channel == "email" else str(account.telegram_chat_id)
                    )
                    items.append(
                        _item(
                            kind,
                            dossier,
                            subject_key,
                            channel,
                            recipient,
                            account.language.value,
                            account.id,
                            data,
                        )
                    )
    session.add_all(items)
    return items


def account_mail(
    session: AsyncSession, kind: Kind, account: Account, *, data: dict[str, Any], key: str
) -> OutboxItem:
    """Queue a mail about the account itself (invitation, password link, confirmation).

    Payload fields starting with ``secret_`` (links with a token) are wiped once it is sent.
    """
    item = OutboxItem(
        channel="email",
        kind=kind.value,
        recipient=account.email,
        account_id=account.id,
        language=account.language.value,
        payload={"name": account.name, "username": account.username, **data},
        idempotency_key=f"{kind.value}:{account.id}:{key}",
    )
    session.add(item)
    return item
