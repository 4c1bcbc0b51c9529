"""Logging for `loket serve`: our own lines at the chosen level; libraries that would log SQL
parameters or request paths (which can carry tokens) kept at WARNING."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

QUIET = ("aiosqlite", "sqlalchemy.engine", "asyncio", "aiosmtplib", "mail.log")


class MalformedRequests(logging.Filter):
    """A request that is not valid HTTP (a request line over 8 KB, raw bytes in the path, a
    control character in a header) is answered 400 by aiohttp and then logged at ERROR
    with a traceback. On a portal open to the internet scanners send such requests all
    day; they are the client's fault, so they become one line at INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            # Not str(exc): it quotes the bad line, which can hold a token from a link.
            said = record.getMessage()
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            record.msg, record.args = (
                "%s: malformed request refused (%s)",
                (said, type(exc).__name__),
            )
            record.exc_info, record.exc_text = None, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequests) for f in server.filters):
        server.addFilter(MalformedRequests())
