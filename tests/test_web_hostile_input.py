"""The web view under input no browser of ours sends: bodies that cannot be parsed, numbers too
large for the database, bytes that are not text, a HEAD where a GET was meant. Each gets a clear
error page (never a 500) and changes nothing; what a person had saved stays."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest
from aiohttp import FormData
from sqlalchemy import func, select

from core.db import Database
from core.models import Account, Answer, Checklist, DownloadReceipt, Message
from core.services import checklists, documents
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes

from .conftest import PASSWORD, SYSTEM, Firm, set_password
from .webclient import Browser

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"
TOO_BIG = "99999999999999999999"  # beyond any integer column, SQLite's 64 bits included
UNREADABLE = "Dit formulier kon niet worden gelezen"
NO_PAGE = "Deze pagina bestaat niet"


async def logged_in(browser: Browser, db: Database, account: Account, username: str) -> str:
    """Log in and return the CSRF token of the page the form would be on."""
    await set_password(db, account.id)
    await browser.login(username, PASSWORD)
    await browser.get("/me")
    return browser.csrf()


async def raw_post(browser: Browser, path: str, body: bytes, content_type: str):
    response = await browser.client.post(
        path, data=body, headers={"Content-Type": content_type, "Origin": browser.origin}
    )
    browser.last_html = await response.text()
    return response


async def post_multipart(browser: Browser, path: str, fields: list[tuple[str, str]]):
    """A multipart form without files, as the page's own form and script send it (the test
    browser's helper would send a form without files urlencoded)."""
    form = FormData(default_to_multipart=True)
    form.add_field("csrf", browser.csrf())
    for name, value in fields:
        form.add_field(name, value)
    response = await browser.client.post(path, data=form, headers={"Origin": browser.origin})
    browser.last_html = await response.text()
    return response


async def language_of(db: Database, account_id: int) -> str:
    async with db.read() as s:
        return (await s.get(Account, account_id)).language.value


async def raw_request(browser: Browser, head: bytes) -> bytes:
    """A request written byte for byte: header values that are not UTF-8, which the client
    library would not send."""
    reader, writer = await asyncio.open_connection(browser.client.host, browser.client.port)
    writer.write(head + b"Connection: close\r\n\r\n")
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    return data


# --- form bodies that cannot be parsed -------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # Raw bytes that are not UTF-8 (a browser would have percent-encoded them).
        ("application/x-www-form-urlencoded", b"csrf={token}&language=\xff\xfe"),
        # A charset no codec exists for.
        ("application/x-www-form-urlencoded; charset=bogus", b"csrf={token}&language=en"),
        # Multipart without a boundary, with one that never comes, a part with a broken
        # header, and a body that stops in the middle of a part.
        ("multipart/form-data", b"--x\r\n"),
        ("multipart/form-data; boundary=x", b"garbage"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n--x\r\nbroken',
        ),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}',
        ),
    ],
)
async def test_an_unreadable_form_is_refused_and_changes_nothing(
    browser: Browser, db: Database, firm: Firm, content_type: str, body: bytes
) -> None:
    token = await logged_in(browser, db, firm.alice, "alice")
    response = await raw_post(
        browser, "/me/language", body.replace(b"{token}", token.encode()), content_type
    )
    assert response.status == 400 and UNREADABLE in browser.last_html
    assert await language_of(db, firm.alice.id) == "nl"


async def test_an_unreadable_login_form_is_a_clear_error(browser: Browser, firm: Firm) -> None:
    await browser.get("/login")
    body = f"csrf={browser.csrf()}&username=alice&password=\xff".encode("latin-1")
    response = await raw_post(browser, "/login", body, "application/x-www-form-urlencoded")
    assert response.status == 400 and UNREADABLE in browser.last_html


async def test_a_multipart_form_without_token_is_refused_on_every_route(
    browser: Browser, db: Database, firm: Firm
) -> None:
    """Multipart was let through unchecked, for the upload routes to check themselves; the
    other routes then read it without any token."""
    await logged_in(browser, db, firm.alice, "alice")
    form = FormData(default_to_multipart=True)
    form.add_field("language", "en")
    response = await browser.client.post(
        "/me/language", data=form, headers={"Origin": browser.origin}
    )
    assert response.status == 403 and "verlopen" in await response.text()
    assert await language_of(db, firm.alice.id) == "nl"


async def test_a_multipart_form_with_its_token_works_on_a_plain_route(
    browser: Browser, db: Database, firm: Firm
) -> None:
    token = await logged_in(browser, db, firm.alice, "alice")
    form = FormData(default_to_multipart=True)
    form.add_field("csrf", token)
    form.add_field("language", "en")
    response = await browser.client.post(
        "/me/language", data=form, headers={"Origin": browser.origin}
    )
    assert response.status == 200 and "My details" in await response.text()
    assert await language_of(db, firm.alice.id) == "en"


@pytest.mark.parametrize(
    "token_part",
    [
        # Text that hmac.compare_digest cannot compare.
        b'Content-Disposition: form-data; name="csrf"\r\n\r\n\xc3\xa9',
        # The token field sent as a file.
        b'Content-Disposition: form-data; name="csrf"; filename="t.txt"\r\n\r\n{token}',
    ],
)
async def test_a_strange_token_field_is_an_expired_form(
    browser: Browser, db: Database, firm: Firm, token_part: bytes
) -> None:
    token = await logged_in(browser, db, firm.alice, "alice")
    body = (
        b"--x\r\n"
        + token_part.replace(b"{token}", token.encode())
        + b'\r\n--x\r\nContent-Disposition: form-data; name="language"\r\n\r\nen\r\n--x--\r\n'
    )
    response = await raw_post(browser, "/me/language", body, "multipart/form-data; boundary=x")
    assert response.status == 403 and "verlopen" in browser.last_html
    assert await language_of(db, firm.alice.id) == "nl"


async def test_a_non_ascii_token_on_the_message_form_is_an_expired_form(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await logged_in(browser, db, firm.alice, "alice")
    body = (
        b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n\xc3\xa9\r\n'
        b'--x\r\nContent-Disposition: form-data; name="subject"\r\n\r\nS\r\n'
        b'--x\r\nContent-Disposition: form-data; name="body"\r\n\r\nB\r\n--x--\r\n'
    )
    response = await raw_post(
        browser, "/dossiers/2026-0001/messages", body, "multipart/form-data; boundary=x"
    )
    # The message form shows the refusal above the form itself.
    assert response.status == 400 and "verlopen" in browser.last_html
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Message)) == 0


async def test_a_non_ascii_token_in_a_plain_form_is_an_expired_form(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await logged_in(browser, db, firm.alice, "alice")
    response = await browser.post("/me/language", {"language": "en", "csrf": "é" * 64})
    assert response.status == 403 and "verlopen" in browser.last_html
    assert await language_of(db, firm.alice.id) == "nl"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"csrf={token}&subject=S&body=B"),
        ("multipart/form-data", b"--x\r\n"),
        ("multipart/form-data; boundary=x", b""),
        ("multipart/form-data; boundary=" + "b" * 100, b"--" + b"b" * 100 + b"--\r\n"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
            b'--x\r\nContent-Disposition: form-data; name="subject"\r\n\r\nS\r\n'
            b'--x\r\nContent-Disposition: form-data; name="body"\r\n\r\nB\r\n'
            b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n\r\n'
            b"a file that never ends",
        ),
        (
            # A filename with a NUL, and one that smuggles a second header into the part:
            # browsers escape both, so these parts are malformed.
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
            b'--x\r\nContent-Disposition: form-data; name="subject"\r\n\r\nS\r\n'
            b'--x\r\nContent-Disposition: form-data; name="body"\r\n\r\nB\r\n'
            b'--x\r\nContent-Disposition: form-data; name="files"; filename="a\x00b.pdf"\r\n\r\n'
            b"%PDF\r\n--x--\r\n",
        ),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
            b'--x\r\nContent-Disposition: form-data; name="subject"\r\n\r\nS\r\n'
            b'--x\r\nContent-Disposition: form-data; name="body"\r\n\r\nB\r\n'
            b'--x\r\nContent-Disposition: form-data; name="files"; filename="a\r\n'
            b'Content-Type: text/html"\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--x--\r\n',
        ),
    ],
)
async def test_an_unreadable_message_form_is_refused_and_nothing_is_sent(
    browser: Browser, db: Database, firm: Firm, content_type: str, body: bytes
) -> None:
    await logged_in(browser, db, firm.alice, "alice")
    await browser.get("/dossiers/2026-0001/messages/new")
    body = body.replace(b"{token}", browser.csrf().encode())
    response = await raw_post(browser, "/dossiers/2026-0001/messages", body, content_type)
    assert response.status == 400 and UNREADABLE in browser.last_html
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Message)) == 0


async def test_a_body_over_the_limit_gets_a_page_in_the_readers_language(
    browser: Browser, db: Database, firm: Firm
) -> None:
    token = await logged_in(browser, db, firm.alice, "alice")
    response = await browser.post(
        "/me/language", {"language": "en", "csrf": token, "x": "x" * 2**21}
    )
    assert response.status == 413 and "te groot om te versturen" in browser.last_html
    assert await language_of(db, firm.alice.id) == "nl"


# --- numbers ---------------------------------------------------------------------------------


@pytest.fixture
async def checklist(db: Database, firm: Firm) -> Checklist:
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES_DIR / "inkomstenbelasting.yaml").read_text()
        )
        return await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting"
        )


@pytest.mark.parametrize(
    "path",
    [
        f"/messages/{TOO_BIG}",
        f"/checklists/{TOO_BIG}",
        f"/checklists/{TOO_BIG}/summary",
        f"/documents/{TOO_BIG}/download",
        # Fits SQLite's 64 bits, not PostgreSQL's 32-bit INTEGER.
        "/messages/3000000000",
        "/documents/3000000000/download",
    ],
)
async def test_an_id_too_large_for_the_database_is_a_page_that_does_not_exist(
    browser: Browser, db: Database, firm: Firm, path: str
) -> None:
    await logged_in(browser, db, firm.alice, "alice")
    response = await browser.get(path)
    assert response.status == 404 and NO_PAGE in browser.last_html


@pytest.mark.parametrize(
    "path",
    [
        f"/staff/accounts/{TOO_BIG}/invite",
        f"/checklists/{TOO_BIG}/approve",
        f"/checklists/{TOO_BIG}/reject",
        f"/checklists/{TOO_BIG}/submit",
        f"/me/accounts/{TOO_BIG}/remove",
    ],
)
async def test_a_post_to_an_id_too_large_is_not_found(
    browser: Browser, db: Database, firm: Firm, path: str
) -> None:
    await logged_in(browser, db, firm.staff, "sanne")
    response = await browser.post(path, {"reason": "x"})
    assert response.status == 404 and NO_PAGE in browser.last_html


@pytest.mark.parametrize("reply_to", [TOO_BIG, "²", "1" * 5000])
async def test_a_reply_to_that_names_no_message_opens_a_new_message(
    browser: Browser, db: Database, firm: Firm, reply_to: str
) -> None:
    await logged_in(browser, db, firm.alice, "alice")
    response = await browser.get(f"/dossiers/2026-0001/messages/new?reply_to={reply_to}")
    assert response.status == 200 and 'name="subject"' in browser.last_html


@pytest.mark.parametrize("parent_id", [TOO_BIG, "²"])
async def test_a_parent_id_that_names_no_message_sends_a_new_one(
    browser: Browser, db: Database, firm: Firm, parent_id: str
) -> None:
    await logged_in(browser, db, firm.alice, "alice")
    await browser.get("/dossiers/2026-0001/messages/new")
    response = await post_multipart(
        browser,
        "/dossiers/2026-0001/messages",
        [("subject", "Vraag"), ("body", "Nog een vraag."), ("parent_id", parent_id)],
    )
    assert response.status == 200 and "Vraag" in browser.last_html
    async with db.read() as s:
        message = await s.scalar(select(Message))
    assert message.body == "Nog een vraag." and message.parent_id is None


@pytest.mark.parametrize("section", ["abc", "1e5", "²", "-1", TOO_BIG])
async def test_a_section_that_is_not_a_number_is_refused_and_saves_nothing(
    browser: Browser, db: Database, firm: Firm, checklist: Checklist, section: str
) -> None:
    await logged_in(browser, db, firm.alice, "alice")
    await browser.get(f"/checklists/{checklist.id}")
    response = await post_multipart(
        browser, f"/checklists/{checklist.id}", [("section", section), ("q:partner", "nee")]
    )
    assert response.status == 404 and "Dit onderdeel van de checklist bestaat niet" in (
        browser.last_html
    )
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Answer)) == 0


async def test_a_checklist_form_sent_urlencoded_is_refused_and_saves_nothing(
    browser: Browser, db: Database, firm: Firm, checklist: Checklist
) -> None:
    await logged_in(browser, db, firm.alice, "alice")
    await browser.get(f"/checklists/{checklist.id}")
    response = await browser.post(
        f"/checklists/{checklist.id}", {"section": "0", "q:partner": "nee"}
    )
    assert response.status == 400 and UNREADABLE in browser.last_html
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Answer)) == 0


@pytest.mark.parametrize("section", ["²", "abc"])
async def test_a_section_in_the_address_that_is_not_a_number_shows_the_checklist(
    browser: Browser, db: Database, firm: Firm, checklist: Checklist, section: str
) -> None:
    await logged_in(browser, db, firm.alice, "alice")
    response = await browser.get(f"/checklists/{checklist.id}?section={section}")
    assert response.status == 200 and "Persoonlijke gegevens" in browser.last_html


# --- HEAD, cookies and headers ---------------------------------------------------------------


async def test_head_of_a_download_sends_no_body_and_records_no_download(
    browser: Browser, db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        doc = await documents.publish_document(
            s, store, SYSTEM, number="2026-0001", upload=Upload("a.pdf", aiter_bytes(b"%PDF x"))
        )
    await logged_in(browser, db, firm.alice, "alice")
    head = await browser.client.head(f"/documents/{doc.id}/download")
    assert head.status == 200 and head.headers["Content-Length"] == "6"
    # On the same connection: a body sent with the HEAD would be read as this response.
    page = await browser.get("/dossiers/2026-0001?tab=document")
    assert page.status == 200 and 'data-testid="not-downloaded"' in browser.last_html
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(DownloadReceipt)) == 0
    other = await browser.client.head(f"/documents/{TOO_BIG}/download")
    assert other.status == 404


@pytest.mark.parametrize(
    "cookie",
    [
        b"loket=\xff\xfe",  # a session cookie that is not UTF-8
        b"loket_csrf=\xff\xfe",  # the anonymous form cookie, the same
        b"loket_csrf=" + b"\xc3\xa9" * 20,
        b"loket_lang=\xff",
    ],
)
async def test_a_cookie_that_is_not_text_is_ignored(browser: Browser, cookie: bytes) -> None:
    response = await raw_request(
        browser, b"GET /login HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + b"\r\n"
    )
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK"
    assert b"Inloggen" in rest


@pytest.mark.parametrize("header", ["Origin", "Referer"])
async def test_an_origin_that_is_not_a_url_is_another_site(
    browser: Browser, db: Database, firm: Firm, header: str
) -> None:
    token = await logged_in(browser, db, firm.alice, "alice")
    response = await browser.client.post(
        "/me/language", data={"csrf": token, "language": "en"}, headers={header: "http://["}
    )
    assert response.status == 403 and "niet vanaf deze site" in await response.text()
    assert await language_of(db, firm.alice.id) == "nl"


# --- requests that are not valid HTTP --------------------------------------------------------


async def test_malformed_requests_get_400_and_one_quiet_log_line(
    browser: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    from loket.logs import configure_logging

    configure_logging(logging.INFO)  # as `loket serve` does
    caplog.set_level(logging.DEBUG)
    secret = "geheim-token-123"
    bad = [
        b"GET /password/" + secret.encode() + b"x" * 9000 + b" HTTP/1.1\r\nHost: a\r\n",
        b"GET /password/" + secret.encode() + "/é".encode() + b" HTTP/1.1\r\nHost: a\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\x01b\r\n",
    ]
    for head in bad:
        answer = await raw_request(browser, head)
        assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == b"400"
    server = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(server) == len(bad)
    # The access line: no route was matched. Was: the access logger itself crashed.
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(access) == len(bad) and all(re.fullmatch(r"\w+ \? 400 [\d.]+ms", a) for a in access)
    # Was: each at ERROR with a traceback, quoting the request line.
    assert {(r.levelname, r.exc_info) for r in server} == {("INFO", None)}
    assert all("malformed request refused" in r.getMessage() for r in server)
    assert not any(secret in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("path", ["/dossiers/2026-0001/messages", "/me/2fa/totp", "/logout"])
async def test_a_form_address_opened_in_the_address_bar_is_a_page_not_a_bare_405(
    browser: Browser, db: Database, firm: Firm, path: str
) -> None:
    # The error of a form is shown at the form's address; pressing Enter in the address bar
    # there asks for that address with GET.
    await logged_in(browser, db, firm.alice, "alice")
    response = await browser.get(path)
    assert response.status == 405 and "POST" in response.headers["Allow"]
    # Was aiohttp's bare English "405: Method Not Allowed", without the site around it.
    assert NO_PAGE in browser.last_html and 'lang="nl"' in browser.last_html
