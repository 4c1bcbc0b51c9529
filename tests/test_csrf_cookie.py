"""The anonymous form cookie (the CSRF binding before login) is pinned to this host on https,
as the session cookie is, and form tokens outlive a secret key rotation."""

from __future__ import annotations

import dataclasses
import re

from core.db import Database
from core.settings import Settings
from web.app import create_app

from .conftest import PASSWORD, Firm, mail_settings, set_password

HTTPS = "https://portaal.kantoor.example"
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


async def login_form(client) -> tuple[str, str, str]:
    """GET /login as a browser: the anonymous cookie's Set-Cookie line, its value, the token."""
    response = await client.get("/login")
    lines = [h for h in response.headers.getall("Set-Cookie") if "csrf" in h]
    assert len(lines) == 1, lines
    value = lines[0].split(";")[0].split("=", 1)[1]
    return lines[0], value, TOKEN.search(await response.text()).group(1)


async def post_login(client, origin: str, cookie: str, token: str):
    # aiohttp's test client speaks plain http and keeps Secure cookies to itself: the Cookie
    # header is written here, as a browser on https would send it.
    return await client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf": token},
        headers={"Origin": origin, "Cookie": cookie},
        allow_redirects=False,
    )


async def app_client(aiohttp_client, settings: Settings, db: Database, store):
    client = await aiohttp_client(create_app(settings, db, store))
    client.session.cookie_jar.clear()
    return client


async def test_on_https_the_form_cookie_has_the_host_prefix_and_the_login_works(
    aiohttp_client, db: Database, store, tmp_path, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    client = await app_client(aiohttp_client, mail_settings(tmp_path, public_url=HTTPS), db, store)
    line, value, token = await login_form(client)
    assert line.startswith(f"__Host-loket_csrf={value};")
    attributes = {part.strip().lower() for part in line.split(";")[1:]}
    assert {"secure", "path=/", "httponly"} <= attributes
    assert not any(a.startswith("domain") for a in attributes)
    done = await post_login(client, HTTPS, f"__Host-loket_csrf={value}", token)
    assert done.status == 303 and done.headers["Location"] == "/"


async def test_on_https_a_form_cookie_without_the_prefix_is_not_taken(
    aiohttp_client, db: Database, store, tmp_path, firm: Firm
) -> None:
    # Cookie tossing: someone on a neighbouring host gets a cookie and token of their own
    # and plants the cookie, without the prefix (which only this host could set), in the
    # victim's browser, to log the victim in as themselves.
    await set_password(db, firm.alice.id)
    client = await app_client(aiohttp_client, mail_settings(tmp_path, public_url=HTTPS), db, store)
    _, value, token = await login_form(client)
    planted = await post_login(client, HTTPS, f"loket_csrf={value}", token)
    assert planted.status == 403
    assert not any("loket=" in h for h in planted.headers.getall("Set-Cookie", []))


async def test_on_http_the_form_cookie_keeps_its_plain_name(
    aiohttp_client, db: Database, store, tmp_path, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    settings = mail_settings(tmp_path, public_url="http://portal.test")
    client = await app_client(aiohttp_client, settings, db, store)
    line, value, token = await login_form(client)
    assert line.startswith(f"loket_csrf={value};") and "secure" not in line.lower()
    done = await post_login(client, "http://portal.test", f"loket_csrf={value}", token)
    assert done.status == 303


async def test_a_form_opened_before_a_key_rotation_still_works(
    aiohttp_client, db: Database, store, tmp_path, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    old = mail_settings(tmp_path, public_url=HTTPS)
    before = await app_client(aiohttp_client, old, db, store)
    _, value, token = await login_form(before)
    cookie = f"__Host-loket_csrf={value}"

    # Restarted with a new key and no previous one: the old form has expired.
    new_only = dataclasses.replace(old, secret_key="the-new-secret-key")
    client = await app_client(aiohttp_client, new_only, db, store)
    expired = await post_login(client, HTTPS, cookie, token)
    assert expired.status == 403 and "Dit formulier is verlopen" in await expired.text()

    # With the old key as LOKET_SECRET_KEY_PREVIOUS, the form opened before still works.
    rotating = dataclasses.replace(new_only, secret_key_previous=old.secret_key)
    client = await app_client(aiohttp_client, rotating, db, store)
    assert (await post_login(client, HTTPS, cookie, token)).status == 303
