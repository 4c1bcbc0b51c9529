"""Reading, writing and answering messages, with attachments."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from core.errors import LoketError
from core.models import MAX_BODY_LENGTH, MAX_SUBJECT_LENGTH
from core.services import dossiers, messages
from core.validation import parse_id

from ..downloads import send_stored
from ..guards import actor, login_required
from ..keys import DB, STORE
from ..params import path_id
from ..render import page
from ..uploads import Form, read_form, streams_form

routes = web.RouteTableDef()


@routes.get("/messages/{id:\\d+}")
@login_required
async def read(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].begin() as s:
        thread = await messages.read_message(s, actor(request), path_id(request))
        view = await dossiers.open_dossier(s, actor(request), dossier_id=thread.message.dossier_id)
    return page(request, "message.html", {"thread": thread, "view": view})


@routes.get("/messages/{id:\\d+}/original")
@login_required
async def original(request: web.Request) -> web.StreamResponse:
    """The mail as it came in, for staff: shown as text, never rendered (its HTML could
    run), so a cut of the filed text that went wrong can be checked against it."""
    store = request.app[STORE]
    async with request.app[DB].begin() as s:
        found = await messages.original_mail(s, actor(request), path_id(request))
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Disposition": f'inline; filename="{found.filename}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return await send_stored(request, headers, store.open(found.storage_key))


def _form_context(view, parent=None, **extra) -> dict:
    subject = ""
    if parent is not None:
        subject = (
            parent.subject if parent.subject.lower().startswith("re:") else f"Re: {parent.subject}"
        )
    return {
        "view": view,
        "parent": parent,
        "subject": subject,
        "body": "",
        "max_body": MAX_BODY_LENGTH,
        "max_subject": MAX_SUBJECT_LENGTH,
        **extra,
    }


@routes.get("/dossiers/{number}/messages/new")
@login_required
async def new_form(request: web.Request) -> web.StreamResponse:
    parent = None
    async with request.app[DB].begin() as s:
        view = await dossiers.open_dossier(s, actor(request), number=request.match_info["number"])
        reply_to = parse_id(request.query.get("reply_to"))
        if reply_to is not None:
            thread = await messages.read_message(s, actor(request), reply_to)
            if thread.message.dossier_id == view.dossier.id:
                parent = thread.message
    return page(request, "compose.html", _form_context(view, parent))


@routes.post("/dossiers/{number}/messages")
@login_required
@streams_form
async def send(request: web.Request) -> web.StreamResponse:
    who = actor(request)
    number = request.match_info["number"]
    async with request.app[DB].read() as s:
        view = await dossiers.open_dossier(s, who, number=number)
    form = Form()
    fields = form.fields  # what was typed, shown again if the message is refused
    try:
        await read_form(
            request,
            request.app[STORE],
            file_fields={"files"},
            before_files=lambda f: messages.check_message(f.get("subject"), f.get("body")),
            into=form,
        )
        async with request.app[DB].begin() as s:
            message = await messages.send_message(
                s,
                request.app[STORE],
                who,
                dossier_id=view.dossier.id,
                subject=fields.get("subject"),
                body=fields.get("body"),
                parent_id=parse_id(fields.get("parent_id")),
                attachments=form.uploads,
            )
    except LoketError as exc:
        parent = None
        if (parent_id := parse_id(fields.get("parent_id"))) is not None:
            async with request.app[DB].read() as s:
                try:
                    parent = (await messages.read_message(s, who, parent_id)).message
                except LoketError:
                    parent = None
        context = _form_context(view, parent, error=exc)
        context.update(subject=fields.get("subject", ""), body=fields.get("body", ""))
        status = {"too_large": 413, "too_slow": 408}.get(exc.code, 400)
        return page(request, "compose.html", context, status=status)
    raise web.HTTPSeeOther(
        f"/dossiers/{quote(view.dossier.number, safe='')}?tab=messages&sent={message.id}"
    )
