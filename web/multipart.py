"""A multipart/form-data body read straight from the request's stream, for forms that carry
large files (see web.uploads).

aiohttp's own part reader hands out a part in 64 KB pieces, and for each one joins it to the
one before to look for the boundary across the seam and puts what follows the boundary back:
several copies of every byte in Python, which made a large upload cost a whole core. Here a
part's bytes go on in the pieces the socket delivers them in (as memoryviews of them, without
a copy), the boundary is looked for in each new piece, and across the seam only in the few
bytes held back from the piece before. Headers are parsed with aiohttp's own parser, with its
limits, and the part's name and filename read as aiohttp reads them.

Every way a body can be malformed raises ValueError (aiohttp's header parser raises its own
HttpProcessingError): web.uploads.readable turns both into a clear error."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import StreamReader
from aiohttp.hdrs import CONTENT_DISPOSITION, CONTENT_TYPE
from aiohttp.helpers import parse_mimetype
from aiohttp.http_parser import HeadersParser
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from multidict import CIMultiDictProxy

# As aiohttp's own reader allows: a header line's length, and a part's number of headers.
MAX_LINE = 8190
MAX_HEADERS = 128
MAX_BOUNDARY = 70  # RFC 2046


class Part:
    """One part: its headers, and its bytes, read once with ``read``."""

    def __init__(self, form: FormReader, headers: CIMultiDictProxy[str]) -> None:
        self.headers = headers
        _, params = parse_content_disposition(headers.get(CONTENT_DISPOSITION))
        self.name = content_disposition_filename(params, "name")
        self.filename = content_disposition_filename(params, "filename")
        self.multipart = parse_mimetype(headers.get(CONTENT_TYPE, "")).type == "multipart"
        self._body = form._body()

    def read(self) -> AsyncIterator[bytes | memoryview]:
        """The part's bytes, in the pieces they came in, up to the next boundary."""
        return self._body


class FormReader:
    """The parts of a multipart body, one after another (``next``); what a part's reader
    leaves unread is skipped when the next part is asked for."""

    def __init__(self, content: StreamReader, content_type: str) -> None:
        boundary = parse_mimetype(content_type).parameters.get("boundary")
        if not boundary:
            raise ValueError("multipart without a boundary")
        if len(boundary) > MAX_BOUNDARY:
            raise ValueError("the boundary is too long")
        self._content = content
        self._delimiter = b"\r\n--" + boundary.encode()
        # The bytes read from the stream and how far they are handed out. The first boundary
        # has no line break before it: one is put in front, so it is found as every other.
        self._buffer: bytes = b"\r\n"
        self._pos = 0
        self._part: Part | None = None
        self._at_boundary = False  # a part's body (or the preamble) was read to its end
        self._done = False

    async def next(self) -> Part | None:
        """The next part, or None after the closing boundary."""
        if self._done:
            return None
        if self._part is None and not self._at_boundary:
            async for _ in self._body():  # the preamble (browsers send none)
                pass
        elif self._part is not None:
            async for _ in self._part.read():  # what the caller left unread
                pass
        if not self._at_boundary:
            raise ValueError("a part was not read to its end")
        self._part = None
        self._at_boundary = False
        # After a boundary: "--" for the last one, else the end of its line (after spaces,
        # which RFC 2046 allows there), then the next part's headers.
        while len(self._buffer) - self._pos < 2:
            self._buffer = self._buffer[self._pos :] + await self._more()
            self._pos = 0
        if self._buffer.startswith(b"--", self._pos):
            self._done = True
            return None
        if (await self._line()).strip(b" \t"):
            raise ValueError("a boundary is followed by more than its line's end")
        lines = []
        while line := await self._line():
            lines.append(line)
            if len(lines) > MAX_HEADERS:
                raise ValueError("a part has too many headers")
        headers, _ = HeadersParser(max_field_size=MAX_LINE).parse_headers([*lines, b""])
        self._part = Part(self, headers)
        return self._part

    async def _more(self) -> bytes:
        """What the stream has now, or its next bytes to come; ValueError when the body ends
        before its closing boundary."""
        data = await self._content.readany()
        if not data:
            raise ValueError("the body ends before its closing boundary")
        return data

    async def _line(self) -> bytes:
        """The next line, without its line break."""
        while (end := self._buffer.find(b"\n", self._pos)) < 0:
            if len(self._buffer) - self._pos > MAX_LINE:
                raise ValueError("a line of a part's head is too long")
            self._buffer = self._buffer[self._pos :] + await self._more()
            self._pos = 0
        if end - self._pos > MAX_LINE:
            raise ValueError("a line of a part's head is too long")
        line, self._pos = self._buffer[self._pos : end], end + 1
        return line.removesuffix(b"\r")

    async def _body(self) -> AsyncIterator[bytes | memoryview]:
        """The bytes up to the next boundary, which is consumed; what follows it stays in the
        buffer. Each new piece is searched once; a boundary across two pieces is found in the
        bytes held back from the one before (fewer than a boundary has) and the new piece's
        first few."""
        delimiter = self._delimiter
        keep = len(delimiter) - 1
        data, start = self._buffer, self._pos
        self._buffer, self._pos = b"", 0
        tail = b""  # held back from the piece before: a boundary may start in it
        while True:
            if tail and len(data) < keep:  # a piece too short to end a boundary in
                data, tail = tail + data, b""
            if tail:
                # A boundary that starts in the tail ends in the new piece's first bytes.
                seam = (tail + data[:keep]).find(delimiter)
                if seam >= 0:
                    if seam:
                        yield tail[:seam]
                    self._buffer, self._pos = data, seam + len(delimiter) - len(tail)
                    self._at_boundary = True
                    return
                yield tail
                tail = b""
            at = data.find(delimiter, start)
            if at >= 0:
                if at > start:
                    yield memoryview(data)[start:at]
                self._buffer, self._pos = data, at + len(delimiter)
                self._at_boundary = True
                return
            cut = max(start, len(data) - keep)
            if cut > start:
                yield memoryview(data)[start:cut]
            tail = data[cut:]
            data, start = await self._more(), 0
