"""What every request needs: security headers, errors as pages, the session, CSRF checks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from core import metrics, storekeeping
from core.db import Database
from core.errors import (
    AuthenticationFailed,
    LinkExpired,
    LoketError,
    NotFound,
    PermissionDenied,
    TooLarge,
    TooManyAttempts,
)
from core.i18n import language_of
from core.services import sessions
from core.settings import Settings

from . import accesslog, csrf, downloads, uploads
from .guards import login_page
from .keys import (
    DB,
    END_SESSION,
    LANG,
    LIVE,
    NEW_ANON_CSRF,
    SESSION_ENDED,
    SET_LANG,
    SET_SESSION,
    SETTINGS,
    STORE,
)
from .render import page

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
LANG_COOKIE = "loket_lang"
STATUS = {
    NotFound: 404,
    PermissionDenied: 403,
    LinkExpired: 410,
    TooManyAttempts: 429,
    TooLarge: 413,
    AuthenticationFailed: 401,
    uploads.TooSlow: 408,
    downloads.FileUnreadable: 500,
}


_FOR_MACHINES = "_loket_for_machines"


def for_machines(handler: Handler) -> Handler:
    """Mark a route that another machine posts to (a chat service's webhook): no session and
    no CSRF check, as no browser sends it; the handler checks its own secret."""
    setattr(handler, _FOR_MACHINES, True)
    return handler


def _is_for_machines(request: web.Request) -> bool:
    return bool(getattr(request.match_info.handler, _FOR_MACHINES, False))


def cookie_name(request: web.Request) -> str:
    # The __Host- prefix pins the cookie to this host, https and path / (browsers enforce it).
    return "__Host-loket" if request.app[SETTINGS].https else "loket"


def _headers(request: web.Request, response: web.StreamResponse) -> None:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    if request.app[SETTINGS].https:
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if not request.path.startswith("/static/"):
        h.setdefault("Cache-Control", "no-store")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _headers(request, exc)
        raise
    if not response.prepared:
        _headers(request, response)
    return response


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except LoketError as exc:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
        response = page(request, "error.html", {"error": exc, "status": status}, status=status)
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except (
        web.HTTPNotFound,
        web.HTTPMethodNotAllowed,
        web.HTTPRequestEntityTooLarge,
    ) as exc:
        # aiohttp's own refusals (no route; a body over client_max_size; a form's address
        # opened from the address bar after an error was shown there), as a page in the
        # reader's language.
        error = (
            TooLarge("This form is too large to send.")
            if isinstance(exc, web.HTTPRequestEntityTooLarge)
            else NotFound("This page does not exist.")
        )
        response = page(
            request, "error.html", {"error": error, "status": exc.status}, status=exc.status
        )
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except web.HTTPException:
        raise
    except Exception as exc:
        # The route's pattern, not the path: a path may hold a token.
        where = f"{request.method} {accesslog.route(request)}"
        if _went_away(request, exc):
            log.info("the client went away during %s", where)
            return web.Response(status=CLIENT_GONE, reason="Client Closed Request")
        metrics.FAILURES.inc("web")
        log.exception("unexpected error on %s", where)
        return page(request, "error.html", {"error": None, "status": 500}, status=500)


# What the access log shows for a request whose client left before the answer (as nginx).
CLIENT_GONE = 499


def _went_away(request: web.Request, exc: Exception) -> bool:
    """The client closed the connection: reading its upload or writing its download failed
    (ConnectionResetError, aiohttp's ClientConnectionResetError, a broken pipe) because the
    connection is gone. A connection error of our own (a gateway, a mail server) is not."""
    transport = request.transport
    return isinstance(exc, ConnectionError) and (transport is None or transport.is_closing())


@web.middleware
async def stored_files(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request refused after it stored files (too many, a bad parent message, a later file
    too large, a form error, a client that went away) leaves none of them behind: once it is
    done, the files it stored that no record refers to are removed. Identical files share one
    object in the store, and one that a document or another upload uses stays."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return await handler(request)
    async with storekeeping.removing_unused(request.app[DB], request.app[STORE]):
        return await handler(request)


@web.middleware
async def session(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings, db = request.app[SETTINGS], request.app[DB]
    live = None
    # Files need no session. Their cookie is not looked at, so it must not be taken for a
    # dead one below and deleted: a style sheet fetched after a reload logged people out.
    static = request.path.startswith("/static/")
    raw = None if static else request.cookies.get(cookie_name(request))
    if raw and request.method in ("GET", "HEAD"):
        # A page is one read transaction: the handler's first read carries on the one the
        # session was looked up in (core.db.Database.shared_read). Not for a form: its body
        # is read before its handler runs, and a slow upload would hold the transaction open.
        async with db.shared_read() as s:
            live = await _live(db, s, settings, raw)
            return await _serve(request, handler, had_cookie=True, live=live)
    if raw:
        async with db.read() as s:
            live = await _live(db, s, settings, raw)
    return await _serve(request, handler, had_cookie=bool(raw), live=live)


async def _live(
    db: Database, s: AsyncSession, settings: Settings, raw: str
) -> sessions.LiveSession | None:
    live = await sessions.load(s, settings, raw)
    if live is None:
        return None
    # The page may carry this transaction on and roll it back (a page not found), which
    # would expire what it holds: the session and account must outlive it.
    s.expunge(live.row)
    s.expunge(live.account)
    if sessions.needs_touch(live.row):
        async with db.begin() as w:  # ends a shared read first (core.db)
            await sessions.touch(w, live.row.id)
    return live


async def _serve(
    request: web.Request, handler: Handler, *, had_cookie: bool, live: sessions.LiveSession | None
) -> web.StreamResponse:
    request[LIVE] = live
    request[SESSION_ENDED] = had_cookie and live is None
    if live is not None and (live.complete or LANG_COOKIE not in request.cookies):
        # Half logged in (the code page), too: the account is known by then.
        request[LANG] = live.account.language.value
    else:
        wanted = request.cookies.get(LANG_COOKIE) or request.headers.get("Accept-Language", "")
        request[LANG] = language_of(wanted)
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects after login and logout carry cookies too
        _cookies(request, exc, had_cookie=had_cookie, live=live)
        raise
    _cookies(request, response, had_cookie=had_cookie, live=live)
    return response


def _cookies(request: web.Request, response: web.StreamResponse, *, had_cookie: bool, live) -> None:
    settings = request.app[SETTINGS]
    name = cookie_name(request)
    secure = settings.https
    if SET_SESSION in request:
        response.set_cookie(
            name, request[SET_SESSION], httponly=True, samesite="Lax", secure=secure, path="/"
        )
    elif request.get(END_SESSION) or (had_cookie and live is None):
        response.del_cookie(name, path="/", secure=secure, samesite="Lax")
    if NEW_ANON_CSRF in request:
        response.set_cookie(
            csrf.anon_cookie(settings),
            request[NEW_ANON_CSRF],
            httponly=True,
            samesite="Lax",
            secure=secure,
            path="/",
        )
    if SET_LANG in request:
        response.set_cookie(
            LANG_COOKIE,
            request[SET_LANG],
            samesite="Lax",
            secure=secure,
            path="/",
            max_age=365 * 24 * 3600,
        )


@web.middleware
async def csrf_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in ("GET", "HEAD", "OPTIONS") or _is_for_machines(request):
        return await handler(request)
    settings = request.app[SETTINGS]
    if not csrf.same_origin(request, settings):
        raise PermissionDenied(
            "This form was not sent from this site. Reload the page and try again."
        )
    if request.content_type == "multipart/form-data" and uploads.reads_own_form(
        request.match_info.handler
    ):
        # Checked on the first part by web.uploads.read_form, before any file is read.
        return await handler(request)
    with uploads.readable():
        async with uploads.body_clock(request):
            form = await request.post()
    if not csrf.valid(request, settings, form.get(csrf.FIELD)):
        if request.get(SESSION_ENDED):
            # The token was the ended session's: not an attack, a client who was away.
            raise web.HTTPSeeOther(login_page(request))
        raise PermissionDenied("This form has expired. Reload the page and try again.")
    return await handler(request)
