"""Telegram: linking a chat to an account, the chat's conversation, updates handled once, and
what may be sent to a chat when. The bot (bot/) holds no rule and no state of its own: it
translates updates into calls here and into the other services, with the Actor of
``chat_actor``.

For each update the bot opens one unit of work and, in it:

1. ``claim_update(session, update_id)``: False means it was handled already (a restart after
   a crash between handling and the next getUpdates); do nothing, answer nothing;
2. ``chat_context(session, chat, asked=…)``: the chat's view (``language`` to answer in; a chat that
   had blocked the bot is unblocked, since the person writes again) and the linked account as
   an Actor (Channel.TELEGRAM), or None: an unlinked chat reaches nothing but /start, /help
   and /language. One read of chat and account; ``chat_seen`` and ``chat_actor`` give each
   alone. ``asked``: the message that asks the chat's current question, sent after the
   chat's previous unit of work, recorded now (see ``Asked``);
3. the update's effect through the services (the walker, messages, documents), and the chat's
   next state (``set_state``, ``set_question``).

A service that refuses raises a domain error, and the error rolls the unit of work back, the
claim with it. The bot runs the effect in a savepoint (``session.begin_nested()``) so that the
claim and the refusal's answer stand; then a redelivered update is not answered twice.

The conversation state (``set_state``) is a small JSON object naming what the chat waits for
next in ``"waiting"`` (one of WAITING_*), with ids, never content: a document is stored when
it arrives, and the state names it by id.

Sending (the outbox worker's Telegram sender, and the bot's own answers): ``reserve_send``
before each message to a chat, in its own short unit of work, then wait what it says; on 403
"bot was blocked" ``mark_blocked``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from .. import access, audit, throttle, tokens
from ..actor import Actor
from ..clock import HAPPENED_AT, happened_now
from ..db import dialect_insert
from ..errors import LinkExpired, NotFound, PermissionDenied, ValidationError
from ..i18n import N_
from ..models import (
    Account,
    Channel,
    Language,
    OutboxItem,
    OutboxStatus,
    TelegramBot,
    TelegramChat,
    TelegramDelivery,
    TelegramUpdate,
    TwoFactorMethod,
    utcnow,
)
from ..notifications import Kind, account_mail
from ..settings import Settings
from ..validation import clean_email

PRIVATE = "private"
LINK_CODE_MINUTES = 15
# No look-alikes (0/O, 1/I/L are out): typed from a screen or a mail without doubt. Ten of
# these are 50 bits: guessing one of the few codes alive in their quarter of an hour is out of
# reach. Only A-Z and digits, so a code is a valid deep-link parameter as it is.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
CODE_GROUP = 5
UPDATES_KEPT = dt.timedelta(days=7)
SEND_INTERVAL = 1.0  # seconds between two messages to one chat (Telegram's limit)
MAX_STATE_BYTES = 16 * 1024

# What a chat can wait for (the "waiting" of its state). The other keys are the bot's to
# choose, ids only; these are what they are meant to hold.
WAITING_EMAIL = "email"  # /start without a code: the address the firm knows
WAITING_ANSWER = "answer"  # checklist_id, question: the question the chat shows
WAITING_NOT_AVAILABLE_REASON = "not_available_reason"  # checklist_id, question
WAITING_NOT_AVAILABLE_DATE = "not_available_date"  # checklist_id, question, reason
WAITING_MESSAGE_SUBJECT = "message_subject"  # dossier_id, parent_id (a reply)
WAITING_MESSAGE_BODY = "message_body"  # dossier_id, parent_id, subject
WAITING_UPLOAD = "upload"  # checklist_id, question, document_ids: files until "Klaar"
WAITING_DOCUMENT_DOSSIER = "document_dossier"  # document_ids of files sent outside a question
# message_id, album: a message just sent from an album, whose other photos are still coming.
WAITING_MESSAGE_ALBUM = "message_album"

NOT_PRIVATE = N_(
    "Linking works only in a private chat with the bot, not in a group or channel: your "
    "dossiers are not for everyone in it."
)
CODE_DEAD = N_(
    "This code does not work (any more): a code works once, for 15 minutes, and a newer one "
    "replaces it. Ask for a new code in My details, or send /start to link with your email "
    "address."
)
ACCOUNT_INACTIVE = N_("This account is not active. Please contact us.")
NOT_FOR_STAFF = N_("Telegram is for clients; staff accounts cannot be linked.")
TOO_MANY = N_("Too many attempts. Try again in %(minutes)d minutes.")

BLOCKED = "blocked: the person blocked the bot in Telegram"
UNLINKED = "not sent: the chat is no longer linked to this account"


@dataclass(frozen=True)
class ChatInfo:
    """The chat an update came from, as the bot reads it from the update."""

    id: int
    type: str = PRIVATE  # "private", "group", "supergroup" or "channel"
    language_code: str | None = None  # the Telegram user's, for a chat that chose none


@dataclass(frozen=True)
class LinkCode:
    """A one-time code to link a chat, valid LINK_CODE_MINUTES."""

    code: str  # as typed after /start and in the deep link
    display: str  # grouped for reading: "ABCDE-FGHJK" (typed so, it works too)
    expires_at: dt.datetime
    bot_username: str | None  # None: the web view says "send /start CODE to our bot"
    deep_link: str | None  # https://t.me/<bot>?start=<code>, once the bot's name is known
    minutes: int = LINK_CODE_MINUTES


@dataclass(frozen=True)
class Linked:
    account_id: int
    username: str
    name: str
    language: Language
    already: bool  # this chat was linked to this account already
    # The account this chat was linked to before (now unlinked, and told by mail).
    previous_username: str | None
    previous_chat: bool  # the account had another chat (now unlinked, and told there)


@dataclass(frozen=True)
class ChatView:
    chat_id: int
    account_id: int | None  # the linked account (active or not), None when unlinked
    language: Language  # to write to this chat in: the account's, else chosen, else Telegram's
    chosen_language: Language | None
    state: dict[str, Any] | None
    question_message_id: int | None
    blocked_at: dt.datetime | None
    updated_at: dt.datetime

    @property
    def waiting(self) -> str | None:
        return self.state.get("waiting") if self.state else None


@dataclass(frozen=True)
class TelegramStatus:
    """What staff see of an account's Telegram: linked, and whether the chat blocked the bot."""

    linked: bool
    blocked_at: dt.datetime | None = None


NOT_LINKED = TelegramStatus(linked=False)


# --- codes ---------------------------------------------------------------------------------


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(typed: str) -> str:
    """A code as typed (lower case, grouped, with spaces) as it was issued."""
    return "".join(ch for ch in (typed or "").upper() if ch not in " -_\t")[:64]


def display_code(code: str) -> str:
    return "-".join(code[i : i + CODE_GROUP] for i in range(0, len(code), CODE_GROUP))


async def bot_username(session: AsyncSession, settings: Settings) -> str | None:
    """The bot's username: LOKET_TELEGRAM_BOT_USERNAME, else what the bot process recorded
    from getMe at its last start (``record_bot``), else None."""
    if settings.telegram_bot_username:
        return settings.telegram_bot_username
    return await session.scalar(
        select(TelegramBot.username).order_by(TelegramBot.seen_at.desc()).limit(1)
    )


async def record_bot(session: AsyncSession, bot_id: int, username: str) -> None:
    """The bot process, at its start, with what getMe said."""
    now = utcnow()
    stmt = dialect_insert(session, TelegramBot).values(
        bot_id=bot_id, username=username, seen_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["bot_id"], set_={"username": username, "seen_at": now}
        )
    )


def deep_link(username: str, code: str) -> str:
    return f"https://t.me/{username}?start={code}"


async def _issue(
    session: AsyncSession, settings: Settings, account: Account, data: dict[str, Any]
) -> LinkCode:
    ttl = dt.timedelta(minutes=LINK_CODE_MINUTES)
    for attempt in range(3):
        code = _new_code()
        try:
            # A savepoint: a code equal to an old one (used or not, its hash is kept) must
            # not end the unit of work.
            async with session.begin_nested():
                await tokens.issue(session, account, tokens.TELEGRAM_LINK, ttl, raw=code, data=data)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    username = await bot_username(session, settings)
    return LinkCode(
        code=code,
        display=display_code(code),
        expires_at=utcnow() + ttl,
        bot_username=username,
        deep_link=deep_link(username, code) if username else None,
    )


async def _own_account(session: AsyncSession, actor: Actor) -> Account:
    account = await session.get(Account, actor.account_id) if actor.account_id else None
    if account is None or not account.active:
        raise NotFound("There is no such account.")
    return account


def may_link(actor: Actor) -> bool:
    """Whether ``actor`` may link a chat to their account (for pages to offer it)."""
    return access.can_link_telegram(actor)


async def issue_link_code(session: AsyncSession, settings: Settings, actor: Actor) -> LinkCode:
    """A one-time code for ``actor``'s own account (My details); a newer one kills it."""
    access.require(access.can_link_telegram(actor), NOT_FOR_STAFF)
    account = await _own_account(session, actor)
    link = await _issue(session, settings, account, {"via": "web"})
    audit.record(session, actor, "telegram.link_code", subject=account)
    return link


# --- chats ---------------------------------------------------------------------------------


def _language(
    account: Account | None, row: TelegramChat | None, language_code: str | None
) -> Language:
    if account is not None:
        return account.language
    if row is not None and row.language is not None:
        return row.language
    if language_code:
        # Someone whose Telegram speaks neither is better served in English than in Dutch.
        return Language.NL if language_code.lower().startswith("nl") else Language.EN
    return Language.NL


def _view(row: TelegramChat, account: Account | None, language_code: str | None) -> ChatView:
    return ChatView(
        chat_id=row.chat_id,
        account_id=account.id if account is not None else None,
        language=_language(account, row, language_code),
        chosen_language=row.language,
        state=row.state,
        question_message_id=row.question_message_id,
        blocked_at=row.blocked_at,
        updated_at=row.updated_at,
    )


async def _chat_row(session: AsyncSession, chat_id: int, *, lock: bool = False) -> TelegramChat:
    """The chat's row, made if it is new (by two processes at once, too)."""
    now = utcnow()
    await session.execute(
        dialect_insert(session, TelegramChat)
        .values(chat_id=chat_id, next_send_at=0.0, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["chat_id"])
    )
    stmt = select(TelegramChat).where(TelegramChat.chat_id == chat_id)
    if lock:
        stmt = stmt.with_for_update()
    # populate_existing: an UPDATE statement (reserve_send) may have changed it behind the
    # session's back.
    return (await session.scalars(stmt.execution_options(populate_existing=True))).one()


async def _row_to_write(session: AsyncSession, chat_id: int) -> TelegramChat:
    """The chat's row to change a column of: the one this unit of work holds already (read
    by ``chat_context``, locked), without a statement; else read or made. Only the columns
    set are written, so a column changed behind the session's back is not overwritten."""
    row = await session.get(TelegramChat, chat_id)
    return row if row is not None else await _chat_row(session, chat_id)


async def _linked_account(session: AsyncSession, chat_id: int) -> Account | None:
    return await session.scalar(select(Account).where(Account.telegram_chat_id == chat_id))


async def get_chat(
    session: AsyncSession, chat_id: int, *, language_code: str | None = None
) -> ChatView | None:
    """The chat as Loket knows it, or None for a chat that never wrote."""
    row = await session.get(TelegramChat, chat_id, populate_existing=True)
    if row is None:
        return None
    return _view(row, await _linked_account(session, chat_id), language_code)


@dataclass(frozen=True)
class ChatContext:
    """What an update's handling needs of its chat: the view, and who acts through it."""

    view: ChatView
    actor: Actor | None  # as ``chat_actor``
    # The row itself, for the unit of work to hold: the session keeps only a weak reference,
    # and while it is held ``set_state`` and ``set_question`` change it without a statement.
    row: TelegramChat = field(repr=False, compare=False)


async def _chat_and_account(
    session: AsyncSession, chat_id: int
) -> tuple[TelegramChat, Account | None] | None:
    stmt = (
        select(TelegramChat, Account)
        .outerjoin(Account, Account.telegram_chat_id == TelegramChat.chat_id)
        .where(TelegramChat.chat_id == chat_id)
        .with_for_update(of=TelegramChat)
        # populate_existing: an UPDATE statement (reserve_send) may have changed it behind
        # the session's back.
        .execution_options(populate_existing=True)
    )
    found = (await session.execute(stmt)).first()
    return (found[0], found[1]) if found is not None else None


@dataclass(frozen=True)
class Asked:
    """The bot's message that asks a chat's current question, sent after the unit of work that
    decided it (a send must not hold the database), and recorded by the chat's next unit of
    work (``chat_context``) or when the bot stops (``record_asked``) instead of in one of its
    own. Recorded only if the chat's record is still ``recorded``, what that unit of work left:
    otherwise it changed meanwhile (the chat was unlinked, say) and that stands.

    Not recorded at all if the bot dies first: the record stays at an older message, and a
    button on a message between them is judged by its data alone (the question it names must
    still be the current one), so nothing is answered that the checklist is not at."""

    recorded: int | None
    sent: int


async def record_asked(session: AsyncSession, asked: dict[int, Asked]) -> None:
    """The bot at its stop: record each chat's ``Asked`` not yet recorded."""
    for chat_id, one in asked.items():
        await session.execute(
            update(TelegramChat)
            .where(
                TelegramChat.chat_id == chat_id,
                TelegramChat.question_message_id.is_(None)
                if one.recorded is None
                else TelegramChat.question_message_id == one.recorded,
            )
            .values(question_message_id=one.sent)
            .execution_options(synchronize_session=False)
        )


async def chat_context(
    session: AsyncSession, chat: ChatInfo, *, asked: Asked | None = None
) -> ChatContext:
    """Every update: the chat's row (made on first contact) and its linked account, read
    together. Someone who writes to the bot has unblocked it, so a blocked chat is sent to
    again. ``asked``: see ``Asked``.

    The row stays locked until the unit of work ends (PostgreSQL; SQLite has one writer
    anyway), so that the updates of one chat (the photos of an album, handled at once by two
    processes) take turns on its state instead of each overwriting the other's."""
    found = await _chat_and_account(session, chat.id)
    if found is None:  # first contact (made by two processes at once, too)
        await _chat_row(session, chat.id)
        found = await _chat_and_account(session, chat.id)
        assert found is not None
    row, account = found
    if asked is not None and row.question_message_id == asked.recorded:
        row.question_message_id = asked.sent
    if row.blocked_at is not None:
        row.blocked_at = None
        audit.record(
            session, _chat_actor(account), "telegram.unblocked", subject=account, chat_id=chat.id
        )
    return ChatContext(_view(row, account, chat.language_code), _acting(account), row)


async def chat_seen(session: AsyncSession, chat: ChatInfo) -> ChatView:
    """The chat's view, as ``chat_context`` (made on first contact, unblocked, locked)."""
    return (await chat_context(session, chat)).view


async def chat_actor(session: AsyncSession, chat_id: int) -> Actor | None:
    """Who acts through this chat: its linked account, if active and allowed; else None."""
    return _acting(await _linked_account(session, chat_id))


def _acting(account: Account | None) -> Actor | None:
    if account is None or not account.active:
        return None
    actor = Actor.of(account, Channel.TELEGRAM)
    return actor if access.can_link_telegram(actor) else None


def _chat_actor(account: Account | None) -> Actor:
    return Actor.of(account, Channel.TELEGRAM) if account else Actor.system(Channel.TELEGRAM)


def _check_state(state: dict[str, Any] | None) -> None:
    if state is None:
        return
    waiting = state.get("waiting") if isinstance(state, dict) else None
    if not isinstance(waiting, str) or not waiting:
        raise ValueError('a chat state is a dict with a "waiting" string')
    if len(json.dumps(state).encode()) > MAX_STATE_BYTES:
        raise ValueError("a chat state holds ids, not content: this one is too large")


async def set_state(session: AsyncSession, chat_id: int, state: dict[str, Any] | None) -> None:
    """What the chat waits for next ({"waiting": WAITING_…, ids…}); None: nothing."""
    _check_state(state)
    row = await _row_to_write(session, chat_id)
    row.state = dict(state) if state is not None else None


async def set_question(session: AsyncSession, chat_id: int, message_id: int | None) -> None:
    """The bot's message that asks the current question: a button on another is stale."""
    row = session.identity_map.get(identity_key(TelegramChat, chat_id))
    if row is None:
        # After the send, in a unit of work of its own: one statement.
        changed = await session.execute(
            update(TelegramChat)
            .where(TelegramChat.chat_id == chat_id)
            .values(question_message_id=message_id)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount:
            return
        row = await _chat_row(session, chat_id)
    row.question_message_id = message_id


async def set_language(session: AsyncSession, chat: ChatInfo, language: str) -> Language:
    """/language: the chat's language; for a linked chat, its account's too (as My details),
    so that notifications and mail speak it as well."""
    try:
        chosen = Language(language)
    except ValueError:
        raise ValidationError("Choose Dutch or English.", field="language") from None
    row = await _chat_row(session, chat.id)
    row.language = chosen
    account = await _linked_account(session, chat.id)
    if account is not None and account.active:
        account.language = chosen
        audit.record(session, _chat_actor(account), "profile.language", language=chosen.value)
    return chosen


def _forget(row: TelegramChat) -> None:
    # The conversation belonged to the account the chat was linked to.
    row.state = None
    row.question_message_id = None


# --- linking -------------------------------------------------------------------------------


def _private(chat: ChatInfo) -> None:
    if chat.type != PRIVATE:
        raise PermissionDenied(NOT_PRIVATE)


async def _drop_queued(session: AsyncSession, chat_id: int, account_id: int, reason: str) -> None:
    """Chat messages still waiting for ``account`` in ``chat_id`` end as failed: once the
    chat is no longer the account's, its news must not reach it."""
    await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.channel == "telegram",
            OutboxItem.recipient == str(chat_id),
            OutboxItem.account_id == account_id,
            OutboxItem.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.FAILED, last_error=reason)
    )


async def _tell_chat(session: AsyncSession, chat_id: int, kind: Kind, account: Account) -> None:
    """A Telegram message to a chat about its link (it may no longer be linked to anyone)."""
    row = await _chat_row(session, chat_id)
    if row.blocked_at is not None:
        return
    now = utcnow()
    session.add(
        OutboxItem(
            channel="telegram",
            kind=kind.value,
            recipient=str(chat_id),
            account_id=account.id,
            language=account.language.value,
            payload={"username": account.username, HAPPENED_AT: now.isoformat()},
            idempotency_key=f"{kind.value}:{chat_id}:{account.id}:{now.isoformat()}",
        )
    )


def _tell_account(session: AsyncSession, kind: Kind, account: Account) -> None:
    account_mail(session, kind, account, data=happened_now(), key=utcnow().isoformat())


async def _unlink_account(
    session: AsyncSession, account: Account, chat_id: int, tell: Kind, *, by_mail: bool
) -> None:
    """Unlink ``account`` from ``chat_id`` and tell the side that did not do it: the account
    holder by mail, or the chat in Telegram."""
    await _drop_queued(session, chat_id, account.id, UNLINKED)
    account.telegram_chat_id = None
    # Flushed now: the chat (or the account) is linked anew right after, and the unique
    # constraint must see this first.
    await session.flush()
    if by_mail:
        _tell_account(session, tell, account)
    else:
        await _tell_chat(session, chat_id, tell, account)


async def link_chat(session: AsyncSession, chat: ChatInfo, code: str) -> Linked:
    """``/start <code>``: link the chat to the code's account. A chat linked to another
    account moves (that account is told by mail); an account linked in another chat moves
    too (that chat is told in Telegram)."""
    _private(chat)
    try:
        token = await tokens.consume(session, normalise_code(code), tokens.TELEGRAM_LINK)
    except LinkExpired:
        raise LinkExpired(CODE_DEAD) from None
    account = await session.get(Account, token.account_id, with_for_update=True)
    if account is None or not account.active:
        raise PermissionDenied(ACCOUNT_INACTIVE)
    actor = Actor.of(account, Channel.TELEGRAM)
    access.require(access.can_link_telegram(actor), NOT_FOR_STAFF)
    row = await _chat_row(session, chat.id, lock=True)
    row.blocked_at = None
    already = account.telegram_chat_id == chat.id
    previous = await _linked_account(session, chat.id)
    previous_username = None
    if previous is not None and previous.id != account.id:
        previous_username = previous.username
        await _unlink_account(session, previous, chat.id, Kind.TELEGRAM_MOVED, by_mail=True)
        audit.record(
            session, actor, "telegram.unlink", subject=previous, chat_id=chat.id, why="moved"
        )
    old_chat = account.telegram_chat_id
    if old_chat is not None and old_chat != chat.id:
        await _unlink_account(session, account, old_chat, Kind.TELEGRAM_MOVED, by_mail=False)
        _forget(await _chat_row(session, old_chat))
    if not already:
        _forget(row)
        account.telegram_chat_id = chat.id
    audit.record(
        session,
        actor,
        "telegram.link",
        subject=account,
        chat_id=chat.id,
        via=token.data.get("via", "web"),
        moved_from_chat=old_chat if old_chat != chat.id else None,
        moved_from_account=previous.id if previous_username else None,
    )
    return Linked(
        account_id=account.id,
        username=account.username,
        name=account.name,
        language=account.language,
        already=already,
        previous_username=previous_username,
        previous_chat=old_chat is not None and old_chat != chat.id,
    )


def _address_key(email: str) -> str:
    # Counted under a digest: whatever someone types is not kept.
    return "mail:" + hashlib.sha256(email.lower().encode()).hexdigest()[:40]


async def request_link_by_email(
    session: AsyncSession, settings: Settings, chat: ChatInfo, email: str
) -> None:
    """``/start`` without a code, then an address: if it is an active client's (or an
    intermediary's) account without two-step verification, mail it a code. Returns nothing
    either way, so the chat learns nothing of who has an account; at most
    TELEGRAM_LINK_PER_CHAT and TELEGRAM_LINK_PER_ADDRESS tries, known address or not."""
    _private(chat)
    address = clean_email(email)
    for key, limit in (
        (f"chat:{chat.id}", throttle.TELEGRAM_LINK_PER_CHAT),
        (_address_key(address), throttle.TELEGRAM_LINK_PER_ADDRESS),
    ):
        counted = await throttle.count(session, key, (limit,))
        if counted.refuse_for:
            raise throttle.too_many(TOO_MANY, counted.refuse_for)
    found = list(
        await session.scalars(
            select(Account)
            .where(func.lower(Account.email) == address.lower(), Account.active.is_(True))
            .limit(2)
        )
    )
    if len(found) != 1:
        return
    account = found[0]
    actor = Actor.of(account, Channel.TELEGRAM)
    # Two-step verification guards the account: a mailbox alone must not open it in a chat.
    if not access.can_link_telegram(actor) or account.two_factor is not TwoFactorMethod.NONE:
        return
    link = await _issue(session, settings, account, {"via": "email", "chat_id": chat.id})
    account_mail(
        session,
        Kind.TELEGRAM_LINK,
        account,
        data={
            "secret_code": link.display,
            "minutes": LINK_CODE_MINUTES,
            "bot": link.bot_username or "",
            **({"secret_link": link.deep_link} if link.deep_link else {}),
        },
        key=tokens.digest(link.code)[:16],
        token=link.code,
    )
    audit.record(session, actor, "telegram.link_mail", subject=account, chat_id=chat.id)


async def unlink(session: AsyncSession, who: Actor | int) -> bool:
    """End a link. From the chat (``/unlink``: the chat id, or the chat's Actor) the account
    holder is told by mail; from My details (a web Actor) the chat is told in Telegram.
    False when there was nothing linked."""
    if isinstance(who, int):
        account = await _linked_account(session, who)
        by_chat = True
    else:
        account = await session.get(Account, who.account_id) if who.account_id else None
        by_chat = who.channel is Channel.TELEGRAM
    if account is None or account.telegram_chat_id is None:
        return False
    chat_id = account.telegram_chat_id
    await _unlink_account(session, account, chat_id, Kind.TELEGRAM_UNLINKED, by_mail=by_chat)
    _forget(await _chat_row(session, chat_id))
    actor = who if isinstance(who, Actor) else _chat_actor(account)
    audit.record(
        session,
        actor,
        "telegram.unlink",
        subject=account,
        chat_id=chat_id,
        why="chat" if by_chat else actor.channel.value,
    )
    return True


# --- updates and sending -------------------------------------------------------------------


async def claim_update(session: AsyncSession, update_id: int) -> bool:
    """Record ``update_id`` as handled, in the unit of work of its effect. False: another
    unit of work (now or before a restart) has it already, so nothing is to be done."""
    stmt = (
        dialect_insert(session, TelegramUpdate)
        .values(update_id=update_id, handled_at=utcnow())
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(TelegramUpdate.update_id)
    )
    return (await session.scalar(stmt)) is not None


async def purge_updates(session: AsyncSession, keep: dt.timedelta = UPDATES_KEPT) -> int:
    """Forget handled updates older than ``keep`` (Telegram redelivers for a day at most)."""
    result = await session.execute(
        delete(TelegramUpdate).where(TelegramUpdate.handled_at < utcnow() - keep)
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class Delivery:
    """What a bot message in a chat carried: the dossier, and the portal message if any."""

    dossier_id: int | None
    portal_message_id: int | None
    outbox_item_id: int | None


async def record_delivery(
    session: AsyncSession, chat_id: int, message_id: int, item: OutboxItem
) -> None:
    """Remember that the bot message ``message_id`` in ``chat_id`` carried ``item``, so that a
    reply to it is filed in the item's dossier (as an answer to its message, if it was one)."""
    portal_message = item.payload.get("message_id") if item.kind == Kind.NEW_MESSAGE else None
    stmt = (
        dialect_insert(session, TelegramDelivery)
        .values(
            chat_id=chat_id,
            message_id=message_id,
            outbox_item_id=item.id,
            dossier_id=item.dossier_id,
            portal_message_id=portal_message if isinstance(portal_message, int) else None,
            sent_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["chat_id", "message_id"])
    )
    await session.execute(stmt)


async def delivery_for(session: AsyncSession, chat_id: int, message_id: int) -> Delivery | None:
    """What the bot message ``message_id`` in ``chat_id`` carried, or None (a question, an
    answer, anything that was not a notification). Whether the chat's account may still see
    that dossier is the services' to check, as for any other request."""
    row = await session.get(TelegramDelivery, (chat_id, message_id))
    if row is None:
        return None
    return Delivery(row.dossier_id, row.portal_message_id, row.outbox_item_id)


async def reserve_send(session: AsyncSession, chat_id: int, now: float) -> float:
    """Take the next slot for a message to ``chat_id`` and return how many seconds to wait
    for it (``now``: time.time()). One statement, atomic on both databases, so that bot and
    worker processes together send at most one message a second to a chat. Commit before
    waiting: on SQLite the write lock is held until then."""
    next_slot = case(
        (TelegramChat.next_send_at > now, TelegramChat.next_send_at + SEND_INTERVAL),
        else_=now + SEND_INTERVAL,
    )
    stamp = utcnow()
    stmt = (
        dialect_insert(session, TelegramChat)
        .values(
            chat_id=chat_id, next_send_at=now + SEND_INTERVAL, created_at=stamp, updated_at=stamp
        )
        .on_conflict_do_update(index_elements=["chat_id"], set_={"next_send_at": next_slot})
        .returning(TelegramChat.next_send_at)
    )
    slot = float(await session.scalar(stmt))
    return max(0.0, slot - SEND_INTERVAL - now)


# What may go to a chat that is no longer the account's: the news that the link ended.
ABOUT_THE_LINK = frozenset({Kind.TELEGRAM_UNLINKED.value, Kind.TELEGRAM_MOVED.value})


async def why_not_send(session: AsyncSession, item: OutboxItem) -> str | None:
    """Why the outbox item must not go to its chat now (the reason it fails with), or None.
    A chat that blocked the bot gets nothing; a dossier's news goes only to the chat still
    linked to the item's account, and only while that account is active (an item queued
    before /unlink or a move must not reach the chat after it)."""
    try:
        chat_id = int(item.recipient)
    except ValueError:
        return f"not sent: {item.recipient!r} is not a Telegram chat"
    row = await session.get(TelegramChat, chat_id, populate_existing=True)
    if row is not None and row.blocked_at is not None:
        return BLOCKED
    if item.kind in ABOUT_THE_LINK:
        return None
    account = await session.get(Account, item.account_id) if item.account_id else None
    if account is None or not account.active or account.telegram_chat_id != chat_id:
        return UNLINKED
    return None


async def mark_blocked(session: AsyncSession, chat_id: int) -> int:
    """Telegram answered 403 (the person blocked the bot): nothing more goes to the chat until
    they write to it again; what waits for it ends as failed, with the reason. Returns how
    many waiting messages that were."""
    row = await _chat_row(session, chat_id)
    account = await _linked_account(session, chat_id)
    if row.blocked_at is None:
        row.blocked_at = utcnow()
        audit.record(
            session,
            Actor.system(Channel.TELEGRAM),
            "telegram.blocked",
            subject=account,
            chat_id=chat_id,
        )
    result = await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.channel == "telegram",
            OutboxItem.recipient == str(chat_id),
            OutboxItem.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.FAILED, last_error=BLOCKED)
    )
    return int(result.rowcount or 0)


# --- what staff see ------------------------------------------------------------------------


async def telegram_status(
    session: AsyncSession, accounts: Iterable[Account]
) -> dict[int, TelegramStatus]:
    """Per account: linked to a chat, and whether that chat blocked the bot."""
    linked = {a.telegram_chat_id: a.id for a in accounts if a.telegram_chat_id is not None}
    out = {chat_account: TelegramStatus(linked=True) for chat_account in linked.values()}
    if linked:
        rows = await session.execute(
            select(TelegramChat.chat_id, TelegramChat.blocked_at).where(
                TelegramChat.chat_id.in_(list(linked)), TelegramChat.blocked_at.is_not(None)
            )
        )
        for chat_id, blocked_at in rows:
            out[linked[chat_id]] = TelegramStatus(linked=True, blocked_at=blocked_at)
    return out


async def blocked_accounts(
    session: AsyncSession, actor: Actor
) -> list[tuple[Account, dt.datetime]]:
    """Accounts whose linked chat blocked the bot, newest first, for staff (as bounces)."""
    access.require(access.can_manage_firm(actor), "Only staff may see the outbox.")
    rows = await session.execute(
        select(Account, TelegramChat.blocked_at)
        .join(TelegramChat, TelegramChat.chat_id == Account.telegram_chat_id)
        .where(TelegramChat.blocked_at.is_not(None))
        .order_by(TelegramChat.blocked_at.desc())
    )
    return [(account, blocked_at) for account, blocked_at in rows]
