"""What a log line is about: the request, mail, update or outbox item being handled.

Each edge (the web middleware, the mail pipeline, the bot's update handler, the outbox
worker) binds its id for the length of the event; every line logged meanwhile, in any
module, carries it (loket.logs puts it in the line). Context variables follow the event
through its awaits and no further, so events handled side by side keep their own ids.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType

_EMPTY: Mapping[str, str] = MappingProxyType({})
_bound: ContextVar[Mapping[str, str]] = ContextVar("loket_log_context", default=_EMPTY)

# The names an edge binds (what a JSON line calls them).
REQUEST = "request_id"
MAIL = "mail_id"
UPDATE = "update_id"
OUTBOX_ITEM = "outbox_item"


def current() -> Mapping[str, str]:
    return _bound.get()


@contextlib.contextmanager
def bound(**ids: object) -> Iterator[None]:
    """``ids`` on every line logged in the body (nested binds add to the outer ones)."""
    token = _bound.set(MappingProxyType({**_bound.get(), **{k: str(v) for k, v in ids.items()}}))
    try:
        yield
    finally:
        _bound.reset(token)
