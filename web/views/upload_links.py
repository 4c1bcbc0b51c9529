"""The one-time upload link's page (core/services/upload_links.py): no login, the link is the
credential. It shows the checklist and the question, takes the files, and says what was filed.
The access log shows the route's pattern, ``/upload/{token}``, never the link itself."""

from __future__ import annotations

from aiohttp import web

from core.errors import LinkExpired, LoketError, TooLarge, ValidationError
from core.services import upload_links
from core.storage import describe_limit

from ..keys import DB, LANG, LIVE, STORE
from ..middleware import LANG_COOKIE
from ..render import page
from ..uploads import read_form, streams_form

routes = web.RouteTableDef()

FILES = "files"
TEMPLATE = "upload_link.html"


def _chosen_language(request: web.Request) -> str | None:
    """The language the reader chose (a login, the language switch); else None, and the page
    speaks the language of the link's account, the one its chat speaks."""
    live = request.get(LIVE)
    if (live is not None and live.complete) or LANG_COOKIE in request.cookies:
        return request[LANG]
    return None


def _gone(request: web.Request, error: LinkExpired) -> web.Response:
    return page(request, TEMPLATE, {"gone": error}, status=410)


def _show(
    request: web.Request,
    opened: upload_links.Opened,
    *,
    error: LoketError | None = None,
    status: int = 200,
    received: list[str] | None = None,
) -> web.Response:
    request[LANG] = opened.language
    loaded = opened.loaded
    context = {
        "title": loaded.template.title.get(opened.language) or loaded.template.title["nl"],
        "dossier": loaded.dossier,
        "prompt": opened.prompt,
        "refused": opened.refused,
        "error": error,
        "received": received,
        "limit": describe_limit(request.app[STORE].limit),
    }
    if opened.refused is not None and received is None:
        status = 409
    return page(request, TEMPLATE, context, status=status)


async def _open(request: web.Request) -> upload_links.Opened:
    async with request.app[DB].read() as s:
        return await upload_links.open_upload_link(
            s, request.match_info["token"], _chosen_language(request)
        )


@routes.get("/upload/{token}")
async def upload_form(request: web.Request) -> web.StreamResponse:
    try:
        opened = await _open(request)
    except LinkExpired as exc:
        return _gone(request, exc)
    return _show(request, opened)


@routes.post("/upload/{token}")
@streams_form
async def upload(request: web.Request) -> web.StreamResponse:
    raw = request.match_info["token"]
    store = request.app[STORE]
    try:
        # Before the body is read: a dead link or a locked checklist takes in no file.
        opened = await _open(request)
    except LinkExpired as exc:
        return _gone(request, exc)
    if opened.refused is not None:
        return _show(request, opened)
    try:
        form = await read_form(request, store, file_fields={FILES})
        async with request.app[DB].begin() as s:
            received = await upload_links.upload_with_link(s, store, raw, form.uploads)
    except LinkExpired as exc:  # used meanwhile, in another tab
        return _gone(request, exc)
    except (ValidationError, TooLarge) as exc:
        # Too large, no file, locked meanwhile: say so on the form; the link still works,
        # and the files this request stored go again (web.middleware.stored_files).
        try:
            opened = await _open(request)
        except LinkExpired as gone:
            return _gone(request, gone)
        return _show(request, opened, error=exc, status=413 if isinstance(exc, TooLarge) else 400)
    return _show(request, opened, received=received.filenames)
