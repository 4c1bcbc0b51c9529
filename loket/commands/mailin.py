"""loket mail fetch, loket mail quarantine, loket mail file."""

from __future__ import annotations

import argparse

from core.actor import Actor
from core.clock import firm_time
from core.services import quarantine

from ..output import emit
from ..runtime import Runtime

SYSTEM = Actor.system()


def _row(w: quarantine.Waiting) -> dict:
    r = w.mail
    return {
        "id": r.id,
        "received_at": r.received_at.isoformat(),
        "sender": r.sender,
        "subject": r.subject,
        "outcome": r.outcome,
        "reason": r.reason,
        "suggested_dossier": w.suggested,
        "path": r.path,
    }


def _line(w: quarantine.Waiting, timezone: str) -> str:
    r = w.mail
    reason = (r.reason or "").splitlines()[0] if r.reason else ""
    where = f"file into {w.suggested}" if w.suggested else "no dossier found: give --dossier"
    at = firm_time(r.received_at, timezone, "%Y-%m-%d %H:%M")
    return (
        f"  {r.id:>6}  {at}  {r.sender or '?':<30}  {r.subject or ''}"
        f"\n          why: {reason}\n          {where}"
    )


async def quarantine_list(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.read() as s:
        rows = await quarantine.waiting(s, SYSTEM, limit=args.limit)
    lines = [f"{len(rows)} mail(s) in quarantine"] + [_line(w, rt.settings.timezone) for w in rows]
    emit(args.json, [_row(w) for w in rows], "\n".join(lines))


async def file_mail(rt: Runtime, args: argparse.Namespace) -> None:
    from mailbridge.filing import file_from_quarantine

    filed = await file_from_quarantine(rt.db, rt.store, rt.settings, SYSTEM, args.id, args.dossier)
    emit(
        args.json,
        {"id": filed.inbound_id, "message_id": filed.message_id, "dossier": filed.dossier_number},
        f"Mail {args.id} filed in dossier {filed.dossier_number} as message {filed.message_id}.",
    )


async def fetch(rt: Runtime, args: argparse.Namespace) -> None:
    import asyncio

    import aioimaplib

    from mailbridge.imap import ImapError, ImapSource
    from mailbridge.pipeline import Pipeline
    from mailbridge.reader import MailReader

    from ..config import ConfigError

    s = rt.settings
    if not s.imap_host:
        raise ConfigError("No IMAP mailbox is set: set LOKET_IMAP_HOST (and _USER, _PASSWORD).")
    server = f"the IMAP server {s.imap_host}:{s.imap_port}"
    reader = MailReader()
    source = ImapSource(s, Pipeline(rt.db, rt.store, s, reader=reader))
    try:
        try:
            await source.connect()
        except ImapError as exc:
            raise ConfigError(f"{server} refused: {exc} (check LOKET_IMAP_*).") from None
        except (OSError, aioimaplib.Abort, asyncio.IncompleteReadError) as exc:
            # OSError includes TimeoutError and ssl.SSLError.
            reason = str(exc) or type(exc).__name__
            raise ConfigError(f"Cannot reach {server}: {reason}.") from None
        try:
            counts = await source.fetch_once()
        except (
            ImapError,
            aioimaplib.AioImapException,  # Abort, or CommandTimeout: the connection was lost
            asyncio.IncompleteReadError,
            TimeoutError,
        ) as exc:
            reason = str(exc) or type(exc).__name__
            raise ConfigError(f"{server} stopped answering: {reason}.") from None
    finally:
        await source.close()
        reader.close()
    total = sum(counts.values())
    human = f"{total} mail(s) handled" + "".join(f"\n  {k}: {v}" for k, v in sorted(counts.items()))
    emit(args.json, {"id": "fetch", "handled": total, "outcomes": counts}, human)
