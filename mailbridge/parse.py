"""Reading a raw mail with the standard library's modern email policy, defensively: broken
MIME, unknown charsets, RFC 2231/2047 filenames, nested mails and TNEF must never raise."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from functools import cached_property

DOSSIER_IN_SUBJECT = re.compile(r"\[([A-Za-z0-9][A-Za-z0-9._/-]{0,62})\]")


@dataclass
class Attachment:
    filename: str | None
    content_type: str
    data: bytes
    inline: bool = False


@dataclass
class ParsedMail:
    msg: EmailMessage
    sender: str
    recipients: list[str]
    subject: str
    message_id: str | None
    in_reply_to: list[str]
    text: str | None
    html: str | None
    attachments: list[Attachment] = field(default_factory=list)
    # The policy parses a header anew on every access; the pipeline's rules ask for the same
    # few many times.
    _seen: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def dossier_numbers(self) -> list[str]:
        return DOSSIER_IN_SUBJECT.findall(self.subject)

    @cached_property
    def content_type(self) -> str:
        return self.msg.get_content_type()

    def header(self, name: str) -> str:
        key = name.lower()
        if key not in self._seen:
            self._seen[key] = header(self.msg, name)
        return self._seen[key]


def header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the policy cannot parse
        raw = msg.get_all(name, failobj=[]) if hasattr(msg, "get_all") else []
        value = raw[0] if raw else None
    return str(value).strip() if value is not None else ""


def _all(msg: EmailMessage, name: str) -> list[str]:
    try:
        return [str(v) for v in msg.get_all(name, failobj=[])]
    except Exception:
        return []


def _content(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError, ValueError):
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def _bytes(part: EmailMessage) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner:
            return inner[0].as_bytes()
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _tnef(data: bytes) -> list[Attachment]:
    try:
        from tnefparse import TNEF
    except ImportError:
        return [Attachment("winmail.dat", "application/ms-tnef", data)]
    try:
        parsed = TNEF(data)
        return [
            Attachment(a.long_filename() or a.name, "application/octet-stream", a.data)
            for a in parsed.attachments
        ]
    except Exception:  # a broken TNEF file is kept as it came
        return [Attachment("winmail.dat", "application/ms-tnef", data)]


def _attachments(msg: EmailMessage) -> list[Attachment]:
    out: list[Attachment] = []
    try:
        parts = list(msg.iter_attachments())
    except Exception:
        parts = []
    for part in parts:
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        inline = (
            ctype.startswith("image/")
            and disposition != "attachment"
            and bool(part.get("Content-ID"))
        )
        data = _bytes(part)
        if ctype == "application/ms-tnef" or (filename or "").lower() == "winmail.dat":
            out.extend(_tnef(data))
            continue
        if ctype == "message/rfc822" and not filename:
            filename = "forwarded.eml"
        out.append(Attachment(filename, ctype, data, inline))
    return out


def parse(raw: bytes) -> ParsedMail:
    msg: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
    sender = parseaddr(header(msg, "From"))[1].strip()
    recipients = [
        addr
        for _, addr in getaddresses(
            _all(msg, "To")
            + _all(msg, "Cc")
            + _all(msg, "Delivered-To")
            + _all(msg, "X-Original-To")
        )
        if addr
    ]
    text = html = None
    try:
        plain = msg.get_body(preferencelist=("plain",))
        text = _content(plain) if plain is not None else None
        rich = msg.get_body(preferencelist=("html",))
        html = _content(rich) if rich is not None else None
    except Exception:
        text = _content(msg) if msg.get_content_maintype() == "text" else None
    references = (header(msg, "In-Reply-To") + " " + header(msg, "References")).split()
    return ParsedMail(
        msg=msg,
        sender=sender,
        recipients=recipients,
        subject=header(msg, "Subject"),
        message_id=header(msg, "Message-ID") or None,
        in_reply_to=[r for r in references if r.startswith("<")],
        text=text,
        html=html,
        attachments=_attachments(msg),
    )
