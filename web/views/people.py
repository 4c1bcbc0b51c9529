"""Staff pages for the firm's people: clients (a person, or a company with extra accounts),
intermediary offices with their own accounts, and each account's state, invitation and
disabling. Every rule is in core (access and the services); this module reads forms and
shows pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from core.errors import LoketError
from core.models import Account, ClientKind, Language
from core.paging import page_number
from core.services import accounts, auth, clients, dossiers

from ..guards import actor, login_required, safe_next
from ..keys import DB, SETTINGS
from ..params import path_id
from ..render import page

routes = web.RouteTableDef()
SEARCH_MAX = 100


def _text(form: Any, name: str) -> str:
    return str(form.get(name, "")).strip()


def _language(form: Any) -> Language:
    return Language.EN if _text(form, "language") == "en" else Language.NL


def _listing_query(request: web.Request) -> tuple[str, int]:
    return request.query.get("q", "").strip()[:SEARCH_MAX], page_number(request.query.get("page"))


async def _invite_if_asked(request: web.Request, s: Any, form: Any, account: Account) -> None:
    if form.get("invite") == "on":
        await auth.invite(s, actor(request), request.app[SETTINGS], account)


# --- clients --------------------------------------------------------------------------------


@routes.get("/staff/clients")
@login_required
async def client_list(request: web.Request) -> web.StreamResponse:
    search, number = _listing_query(request)
    async with request.app[DB].read() as s:
        listing = await clients.list_clients(s, actor(request), search=search, number=number)
    return page(request, "staff_clients.html", {"listing": listing, "q": search})


@routes.get("/staff/clients/new")
@login_required
async def client_new(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        await clients.list_clients(s, actor(request), size=1)  # staff only, as the form's POST
    return page(request, "staff_client_new.html", {"values": {"invite": "on"}})


@routes.post("/staff/clients")
@login_required
async def client_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    kind = ClientKind.COMPANY if _text(form, "kind") == "company" else ClientKind.PERSON
    try:
        async with request.app[DB].begin() as s:
            client, account = await clients.create_client(
                s,
                actor(request),
                name=_text(form, "name"),
                email=_text(form, "email"),
                username=_text(form, "username") or None,
                kind=kind,
                language=_language(form),
            )
            await _invite_if_asked(request, s, form, account)
    except LoketError as exc:
        if exc.code == "forbidden":
            raise
        return page(request, "staff_client_new.html", {"values": form, "error": exc}, status=400)
    raise web.HTTPSeeOther(f"/staff/clients/{client.id}?created=1")


async def _client_page(
    request: web.Request, client_id: int, extra: dict[str, Any] | None = None, status: int = 200
) -> web.Response:
    who = actor(request)
    async with request.app[DB].read() as s:
        client = await clients.get_client(s, who, client_id)
        states = await accounts.account_states(
            s, who, await clients.client_accounts(s, who, client_id)
        )
        listing = await dossiers.list_dossiers(
            s, who, client_id=client_id, page=page_number(request.query.get("page")), capped=True
        )
    context = {"client": client, "states": states, "listing": listing, "add": {}}
    return page(request, "staff_client.html", context | (extra or {}), status=status)


@routes.get("/staff/clients/{id:\\d+}")
@login_required
async def client_show(request: web.Request) -> web.StreamResponse:
    return await _client_page(request, path_id(request))


@routes.post("/staff/clients/{id:\\d+}")
@login_required
async def client_update(request: web.Request) -> web.StreamResponse:
    client_id = path_id(request)
    form = await request.post()
    kind = ClientKind.COMPANY if _text(form, "kind") == "company" else ClientKind.PERSON
    try:
        async with request.app[DB].begin() as s:
            await clients.update_client(
                s, actor(request), client_id, name=_text(form, "name"), kind=kind
            )
    except LoketError as exc:
        if exc.code in ("forbidden", "not_found"):
            raise
        return await _client_page(request, client_id, {"edit_error": exc}, status=400)
    raise web.HTTPSeeOther(f"/staff/clients/{client_id}?changed=1")


@routes.post("/staff/clients/{id:\\d+}/accounts")
@login_required
async def client_add_account(request: web.Request) -> web.StreamResponse:
    return await _add_account(
        request, clients.add_client_account, _client_page, "/staff/clients/{}?created=1"
    )


async def _add_account(
    request: web.Request,
    add: Callable[..., Awaitable[Account]],
    show: Callable[..., Awaitable[web.Response]],
    done: str,
) -> web.StreamResponse:
    """One more login of a company or an office (``add``, the core service), invited when
    asked; a refused form is shown again (``show``) with what was typed."""
    owner_id = path_id(request)
    form = await request.post()
    try:
        async with request.app[DB].begin() as s:
            account = await add(
                s,
                actor(request),
                owner_id,
                name=_text(form, "name"),
                email=_text(form, "email"),
                username=_text(form, "username") or None,
                language=_language(form),
            )
            await _invite_if_asked(request, s, form, account)
    except LoketError as exc:
        if exc.code in ("forbidden", "not_found"):
            raise
        return await show(request, owner_id, {"add_error": exc, "add": form}, status=400)
    raise web.HTTPSeeOther(done.format(owner_id))


@routes.get("/staff/intermediaries")
@login_required
async def office_list(request: web.Request) -> web.StreamResponse:
    search, number = _listing_query(request)
    async with request.app[DB].read() as s:
        listing = await clients.list_intermediaries(s, actor(request), search=search, number=number)
    return page(request, "staff_offices.html", {"listing": listing, "q": search})


@routes.get("/staff/intermediaries/new")
@login_required
async def office_new(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        await clients.list_intermediaries(s, actor(request), size=1)
    return page(request, "staff_office_new.html", {"values": {"invite": "on"}})


@routes.post("/staff/intermediaries")
@login_required
async def office_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with request.app[DB].begin() as s:
            office, account = await clients.create_intermediary(
                s,
                actor(request),
                name=_text(form, "name"),
                email=_text(form, "email"),
                username=_text(form, "username") or None,
            )
            await _invite_if_asked(request, s, form, account)
    except LoketError as exc:
        if exc.code == "forbidden":
            raise
        return page(request, "staff_office_new.html", {"values": form, "error": exc}, status=400)
    raise web.HTTPSeeOther(f"/staff/intermediaries/{office.id}?created=1")


async def _office_page(
    request: web.Request, office_id: int, extra: dict[str, Any] | None = None, status: int = 200
) -> web.Response:
    who = actor(request)
    async with request.app[DB].read() as s:
        office = await clients.get_intermediary(s, who, office_id)
        states = await accounts.account_states(
            s, who, await clients.office_accounts(s, who, office_id)
        )
    context = {"office": office, "states": states, "add": {}}
    return page(request, "staff_office.html", context | (extra or {}), status=status)


@routes.get("/staff/intermediaries/{id:\\d+}")
@login_required
async def office_show(request: web.Request) -> web.StreamResponse:
    return await _office_page(request, path_id(request))


@routes.post("/staff/intermediaries/{id:\\d+}")
@login_required
async def office_update(request: web.Request) -> web.StreamResponse:
    office_id = path_id(request)
    form = await request.post()
    try:
        async with request.app[DB].begin() as s:
            await clients.update_intermediary(
                s, actor(request), office_id, name=_text(form, "name"), email=_text(form, "email")
            )
    except LoketError as exc:
        if exc.code in ("forbidden", "not_found"):
            raise
        return await _office_page(request, office_id, {"edit_error": exc}, status=400)
    raise web.HTTPSeeOther(f"/staff/intermediaries/{office_id}?changed=1")


@routes.post("/staff/intermediaries/{id:\\d+}/accounts")
@login_required
async def office_add_account(request: web.Request) -> web.StreamResponse:
    return await _add_account(
        request,
        clients.add_intermediary_account,
        _office_page,
        "/staff/intermediaries/{}?created=1",
    )


# --- an account: disable, enable ------------------------------------------------------------


async def _set_active(request: web.Request, active: bool) -> web.StreamResponse:
    form = await request.post()
    back = safe_next(str(form.get("back", "/staff/clients")))
    async with request.app[DB].begin() as s:
        await accounts.set_active(s, actor(request), path_id(request), active)
    done = "enabled" if active else "disabled"
    raise web.HTTPSeeOther(f"{back}{'&' if '?' in back else '?'}{done}=1")


@routes.post("/staff/accounts/{id:\\d+}/disable")
@login_required
async def account_disable(request: web.Request) -> web.StreamResponse:
    return await _set_active(request, False)


@routes.post("/staff/accounts/{id:\\d+}/enable")
@login_required
async def account_enable(request: web.Request) -> web.StreamResponse:
    return await _set_active(request, True)
