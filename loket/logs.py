"""Logging for `loket serve`: our own lines at the chosen level; libraries that would log SQL
parameters or request paths (which can carry tokens) kept at WARNING.

Two formats (LOKET_LOG_FORMAT): ``text``, one readable line per event, and ``json``, one JSON
object per line with the time, level, logger, message, the ids of what the line is about
(core.logcontext: request_id, mail_id, update_id, outbox_item) and a traceback if any. Both
write the same message: what keeps secrets out of one keeps them out of the other."""

from __future__ import annotations

import datetime as dt
import json
import logging

from aiohttp.http_exceptions import HttpProcessingError

from core import logcontext

QUIET = ("aiosqlite", "sqlalchemy.engine", "asyncio", "aiosmtplib", "mail.log")
# The ids a line may carry (the access log's request id comes as an ``extra``: it is
# written after the request's own context has ended).
_IDS = (logcontext.REQUEST, logcontext.MAIL, logcontext.UPDATE, logcontext.OUTBOX_ITEM)


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


def ids_of(record: logging.LogRecord) -> dict[str, str]:
    """The ids the line is about, as the record carries them (stamp_records)."""
    return {name: str(v) for name in _IDS if (v := getattr(record, name, None)) is not None}


def stamp_records() -> None:
    """Every record made from now on carries the ids bound where it was logged, so that a
    handler that formats it later (elsewhere, or after the event) still has them."""
    make = logging.getLogRecordFactory()
    if getattr(make, "_loket_stamps", False):
        return

    def stamped(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make(*args, **kwargs)
        for name, value in logcontext.current().items():
            setattr(record, name, value)
        return record

    stamped._loket_stamps = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(stamped)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **ids_of(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The readable line, with the ids at its end."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = ids_of(record)
        if not ids:
            return text
        head, _, rest = text.partition("\n")
        said = " ".join(f"{k}={v}" for k, v in ids.items())
        return f"{head} [{said}]" + (f"\n{rest}" if rest else "")


def formatter(log_format: str = "text") -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(level: int = logging.INFO, log_format: str = "text") -> None:
    stamp_records()
    root = logging.getLogger()
    if not root.handlers:  # else someone set logging up already (pytest): theirs stays
        handler = logging.StreamHandler()
        handler.setFormatter(formatter(log_format))
        root.addHandler(handler)
        root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequests) for f in server.filters):
        server.addFilter(MalformedRequests())
