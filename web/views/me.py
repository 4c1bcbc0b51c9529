"""My details: language, notifications, password, two-step verification, Telegram, company
accounts."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from aiohttp import web

from core.errors import LoketError, TooManyAttempts
from core.notifications import CHANNELS, OPTIONAL_KINDS, wants
from core.services import auth, profile, telegram, totpsecrets, twofactor
from core.sms import available as sms_available

from ..guards import actor, login_required, safe_next, two_factor_setup_step
from ..keys import DB, LIVE, SET_LANG, SETTINGS, SMS, TELEGRAM
from ..params import path_id
from ..render import page, refused, retry_after

routes = web.RouteTableDef()


def qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


async def _me_page(
    request: web.Request, extra: dict | None = None, *, status: int = 200
) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        account = await profile.my_account(s, actor(request))
        left = await twofactor.recovery_codes_left(s, account.id)
        manages = await profile.manages_company_accounts(s, actor(request))
        chat = (await telegram.telegram_status(s, [account])).get(account.id, telegram.NOT_LINKED)
    prefs = {
        (kind.value, channel): wants(account, kind, channel)
        for kind in OPTIONAL_KINDS
        for channel in CHANNELS
    }
    context = {
        "me": account,
        "prefs": prefs,
        "kinds": [k.value for k in OPTIONAL_KINDS],
        "channels": CHANNELS,
        "codes_left": left,
        "manages_accounts": manages,
        "sms_offered": request.app.get(SMS) is not None,
        # Linking is offered where a bot runs; a link made earlier can always be undone.
        "telegram_offered": request.app[TELEGRAM] and telegram.may_link(actor(request)),
        "telegram": chat,
        "saved": request.query.get("saved"),
    }
    context.update(extra or {})
    return page(request, "me.html", context, status=status)


@routes.get("/me")
@login_required
async def me(request: web.Request) -> web.StreamResponse:
    return await _me_page(request)


@routes.post("/me/language")
@login_required
async def language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with request.app[DB].begin() as s:
        account = await profile.set_language(s, actor(request), str(form.get("language", "")))
    request[SET_LANG] = account.language.value
    raise web.HTTPSeeOther("/me?saved=language")


@routes.post("/language")
async def anonymous_language(request: web.Request) -> web.StreamResponse:
    """The language switch on pages before login: a cookie only."""
    form = await request.post()
    chosen = str(form.get("language", ""))
    if chosen in ("nl", "en"):
        request[SET_LANG] = chosen
    raise web.HTTPSeeOther(safe_next(str(form.get("back", "/"))))


@routes.post("/me/notifications")
@login_required
async def notifications(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    wanted = {
        (kind.value, channel)
        for kind in OPTIONAL_KINDS
        for channel in CHANNELS
        if form.get(f"{kind.value}:{channel}") == "on"
    }
    async with request.app[DB].begin() as s:
        await profile.set_notifications(s, actor(request), wanted)
    raise web.HTTPSeeOther("/me?saved=notifications")


@routes.post("/me/password")
@login_required
async def password(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with request.app[DB].begin() as s:
            await auth.change_password(
                s,
                actor(request),
                str(form.get("current", "")),
                str(form.get("password", "")),
                str(form.get("repeat", "")),
                keep_session=request[LIVE].row.id,
            )
    except LoketError as exc:
        return await _me_page(request, {"password_error": exc}, status=400)
    raise web.HTTPSeeOther("/me?saved=password")


@routes.get("/me/2fa/setup")
@login_required
@two_factor_setup_step
async def two_factor_setup(request: web.Request) -> web.StreamResponse:
    """Where a staff account without two-step verification is sent, when the firm requires
    it, before any other page."""
    async with request.app[DB].read() as s:
        account = await profile.my_account(s, actor(request))
    if not twofactor.setup_required(account, request.app[SETTINGS]):
        raise web.HTTPSeeOther("/")
    return page(request, "two_factor_required.html")


@routes.post("/me/2fa/totp")
@login_required
@two_factor_setup_step
async def totp_begin(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].begin() as s:
        secret = await twofactor.begin_totp(s, actor(request), request.app[SETTINGS])
        account = await profile.my_account(s, actor(request))
    uri = twofactor.provisioning_uri(account, secret, request.app[SETTINGS].firm_name)
    return page(request, "totp.html", {"secret": secret, "qr": qr_svg(uri)})


@routes.post("/me/2fa/totp/confirm")
@login_required
@two_factor_setup_step
async def totp_confirm(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with request.app[DB].begin() as s:
            codes = await twofactor.confirm_totp(
                s, actor(request), request.app[SETTINGS], str(form.get("code", ""))
            )
    except LoketError as exc:
        async with request.app[DB].read() as s:
            account = await profile.my_account(s, actor(request))
        secret = totpsecrets.readable(request.app[SETTINGS], account) or ""
        uri = twofactor.provisioning_uri(account, secret, request.app[SETTINGS].firm_name)
        return page(
            request, "totp.html", {"secret": secret, "qr": qr_svg(uri), "error": exc}, status=400
        )
    return page(request, "recovery.html", {"codes": codes})


async def _no_sms(request: web.Request) -> web.StreamResponse | None:
    """My details with a clear refusal when this portal cannot send text messages."""
    try:
        sms_available(request.app.get(SMS))
    except LoketError as exc:
        return await _me_page(request, {"sms_error": exc}, status=400)
    return None


@routes.post("/me/2fa/sms")
@login_required
async def sms_begin(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    phone = str(form.get("phone", ""))
    if (no_sms := await _no_sms(request)) is not None:
        return no_sms
    try:
        async with request.app[DB].begin() as s:
            await twofactor.begin_sms(s, actor(request), request.app[SMS], phone)
    except TooManyAttempts as exc:
        return retry_after(await _me_page(request, {"sms_error": exc}, status=429), exc)
    except LoketError as exc:
        return await _me_page(request, {"sms_error": exc}, status=400)
    return page(request, "sms.html", {"phone": phone})


@routes.post("/me/2fa/sms/confirm")
@login_required
async def sms_confirm(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if (no_sms := await _no_sms(request)) is not None:
        return no_sms  # not switched on when no text can reach the phone
    try:
        async with request.app[DB].begin() as s:
            codes = await twofactor.confirm_sms(s, actor(request), str(form.get("code", "")))
    except LoketError as exc:
        codes = exc
    if isinstance(codes, LoketError):
        return refused(request, "sms.html", codes, {})
    return page(request, "recovery.html", {"codes": codes})


@routes.post("/me/2fa/off")
@login_required
async def two_factor_off(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with request.app[DB].begin() as s:
            await twofactor.disable(
                s, actor(request), request.app[SETTINGS], str(form.get("password", ""))
            )
    except LoketError as exc:
        return await _me_page(request, {"off_error": exc}, status=400)
    raise web.HTTPSeeOther("/me?saved=2fa")


@routes.post("/me/telegram/link")
@login_required
async def telegram_link(request: web.Request) -> web.StreamResponse:
    """A one-time code and deep link, shown once on this page (never sent anywhere)."""
    if not request.app[TELEGRAM]:
        raise web.HTTPSeeOther("/me")
    async with request.app[DB].begin() as s:
        code = await telegram.issue_link_code(s, request.app[SETTINGS], actor(request))
    qr = qr_svg(code.deep_link) if code.deep_link else None
    return await _me_page(request, {"link_code": code, "link_qr": qr})


@routes.post("/me/telegram/unlink")
@login_required
async def telegram_unlink(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].begin() as s:
        await telegram.unlink(s, actor(request))
    raise web.HTTPSeeOther("/me?saved=telegram#telegram")


@routes.get("/me/accounts")
@login_required
async def company_accounts(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].read() as s:
        accounts = await profile.company_accounts(s, actor(request))
        statuses = await telegram.telegram_status(s, accounts)
    return page(request, "accounts.html", {"accounts": accounts, "people_telegram": statuses})


@routes.post("/me/accounts")
@login_required
async def add_company_account(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with request.app[DB].begin() as s:
            account = await profile.add_company_account(
                s,
                actor(request),
                name=str(form.get("name", "")),
                email=str(form.get("email", "")),
                username=str(form.get("username", "")).strip() or None,
            )
            await auth.invite(s, actor(request), request.app[SETTINGS], account)
    except LoketError as exc:
        async with request.app[DB].read() as s:
            accounts = await profile.company_accounts(s, actor(request))
            statuses = await telegram.telegram_status(s, accounts)
        context = {"accounts": accounts, "people_telegram": statuses, "error": exc, "form": form}
        return page(request, "accounts.html", context, status=400)
    raise web.HTTPSeeOther("/me/accounts?added=1")


@routes.post("/me/accounts/{id:\\d+}/remove")
@login_required
async def remove_company_account(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].begin() as s:
        await profile.remove_company_account(s, actor(request), path_id(request))
    raise web.HTTPSeeOther("/me/accounts?removed=1")
