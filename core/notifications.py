"""Domain events become outbox items: who should hear of what, on which channel.

Services call ``notify`` inside their unit of work, so a notification is queued if and only if
the change it reports is committed. Sending is the outbox worker's job.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import tokens
from .models import (
    Account,
    Client,
    Dossier,
    IntermediaryOffice,
    OutboxItem,
    OutboxStatus,
    Role,
    TelegramChat,
)


class Kind(enum.StrEnum):
    # To the client (or their intermediary office).
    NEW_DOCUMENT = "new_document"
    NEW_MESSAGE = "new_message"
    NEW_QUESTIONNAIRE = "new_questionnaire"
    DOSSIER_IN_TREATMENT = "dossier_in_treatment"
    REPORT_READY = "report_ready"
    DOCUMENTS_REJECTED = "documents_rejected"
    DOCUMENTS_MISSING = "documents_missing"
    CHECKLIST_REJECTED = "checklist_rejected"  # sent back, with the reason: fill it in again
    CHECKLIST_APPROVED = "checklist_approved"
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
    # Telegram (core.services.telegram): a code to link a chat, by email; and, by email to the
    # account holder or by Telegram to the chat, that a link ended (unlinked on the other
    # side) or was replaced (the chat or the account was linked anew elsewhere).
    TELEGRAM_LINK = "telegram_link"
    TELEGRAM_UNLINKED = "telegram_unlinked"
    TELEGRAM_MOVED = "telegram_moved"


# The kinds a person can switch off per channel in "My details"; the others always go by email.
OPTIONAL_KINDS = (Kind.NEW_DOCUMENT, Kind.NEW_QUESTIONNAIRE, Kind.NEW_MESSAGE)
CHANNELS = ("email", "telegram")
TO_FIRM = frozenset({Kind.CLIENT_MESSAGE, Kind.CLIENT_DOCUMENT, Kind.CHECKLIST_SUBMITTED})

# In a notification's payload: the account has never chosen a password, so the mail says how
# to answer by mail and where the invitation is; and, once joined with it, the invitation's
# own link (a secret: wiped once sent).
FIRST_CONTACT = "first_contact"
INVITATION_LINK = "secret_invitation_link"


def wants(account: Account, kind: Kind, channel: str, *, chat_blocked: bool = False) -> bool:
    """Whether ``account`` wants ``kind`` on ``channel``: by email unless switched off; by
    Telegram only once a chat is linked, and then unless switched off or the chat blocked the
    bot (``chat_blocked``: its TelegramChat.blocked_at is set)."""
    if channel == "telegram" and (account.telegram_chat_id is None or chat_blocked):
        return False
    if kind not in OPTIONAL_KINDS:
        return channel == "email"
    prefs = (account.notifications or {}).get(kind.value, {})
    return bool(prefs.get(channel, True))


@dataclass(frozen=True)
class Recipient:
    """Where one notification goes: an account on one of its channels, or an intermediary
    office's general address (``account_id`` None, ``office_id`` set)."""

    channel: str
    address: str
    language: str
    account_id: int | None = None
    office_id: int | None = None
    name: str = ""
    # The account has no password yet: it knows the portal only from its invitation.
    first_contact: bool = False

    @property
    def party(self) -> str:
        """Who it is for, in an idempotency key: the account, or the office."""
        return str(self.account_id) if self.account_id is not None else f"o{self.office_id}"


async def chat_blocked(session: AsyncSession, account: Account) -> bool:
    """Whether the account's linked chat has blocked the bot (nothing is sent there then)."""
    if account.telegram_chat_id is None:
        return False
    blocked_at = await session.scalar(
        select(TelegramChat.blocked_at).where(TelegramChat.chat_id == account.telegram_chat_id)
    )
    return blocked_at is not None


_TO_CHECKLIST = frozenset(
    {Kind.CHECKLIST_SUBMITTED.value, Kind.CHECKLIST_REJECTED.value, Kind.CHECKLIST_APPROVED.value}
)


def link(item: OutboxItem, public_url: str) -> str:
    """Where a notification points, in a mail's button or under a chat message: the checklist
    to review for staff, else the dossier, else the portal. A mail about the account itself
    may carry its own link (``secret_link``) instead."""
    payload = item.payload or {}
    base = public_url.rstrip("/")
    checklist_id = payload.get("checklist_id")
    if item.kind in _TO_CHECKLIST and isinstance(checklist_id, int):
        # The review page itself for staff; for a client, the checklist sent back to fill in.
        return f"{base}/checklists/{checklist_id}"
    number = payload.get("dossier_number")
    return f"{base}/dossiers/{quote(str(number), safe='')}" if number else f"{base}/"


OFFICE_LANGUAGE = "nl"


def _office(office: IntermediaryOffice) -> Recipient:
    # An office is written to in Dutch at its general address: it has no settings of its own.
    return Recipient("email", office.email, OFFICE_LANGUAGE, office_id=office.id, name=office.name)


def mail_language(account: Account) -> str:
    """The language news for ``account`` is written in (an intermediary's login is written to
    at its office's address, in the office's language)."""
    if account.role is Role.INTERMEDIARY:
        return OFFICE_LANGUAGE
    return account.language.value


async def recipients(
    session: AsyncSession, kind: Kind, accounts: Iterable[Account]
) -> list[Recipient]:
    """Where news of ``kind`` meant for ``accounts`` goes: an account on each channel it wants
    it on, in its language; an intermediary's login at its office's general address instead
    (once per office), as all mail to an office. Inactive accounts hear nothing."""
    out: list[Recipient] = []
    offices: set[int] = set()
    for account in accounts:
        if not account.active:
            continue
        if account.role is Role.INTERMEDIARY:
            if account.intermediary_id is None or account.intermediary_id in offices:
                continue
            offices.add(account.intermediary_id)
            office = await session.get(IntermediaryOffice, account.intermediary_id)
            if office is not None:
                out.append(_office(office))
            continue
        blocked = await chat_blocked(session, account)
        for channel in CHANNELS:
            if wants(account, kind, channel, chat_blocked=blocked):
                address = account.email if channel == "email" else str(account.telegram_chat_id)
                out.append(
                    Recipient(
                        channel,
                        address,
                        account.language.value,
                        account.id,
                        name=account.name,
                        first_contact=account.password_hash is None,
                    )
                )
    return out


def _item(
    kind: Kind, dossier: Dossier, subject_key: str, to: Recipient, data: dict[str, Any]
) -> OutboxItem:
    if to.office_id is not None:
        # The office's reply address (compose.reply_address) names the office.
        data = {**data, "intermediary_id": to.office_id}
    if to.first_contact and to.channel == "email":
        data = {**data, FIRST_CONTACT: True}
    return OutboxItem(
        channel=to.channel,
        kind=kind.value,
        recipient=to.address,
        account_id=to.account_id,
        dossier_id=dossier.id,
        language=to.language,
        payload={"dossier_number": dossier.number, **data},
        idempotency_key=f"{kind.value}:{subject_key}:{to.channel}:{to.account_id or to.address}",
    )


async def _queue(
    session: AsyncSession,
    kind: Kind,
    dossier: Dossier,
    to: Iterable[Recipient],
    subject_key: str,
    data: dict[str, Any] | None,
) -> list[OutboxItem]:
    items = [_item(kind, dossier, subject_key, r, data or {}) for r in to]
    for item in items:
        if (item.payload or {}).get(FIRST_CONTACT) and item.account_id is not None:
            await _take_in_invitation(session, item)
    session.add_all(items)
    return items


def _unsent(stmt: Any, session: AsyncSession) -> Any:
    # A row a worker is claiming right now is left alone (it may be on its way already).
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


async def _take_in_invitation(session: AsyncSession, item: OutboxItem) -> None:
    """An invitation still waiting in the outbox goes out inside this notification instead,
    so that the client gets one mail, not two at the same moment."""
    invitation = await session.scalar(
        _unsent(
            select(OutboxItem)
            .where(
                OutboxItem.account_id == item.account_id,
                OutboxItem.kind == Kind.INVITATION.value,
                OutboxItem.status == OutboxStatus.PENDING,
            )
            .order_by(OutboxItem.id)
            .limit(1),
            session,
        )
    )
    if invitation is None or not isinstance(invitation.payload.get("secret_link"), str):
        return
    item.payload = {
        **item.payload,
        INVITATION_LINK: invitation.payload["secret_link"],
        tokens.LINK_TOKEN: invitation.payload.get(tokens.LINK_TOKEN),
    }
    await session.delete(invitation)


async def join_invitation(
    session: AsyncSession, account: Account, link: str, token_hash: str
) -> bool:
    """Put a new invitation into a notification still waiting for ``account`` in the outbox,
    if there is one (True), rather than in a mail of its own at the same moment."""
    waiting = await session.scalar(
        _unsent(
            select(OutboxItem)
            .where(
                OutboxItem.account_id == account.id,
                OutboxItem.channel == "email",
                OutboxItem.dossier_id.is_not(None),
                OutboxItem.status == OutboxStatus.PENDING,
            )
            .order_by(OutboxItem.id)
            .limit(1),
            session,
        )
    )
    if waiting is None or not (waiting.payload or {}).get(FIRST_CONTACT):
        return False
    waiting.payload = {**waiting.payload, INVITATION_LINK: link, tokens.LINK_TOKEN: token_hash}
    return True


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
    to: list[Recipient] = []
    if kind in TO_FIRM:
        # Staff mail names the client beside the dossier number.
        client = await session.get(Client, dossier.client_id)
        data = {**(data or {}), "client_name": client.name if client is not None else ""}
        if dossier.handler_id is not None and dossier.handler_id != exclude_account_id:
            handler = await session.get(Account, dossier.handler_id)
            if handler is not None and handler.active:
                to.append(Recipient("email", handler.email, handler.language.value, handler.id))
    elif dossier.intermediary_id is not None:
        # The office handles its clients' mail; the client is not written to directly.
        office = await session.get(IntermediaryOffice, dossier.intermediary_id)
        if office is not None:
            to.append(_office(office))
    elif dossier.visible_to_client:
        accounts = await session.scalars(
            select(Account)
            .where(Account.client_id == dossier.client_id, Account.active.is_(True))
            .order_by(Account.id)
        )
        to = await recipients(session, kind, (a for a in accounts if a.id != exclude_account_id))
    return await _queue(session, kind, dossier, to, subject_key, data)


async def notify_accounts(
    session: AsyncSession,
    kind: Kind,
    dossier: Dossier,
    accounts: Iterable[Account],
    *,
    subject_key: str,
    data: dict[str, Any] | None = None,
) -> list[OutboxItem]:
    """Queue ``kind`` about ``dossier`` for exactly ``accounts`` (say, the ones a checklist is
    given to), each as ``recipients`` says, rather than for everyone on the dossier."""
    to = await recipients(session, kind, sorted(accounts, key=lambda a: a.id))
    return await _queue(session, kind, dossier, to, subject_key, data)


def account_mail(
    session: AsyncSession,
    kind: Kind,
    account: Account,
    *,
    data: dict[str, Any],
    key: str,
    token: str | None = None,
) -> OutboxItem:
    """Queue a mail about the account itself (invitation, password link, confirmation).

    Payload fields starting with ``secret_`` (links with a token) are wiped once it is sent.
    ``token`` is the raw token the link carries: a mail that ends as failed revokes it.
    """
    link = {tokens.LINK_TOKEN: tokens.digest(token)} if token else {}
    item = OutboxItem(
        channel="email",
        kind=kind.value,
        recipient=account.email,
        account_id=account.id,
        language=account.language.value,
        payload={"name": account.name, "username": account.username, **data, **link},
        idempotency_key=f"{kind.value}:{account.id}:{key}",
    )
    session.add(item)
    return item
