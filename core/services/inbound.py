"""What inbound mail may become: the rules that decide whose mail it is and into which dossier
it goes, and storing it as a message. The mail bridge parses; these decide.

A reply is trusted only when its sender matches the party its signed token names and that
party may see the dossier; otherwise it waits in quarantine for staff. A mail found by its
thread or a dossier number in its subject has only its From header to say whose it is, which
anyone can write: it is trusted only when the firm's own receiving server vouches for that
address (``sender_verified``), and otherwise waits for staff too (``unverified``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from .. import access, audit, replytokens
from ..actor import Actor
from ..i18n import N_
from ..models import (
    Account,
    Channel,
    Direction,
    DocumentCategory,
    Dossier,
    InboundMail,
    IntermediaryOffice,
    Message,
    OutboxItem,
    Role,
    utcnow,
)
from ..notifications import Kind, account_mail, notify
from ..storage import FileStore, describe_limit
from ..validation import one_line
from .documents import Upload, store_document


@dataclass
class Match:
    """The dossier a mail belongs to and the account that wrote it (None: an office address
    or an unknown sender, for mail that staff file by hand)."""

    dossier: Dossier
    account: Account | None
    how: str  # "token", "thread", "subject", "staff"
    # A document request: the scan answers this question of this checklist.
    checklist_id: int | None = None
    question: int | None = None


@dataclass(frozen=True)
class AuthResult:
    """One check that the firm's own receiving server reported (RFC 8601
    Authentication-Results): the method ("dkim", "dmarc", "spf"), its result ("pass",
    "fail", "none", ...) and the domain it speaks for (DKIM's header.d, DMARC's header.from)."""

    method: str
    result: str
    domain: str | None = None


def _aligned(domain: str, from_domain: str) -> bool:
    """``domain`` is the From domain or a parent of it (never a bare top-level domain)."""
    return "." in domain and (from_domain == domain or from_domain.endswith("." + domain))


def sender_verified(results: Sequence[AuthResult], sender: str) -> bool:
    """The From address is vouched for: DMARC passed for its domain, or a DKIM signature of
    its domain (or a parent domain) passed. SPF alone says nothing about From."""
    from_domain = sender.rpartition("@")[2].strip().rstrip(".").lower()
    for r in results:
        if r.result != "pass":
            continue
        if r.method == "dmarc" and (r.domain is None or r.domain == from_domain):
            return True
        if r.method == "dkim" and r.domain is not None and _aligned(r.domain, from_domain):
            return True
    return False


def unverified(match: Match, verified: bool, authserv: str | None) -> str | None:
    """Why a match may not be trusted, or None. Only a signed reply address says on its own
    whose mail it is; a thread or subject match needs the sender vouched for."""
    if match.how == "token" or verified:
        return None
    if not authserv:
        return (
            f"sender not verified: matched by {match.how} only; LOKET_MAIL_AUTHSERV_ID is"
            " not set, so no DKIM/DMARC pass is trusted"
        )
    return f"sender not verified: matched by {match.how} only, no DKIM/DMARC pass from {authserv}"


class Refused(Exception):
    """The mail must not become a message; ``reason`` says why (kept with it in quarantine,
    in English) and ``code`` which of REASON_LABELS staff read."""

    def __init__(self, reason: str, code: str = "not_allowed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


# Why a mail waits in quarantine, by the code stored with it, as staff read it; the English
# reason beside it (with addresses and numbers) stays for the audit and `loket mail`.
REASON_LABELS = {
    "no_sender": N_("The mail has no sender address."),
    "several_senders": N_("The mail has more than one sender address."),
    "rate_limited": N_("Too many mails from this sender in a short time."),
    "not_authentic": N_("The mail failed the sender's authentication check (DKIM/DMARC)."),
    "bad_token": N_("The reply address in the mail is unknown or altered."),
    "gone": N_("The dossier, account or office the mail answers no longer exists."),
    "wrong_sender": N_("The sender is not the address our mail was sent to."),
    "not_allowed": N_("The sender may not write in the dossier the mail names."),
    "no_dossier": N_("No dossier found for this mail."),
    "unverified": N_(
        "The sender could not be verified, and the mail does not answer one of our mails."
    ),
    "sealed": N_("The mail is encrypted or sealed and cannot be read."),
    "too_many_attachments": N_("The mail has too many attachments."),
    "error": N_("The mail could not be processed (an error on our side)."),
}


@dataclass(frozen=True)
class History:
    """What the inbound records already say about a mail, read in one statement: whether it
    was handled before (``handled``), how many of its sender's mails became messages lately
    (``filed_recently``, for the rate rule) and whether a mail with its Message-ID and body
    from its sender became a message in any dossier (``copy_filed``: ``already_filed`` then
    asks about the dossier it is for)."""

    handled: bool
    filed_recently: int
    copy_filed: bool


# The same mail: the same bytes, or the same place on the same server.
_SAME_BYTES = InboundMail.sha256 == bindparam("sha256")
# A second delivery of a filed mail differs only in the headers servers add. The same
# Message-ID alone is not enough: some scanners and mail programs give every mail the same one.
_COPIES = (
    InboundMail.message_id_header == bindparam("email_message_id"),
    InboundMail.body_sha256 == bindparam("body_sha256"),
    InboundMail.message_id.is_not(None),
    func.lower(InboundMail.sender) == bindparam("sender"),
)


@cache
def _history_statement(located: bool, no_uidvalidity: bool, with_message_id: bool) -> Any:
    """Built once for each shape (expressions cost more to build than to run): whether the
    mail has a place on a server, a server without UIDVALIDITY, and a Message-ID."""
    seen = _SAME_BYTES
    if located:
        uidvalidity = (
            InboundMail.uidvalidity.is_(None)
            if no_uidvalidity
            else InboundMail.uidvalidity == bindparam("uidvalidity")
        )
        seen = or_(
            seen,
            and_(
                InboundMail.mailbox == bindparam("mailbox"),
                uidvalidity,
                InboundMail.uid == bindparam("uid"),
            ),
        )
    handled = select(InboundMail.id).where(seen).limit(1)
    # Mail held back or ignored does not count towards the rate, so a sender who keeps
    # trying is not kept out by it.
    recent = select(func.count(InboundMail.id)).where(
        func.lower(InboundMail.sender) == bindparam("sender"),
        InboundMail.received_at >= bindparam("since"),
        InboundMail.message_id.is_not(None),
    )
    copy = select(InboundMail.id).where(*_COPIES).limit(1) if with_message_id else select(null())
    return select(handled.scalar_subquery(), recent.scalar_subquery(), copy.scalar_subquery())


async def history(
    session: AsyncSession,
    *,
    sha256: str,
    mailbox: str | None,
    uidvalidity: int | None,
    uid: int | None,
    sender: str,
    minutes: int,
    email_message_id: str | None,
    body_sha256: str,
) -> History:
    """The mail's ``History``. One statement rather than three: each costs a round trip to
    the database, which is most of what a mail costs the bridge."""
    located = mailbox is not None and uid is not None
    statement = _history_statement(located, uidvalidity is None, bool(email_message_id))
    values: dict[str, Any] = {
        "sha256": sha256,
        "sender": sender.lower(),
        "since": utcnow() - dt.timedelta(minutes=minutes),
    }
    if located:
        values.update(mailbox=mailbox, uid=uid)
        if uidvalidity is not None:
            values["uidvalidity"] = uidvalidity
    if email_message_id:
        values.update(email_message_id=email_message_id, body_sha256=body_sha256)
    row = (await session.execute(statement, values)).one()
    return History(
        handled=row[0] is not None, filed_recently=row[1] or 0, copy_filed=row[2] is not None
    )


async def already_filed(
    session: AsyncSession, match: Match, sender: str, email_message_id: str, body_sha256: str
) -> bool:
    """The same mail is in this dossier already: a second delivery of it (sent to two of the
    firm's addresses, or handed over again by a server)."""
    found = await session.scalar(
        select(InboundMail.id).where(*_COPIES, InboundMail.dossier_id == match.dossier.id).limit(1),
        {
            "email_message_id": email_message_id,
            "body_sha256": body_sha256,
            "sender": sender.lower(),
        },
    )
    return found is not None


async def _accounts_with_email(session: AsyncSession, email: str) -> list[Account]:
    return list(
        await session.scalars(
            select(Account).where(
                func.lower(Account.email) == email.lower(), Account.active.is_(True)
            )
        )
    )


async def _may_post(session: AsyncSession, account: Account, dossier: Dossier) -> bool:
    return access.can_see_dossier(Actor.of(account, Channel.EMAIL), dossier)


async def by_token(session: AsyncSession, secret: str, token: str, sender: str) -> Match:
    target = replytokens.verify(secret, token)
    if target is None:
        raise Refused("the reply address does not verify (unknown or altered token)", "bad_token")
    dossier = await session.get(Dossier, target.dossier_id)
    if dossier is None:
        raise Refused("the reply address names a dossier that no longer exists", "gone")
    if target.kind == "a":
        account = await session.get(Account, target.party_id)
        if account is None or not account.active:
            raise Refused("the reply address names an account that no longer exists", "gone")
        if account.email.lower() != sender.lower():
            raise Refused(
                f"sender {sender} is not the address the reply link was sent to", "wrong_sender"
            )
        if not await _may_post(session, account, dossier):
            raise Refused("the sender may not see this dossier")
        return Match(dossier, account, "token", target.checklist_id, target.question)
    office = await session.get(IntermediaryOffice, target.party_id)
    if office is None or dossier.intermediary_id != office.id:
        raise Refused("the reply address names an office that does not hold this dossier")
    if office.email.lower() != sender.lower():
        raise Refused(f"sender {sender} is not the office's address", "wrong_sender")
    login = await session.scalar(
        select(Account)
        .where(
            Account.intermediary_id == office.id,
            Account.role == Role.INTERMEDIARY,
            Account.active.is_(True),
        )
        .order_by(Account.id)
    )
    return Match(dossier, login, "token")


async def by_thread(session: AsyncSession, message_ids: Sequence[str], sender: str) -> Match | None:
    """A reply to a mail we sent (In-Reply-To/References), from the address we sent it to."""
    ids = [m.strip() for m in message_ids if m and m.strip()][:50]
    if not ids:
        return None
    item = await session.scalar(
        select(OutboxItem)
        .where(OutboxItem.email_message_id.in_(ids), OutboxItem.dossier_id.is_not(None))
        .order_by(OutboxItem.id.desc())
        .limit(1)
    )
    if item is None:
        return None
    if item.recipient.lower() != sender.lower():
        raise Refused(
            f"sender {sender} answers a mail that was sent to someone else", "wrong_sender"
        )
    dossier = await session.get(Dossier, item.dossier_id)
    account = await session.get(Account, item.account_id) if item.account_id else None
    if dossier is None or account is None or not await _may_post(session, account, dossier):
        raise Refused("the sender may not see this dossier")
    return Match(dossier, account, "thread")


# The dossiers named, each with the accounts of the sender's address beside it (none: a row
# with None) and its client, whom storing the message names to staff (``notify`` finds it
# loaded): one statement, built once. Most subjects name one dossier: for them the number is
# compared with ``=``, as an expanding IN is rendered anew on every execution.
def _by_subject(numbers: Any) -> Any:
    return (
        select(Dossier, Account)
        .join(Dossier.client)
        .options(contains_eager(Dossier.client))
        .outerjoin(
            Account,
            and_(func.lower(Account.email) == bindparam("sender"), Account.active.is_(True)),
        )
        .where(numbers)
        .order_by(Account.id)
    )


_BY_SUBJECT = _by_subject(Dossier.number.in_(bindparam("numbers", expanding=True)))
_BY_SUBJECT_ONE = _by_subject(Dossier.number == bindparam("number"))


async def by_subject(session: AsyncSession, numbers: Sequence[str], sender: str) -> Match | None:
    """A dossier number in the subject, from a known address that may see that dossier."""
    if not numbers:
        return None
    if len(numbers) == 1:
        statement, values = _BY_SUBJECT_ONE, {"number": numbers[0]}
    else:
        statement, values = _BY_SUBJECT, {"numbers": list(numbers)}
    rows = (await session.execute(statement, {**values, "sender": sender.lower()})).all()
    found: dict[str, tuple[Dossier, list[Account]]] = {}
    for dossier, account in rows:
        accounts = found.setdefault(dossier.number, (dossier, []))[1]
        if account is not None:
            accounts.append(account)
    for number in numbers:
        if number not in found:
            continue
        dossier, accounts = found[number]
        for account in accounts:
            if await _may_post(session, account, dossier):
                return Match(dossier, account, "subject")
        raise Refused(f"sender {sender} may not write in dossier {number}")
    return None


# Built once, run as plain statements: for each mail the unit of work's flush cost more than
# the INSERTs and the UPDATE themselves (the Message goes back to the caller as a plain
# object, not in the session; nothing reads it from there).
_messages = Message.__table__
_INSERT_MESSAGE = insert(_messages).returning(_messages.c.id)
_dossiers = Dossier.__table__
_TOUCH_DOSSIER = (
    update(_dossiers)
    .where(_dossiers.c.id == bindparam("dossier"))
    .values(updated_at=bindparam("now"))
)
_inbound_mails = InboundMail.__table__
_INSERT_INBOUND = insert(_inbound_mails).returning(_inbound_mails.c.id)


async def store_message(
    session: AsyncSession,
    store: FileStore,
    match: Match,
    *,
    subject: str,
    body: str,
    attachments: Sequence[Upload],
    email_message_id: str | None,
    extra_documents: Sequence[Upload] = (),
) -> Message:
    """Store the mail as an incoming message (channel email) with its attachments, which are
    filed under "Delivered by me"; the handler is told."""
    account = match.account
    actor = (
        Actor.of(account, Channel.EMAIL)
        if account is not None
        else Actor(account_id=None, role=Role.CLIENT, channel=Channel.EMAIL)
    )
    now = utcnow()
    values: dict[str, Any] = {
        "dossier_id": match.dossier.id,
        "author_id": account.id if account else None,
        "direction": Direction.INCOMING,
        # A client's mail is filed, not refused: a line break in its subject (folded, or
        # encoded in the header) would break the notification's own subject line.
        "subject": one_line(subject)[:200] or "(no subject)",
        "body": body,
        "parent_id": None,
        "channel": Channel.EMAIL,
        "email_message_id": email_message_id,
        "created_at": now,
    }
    message_id = (await session.execute(_INSERT_MESSAGE, values)).scalar_one()
    message = Message(id=message_id, **values)
    for upload in [*attachments, *extra_documents]:
        await store_document(
            session,
            store,
            actor,
            match.dossier,
            upload,
            DocumentCategory.DELIVERED,
            message_id=message.id,
        )
    await session.execute(_TOUCH_DOSSIER, {"dossier": match.dossier.id, "now": now})
    set_committed_value(match.dossier, "updated_at", now)  # as written, nothing left to flush
    await audit.record_now(
        session,
        actor,
        "message.email_in",
        dossier_id=match.dossier.id,
        subject=message,
        matched_by=match.how,
        attachments=len(attachments),
    )
    await notify(
        session,
        Kind.CLIENT_MESSAGE,
        match.dossier,
        subject_key=f"message:{message.id}",
        data={"message_id": message.id, "subject": message.subject},
        exclude_account_id=account.id if account else None,
    )
    return message


async def record(session: AsyncSession, values: dict[str, Any]) -> int:
    """Add the InboundMail row of ``values`` (its columns, ``path`` and ``raw_storage_key``
    included) to the unit of work at once, by a plain INSERT (see ``store_message``); its id."""
    row = {"received_at": utcnow(), "filed_at": None, **values}
    return (await session.execute(_INSERT_INBOUND, row)).scalar_one()


async def mark_failing(session: AsyncSession, address: str, reason: str) -> int:
    """A bounce says mail to ``address`` fails: mark the accounts that use it, for staff."""
    accounts = await _accounts_with_email(session, address)
    for account in accounts:
        account.email_failing_since = account.email_failing_since or utcnow()
        account.email_failure_reason = reason[:500]
    return len(accounts)


async def reload(session: AsyncSession, match: Match) -> Match:
    dossier = await session.get(Dossier, match.dossier.id)
    account = await session.get(Account, match.account.id) if match.account else None
    if dossier is None:
        raise Refused("the dossier no longer exists", "gone")
    return Match(dossier, account, match.how, match.checklist_id, match.question)


def tell_left_out(
    session: AsyncSession, match: Match, message: Message, filenames: Sequence[str], limit: int
) -> None:
    """The client whose mail was filed without some of its attachments (over the size limit)
    hears which, so that they send them another way: they would think them received."""
    if match.account is None or not filenames:
        return
    account_mail(
        session,
        Kind.ATTACHMENTS_LEFT_OUT,
        match.account,
        data={
            "subject": message.subject,
            "dossier_number": match.dossier.number,
            "items": list(filenames)[:50],
            "limit": describe_limit(limit),
        },
        key=str(message.id),
    )


async def tell_not_filed(
    session: AsyncSession, sender: str, subject: str, *, no_dossier: bool
) -> bool:
    """A known client whose mail could not be filed hears so, at most once a day: that no
    dossier could be found for it (and how to reply next time), or else that a colleague
    will look at it.

    The notice goes to the account's own address, never to a Reply-To, and names no dossier:
    when From was forged, only the real owner of that address hears of it, and learns
    nothing but that a mail in their name is waiting for staff."""
    accounts = await _accounts_with_email(session, sender)
    if not accounts:
        return False
    account = accounts[0]
    day = utcnow().date().isoformat()
    told = [f"{kind.value}:{account.id}:{day}" for kind in (Kind.MAIL_NOT_FILED, Kind.MAIL_HELD)]
    if await session.scalar(select(OutboxItem.id).where(OutboxItem.idempotency_key.in_(told))):
        return False
    kind = Kind.MAIL_NOT_FILED if no_dossier else Kind.MAIL_HELD
    account_mail(session, kind, account, data={"subject": subject[:200]}, key=day)
    return True
