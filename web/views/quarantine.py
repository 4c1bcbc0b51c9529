"""Staff: mail waiting in quarantine, with why it waits, filed into a dossier with one click.
Filing reads the original mail again, which is the mail bridge's work: the page uses core's
``MailFiler`` port, handed in by loket/ (a fuller workspace comes later)."""

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
        "error": error,
        "failed": failed,
    }
    return page(request, "staff_quarantine.html", context, status=status)


@routes.get("/staff/quarantine")
@login_required
async def listing(request: web.Request) -> web.StreamResponse:
    return await _listing(request, _staff(request))


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
        return await _listing(request, who, error=exc, failed=inbound_id, status=status)
    raise web.HTTPSeeOther(f"/staff/quarantine?filed={filed.inbound_id}")
