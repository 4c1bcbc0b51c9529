"""Erasing a person's account (AVG/GDPR art. 17), keeping what the firm must keep by law.

What the law makes the firm keep stays: the dossiers' documents, messages, checklist answers
and the mail originals they came with are the firm's records of its work (for tax work seven
years under the Dutch fiscal record-keeping duty, art. 52 AWR; a notary's deeds longer), and
the audit trail shows who did what with them. They go when retention removes them
(core.services.retention). So do the client's name on its dossiers: the records must say whose
they are. Everything else that identifies or reaches the person goes: name, email address,
phone, password, two-step secrets and recovery codes, the Telegram link and chat,
sessions, one-time links, failed-login counts, unsent and sent notifications, and mail from
them that never became a message. The account stays as an inactive shell ("erased-<id>"), so
that records pointing at it keep pointing somewhere; it can no longer log in nor be mailed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..access import can_manage_firm, require
from ..actor import Actor
from ..errors import Conflict
from ..models import (
    Account,
    Answer,
    AuditEvent,
    Client,
    Document,
    Dossier,
    InboundMail,
    LoginAttempt,
    Message,
    OutboxItem,
    RecoveryCode,
    TelegramChat,
    Token,
    TwoFactorMethod,
    WebSession,
)
from ..throttle import account_key
from .accounts import account_by_username

ERASED_DOMAIN = "erased.invalid"  # .invalid: a name that can never receive mail (RFC 2606)


@dataclass
class Erasure:
    account_id: int
    username: str  # what it was
    removed: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)  # stored mail originals no longer referred to


async def _count(session: AsyncSession, stmt) -> int:
    return await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


async def erase_account(session: AsyncSession, actor: Actor, username: str) -> Erasure:
    require(can_manage_firm(actor))
    account = await account_by_username(session, username)
    if account.username == f"erased-{account.id}":
        raise Conflict("This account has been erased already.")
    if account.id == actor.account_id:
        raise Conflict("You cannot erase your own account.")
    result = Erasure(account.id, account.username)
    email = account.email.lower()

    unfiled = select(InboundMail.id, InboundMail.raw_storage_key).where(
        func.lower(InboundMail.sender) == email, InboundMail.message_id.is_(None)
    )
    mails = (await session.execute(unfiled)).all()
    result.keys = {key for _, key in mails if key}
    chats = 0
    if account.telegram_chat_id is not None:
        chats = (
            await session.execute(
                delete(TelegramChat).where(TelegramChat.chat_id == account.telegram_chat_id)
            )
        ).rowcount
    outbox = or_(OutboxItem.account_id == account.id, func.lower(OutboxItem.recipient) == email)
    removed = {
        "sessions": delete(WebSession).where(WebSession.account_id == account.id),
        "one_time_links": delete(Token).where(Token.account_id == account.id),
        "recovery_codes": delete(RecoveryCode).where(RecoveryCode.account_id == account.id),
        "login_counts": delete(LoginAttempt).where(
            LoginAttempt.key.like(f"{account_key(account.id, '')}|%")
            | (LoginAttempt.key == account_key(account.id, ""))
        ),
        "notifications": delete(OutboxItem).where(outbox),
        "unfiled_mails": delete(InboundMail).where(InboundMail.id.in_([i for i, _ in mails])),
    }
    for name, stmt in removed.items():
        result.removed[name] = (await session.execute(stmt)).rowcount
    result.removed["telegram_chats"] = chats

    result.kept = {
        "documents_uploaded": await _count(
            session, select(Document.id).where(Document.uploaded_by_id == account.id)
        ),
        "messages_written": await _count(
            session, select(Message.id).where(Message.author_id == account.id)
        ),
        "checklist_answers": await _count(
            session, select(Answer.id).where(Answer.answered_by_id == account.id)
        ),
        "audit_events": await _count(
            session,
            select(AuditEvent.id).where(
                (AuditEvent.actor_id == account.id)
                | ((AuditEvent.subject_type == "Account") & (AuditEvent.subject_id == account.id))
            ),
        ),
        "client_dossiers": await _count(
            session, select(Dossier.id).where(Dossier.client_id == account.client_id)
        )
        if account.client_id is not None
        else 0,
    }
    if account.client_id is not None and not result.kept["client_dossiers"]:
        others = await _count(
            session,
            select(Account.id).where(
                Account.client_id == account.client_id, Account.id != account.id
            ),
        )
        if not others:  # no record needs the client's name
            client = await session.get(Client, account.client_id)
            client.name = f"erased-client-{client.id}"
            result.removed["client_name"] = 1

    account.username = f"erased-{account.id}"
    account.email = f"erased-{account.id}@{ERASED_DOMAIN}"
    account.name = ""
    account.password_hash = None
    account.password_changed_at = None
    account.email_verified_at = None
    account.active = False
    account.two_factor = TwoFactorMethod.NONE
    account.totp_secret = None
    account.totp_last_step = None
    account.phone = None
    account.notifications = {}
    account.telegram_chat_id = None
    account.email_failing_since = None
    account.email_failure_reason = None
    await session.flush()
    audit.record(
        session, actor, "account.erased", subject=account, removed=result.removed, kept=result.kept
    )
    return result
