"""Reading a multipart form part by part: the CSRF token first, then the text fields, then the
files, each streamed straight into the store with the size limit counted as bytes arrive.

The body is parsed by web.multipart, which limits only a part's header lines (as aiohttp
does), so the form's limits are counted here: parts, text bytes per field and in all, files
per form, and only file parts under the names the form has. (A form read with
``request.post()`` has aiohttp's limits, set to the same numbers in web.app.) A request
refused after files were stored leaves none behind: see web.middleware.stored_files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass, field

from aiohttp import StreamReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from core.errors import LoketError, PermissionDenied, TooLarge, ValidationError
from core.i18n import N_
from core.services.documents import Upload
from core.storage import FileStore

from . import csrf
from .keys import SETTINGS
from .multipart import FormReader, Part

TEXT_FIELD_LIMIT = 64 * 1024
# Per request, for every form: its parts (fields and files), and its text in all.
MAX_FIELDS = 500  # the largest form of ours has under 200
MAX_TEXT = 1024 * 1024
MAX_FILES = 20
UNREADABLE = N_("This form could not be read. Reload the page and try again.")
TOO_LARGE = N_("This form is too large to send.")
_STREAMS = "_loket_streams_form"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def streams_form(handler: Handler) -> Handler:
    """Mark a handler that reads its multipart form itself, with ``read_form``, which checks
    the CSRF token on the first part. Any other form, to any other handler, is read and checked
    by the middleware first, multipart included. (Put it below ``login_required``, whose
    ``functools.wraps`` carries the mark up.)"""
    setattr(handler, _STREAMS, True)
    return handler


def reads_own_form(handler: object) -> bool:
    return bool(getattr(handler, _STREAMS, False))


@contextlib.contextmanager
def readable() -> Iterator[None]:
    """Turn a body aiohttp cannot parse into a clear error: bytes that are not UTF-8, an
    unknown charset, a multipart body without or with a broken boundary, a part with a bad
    header, a body that ends early."""
    try:
        yield
    except (ValueError, LookupError, HttpProcessingError) as exc:
        raise ValidationError(UNREADABLE) from exc


class TooSlow(LoketError):
    """The request's body stopped coming, or came too slowly (see ``body_clock``)."""

    code = "too_slow"


@contextlib.asynccontextmanager
async def body_clock(request: web.Request) -> AsyncIterator[None]:
    """Reading the request's body inside raises TooSlow when no byte has come for
    ``http_body_timeout_seconds``, or when, after that long, fewer than
    ``http_body_min_bytes_per_second`` have come on average (a byte every ten seconds never
    pauses long, but would hold the connection for hours). The answer (408) is sent at once;
    aiohttp then reads what more comes for at most its lingering time and closes (see
    loket/serve.py)."""
    settings = request.app[SETTINGS]
    stall, rate = settings.http_body_timeout_seconds, settings.http_body_min_bytes_per_second
    try:
        async with asyncio.timeout(stall) as clock:
            watch = asyncio.create_task(_watch(request.content, clock, stall, rate))
            try:
                yield
            finally:
                watch.cancel()
    except TimeoutError as exc:
        if not clock.expired():
            raise
        raise TooSlow(N_("The connection was too slow to send this form. Try again.")) from exc


async def _watch(content: StreamReader, clock: asyncio.Timeout, stall: float, rate: int) -> None:
    """Move the deadline on as the body's bytes come in; none once it has all come."""
    loop = asyncio.get_running_loop()
    start = last = loop.time()
    seen = content.total_bytes  # the body's bytes so far, those before the clock included
    while not content.is_eof():
        await asyncio.sleep(min(1.0, stall / 4))
        now = loop.time()
        if content.total_bytes != seen:
            seen, last = content.total_bytes, now
        if clock.expired():  # it went off while this slept: nothing more to move
            return
        clock.reschedule(min(last + stall, start + stall + seen / rate))
    if not clock.expired():
        clock.reschedule(None)


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)  # every value of a repeated field
    uploads: list[Upload] = field(default_factory=list)
    files: dict[str, list[Upload]] = field(default_factory=dict)  # uploads by field name


async def _chunks(part: Part) -> AsyncIterator[bytes | memoryview]:
    """The part's bytes as they come (see web.multipart), a malformed body a clear error."""
    async with contextlib.aclosing(part.read()) as body:
        while True:
            with readable():
                try:
                    chunk = await anext(body)
                except StopAsyncIteration:
                    return
            yield chunk


async def _text(part: Part, room: int = MAX_TEXT) -> bytes:
    """The part's bytes: at most TEXT_FIELD_LIMIT, and at most ``room``, what is left of the
    form's MAX_TEXT."""
    data = bytearray()
    async with contextlib.aclosing(_chunks(part)) as chunks:
        async for chunk in chunks:
            data += chunk
            if len(data) > TEXT_FIELD_LIMIT:
                raise ValidationError("A field of this form is too long.")
            if len(data) > room:
                raise TooLarge(TOO_LARGE)
    return bytes(data)


async def read_form(
    request: web.Request,
    store: FileStore,
    *,
    file_fields: Collection[str],
    before_files: Callable[[dict[str, str]], None] | None = None,
    into: Form | None = None,
) -> Form:
    """The form's fields and its files (already in the store). ``file_fields`` names the file
    inputs the form has; a file under any other name is refused before it is read.
    ``before_files`` may refuse the text fields before any file is stored. Read ``into`` a
    Form of the caller's, the fields read before an error are still there to show again."""
    if request.content_type != "multipart/form-data":
        raise ValidationError(UNREADABLE)
    form = into if into is not None else Form()
    async with body_clock(request):
        return await _read_parts(request, store, form, file_fields, before_files)


async def _read_parts(
    request: web.Request,
    store: FileStore,
    form: Form,
    file_fields: Collection[str],
    before_files: Callable[[dict[str, str]], None] | None,
) -> Form:
    with readable():
        reader = FormReader(request.content, request.headers.get(hdrs.CONTENT_TYPE, ""))
    first = True
    checked = False
    parts = text = 0
    while True:
        with readable():
            part = await reader.next()
        if part is None:
            break
        parts += 1
        if parts > MAX_FIELDS:
            raise TooLarge(TOO_LARGE)
        if part.multipart:  # a form has no parts within parts: skipped, as if not there
            continue
        if first:
            first = False
            token = (await _text(part)).decode("utf-8", errors="replace")
            if part.name != csrf.FIELD or not csrf.valid(request, request.app[SETTINGS], token):
                raise PermissionDenied("This form has expired. Reload the page and try again.")
            continue
        if part.filename is not None:
            if part.name not in file_fields:
                raise ValidationError(UNREADABLE)
            if not checked and before_files is not None:
                before_files(form.fields)
            checked = True
            if not part.filename:  # an empty file input (the next part skips its bytes)
                continue
            if len(form.uploads) >= MAX_FILES:
                raise ValidationError(
                    "A message may carry at most %(max)d attachments.", max=MAX_FILES
                )
            stored = await store.put(_chunks(part))
            upload = Upload(
                filename=part.filename,
                chunks=None,
                content_type=part.headers.get("Content-Type"),
                stored=stored,
            )
            form.uploads.append(upload)
            form.files.setdefault(part.name or "", []).append(upload)
        else:
            data = await _text(part, MAX_TEXT - text)
            text += len(data)
            value = data.decode("utf-8", errors="replace")
            form.fields[part.name or ""] = value
            form.lists.setdefault(part.name or "", []).append(value)
    if first:
        raise PermissionDenied("This form has expired. Reload the page and try again.")
    if not checked and before_files is not None:
        before_files(form.fields)
    return form
