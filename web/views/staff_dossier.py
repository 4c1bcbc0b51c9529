"""The firm's work on a dossier: status, steps, publishing, assigning a checklist, rejecting a
delivered document, who downloaded what, and the audit trail; and the staff's search. Each
form calls the same core service as the command line; core decides who may."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from aiohttp import web

from core.errors import LoketError, NotFound, PermissionDenied, ValidationError
from core.services import audittrail, checklists, documents, dossiers, search

from ..guards import actor, login_required, safe_next
from ..keys import DB, SETTINGS, STORE
from ..params import path_id, position
from ..render import page
from ..uploads import read_form, streams_form
from .dossiers import render_dossier

routes = web.RouteTableDef()


def _back(number: str, done: str, tab: str | None = None) -> web.HTTPSeeOther:
    where = f"/dossiers/{quote(number, safe='')}?{done}=1"
    return web.HTTPSeeOther(where + (f"&tab={tab}" if tab else ""))


async def _refused(request: web.Request, number: str, exc: LoketError) -> web.StreamResponse:
    """A form the firm's rules refused: the dossier page again, saying why. (Not seeing the
    dossier, or not being staff, is the error page, as everywhere.)"""
    if isinstance(exc, NotFound | PermissionDenied):
        raise exc
    return await render_dossier(request, number, error=exc, status=400)


async def _dossier_form(request: web.Request, change, done: str) -> web.StreamResponse:
    """A plain form on the dossier page: ``change(session, actor, number, form)`` in one unit
    of work, then back to the dossier saying ``done``, or the page again saying why not."""
    number = request.match_info["number"]
    form = await request.post()
    try:
        async with request.app[DB].begin() as s:
            await change(s, actor(request), number, form)
    except LoketError as exc:
        return await _refused(request, number, exc)
    raise _back(number, done)


@routes.post("/dossiers/{number}/status")
@login_required
async def set_status(request: web.Request) -> web.StreamResponse:
    async def change(s, who, number, form) -> None:
        await dossiers.set_status(s, who, number, str(form.get("status", "")))

    return await _dossier_form(request, change, "status_set")


@routes.post("/dossiers/{number}/steps")
@login_required
async def add_step(request: web.Request) -> web.StreamResponse:
    async def change(s, who, number, form) -> None:
        await dossiers.add_step(s, who, number, str(form.get("title", "")))

    return await _dossier_form(request, change, "step_added")


@routes.post("/dossiers/{number}/checklists")
@login_required
async def assign(request: web.Request) -> web.StreamResponse:
    async def change(s, who, number, form) -> None:
        username = str(form.get("account", "")).strip()
        await checklists.assign(
            s,
            who,
            number=number,
            template_name=str(form.get("template", "")),
            usernames=[username] if username else None,
            due=_due(str(form.get("due", ""))),
        )

    return await _dossier_form(request, change, "assigned")


@routes.post("/dossiers/{number}/steps/{position:\\d+}")
@login_required
async def tick_step(request: web.Request) -> web.StreamResponse:
    number = request.match_info["number"]
    at = position(request.match_info["position"])
    if at is None:
        raise NotFound("This page does not exist.")
    form = await request.post()
    async with request.app[DB].begin() as s:
        await dossiers.tick_step(s, actor(request), number, at, done=form.get("done") != "0")
    raise _back(number, "step_ticked")


@routes.post("/dossiers/{number}/publish")
@login_required
@streams_form
async def publish(request: web.Request) -> web.StreamResponse:
    number = request.match_info["number"]
    async with request.app[DB].read() as s:
        # Before the body is read: someone who may not publish here sends no file into the store.
        await documents.may_publish(s, actor(request), number)
    try:
        form = await read_form(request, request.app[STORE], file_fields={"files"})
        category = documents.publishable(form.fields.get("category", ""))
        if not form.uploads:
            raise ValidationError("Choose at least one file.", field="files")
        async with request.app[DB].begin() as s:
            for upload in form.uploads:
                await documents.publish_document(
                    s,
                    request.app[STORE],
                    actor(request),
                    number=number,
                    upload=upload,
                    category=category,
                )
    except LoketError as exc:
        return await _refused(request, number, exc)
    raise _back(number, "published", category.value)


def _due(value: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError("'%(value)s' is not a date.", field="due", value=value) from None


@routes.post("/documents/{id:\\d+}/reject")
@login_required
async def reject_document(request: web.Request) -> web.StreamResponse:
    """Refuse one delivered document; a reason left out is the error page, saying so (the
    form asks for it already)."""
    form = await request.post()
    back = safe_next(str(form.get("back", "/")))
    async with request.app[DB].begin() as s:
        await documents.reject_document(
            s, actor(request), path_id(request), reason=str(form.get("reason", ""))
        )
    raise web.HTTPSeeOther(f"{back}{'&' if '?' in back else '?'}doc_rejected=1")


@routes.get("/dossiers/{number}/downloads")
@login_required
async def downloads(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        view = await dossiers.open_dossier(s, actor(request), number=request.match_info["number"])
        rows = await documents.downloads(s, actor(request), dossier_id=view.dossier.id)
    return page(request, "staff_downloads.html", {"view": view, "rows": rows})


@routes.get("/dossiers/{number}/audit")
@login_required
async def dossier_audit(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        dossier, entries = await audittrail.for_dossier(
            s, actor(request), request.match_info["number"]
        )
    return page(
        request,
        "staff_audit.html",
        {
            "entries": entries,
            "heading": dossier.number,
            "csv": f"/dossiers/{quote(dossier.number, safe='')}/audit.csv",
            "back": f"/dossiers/{quote(dossier.number, safe='')}",
            "labels": audittrail.ACTION_LABELS,
        },
    )


def _csv(text: str, name: str) -> web.Response:
    return web.Response(
        body=text.encode("utf-8-sig"),  # with a BOM, so a spreadsheet reads it as UTF-8
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@routes.get("/dossiers/{number}/audit.csv")
@login_required
async def dossier_audit_csv(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        dossier, entries = await audittrail.for_dossier(
            s, actor(request), request.match_info["number"], limit=audittrail.EXPORT_LIMIT
        )
    text = audittrail.to_csv(entries, request.app[SETTINGS].timezone)
    safe = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in dossier.number)
    return _csv(text, f"audit-{safe}.csv")


@routes.get("/staff/accounts/{id:\\d+}/audit")
@login_required
async def account_audit(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        account, entries = await audittrail.for_account(s, actor(request), path_id(request))
    return page(
        request,
        "staff_audit.html",
        {
            "entries": entries,
            "heading": account.username,
            "csv": f"/staff/accounts/{account.id}/audit.csv",
            "back": None,
            "labels": audittrail.ACTION_LABELS,
        },
    )


@routes.get("/staff/accounts/{id:\\d+}/audit.csv")
@login_required
async def account_audit_csv(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        account, entries = await audittrail.for_account(
            s, actor(request), path_id(request), limit=audittrail.EXPORT_LIMIT
        )
    text = audittrail.to_csv(entries, request.app[SETTINGS].timezone)
    return _csv(text, f"audit-account-{account.id}.csv")


@routes.get("/staff/search")
@login_required
async def search_page(request: web.Request) -> web.StreamResponse:
    query = request.query.get("q", "")
    async with request.app[DB].read() as s:
        results = await search.search(s, actor(request), query)
    return page(
        request,
        "staff_search.html",
        {"results": results, "q": query[: search.MAX_LENGTH], "min": search.MIN_LENGTH},
    )
