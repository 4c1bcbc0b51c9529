"""Staff: the inbox, their home page. What came in across dossiers, newest first, filtered
by handler, channel, kind and dossier; an entry opens through here, which marks it read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from aiohttp import web

from core import access
from core.errors import NotFound
from core.models import Channel, DocumentCategory
from core.services import checklists, inbox
from core.services.inbox import Filters, Kind, Target
from core.validation import parse_id

from ..guards import actor, login_required
from ..keys import DB, LANG
from ..render import page

routes = web.RouteTableDef()
FILTER_FIELDS = ("handler", "channel", "kind", "dossier", "unread")


def _choice(value: str | None, allowed: type[Kind] | type[Channel]) -> str:
    return value if value in {m.value for m in allowed} else ""


def _asked(query: Mapping[str, object]) -> dict[str, str]:
    """The filters as asked for, cleaned: only values that can be."""

    def get(name: str) -> str:
        value = query.get(name)
        return value if isinstance(value, str) else ""  # a file sent as a field: nothing

    handler = parse_id(get("handler"))
    return {
        "handler": str(handler) if handler is not None else "",
        "channel": _choice(get("channel"), Channel),
        "kind": _choice(get("kind"), Kind),
        "dossier": get("dossier").strip()[:64],
        "unread": "1" if get("unread") == "1" else "",
    }


async def _filters(s, who, asked: dict[str, str]) -> Filters:
    """Raises NotFound for a dossier number that does not exist."""
    dossier_id = None
    if asked["dossier"]:
        dossier_id = (await access.visible_dossier(s, who, number=asked["dossier"])).id
    return Filters(
        handler_id=int(asked["handler"]) if asked["handler"] else None,
        channel=Channel(asked["channel"]) if asked["channel"] else None,
        kind=Kind(asked["kind"]) if asked["kind"] else None,
        dossier_id=dossier_id,
        unread_only=bool(asked["unread"]),
    )


def _query(asked: dict[str, str], **more: object) -> str:
    pairs = {k: v for k, v in asked.items() if v} | {k: v for k, v in more.items() if v}
    return urlencode(pairs)


async def show(request: web.Request) -> web.StreamResponse:
    """The inbox page (also the staff home page, at /)."""
    who = actor(request)
    access.require(access.can_manage_firm(who), "Only staff have an inbox.")
    asked = _asked(request.query)
    offset = max(0, (parse_id(request.query.get("page")) or 1) - 1) * inbox.PAGE_SIZE
    error = None
    async with request.app[DB].read() as s:
        staff = await inbox.handlers(s, who)
        reviews = await checklists.count_actions(s, who)
        try:
            filters = await _filters(s, who, asked)
        except NotFound as exc:
            error, listing = exc, None
        else:
            listing = await inbox.inbox(
                s, who, filters, offset=offset, language=request.get(LANG, "nl")
            )
    number = offset // inbox.PAGE_SIZE + 1
    return page(
        request,
        "staff_inbox.html",
        {
            "listing": listing,
            "asked": asked,
            "error": error,
            "staff": staff,
            "reviews": reviews,
            "kinds": list(Kind),
            "kind_labels": inbox.KIND_LABELS,
            "channels": list(inbox.CHANNEL_LABELS),
            "channel_labels": inbox.CHANNEL_LABELS,
            "filtered": any(asked.values()),
            "newer": _query(asked, page=number - 1 if number > 2 else "") if number > 1 else None,
            "older": _query(asked, page=number + 1) if listing and listing.has_more else None,
            "here": "/staff/inbox?" + _query(asked, page=number if number > 1 else ""),
        },
    )


@routes.get("/staff/inbox")
@login_required
async def inbox_page(request: web.Request) -> web.StreamResponse:
    return await show(request)


def where(target: Target) -> str:
    """The page an entry leads to."""
    number = quote(target.dossier_number, safe="")
    if target.kind is Kind.MESSAGE:
        return f"/messages/{target.item_id}"
    if target.checklist_id is not None:
        return f"/checklists/{target.checklist_id}"
    tab = (target.category or DocumentCategory.DELIVERED).value
    return f"/dossiers/{number}?tab={tab}"


@routes.get("/staff/inbox/{kind}/{id:\\d+}")
@login_required
async def open_entry(request: web.Request) -> web.StreamResponse:
    kind = _choice(request.match_info["kind"], Kind)
    item_id = parse_id(request.match_info["id"])
    if not kind or item_id is None:
        raise NotFound("This page does not exist.")
    async with request.app[DB].begin() as s:
        target = await inbox.open_entry(s, actor(request), Kind(kind), item_id)
    raise web.HTTPSeeOther(where(target))


def _moment(value: object) -> dt.datetime | None:
    """The newest entry's time the page was showing; None (now) for anything else."""
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


@routes.post("/staff/inbox/read")
@login_required
async def mark_all_read(request: web.Request) -> web.StreamResponse:
    who = actor(request)
    form = await request.post()
    asked = _asked(form)
    until = _moment(form.get("until"))
    async with request.app[DB].begin() as s:
        await inbox.mark_all_read(s, who, await _filters(s, who, asked), until=until)
    raise web.HTTPSeeOther("/staff/inbox?" + _query(asked))
