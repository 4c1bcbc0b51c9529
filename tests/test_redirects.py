"""Where a request names the page to go to next (``next`` after login, ``back`` after an
invitation or the language switch), the answer never sends the browser to another site,
whatever is written there: only a path on this site comes out of it."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import pytest

from core.db import Database
from web.guards import safe_next

from .conftest import PASSWORD, Firm, set_password
from .webclient import Browser

NEXT_FIELD = re.compile(r'name="next" value="([^"]*)"')
HOSTILE = [
    "/\t/evil.example",  # browsers drop tabs, newlines and CRs from a URL
    "/\n/evil.example",
    "/\r/evil.example",
    "/\r\n/evil.example",
    "/\\evil.example",  # and read a backslash as a slash
    "/\\/evil.example",
    "\\\\evil.example",
    "/\\\tevil.example",
    "/%09/evil.example",
    "/%5C/evil.example",
    "/%2F%2Fevil.example",
    "%2F%2Fevil.example",
    "/%2e%2e//evil.example",
    "/.//evil.example",
    "/a/..//evil.example",
    "https://evil.example/",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "//evil.example",
    "///evil.example",
    " //evil.example",
    "/\u3000/evil.example",  # unicode whitespace
    "/\u2028/evil.example",
    "/\u00a0/evil.example",
    "/\u202e/evil.example",  # a bidi override
    "/\x00/evil.example",
    "/\x1b/evil.example",
]


def is_local(location: str) -> bool:
    """Where a browser goes with this Location, said of the portal: the portal itself."""
    if any(ord(ch) < 0x21 or ord(ch) > 0x7E or ch == "\\" for ch in location):
        return False
    target = urlsplit(urljoin("http://127.0.0.1/dossiers", location))
    return (
        target.scheme == "http"
        and target.netloc == "127.0.0.1"
        and not target.path.startswith("//")
        and location.startswith("/")
        and not location.startswith("//")
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_target_becomes_the_home_page(value: str) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize(
    "value",
    ["/me", "/dossiers/2026-0001?tab=messages", "/dossiers/2026%2F0001", "/login/code?next=/me"],
)
def test_a_path_on_this_site_is_kept(value: str) -> None:
    assert safe_next(value) == value


# A password check takes a second here: the full list goes through the login page's form
# below, a few of each kind through a real login.
LOGIN_SAMPLE = [
    "/\t/evil.example",
    "/\\evil.example",
    "/%2e%2e//evil.example",
    "/\u3000/evil.example",
]


async def test_login_never_redirects_to_another_site(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    wrong = []
    for value in LOGIN_SAMPLE:
        await browser.get("/login")
        response = await browser.post(
            "/login",
            {"username": "alice", "password": PASSWORD, "next": value},
            allow_redirects=False,
        )
        assert response.status == 303
        if not is_local(response.headers["Location"]):
            wrong.append((value, response.headers["Location"]))
        await browser.post("/logout", allow_redirects=False)
    assert wrong == []


async def test_the_login_page_carries_no_hostile_target(browser: Browser) -> None:
    # The address of the login page puts ``next`` into its form, which posts it back.
    wrong = []
    for value in HOSTILE:
        await browser.get("/login", params={"next": value})
        carried = NEXT_FIELD.search(browser.last_html)
        if carried is None or html.unescape(carried.group(1)) != "/":
            wrong.append((value, carried and carried.group(1)))
    assert wrong == []


async def test_the_staff_invite_never_goes_back_to_another_site(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.staff.id)
    await browser.login("sanne", PASSWORD)
    await browser.get("/dossiers/2026-0100")
    token = browser.csrf()
    wrong = []
    for value in HOSTILE:
        response = await browser.post(
            f"/staff/accounts/{firm.bv_extra.id}/invite",
            {"back": value},
            csrf=token,
            allow_redirects=False,
        )
        assert response.status == 303
        location = response.headers["Location"]
        if not is_local(location) or not location.startswith(f"/?invited={firm.bv_extra.id}"):
            wrong.append((value, location))
    assert wrong == []


async def test_the_language_switch_never_goes_back_to_another_site(browser: Browser) -> None:
    await browser.get("/login")
    token = browser.csrf()
    wrong = []
    for value in HOSTILE:
        response = await browser.post(
            "/language", {"language": "en", "back": value}, csrf=token, allow_redirects=False
        )
        assert response.status == 303
        if response.headers["Location"] != "/":
            wrong.append((value, response.headers["Location"]))
    assert wrong == []
