"""Mail in → message: one pipeline of small steps, each passing the mail on or ending it with
a recorded outcome (stored, quarantined, ignored, bounced) and the reason.

Every mail but an exact duplicate leaves an InboundMail record with the steps it went
through. Any unexpected error sends the raw mail to quarantine with the error: a mail is never
lost and never blocks the ones behind it. The caller acknowledges the mail on its server only
after ``handle`` returns.

One mail is one unit of work: the first step that needs the database opens the transaction
(``Pipeline.session``) and every later step, the outcome record and the message share it. So
the duplicate check, the rate count, the dossier found and the stored message are one
consistent view, and the steps before it (keeping the original, parsing, header rules) run
without holding SQLite's write lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import traceback
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flufl.bounce import all_failures
from sqlalchemy.ext.asyncio import AsyncSession

from core import logcontext, metrics, replytokens
from core.actor import Actor
from core.db import Database
from core.errors import LoketError, TooLarge
from core.models import MAX_BODY_LENGTH, Channel
from core.services import checklists, inbound
from core.services.documents import Upload
from core.settings import Settings
from core.storage import FileStore, StoredFile

from . import authresults
from .parse import ParsedMail
from .reader import MailReader, Raw, read_in_thread

log = logging.getLogger(__name__)

STORED, QUARANTINED, IGNORED, BOUNCED, DUPLICATE = (
    "stored",
    "quarantined",
    "ignored",
    "bounced",
    "duplicate",
)
RAW_LIMIT_FACTOR = 4
# Hashing a mail larger than this goes to a worker thread (hashlib releases the GIL there).
HASH_IN_THREAD = 1024 * 1024
LOOP_HEADER = "X-Loket-Kind"


class Stop(Exception):
    """``code``: for quarantine, which of inbound.REASON_LABELS staff read."""

    def __init__(
        self, outcome: str, reason: str, *, no_dossier: bool = False, code: str | None = None
    ) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.code = code
        self.no_dossier = no_dossier  # quarantined because no dossier could be found


@dataclass
class Incoming:
    raw: Raw  # the mail's bytes, or the file that holds them (a large mail)
    mailbox: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    sha256: str = ""
    body_sha256: str = ""
    raw_key: str | None = None
    raw_write: asyncio.Future[StoredFile] | None = None
    parsing: asyncio.Future[ParsedMail] | None = None
    mail: ParsedMail | None = None
    history: inbound.History | None = None
    match: inbound.Match | None = None
    # The matched dossier's id, kept apart from ``match``: after an error the unit of work is
    # rolled back and the Dossier object can no longer be read, but the quarantine record
    # still says which dossier the mail was for.
    dossier_id: int | None = None
    reply: str = ""
    uploads: list[Upload] = field(default_factory=list)
    too_large: list[str] = field(default_factory=list)  # attachments left out for their size
    extra: list[Upload] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    session: AsyncSession | None = None
    unit: AsyncExitStack = field(default_factory=AsyncExitStack)


@dataclass
class Result:
    outcome: str
    reason: str | None
    inbound_id: int | None = None
    message_id: int | None = None


Step = Callable[["Pipeline", Incoming], Awaitable[None]]


# --- the steps, in order -------------------------------------------------------------------


async def deduplicate(p: Pipeline, m: Incoming) -> None:
    """Also reads what the rate rule and ``delivered_before`` need of the inbound records,
    in the same statement (``inbound.history``)."""
    mail = m.mail
    assert mail is not None
    m.history = await inbound.history(
        await p.session(m),
        sha256=m.sha256,
        mailbox=m.mailbox,
        uidvalidity=m.uidvalidity,
        uid=m.uid,
        sender=mail.sender,
        minutes=p.settings.mail_rate_minutes,
        email_message_id=mail.message_id,
        body_sha256=m.body_sha256,
    )
    if m.history.handled:
        raise Stop(DUPLICATE, "already handled")


async def keep_raw(p: Pipeline, m: Incoming) -> None:
    """The original, as it came, for staff (and for filing from quarantine). Written in a
    worker thread while the next steps parse; the outcome record waits for it (``_raw_kept``).
    A source may have started the write already (``Pipeline.start_keeping``)."""
    if m.raw_write is None:
        m.raw_write = p.start_keeping(m.raw)


async def _raw_kept(m: Incoming, *, strict: bool) -> None:
    """Wait for the original to be on disk. ``strict``: a failure to write it is the mail's
    error (it goes to quarantine); otherwise it is only noted."""
    write, m.raw_write = m.raw_write, None
    if write is None:
        return
    try:
        m.raw_key = (await write).key
    except TooLarge:
        m.notes.append("the original is too large to keep")
    except Exception as exc:
        if strict:
            raise
        m.notes.append(f"the original could not be kept: {type(exc).__name__}")


async def parse_mail(p: Pipeline, m: Incoming) -> None:
    if m.parsing is None:
        m.parsing = p.start_reading(m.raw)
    m.mail = await m.parsing
    m.notes += m.mail.notes
    if not m.mail.sender:
        raise Stop(QUARANTINED, "no sender address", code="no_sender")
    senders = sorted({a.lower() for a in m.mail.senders})
    if len(senders) > 1:
        # Whose mail is it? Mail clients show one of them, and not always the first.
        raise Stop(
            QUARANTINED,
            "more than one sender address: " + ", ".join(senders)[:300],
            code="several_senders",
        )


def _automatic(mail: ParsedMail, settings: Settings) -> str | None:
    auto = mail.header("Auto-Submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if mail.header(name) and name != "X-Auto-Response-Suppress":
            return f"{name} header"
    precedence = mail.header("Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    if mail.header(LOOP_HEADER) or mail.sender.lower() == settings.mail_from.lower():
        return "mail from Loket itself (loop)"
    return None


def _is_report(mail: ParsedMail) -> bool:
    return (
        mail.content_type == "multipart/report"
        or re.match(r"(mailer-daemon|postmaster)@", mail.sender.lower()) is not None
    )


async def drop_automatic(p: Pipeline, m: Incoming) -> None:
    mail = m.mail
    assert mail is not None
    if _is_report(mail):
        return  # delivery reports are the next step's
    reason = _automatic(mail, p.settings)
    if reason is None and mail.header("Return-Path") == "<>":
        reason = "empty Return-Path"
    if reason:
        raise Stop(IGNORED, reason)


async def rate_limit(p: Pipeline, m: Incoming) -> None:
    """A sender whose mails became more than the set number of messages in a short time
    (a mail loop, a server resending) is not filed on: the rest waits in quarantine, where
    staff can file it, so a client who really sends 30 scans loses none."""
    mail = m.mail
    assert mail is not None
    if _is_report(mail):
        return
    settings = p.settings
    assert m.history is not None
    if m.history.filed_recently >= settings.mail_rate_per_sender:
        raise Stop(
            QUARANTINED,
            f"more than {settings.mail_rate_per_sender} mails from this sender"
            f" in {settings.mail_rate_minutes} minutes",
            code="rate_limited",
        )


def delivery_failures(mail: ParsedMail) -> tuple[frozenset[bytes], frozenset[bytes]]:
    """(temporarily, permanently) failing addresses in a delivery report, by flufl.bounce's
    detectors; a report none of them understands gives nothing."""
    try:
        return all_failures(mail.msg)
    except Exception:
        return frozenset(), frozenset()


async def bounces(p: Pipeline, m: Incoming) -> None:
    mail = m.mail
    assert mail is not None
    if not _is_report(mail) and mail.header("Return-Path") != "<>":
        return
    temporary, permanent = delivery_failures(mail)
    if not (temporary or permanent):
        raise Stop(IGNORED, "automatic mail without a delivery failure")
    failed = sorted(a.decode(errors="replace") for a in permanent)
    if failed:
        s = await p.session(m)
        for address in failed:
            await inbound.mark_failing(s, address, f"bounced: {mail.subject[:200]}")
        raise Stop(BOUNCED, "permanent failure for " + ", ".join(failed))
    raise Stop(BOUNCED, "temporary failure for " + ", ".join(a.decode() for a in sorted(temporary)))


async def authenticity(p: Pipeline, m: Incoming) -> None:
    """DMARC or DKIM failures, as seen by the firm's own receiving server only."""
    authserv = p.settings.mail_authserv_id
    mail = m.mail
    assert mail is not None
    for text in authresults.ours(mail.authentication_results, authserv):
        results = authresults.read(text)
        if any(r.method in ("dmarc", "dkim") and r.result == "fail" for r in results):
            raise Stop(
                QUARANTINED,
                f"authentication failed at {authserv}: {text[:200]}",
                code="not_authentic",
            )


async def identify(p: Pipeline, m: Incoming) -> None:
    mail = m.mail
    assert mail is not None
    s = await p.session(m)
    try:
        token = replytokens.find_token(p.settings.reply_address, mail.recipients)
        match = None
        if token is not None:
            match = await inbound.by_token(s, p.settings.secret_key, token, mail.sender)
        if match is None:
            match = await inbound.by_thread(s, mail.in_reply_to, mail.sender)
        if match is None:
            match = await inbound.by_subject(s, mail.dossier_numbers, mail.sender)
    except inbound.Refused as exc:
        raise Stop(QUARANTINED, exc.reason, code=exc.code) from None
    if match is None:
        raise Stop(
            QUARANTINED, "no dossier found for this mail", no_dossier=True, code="no_dossier"
        )
    m.match = match
    m.dossier_id = match.dossier.id  # kept in quarantine too: the dossier staff may file it in
    authserv = p.settings.mail_authserv_id
    verified = inbound.sender_verified(
        authresults.results(mail.authentication_results, authserv), mail.sender
    )
    refused = inbound.unverified(match, verified, authserv)
    if refused:
        raise Stop(QUARANTINED, refused, code="unverified")


async def delivered_before(p: Pipeline, m: Incoming) -> None:
    """A copy of a mail already filed (the bytes differ by a header a server added, so
    ``deduplicate`` did not see it) is recorded, not filed twice."""
    mail, match = m.mail, m.match
    assert mail is not None and match is not None and m.history is not None
    # Only when a copy was filed in some dossier (rarely) is it asked whether in this one.
    if (
        mail.message_id
        and m.history.copy_filed
        and await inbound.already_filed(
            await p.session(m), match, mail.sender, mail.message_id, m.body_sha256
        )
    ):
        raise Stop(IGNORED, "a copy of a mail already filed in this dossier")


async def readable(p: Pipeline, m: Incoming) -> None:
    """Encrypted mail (or mail signed inside an opaque wrapper) cannot be turned into text
    here; staff see it in quarantine, and the client hears that it was not filed."""
    mail = m.mail
    assert mail is not None
    if mail.sealed:
        raise Stop(QUARANTINED, f"the mail is {mail.sealed} and cannot be read", code="sealed")


def filed_text(mail: ParsedMail) -> str:
    """What of the mail's text goes into the dossier (``ParsedMail.filed_text``: read in the
    parsing worker, with the mail)."""
    return mail.filed_text


async def body(p: Pipeline, m: Incoming) -> None:
    mail = m.mail
    assert mail is not None
    reply = filed_text(mail)
    if not reply.strip():
        reply = "(no text)"
    if len(reply) > MAX_BODY_LENGTH:
        try:
            stored = await p.store.put_bytes(reply.encode())
        except TooLarge:
            stored = None
        if stored is not None:
            m.extra.append(Upload("message.txt", None, "text/plain; charset=utf-8", stored=stored))
            ending = "(the whole text is filed as message.txt)"
        else:
            m.notes.append("the whole text is too large to file; the original mail is kept")
            ending = "(the text is cut here)"
        reply = reply[: MAX_BODY_LENGTH - 100].rstrip() + "\n\n[…] " + ending
    m.reply = reply


async def attachments(p: Pipeline, m: Incoming) -> None:
    mail = m.mail
    assert mail is not None
    wanted = [a for a in mail.attachments if not a.inline]
    if len(wanted) > p.settings.mail_max_attachments:
        raise Stop(
            QUARANTINED, f"too many attachments ({len(wanted)})", code="too_many_attachments"
        )
    for attachment in wanted:
        if not attachment.size:
            m.notes.append(f"attachment {attachment.filename!r} was empty")
            continue
        try:
            if attachment.spooled is not None:  # a large file: streamed from its spool file
                try:
                    stored = await p.store.put_file(Path(attachment.spooled.path))
                finally:
                    attachment.spooled.discard()
            else:
                stored = await p.store.put_bytes(attachment.data)
        except TooLarge:
            m.notes.append(f"attachment {attachment.filename!r} was over the size limit")
            m.too_large.append(attachment.filename)
            continue
        m.uploads.append(Upload(attachment.filename, None, attachment.content_type, stored=stored))


def _hashes_now(raw: bytes) -> tuple[str, str]:
    """The hash of the whole mail and of its body (after the first empty line)."""
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := raw.find(sep)) >= 0]
    body = memoryview(raw)[min(ends) :] if ends else b""  # a view: a large mail is not copied
    return hashlib.sha256(raw).hexdigest(), hashlib.sha256(body).hexdigest()


def _file_hashes(path: Path) -> tuple[str, str]:
    """``_hashes_now`` for a mail in a file, read a block at a time."""
    whole, body = hashlib.sha256(), hashlib.sha256()
    in_body = False
    tail = b""  # the end of the block before, where an empty line may begin
    with open(path, "rb") as fh:
        while block := fh.read(HASH_IN_THREAD):
            whole.update(block)
            if in_body:
                body.update(block)
                continue
            window = tail + block
            ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := window.find(sep)) >= 0]
            if ends:
                in_body = True
                body.update(window[min(ends) :])
            tail = window[-3:]
    return whole.hexdigest(), body.hexdigest()


async def _hashes(raw: Raw) -> tuple[str, str]:
    if isinstance(raw, Path):
        return await asyncio.to_thread(_file_hashes, raw)
    if len(raw) > HASH_IN_THREAD:
        return await asyncio.to_thread(_hashes_now, raw)
    return _hashes_now(raw)


def forget_reading(parsing: asyncio.Future[Any] | None) -> None:
    """A parse (or a write of the original) that will not be waited for: cancelled, or its
    outcome marked as seen."""
    if parsing is None:
        return
    if not parsing.done():
        parsing.cancel()
    elif not parsing.cancelled():
        parsing.exception()


STEPS: list[Step] = [
    keep_raw,
    parse_mail,
    drop_automatic,
    authenticity,
    deduplicate,
    rate_limit,
    bounces,
    identify,
    delivered_before,
    readable,
    body,
    attachments,
]


async def _file_requested(
    session: AsyncSession, store: FileStore, match: inbound.Match, uploads: list[Upload]
) -> str | None:
    """File a scan sent to a question's own address against that question. Where it cannot
    be (the checklist is submitted or approved, or not the sender's to fill in), the mail is
    kept as an ordinary delivery, and the reason returned is recorded with it."""
    assert match.account is not None and match.checklist_id is not None
    actor = Actor.of(match.account, Channel.EMAIL)
    try:
        async with session.begin_nested():
            await checklists.file_requested_document(
                session, store, actor, match.checklist_id, match.question or 0, uploads
            )
    except LoketError as exc:
        return (
            f"not filed as an answer to checklist {match.checklist_id}: {exc} "
            "Kept as a message with its attachments."
        )
    return None


class Pipeline:
    def __init__(
        self,
        db: Database,
        store: FileStore,
        settings: Settings,
        *,
        reader: MailReader | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.settings = settings
        self.reader = reader

    def start_reading(self, raw: Raw) -> asyncio.Future[ParsedMail]:
        """Start parsing ``raw`` off the event loop. A source may call this as soon as it has
        the next mail, so that it is parsed while the one before is stored; ``handle`` takes
        the result as ``parsing``."""
        reading = self.reader.read(raw) if self.reader is not None else read_in_thread(raw)
        return asyncio.ensure_future(reading)

    def start_keeping(self, raw: Raw) -> asyncio.Future[StoredFile]:
        """Start writing the original ``raw`` to the store (``keep_raw``). A source may call
        this as soon as it has a mail, so that the write (and its fsync, in a thread) is done
        by the time the mail's outcome is recorded; ``handle`` takes it as ``keeping``."""
        limit = self.settings.upload_limit * RAW_LIMIT_FACTOR
        if isinstance(raw, Path):  # streamed from its file
            return asyncio.ensure_future(self.store.put_file(raw, limit=limit))
        return asyncio.ensure_future(self.store.put_bytes(raw, limit=limit))

    def start_reading_all(self, raws: list[Raw]) -> list[asyncio.Future[ParsedMail]]:
        """``start_reading`` for a batch of mails, in one job of the reader."""
        if self.reader is not None:
            return self.reader.read_all(raws)
        return [self.start_reading(raw) for raw in raws]

    async def handle(
        self,
        raw: Raw,
        *,
        mailbox: str | None = None,
        uidvalidity: int | None = None,
        uid: int | None = None,
        parsing: asyncio.Future[ParsedMail] | None = None,
        keeping: asyncio.Future[StoredFile] | None = None,
    ) -> Result:
        """Run ``raw`` through the steps. A mail given as a file (a ``Path``) is read from
        it and stays the caller's, to remove once this returns. ``keeping``: the write of
        the original, if the caller started it (``start_keeping``); it is waited for here."""
        m = Incoming(
            raw=raw,
            mailbox=mailbox,
            uidvalidity=uidvalidity,
            uid=uid,
            parsing=parsing,
            raw_write=keeping,
        )
        try:
            m.sha256, m.body_sha256 = await _hashes(raw)
            # A mail's lines carry the start of its sha256, which its InboundMail row keeps.
            with logcontext.bound(**{logcontext.MAIL: m.sha256[:16]}):
                result = await self._handle(m)
            metrics.MAILS.inc(result.outcome)
            return result
        finally:
            forget_reading(m.parsing)

    async def _handle(self, m: Incoming) -> Result:
        try:
            async with m.unit:
                return await self._run(m)
        except Exception as exc:  # whatever it is, the mail goes to quarantine with the error
            # The unit of work was rolled back; the quarantine record gets a fresh one.
            log.exception("inbound mail failed in step %s", m.path[-1] if m.path else "?")
            metrics.MAIL_FAILURES.inc()
            reason = f"error in {m.path[-1] if m.path else '?'}: {type(exc).__name__}: {exc}"
            tail = traceback.format_exc(limit=3)[-1500:]
            m.session, m.unit = None, AsyncExitStack()
            async with m.unit:
                return await self._record(m, QUARANTINED, f"{reason}\n{tail}", code="error")

    async def session(self, m: Incoming) -> AsyncSession:
        """The mail's unit of work, begun by the first step that asks for it."""
        if m.session is None:
            m.session = await m.unit.enter_async_context(self.db.begin())
        return m.session

    async def _run(self, m: Incoming) -> Result:
        try:
            for step in STEPS:
                m.path.append(step.__name__)
                await step(self, m)
        except Stop as stop:
            if stop.outcome == DUPLICATE:
                await _raw_kept(m, strict=False)  # the same bytes are stored already
                return Result(DUPLICATE, stop.reason)
            return await self._record(
                m, stop.outcome, stop.reason, no_dossier=stop.no_dossier, code=stop.code
            )
        m.path.append("store")
        return await self._store(m)

    def _row(
        self, m: Incoming, outcome: str, reason: str | None, code: str | None = None
    ) -> dict[str, Any]:
        """The mail's InboundMail row, as the columns ``inbound.record`` writes."""
        mail = m.mail
        notes = "; ".join(m.notes)
        return {
            "mailbox": m.mailbox,
            "uidvalidity": m.uidvalidity,
            "uid": m.uid,
            "message_id_header": (mail.message_id if mail else None),
            "sha256": m.sha256,
            "body_sha256": m.body_sha256,
            "sender": (mail.sender[:320] if mail else None),
            "subject": (mail.subject[:1000] if mail else None),
            "outcome": outcome,
            "reason": "; ".join(x for x in (reason, notes) if x) or None,
            "reason_code": code,
            "path": list(m.path),
            "raw_storage_key": m.raw_key,
            "dossier_id": m.dossier_id,
            "message_id": None,
        }

    async def _record(
        self,
        m: Incoming,
        outcome: str,
        reason: str | None,
        *,
        no_dossier: bool = False,
        code: str | None = None,
    ) -> Result:
        await _raw_kept(m, strict=False)
        s = await self.session(m)
        inbound_id = await inbound.record(s, self._row(m, outcome, reason, code))
        if outcome == QUARANTINED and m.mail is not None and m.mail.sender:
            await inbound.tell_not_filed(s, m.mail.sender, m.mail.subject, no_dossier=no_dossier)
        return Result(outcome, reason, inbound_id=inbound_id)

    async def _store(self, m: Incoming) -> Result:
        mail, match = m.mail, m.match
        assert mail is not None and match is not None
        reply = m.reply
        if m.notes:
            reply = (reply + "\n\n" + "\n".join(f"[{n}]" for n in m.notes))[:MAX_BODY_LENGTH]
        await _raw_kept(m, strict=True)
        s = await self.session(m)
        attachments = m.uploads
        requested = match.checklist_id is not None and match.account is not None
        not_answered = None
        if requested and m.uploads:
            not_answered = await _file_requested(s, self.store, match, m.uploads)
            if not_answered is None:
                attachments = []  # filed against the question instead
        message = await inbound.store_message(
            s,
            self.store,
            match,
            subject=mail.subject,
            body=reply,
            attachments=attachments,
            extra_documents=m.extra,
            email_message_id=mail.message_id,
        )
        inbound.tell_left_out(s, match, message, m.too_large, self.store.limit)
        row = self._row(m, STORED, not_answered)
        row["message_id"] = message.id
        inbound_id = await inbound.record(s, row)
        return Result(STORED, None, inbound_id=inbound_id, message_id=message.id)
