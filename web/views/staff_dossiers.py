"""Staff pages to create a dossier and change what it is about and who handles it. The
rules (who may, which handler, which office) are core's; this module reads the form.

The create form's fields are read in ``_dossier_fields`` and shown by
``staff_dossier_form.html``: a field added to both reaches ``dossiers.create_dossier``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from core.errors import LoketError
from core.services import accounts, clients, dossiers
from core.validation import parse_id

from ..guards import actor, login_required
from ..keys import DB
from ..params import path_id
from ..render import page

routes = web.RouteTableDef()


def _dossier_fields(form: Any) -> dict[str, Any]:
    """The fields the create and edit forms share, as the services take them."""
    return {
        "kind": str(form.get("kind", "")),
        "description": str(form.get("description", "")),
        "handler_id": parse_id(str(form.get("handler", ""))),
        "intermediary_id": parse_id(str(form.get("intermediary", ""))),
        # A checkbox: sent only when ticked.
        "visible_to_client": bool(form.get("visible_to_client")),
    }


async def _form_page(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> web.Response:
    who = actor(request)
    async with request.app[DB].read() as s:
        choices = {
            "staff": await accounts.staff_accounts(s, who),
            "offices": await clients.all_intermediaries(s, who),
            "kinds": await dossiers.kinds_in_use(s, who),
        }
        if "client" not in context:
            client_id = parse_id(str(context["values"].get("client", "")))
            context["client"] = (
                await clients.get_client(s, who, client_id) if client_id is not None else None
            )
    return page(request, template, context | choices, status=status)


@routes.get("/staff/dossiers/new")
@login_required
async def dossier_new(request: web.Request) -> web.StreamResponse:
    values = {
        "client": request.query.get("client", ""),
        "handler": str(actor(request).account_id or ""),
        "visible_to_client": "1",
    }
    return await _form_page(request, "staff_dossier_new.html", {"values": values})


@routes.post("/staff/dossiers")
@login_required
async def dossier_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    client_id = parse_id(str(form.get("client", "")))
    try:
        async with request.app[DB].begin() as s:
            dossier = await dossiers.create_dossier(
                s,
                actor(request),
                number=str(form.get("number", "")),
                client_id=client_id or 0,
                **_dossier_fields(form),
            )
    except LoketError as exc:
        if exc.code == "forbidden":
            raise
        return await _form_page(
            request, "staff_dossier_new.html", {"values": form, "error": exc}, status=400
        )
    raise web.HTTPSeeOther(f"/dossiers/{quote(dossier.number, safe='')}?created=1")


@routes.get("/staff/dossiers/{id:\\d+}/edit")
@login_required
async def dossier_edit(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        view = await dossiers.open_dossier(s, actor(request), dossier_id=path_id(request))
    d = view.dossier
    values = {
        "kind": d.kind,
        "description": d.description,
        "handler": str(d.handler_id or ""),
        "intermediary": str(d.intermediary_id or ""),
        "visible_to_client": "1" if d.visible_to_client else "",
    }
    return await _form_page(
        request, "staff_dossier_edit.html", {"view": view, "values": values, "client": None}
    )


@routes.post("/staff/dossiers/{id:\\d+}/edit")
@login_required
async def dossier_update(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with request.app[DB].begin() as s:
            dossier = await dossiers.update_dossier(
                s, actor(request), path_id(request), **_dossier_fields(form)
            )
    except LoketError as exc:
        if exc.code in ("forbidden", "not_found"):
            raise
        async with request.app[DB].read() as s:
            view = await dossiers.open_dossier(s, actor(request), dossier_id=path_id(request))
        return await _form_page(
            request,
            "staff_dossier_edit.html",
            {"view": view, "values": form, "error": exc, "client": None},
            status=400,
        )
    raise web.HTTPSeeOther(f"/dossiers/{quote(dossier.number, safe='')}?changed=1")
