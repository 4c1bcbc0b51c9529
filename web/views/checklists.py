"""Actions: the client's checklists and questionnaires, filled in one section at a time."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from core import walker
from core.errors import LoketError, NotFound, PermissionDenied
from core.services import checklists, dossiers

from ..guards import actor, login_required
from ..keys import DB, LANG, SETTINGS, STORE
from ..params import path_id, position
from ..render import page
from ..uploads import read_form, streams_form

routes = web.RouteTableDef()


@routes.get("/actions")
@login_required
async def actions(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        items = []
        for checklist in await checklists.actions(s, actor(request)):
            loaded = await checklists.load(s, actor(request), checklist.id)
            items.append((loaded, checklists.counts(loaded)))
    return page(request, "actions.html", {"items": items})


async def _render(
    request: web.Request,
    checklist_id: int,
    index: int | None,
    errors=None,
    status: int = 200,
    review_error: LoketError | None = None,
    more: bool = False,
) -> web.StreamResponse:
    lang = request[LANG]
    staff = actor(request).is_staff
    async with request.app[DB].read() as s:
        loaded = await checklists.load(s, actor(request), checklist_id)
        locked = loaded.checklist.locked
        pdf = await checklists.current_pdf(s, loaded) if locked else None
        delivered = await checklists.delivered_with(s, loaded) if staff else []
        names = await dossiers.party_names(s, loaded.dossier) if staff else {}
        # The fill-in page's documents, in the same read transaction.
        beside = await checklists.filed_by_question(s, loaded) if not staff and not locked else {}
    if staff:
        rows = [
            (
                walker.prompt(loaded.definition, loaded.given, q["key"], lang),
                walker.show(loaded.definition, q["key"], loaded.given.get(q["key"]), lang),
                loaded.answers.get(q["key"]),
            )
            for q in walker.visible(loaded.definition, loaded.given)
        ]
        return page(
            request,
            "checklist_review.html",
            {
                "loaded": loaded,
                "rows": rows,
                "pdf": pdf,
                "error": review_error,
                "delivered": delivered,
                "counts": checklists.counts(loaded),
                **names,
            },
            status=status,
        )
    if loaded.checklist.locked:
        return page(
            request,
            "checklist_done.html",
            {"loaded": loaded, "summary": checklists.summary(loaded, lang), "pdf": pdf},
        )
    sections = loaded.definition["sections"]
    if index is None:
        here = checklists.current(loaded, lang)
        index = walker.section_of(loaded.definition, here.key if here else None)
    index = max(0, min(index, len(sections) - 1))
    given = loaded.given
    shown = {q["key"] for q in walker.visible(loaded.definition, given)}
    prompts = [
        walker.prompt(loaded.definition, given, q["key"], lang)
        for q in sections[index]["questions"]
        if q["key"] in shown
    ]
    return page(
        request,
        "checklist.html",
        {
            "loaded": loaded,
            "index": index,
            "sections": sections,
            "prompts": prompts,
            "answers": loaded.answers,
            "errors": errors or {},
            "more": more,
            "counts": checklists.counts(loaded),
            "beside": beside,
            "shown_value": lambda key: walker.show(loaded.definition, key, given.get(key), lang),
        },
        status=status,
    )


@routes.get("/checklists/{id:\\d+}")
@login_required
async def checklist(request: web.Request) -> web.StreamResponse:
    section = request.query.get("section")
    return await _render(
        request,
        path_id(request),
        position(section),
        more=request.query.get("more") == "1",
    )


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@routes.post("/checklists/{id:\\d+}")
@login_required
@streams_form
async def save(request: web.Request) -> web.StreamResponse:
    checklist_id = path_id(request)
    async with request.app[DB].read() as s:
        # Before the body is read: a checklist that is not this person's, or is locked, is
        # refused without taking in the files sent with it.
        definition = (await checklists.writable(s, actor(request), checklist_id)).definition
    # The form's file inputs are its upload questions' and the documents beside an answer;
    # a file under another name is refused.
    uploads = {
        f"file:{q['key']}" for _, q in walker.all_questions(definition) if walker.takes_files(q)
    }
    form = await read_form(request, request.app[STORE], file_fields=uploads)
    index = position(form.fields.get("section") or "0")
    if index is None:
        # Not a number names no section: core refuses it as it refuses one out of range.
        index = -1
    values: dict[str, object] = {}
    not_available: dict[str, tuple[str | None, dt.date | None]] = {}
    for name, items in form.lists.items():
        if name.startswith("q:"):
            key = name[2:]
            values[key] = items if len(items) > 1 or form.fields.get(f"multi:{key}") else items[0]
        elif name.startswith("na:") and form.fields.get(name) == "on":
            key = name[3:]
            not_available[key] = (
                form.fields.get(f"na_reason:{key}"),
                _date(form.fields.get(f"na_date:{key}")),
            )
    for name in form.fields:
        # A multiple-choice question with every box cleared sends only its marker.
        if name.startswith("multi:") and name[6:] not in values:
            values[name[6:]] = []
    files = {name[5:]: uploads for name, uploads in form.files.items() if name.startswith("file:")}
    async with request.app[DB].begin() as s:
        errors = await checklists.save_section(
            s,
            request.app[STORE],
            actor(request),
            checklist_id,
            index,
            checklists.SectionForm(values=values, not_available=not_available, files=files),
            request[LANG],
        )
    if errors:
        return await _render(request, checklist_id, index, errors, status=400)
    move = form.fields.get("go", "next")
    async with request.app[DB].read() as s:
        loaded = await checklists.load(s, actor(request), checklist_id)
    last = len(loaded.definition["sections"]) - 1
    # An answer on this part brought up follow-up questions of the same part (the form names
    # the questions it showed): show them before going on, rather than leave them to be
    # found missing on the summary.
    shown = form.lists.get("shown")
    if (
        move in ("next", "summary")
        and shown is not None
        and checklists.new_questions(loaded, index, shown)
    ):
        raise web.HTTPSeeOther(f"/checklists/{checklist_id}?section={index}&more=1")
    if move == "summary" or (move == "next" and index >= last):
        raise web.HTTPSeeOther(f"/checklists/{checklist_id}/summary")
    target = index - 1 if move == "back" else index + 1 if move == "next" else index
    raise web.HTTPSeeOther(f"/checklists/{checklist_id}?section={max(0, min(target, last))}")


@routes.get("/checklists/{id:\\d+}/summary")
@login_required
async def summary(request: web.Request) -> web.StreamResponse:
    checklist_id = path_id(request)
    async with request.app[DB].read() as s:
        loaded = await checklists.load(s, actor(request), checklist_id)
    if loaded.checklist.locked:
        raise web.HTTPSeeOther(f"/checklists/{checklist_id}")
    return page(
        request,
        "checklist_summary.html",
        {
            "loaded": loaded,
            "summary": checklists.summary(loaded, request[LANG]),
            "missing": _missing(loaded, request[LANG]),
        },
    )


def _missing(loaded: checklists.Loaded, language: str) -> list[walker.Prompt]:
    """The required questions without an answer, each with the part that asks it."""
    return [
        walker.prompt(loaded.definition, loaded.given, key, language)
        for key in walker.missing_required(loaded.definition, loaded.given)
    ]


@routes.post("/checklists/{id:\\d+}/submit")
@login_required
async def submit(request: web.Request) -> web.StreamResponse:
    checklist_id = path_id(request)
    try:
        async with request.app[DB].begin() as s:
            await checklists.submit(
                s,
                request.app[STORE],
                actor(request),
                checklist_id,
                firm=request.app[SETTINGS].firm_name,
                language=request[LANG],
                timezone=request.app[SETTINGS].timezone,
            )
    except NotFound:
        raise
    except LoketError as exc:
        async with request.app[DB].read() as s:
            loaded = await checklists.load(s, actor(request), checklist_id)
        return page(
            request,
            "checklist_summary.html",
            {
                "loaded": loaded,
                "summary": checklists.summary(loaded, request[LANG]),
                "missing": _missing(loaded, request[LANG]),
                "error": exc,
            },
            status=400,
        )
    raise web.HTTPSeeOther(f"/checklists/{checklist_id}")


@routes.post("/checklists/{id:\\d+}/approve")
@login_required
async def approve(request: web.Request) -> web.StreamResponse:
    checklist_id = path_id(request)
    async with request.app[DB].begin() as s:
        await checklists.approve(s, actor(request), checklist_id)
    raise web.HTTPSeeOther(f"/checklists/{checklist_id}?approved=1")


@routes.post("/checklists/{id:\\d+}/reject")
@login_required
async def reject(request: web.Request) -> web.StreamResponse:
    checklist_id = path_id(request)
    form = await request.post()
    per_question = {
        str(name)[7:]: str(value)
        for name, value in form.items()
        if str(name).startswith("reason:") and str(value).strip()
    }
    try:
        async with request.app[DB].begin() as s:
            await checklists.reject(
                s,
                actor(request),
                checklist_id,
                reason=str(form.get("reason", "")),
                questions=per_question,
            )
    except (NotFound, PermissionDenied):
        raise  # someone who may not review gets the refusal page, not the review form
    except LoketError as exc:
        return await _render(request, checklist_id, None, status=400, review_error=exc)
    raise web.HTTPSeeOther(f"/checklists/{checklist_id}?sent_back=1")
