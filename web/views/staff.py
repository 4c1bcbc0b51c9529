"""Pages for the firm's staff. For now: the demo's caught mail, so a newcomer can follow the
invitation links without a real mailbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import email.utils
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web

from core.errors import NotFound, PermissionDenied
from core.models import Account, OutboxStatus
from core.services import auth, mailstatus, telegram

from ..guards import actor, login_required, safe_next
from ..keys import DB, SETTINGS
from ..params import path_id
from ..render import page

routes = web.RouteTableDef()
_NAME = re.compile(r"[0-9.]+-[0-9a-f]{8}\.eml")
MAX_LISTED = 200


def _require_staff(request: web.Request) -> Path:
    if not actor(request).is_staff:
        raise PermissionDenied("This page is for the firm's staff.")
    folder = request.app[SETTINGS].mail_catcher_dir
    if folder is None:
        raise NotFound("This page does not exist.")
    return folder


def _read(path: Path) -> EmailMessage:
    with path.open("rb") as fh:
        return email.message_from_binary_file(fh, policy=email.policy.default)  # type: ignore[return-value]


def _sent_at(msg: EmailMessage) -> dt.datetime | None:
    """The mail's Date header as a time, to show on the firm's clock like every other."""
    try:
        return email.utils.parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError):
        return None


def _listing(folder: Path) -> list[dict[str, Any]]:
    if not folder.exists():
        return []
    names = sorted((p for p in folder.iterdir() if _NAME.fullmatch(p.name)), reverse=True)
    out = []
    for path in names[:MAX_LISTED]:
        msg = _read(path)
        out.append(
            {
                "name": path.name,
                "to": str(msg.get("To", "")),
                "subject": str(msg.get("Subject", "")),
                "date": _sent_at(msg),
            }
        )
    return out


@routes.get("/staff/mail")
@login_required
async def mail_list(request: web.Request) -> web.StreamResponse:
    folder = _require_staff(request)
    mails = await asyncio.to_thread(_listing, folder)
    return page(request, "staff_mail.html", {"mails": mails})


@routes.get("/staff/mail/{name}")
@login_required
async def mail_show(request: web.Request) -> web.StreamResponse:
    folder = _require_staff(request)
    name = request.match_info["name"]
    if not _NAME.fullmatch(name) or not (folder / name).is_file():
        raise NotFound("This mail was not found.")
    msg = await asyncio.to_thread(_read, folder / name)
    part = msg.get_body(("plain",))
    text = part.get_content() if part is not None else ""
    links = re.findall(r"https?://[^\s<>\"]+", text)
    return page(
        request,
        "staff_mail_show.html",
        {
            "mail": msg,
            "text": text,
            "links": links,
            "headers": list(msg.items()),
            "sent_at": _sent_at(msg),
        },
    )


@routes.post("/staff/accounts/{id:\\d+}/invite")
@login_required
async def invite(request: web.Request) -> web.StreamResponse:
    who = actor(request)
    form = await request.post()
    back = safe_next(str(form.get("back", "/")))
    async with request.app[DB].begin() as s:
        account = await s.get(Account, path_id(request))
        if account is None or not account.active:
            raise NotFound("There is no such account.")
        await auth.invite(s, who, request.app[SETTINGS], account)
    raise web.HTTPSeeOther(f"{back}{'&' if '?' in back else '?'}invited={account.id}")


@routes.get("/staff/outbox")
@login_required
async def outbox_page(request: web.Request) -> web.StreamResponse:
    wanted = request.query.get("status", "")
    status = OutboxStatus(wanted) if wanted in {s.value for s in OutboxStatus} else None
    async with request.app[DB].read() as s:
        items = await mailstatus.outbox(s, actor(request), status=status)
        failing = await mailstatus.failing_addresses(s, actor(request))
        blocked = await telegram.blocked_accounts(s, actor(request))
    return page(
        request,
        "staff_outbox.html",
        {
            "items": items,
            "failing": failing,
            "blocked": blocked,
            "status": wanted,
            "statuses": [s.value for s in OutboxStatus],
        },
    )
