"""Home, the dossier list and a dossier with its tabs; downloads."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from core.errors import LoketError
from core.models import Document, DocumentCategory, DossierStatus
from core.paging import page_number
from core.services import checklists, documents, dossiers, messages, profile, telegram

from ..downloads import send_stored
from ..guards import actor, login_required
from ..keys import DB, STORE
from ..params import path_id
from ..render import page
from . import inbox

routes = web.RouteTableDef()
TABS = ("messages", "correspondence", "document", "delivered")


@routes.get("/")
@login_required
async def home(request: web.Request) -> web.StreamResponse:
    if actor(request).is_staff:
        return await inbox.show(request)  # staff start from what came in
    async with request.app[DB].read() as s:
        listing = await dossiers.list_dossiers(s, actor(request), limit=1)
        open_actions = await checklists.actions(s, actor(request))
        news = await dossiers.news(s, actor(request))
    return page(
        request,
        "home.html",
        {"listing": listing, "actions": len(open_actions), "news": news},
    )


@routes.get("/dossiers")
@login_required
async def dossier_list(request: web.Request) -> web.StreamResponse:
    search = request.query.get("q", "").strip()[:100]
    status = request.query.get("status", "")
    if status not in {s.value for s in DossierStatus}:
        status = ""
    who = actor(request)
    async with request.app[DB].read() as s:
        listing = await dossiers.list_dossiers(
            s,
            who,
            search=search or None,
            status=status or None,
            page=page_number(request.query.get("page")),
            # Staff see the whole firm: the list counts what matches up to a cap, not all.
            capped=who.is_staff,
        )
    if (
        not who.is_staff
        and listing.total == 1
        and not search
        and not status
        and listing.rows
        and listing.page == 1
    ):
        only = listing.rows[0].dossier.number
        raise web.HTTPSeeOther(f"/dossiers/{quote(only, safe='')}")
    return page(
        request,
        "dossiers.html",
        {
            "listing": listing,
            "q": search,
            "status": status,
            "statuses": [s.value for s in DossierStatus],
        },
    )


@routes.get("/dossiers/{number}")
@login_required
async def dossier(request: web.Request) -> web.StreamResponse:
    return await render_dossier(request, request.match_info["number"])


async def render_dossier(
    request: web.Request,
    number: str,
    *,
    error: LoketError | None = None,
    status: int = 200,
) -> web.StreamResponse:
    """The dossier page; for staff with the firm's work on it (status, steps, publishing,
    assigning). A form refused there shows the page again with ``error``."""
    tab = request.query.get("tab", "messages")
    if tab not in TABS:
        tab = "messages"
    who = actor(request)
    async with request.app[DB].read() as s:
        view = await dossiers.open_dossier(s, who, number=number)
        if tab == "messages":
            rows = await messages.list_messages(s, who, dossier_id=view.dossier.id)
        else:
            rows = await documents.list_documents(
                s, who, dossier_id=view.dossier.id, category=DocumentCategory(tab)
            )
        people = await profile.dossier_accounts(s, who, view.dossier.id) if who.is_staff else []
        people_telegram = await telegram.telegram_status(s, people)
        listed = await checklists.on_dossier(s, who, view.dossier.id)
        templates = await checklists.latest_templates(s, who) if who.is_staff else []
    return page(
        request,
        "dossier.html",
        {
            "view": view,
            "tab": tab,
            "tabs": TABS,
            "rows": rows,
            "people": people,
            "people_telegram": people_telegram,
            "checklists": listed,
            "waiting": checklists.action_states(who),
            "templates": templates,
            "statuses": [st.value for st in DossierStatus],
            "error": error,
        },
        status=status,
    )


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback and the exact name in UTF-8 (RFC 5987)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@routes.get("/documents/{id:\\d+}/download")
@login_required
async def download(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    document_id = path_id(request)
    if request.method == "HEAD":
        # Only the headers: aiohttp would send a body written to a HEAD response as it is,
        # and the client would read it as the start of its next response. Nor is a HEAD a
        # download to record.
        async with request.app[DB].read() as s:
            doc = await documents.visible_document(s, actor(request), document_id)
        response = web.StreamResponse(headers=_download_headers(doc))
        await response.prepare(request)
        await response.write_eof()
        return response
    async with request.app[DB].begin() as s:
        found = await documents.download(s, store, actor(request), document_id)
    return await send_stored(request, _download_headers(found.document), found.chunks)


def _download_headers(doc: Document) -> dict[str, str]:
    return {
        "Content-Type": doc.content_type,
        "Content-Disposition": content_disposition(doc.filename),
        "Content-Length": str(doc.size),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
