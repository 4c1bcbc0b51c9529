"""loket client invite, loket outbox send."""

from __future__ import annotations

import argparse

from core import outbox
from core.actor import Actor
from core.services import accounts, auth

from ..output import emit
from ..runtime import Runtime
from ..senders import open_senders

SYSTEM = Actor.system()


async def client_invite(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.begin() as s:
        account = await accounts.account_by_username(s, args.account)
        await auth.invite(s, SYSTEM, rt.settings, account)
    # Queued either way: `loket serve` (its outbox worker) or `loket outbox send` sends it.
    where = (
        "queued; `loket serve` or `loket outbox send` sends it"
        if rt.settings.smtp_host
        else "queued in the outbox (no SMTP server set)"
    )
    emit(
        args.json,
        {"id": account.id, "username": account.username, "email": account.email},
        f"Invitation for {account.username} <{account.email}> {where}.",
    )


async def outbox_send(rt: Runtime, args: argparse.Namespace) -> None:
    async with open_senders(rt.settings, rt.db) as senders:
        result = await outbox.run_once(rt.db, senders, rt.settings, limit=args.limit)
    data = {
        "id": "outbox",
        "sent": result.sent,
        "retrying": result.retrying,
        "failed": result.failed,
        "errors": result.errors,
        "channels": sorted(senders),
    }
    if not senders:
        human = (
            "Nothing can be sent: set LOKET_SMTP_HOST to send mail, LOKET_TELEGRAM_TOKEN for "
            "Telegram."
        )
    else:
        human = f"Sent {result.sent}, to retry {result.retrying}, failed {result.failed}."
        human += "".join(f"\n  {e}" for e in result.errors)
    emit(args.json, data, human)
