"""Reading Authentication-Results headers (RFC 8601) of the firm's own receiving server.

Anyone can write such a header into a mail, so only those whose authserv-id is the one set
in LOKET_MAIL_AUTHSERV_ID count; that server must remove headers that claim its id before it
adds its own (Postfix with OpenDKIM/OpenDMARC and rspamd do).
"""

from __future__ import annotations

import re
from email.message import EmailMessage

from core.services.inbound import AuthResult

from .parse import unfolded

_COMMENT = re.compile(r"\([^()]*\)")
_METHOD = re.compile(r"\s*([a-z0-9_-]+)\s*(?:/\s*\d+\s*)?=\s*([a-z0-9_-]+)")
_PROPERTY = re.compile(r'\b([a-z]+)\s*\.\s*([a-z0-9_-]+)\s*=\s*("[^"]*"|[^\s;]+)')
# Where each method says which domain its result is for.
_DOMAIN = {"dkim": ("header.d", "header.i"), "dmarc": ("header.from",)}


def _without_comments(text: str) -> str:
    while True:
        shorter = _COMMENT.sub(" ", text)
        if shorter == text:
            return text
        text = shorter


def _domain(method: str, properties: dict[str, str]) -> str | None:
    for name in _DOMAIN.get(method, ()):
        value = properties.get(name)
        if value:
            return value.strip('"').rpartition("@")[2].strip().rstrip(".").lower() or None
    return None


def ours(msg: EmailMessage | list[str], authserv: str | None) -> list[str]:
    """The Authentication-Results headers written by ``authserv``, unfolded; ``msg`` may be
    the mail's headers unfolded already (``ParsedMail.authentication_results``)."""
    if not authserv:
        return []
    # A header the policy cannot parse is nobody's.
    values = msg if isinstance(msg, list) else unfolded(msg, "Authentication-Results")
    wanted = authserv.lower()
    # The authserv-id comes first, before the first ";" (and an optional version number).
    return [v for v in values if v.split(";", 1)[0].lower().split()[:1] == [wanted]]


def read(header: str) -> list[AuthResult]:
    """The results one Authentication-Results header holds."""
    found = []
    for resinfo in _without_comments(header.lower()).split(";")[1:]:
        method = _METHOD.match(resinfo)
        if method is None:
            continue  # "none", or something we do not understand: no result
        properties = {f"{t}.{p}": v for t, p, v in _PROPERTY.findall(resinfo[method.end() :])}
        name, outcome = method.groups()
        found.append(AuthResult(name, outcome, _domain(name, properties)))
    return found


def results(msg: EmailMessage | list[str], authserv: str | None) -> list[AuthResult]:
    """Every result that ``authserv`` reported for this mail."""
    return [r for header in ours(msg, authserv) for r in read(header)]
