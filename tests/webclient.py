"""A thin helper over aiohttp's test client that behaves like a browser on our forms: it keeps
cookies, sends an Origin header, and takes the CSRF token from the page it posts from."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.origin = str(client.make_url("/")).rstrip("/")
        self.last_html = ""

    async def get(self, path: str, **kw: Any):
        response = await self.client.get(path, **kw)
        if "text/html" in response.headers.get("Content-Type", ""):
            self.last_html = await response.text()
        return response

    def csrf(self) -> str:
        found = CSRF.search(self.last_html)
        assert found, "no CSRF token on the last page"
        return found.group(1)

    async def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        csrf: str | None = None,
        origin: str | None = None,
        **kw: Any,
    ):
        form = dict(data or {})
        if csrf is not False:
            form.setdefault("csrf", csrf or self.csrf())
        headers = {"Origin": origin or self.origin, **kw.pop("headers", {})}
        response = await self.client.post(path, data=form, headers=headers, **kw)
        if "text/html" in response.headers.get("Content-Type", ""):
            self.last_html = await response.text()
        return response

    async def post_multipart(self, path: str, fields: list[tuple[str, Any]], files=(), **kw: Any):
        form = FormData(quote_fields=False)  # as browsers do: the filename as it is, in UTF-8
        form.add_field("csrf", self.csrf())
        for name, value in fields:
            form.add_field(name, value)
        for name, filename, content, content_type in files:
            form.add_field(name, content, filename=filename, content_type=content_type)
        headers = {"Origin": self.origin, **kw.pop("headers", {})}
        response = await self.client.post(path, data=form, headers=headers, **kw)
        if "text/html" in response.headers.get("Content-Type", ""):
            self.last_html = await response.text()
        return response

    async def login(self, username: str, password: str):
        await self.get("/login")
        return await self.post("/login", {"username": username, "password": password})
