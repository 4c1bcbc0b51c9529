"""Logging in and out, the second step, the invitation and password links."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from core.actor import Actor
from core.errors import AuthenticationFailed, LinkExpired, LoketError, TooManyAttempts
from core.models import Account, Channel
from core.services import auth, checklists, sessions, twofactor

from .. import peer
from ..guards import safe_next
from ..keys import DB, END_SESSION, LANG, LIVE, SET_LANG, SET_SESSION, SETTINGS, SMS
from ..middleware import LANG_COOKIE
from ..render import page, refused

routes = web.RouteTableDef()


def client_address(request: web.Request) -> str:
    return peer.client_address(request, request.app[SETTINGS].trusted_proxies)


@routes.get("/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    live = request.get(LIVE)
    if live is not None and live.complete:
        raise web.HTTPSeeOther("/")
    ended = request.query.get("ended")
    return page(
        request,
        "login.html",
        {"next": safe_next(request.query.get("next")), "ended": ended},
    )


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    try:
        result = await auth.login(
            request.app[DB], request.app[SETTINGS], username, password, client_address(request)
        )
    except (AuthenticationFailed, TooManyAttempts) as exc:
        return refused(request, "login.html", exc, {"username": username, "next": target})
    request[SET_SESSION] = result.cookie
    if result.complete:
        raise web.HTTPSeeOther(target)
    # Without a gateway no code is queued; the code page asks for a recovery code instead.
    if result.account.two_factor.value == "sms" and SMS in request.app:
        try:
            async with request.app[DB].begin() as s:
                account = await s.get(type(result.account), result.account.id)
                await twofactor.send_sms_code(s, request.app[SMS], account)
        except TooManyAttempts as exc:  # the code texted last still works
            async with request.app[DB].read() as s:  # the form is the new session's
                request[LIVE] = await sessions.load(s, request.app[SETTINGS], result.cookie)
            return refused(request, "code.html", exc, {"method": "sms", "next": target})
    raise web.HTTPSeeOther(f"/login/code?next={quote(target, safe='')}")


def _half_logged_in(request: web.Request) -> sessions.LiveSession:
    live = request.get(LIVE)
    if live is None:
        raise web.HTTPSeeOther("/login")
    if live.complete:
        raise web.HTTPSeeOther("/")
    return live


@routes.get("/login/code")
async def code_form(request: web.Request) -> web.StreamResponse:
    live = _half_logged_in(request)
    return page(
        request,
        "code.html",
        {
            "method": live.account.two_factor.value,
            "sms_down": SMS not in request.app,
            "next": safe_next(request.query.get("next")),
        },
    )


@routes.post("/login/code")
async def code(request: web.Request) -> web.StreamResponse:
    live = _half_logged_in(request)
    form = await request.post()
    target = safe_next(str(form.get("next", "")))  # kept through a wrong code
    async with request.app[DB].begin() as s:
        outcome = await twofactor.second_step(
            s, request.app[SETTINGS], live, str(form.get("code", ""))
        )
    if outcome.cookie:
        request[SET_SESSION] = outcome.cookie
        raise web.HTTPSeeOther(target)
    error = outcome.error or AuthenticationFailed("That code is not right.", field="code")
    if outcome.restart:
        request[END_SESSION] = True
        return refused(request, "login.html", error, {"next": target})
    return refused(
        request,
        "code.html",
        error,
        {
            "method": live.account.two_factor.value,
            "sms_down": SMS not in request.app,
            "next": target,
        },
    )


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    live = request.get(LIVE)
    if live is not None:
        async with request.app[DB].begin() as s:
            await sessions.end(s, live.row.id)
    request[END_SESSION] = True
    raise web.HTTPSeeOther("/login")


def _speak_as(request: web.Request, account: Account) -> None:
    """A page reached from a link mailed to ``account`` is in the account's language (unless
    this browser chose one), and so are the pages that follow it."""
    if LANG_COOKIE not in request.cookies:
        request[LANG] = request[SET_LANG] = account.language.value


@routes.get("/invite/{token}")
async def invite_form(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        _speak_as(request, await auth.invitation_account(s, request.match_info["token"]))
    return page(request, "invite.html")


@routes.post("/invite/{token}")
async def invite(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    email = str(form.get("email", ""))
    async with request.app[DB].begin() as s:
        error = await auth.verify_email(
            s, request.app[SETTINGS], request.match_info["token"], email
        )
    if isinstance(error, LinkExpired):
        raise error
    if error is not None:
        return page(request, "invite.html", {"error": error, "email": email}, status=400)
    return page(request, "sent.html", {"what": "password_link"})


@routes.get("/welcome")
async def welcome(request: web.Request) -> web.StreamResponse:
    """Where a mail to someone who has not chosen a password yet points: how to start,
    instead of a login they cannot pass."""
    live = request.get(LIVE)
    if live is not None and live.complete:
        raise web.HTTPSeeOther("/")
    return page(request, "welcome.html")


@routes.get("/password/forgot")
async def forgot_form(request: web.Request) -> web.StreamResponse:
    return page(request, "forgot.html")


@routes.post("/password/forgot")
async def forgot(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with request.app[DB].begin() as s:
            await auth.forgot_password(
                s,
                request.app[SETTINGS],
                str(form.get("identifier", "")),
                address=client_address(request),
            )
    except TooManyAttempts as exc:
        return refused(request, "forgot.html", exc, {})
    return page(request, "sent.html", {"what": "forgot"})


@routes.get("/password/{token}")
async def password_form(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        account = await auth.password_link_account(s, request.match_info["token"])
    _speak_as(request, account)
    return page(request, "password.html", {"username": account.username})


@routes.post("/password/{token}")
async def set_password(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    settings = request.app[SETTINGS]
    raw = request.match_info["token"]
    try:
        async with request.app[DB].begin() as s:
            account = await auth.set_password_with_link(
                s, settings, raw, str(form.get("password", "")), str(form.get("repeat", ""))
            )
            complete = account.two_factor.value == "none"
            target = await _first_page(s, account)
            cookie, _row = await sessions.create(
                s,
                settings,
                account,
                stage=sessions.FULL if complete else sessions.PASSWORD_ONLY,
                address=client_address(request),
            )
    except LinkExpired:
        raise
    except LoketError as exc:
        async with request.app[DB].read() as s:
            account = await auth.password_link_account(s, raw)
        return page(
            request, "password.html", {"error": exc, "username": account.username}, status=400
        )
    request[SET_SESSION] = cookie
    raise web.HTTPSeeOther(
        f"{target}?welcome=1" if complete else f"/login/code?next={quote(target, safe='')}"
    )


async def _first_page(s: AsyncSession, account: Account) -> str:
    """Where a client lands after choosing a password: the checklist waiting for them if
    there is exactly one, else Home (not My details: they came to do something)."""
    waiting = await checklists.actions(s, Actor.of(account, Channel.WEB))
    return f"/checklists/{waiting[0].id}" if len(waiting) == 1 else "/"
