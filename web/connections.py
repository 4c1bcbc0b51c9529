"""Listening for the web view with a cap on open connections.

aiohttp has timeouts for a client that is slow to send its request's headers (its keep-alive
timer also runs while a request's head is awaited; see loket/serve.py) but no limit on how
many connections it holds, so clients that open connections and send nothing could make it
hold thousands. This site serves at most ``max_connections`` at once; one more is answered
503 and closed at once.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from yarl import URL

log = logging.getLogger(__name__)

BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 30\r\n"
    b"Retry-After: 10\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"Too busy, try again shortly.\r\n"
)
# At most one warning a minute, however many connections are refused.
WARN_EVERY = 60.0


class _Gate:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.warned = -WARN_EVERY

    def refused(self) -> None:
        now = time.monotonic()
        if now - self.warned >= WARN_EVERY:
            self.warned = now
            log.warning("%d connections open: refusing more for now", self.open)


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted against the gate; or, over the limit,
    only a 503."""

    def __init__(self, inner: asyncio.Protocol, gate: _Gate) -> None:
        self._inner = inner
        self._gate = gate
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._gate.open >= self._gate.limit:
            self._gate.refused()
            assert isinstance(transport, asyncio.Transport)
            transport.write(BUSY)
            transport.close()
            return
        self._gate.open += 1
        self._counted = True
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._counted:
            self._counted = False
            self._gate.open -= 1
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._counted:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._counted else None

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class CappedSite(web.BaseSite):
    """As ``web.TCPSite``, serving at most ``max_connections`` connections at once."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        max_connections: int,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._gate = _Gate(max_connections)

    @property
    def port(self) -> int:
        """The port listened on (the one chosen by the system for port 0)."""
        if self._server is not None and self._server.sockets:
            return self._server.sockets[0].getsockname()[1]
        return self._port

    @property
    def name(self) -> str:
        return str(URL.build(scheme="http", host=self._host, port=self.port))

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Counted(server(), self._gate), self._host, self._port, backlog=self._backlog
        )
