"""loket retention run, loket account erase, loket export."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from core import storekeeping
from core.actor import Actor
from core.models import utcnow
from core.services import erasure, export, retention

from ..export import write_export
from ..output import emit
from ..runtime import Runtime

SYSTEM = Actor.system()
# As `loket store sweep`'s default: an object stamped more recently may be an upload's.
GRACE = dt.timedelta(hours=24)


async def retention_run(rt: Runtime, args: argparse.Namespace) -> None:
    policy = retention.parse_policy(rt.settings.retention)
    now = utcnow()
    if args.dry_run:
        async with rt.db.read() as s:
            removals = await retention.due(s, SYSTEM, policy, now)
        released = None
    else:
        async with rt.db.begin() as s:
            removals = await retention.run(s, SYSTEM, policy, now)
        keys = set().union(*(r.keys for r in removals))
        released = await storekeeping.remove_released(rt.db, rt.store, keys, grace=GRACE)
    dossiers = [
        {
            "id": r.dossier_id,
            "number": r.number,
            "status": r.status,
            "kept_for": r.kept_for,
            "documents": r.documents,
            "messages": r.messages,
            "mails": r.mails,
        }
        for r in removals
    ]
    data = {
        "id": "retention",
        "dry_run": args.dry_run,
        "policy": {status.value: str(period) for status, period in policy.items()},
        "dossiers": dossiers,
        "files_removed": released.removed if released else 0,
        "files_shared": released.shared if released else 0,
        "files_left_to_sweep": released.recent if released else 0,
    }
    if not policy:
        human = "No retention is set (LOKET_RETENTION, e.g. completed=7y): nothing removed."
    else:
        verb = "Would remove" if args.dry_run else "Removed"
        lines = [
            f"{verb} in {r.number} ({r.status} longer than {r.kept_for}): "
            f"{len(r.documents)} document(s), {len(r.messages)} message(s), "
            f"{len(r.mails)} mail record(s)."
            for r in removals
        ] or [f"Nothing is past its retention ({data['policy']})."]
        if released is not None and removals:
            lines.append(
                f"Stored files: {released.removed} removed, {released.shared} still used by other "
                f"records, {released.recent} left to `loket store sweep`."
            )
        human = "\n".join(lines)
    emit(args.json, data, human)


async def account_erase(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.begin() as s:
        erased = await erasure.erase_account(s, SYSTEM, args.username)
    released = await storekeeping.remove_released(rt.db, rt.store, erased.keys, grace=GRACE)
    removed = erased.removed | {"stored_mail_files": released.removed}
    data = {
        "id": erased.account_id,
        "username": f"erased-{erased.account_id}",
        "previous_username": erased.username,
        "removed": removed,
        "kept": erased.kept,
    }
    kept = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in erased.kept.items() if n)
    emit(
        args.json,
        data,
        f"Erased {erased.username} (now erased-{erased.account_id}, inactive): name, email "
        "address, phone, password, two-step secrets, Telegram link, sessions, links and "
        f"notifications are gone ({sum(removed.values())} record(s) removed). Kept, as the "
        f"firm's records that the law requires: {kept or 'nothing'}; they go with retention.",
    )


async def export_account(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.read() as s:
        data = await export.gather(s, SYSTEM, args.account)
    files = await write_export(data, rt.store, Path(args.path), firm=rt.settings.firm_name)
    emit(
        args.json,
        {
            "id": data.account.id,
            "username": data.account.username,
            "path": args.path,
            "documents": files,
            "dossiers": len(data.dossiers),
            "messages": len(data.messages),
        },
        f"Wrote {args.path}: everything held about {data.account.username} "
        f"({len(data.dossiers)} dossier(s), {len(data.messages)} message(s), {files} document(s)), "
        "with index.html in their language.",
    )
