"""Staff: mail waiting in quarantine, with why it waits; each one readable (its text only,
attachments listed), filed into a dossier (the suggested one first, or one found by search)
or discarded. Reading and filing the original is the mail bridge's work: the pages use core's
``MailFiler`` port, handed in by loket/."""

from __future__ import annotations

from aiohttp import web

from core import access
from core.actor import Actor
from core.errors import LoketError, NotFound
from core.services import quarantine
from core.validation import parse_id

from ..guards import actor, login_required
from ..keys import DB, MAIL_FILER
from ..params import path_id
from ..render import page

routes = web.RouteTableDef()


def _staff(request: web.Request) -> Actor:
    who = actor(request)
    if not access.can_manage_firm(who):
        raise NotFound("This page does not exist.")  # not even that the page exists
    return who


async def _listing(
    request: web.Request,
    who: Actor,
    *,
    error: LoketError | None = None,
    failed: int | None = None,
    status: int = 200,
) -> web.Response:
    async with request.app[DB].read() as s:
        waiting = await quarantine.waiting(s, who)
        filed_id = parse_id(request.query.get("filed"))
        filed = await quarantine.filed_into(s, who, filed_id) if filed_id is not None else None
    context = {
        "waiting": waiting,
        "can_file": MAIL_FILER in request.app,
        "filed": filed,
        "discarded": parse_id(request.query.get("discarded")),
        "error": error,
        "failed": failed,
    }
    return page(request, "staff_quarantine.html", context, status=status)


@routes.get("/staff/quarantine")
@login_required
async def listing(request: web.Request) -> web.StreamResponse:
    return await _listing(request, _staff(request))


async def _one(
    request: web.Request,
    who: Actor,
    inbound_id: int,
    *,
    error: LoketError | None = None,
    status: int = 200,
) -> web.Response:
    term = request.query.get("q", "").strip()[:100]
    async with request.app[DB].read() as s:
        waiting = await quarantine.one(s, who, inbound_id)
        found = await quarantine.candidates(s, who, term, suggested=waiting.suggested)
    filer = request.app.get(MAIL_FILER)
    original, unreadable = None, None
    if filer is not None and waiting.mail.raw_storage_key:
        try:
            original = await filer.original(who, inbound_id)
        except LoketError as exc:
            unreadable = exc
    context = {
        "w": waiting,
        "m": waiting.mail,
        "original": original,
        "unreadable": unreadable,
        "candidates": found,
        "q": term,
        "can_file": filer is not None,
        "error": error,
    }
    return page(request, "staff_quarantine_mail.html", context, status=status)


@routes.get("/staff/quarantine/{id}")
@login_required
async def show(request: web.Request) -> web.StreamResponse:
    return await _one(request, _staff(request), path_id(request))


@routes.post("/staff/quarantine/{id}/file")
@login_required
async def file_mail(request: web.Request) -> web.StreamResponse:
    who = _staff(request)
    inbound_id = path_id(request)
    filer = request.app.get(MAIL_FILER)
    if filer is None:
        raise NotFound("This page does not exist.")
    form = await request.post()
    typed = form.get("dossier")
    number = typed.strip() if isinstance(typed, str) else None
    try:
        filed = await filer.file(who, inbound_id, number or None)
    except LoketError as exc:
        status = 404 if isinstance(exc, NotFound) else 400
        if form.get("from") == "mail":
            return await _one(request, who, inbound_id, error=exc, status=status)
        return await _listing(request, who, error=exc, failed=inbound_id, status=status)
    raise web.HTTPSeeOther(f"/staff/quarantine?filed={filed.inbound_id}")


@routes.post("/staff/quarantine/{id}/discard")
@login_required
async def discard(request: web.Request) -> web.StreamResponse:
    who = _staff(request)
    inbound_id = path_id(request)
    async with request.app[DB].begin() as s:
        await quarantine.discard(s, who, inbound_id)
    raise web.HTTPSeeOther(f"/staff/quarantine?discarded={inbound_id}")
