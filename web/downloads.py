"""Sending a stored file as the response: the first piece is read before the status line goes
out, so a file that cannot be opened at all (encrypted under a key that is not configured, a
damaged header) gets an error page; one found damaged further on cuts the connection, so the
browser reports an unfinished download instead of saving a short file as if it were whole."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from core.errors import LoketError
from core.i18n import N_
from core.store_cipher import DamagedFile

from . import accesslog

log = logging.getLogger(__name__)

UNREADABLE = N_("This file cannot be opened at the moment. Please ask the office for it.")


class FileUnreadable(LoketError):
    """The stored file behind a download could not be read (the server's fault: 500)."""

    code = "file_unreadable"


async def send_stored(
    request: web.Request, headers: dict[str, str], chunks: AsyncIterator[bytes]
) -> web.StreamResponse:
    """Stream ``chunks`` (a store's ``open``) as the body of a response with ``headers``."""
    where = f"{request.method} {accesslog.route(request)}"
    async with contextlib.aclosing(chunks):
        try:
            first = await anext(chunks, b"")
        except DamagedFile as exc:
            log.error("a stored file could not be opened on %s: %s", where, exc)
            raise FileUnreadable(UNREADABLE) from None
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        try:
            if first:
                await response.write(first)
            async for chunk in chunks:
                await response.write(chunk)
        except DamagedFile as exc:
            # The status line is out: only a cut connection tells the browser the download
            # failed. Returned as it is, aiohttp would end a chunked body properly (a mail's
            # original has no Content-Length), and the short file would look whole.
            log.error("a stored file broke off on %s: %s", where, exc)
            if request.transport is not None:
                request.transport.abort()
            return response
    await response.write_eof()
    return response
