"""Reading a raw mail with the standard library's modern email policy, defensively: broken
MIME, unknown charsets, RFC 2231/2047 filenames, nested mails and TNEF must never raise.

The parts are walked here rather than through ``iter_attachments`` (which looks at one level
only), so that files inside signed mail, Apple's nested alternatives and a mail that is one
bare attachment are all found; which text and which files a mail holds is decided once, here.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email
import email.policy
import io
import mimetypes
import os
import re
import secrets
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email import errors
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from functools import cached_property
from typing import BinaryIO

from . import charsets, cms, spool
from .htmltext import html_to_text
from .quotes import split_reply

DOSSIER_IN_SUBJECT = re.compile(r"\[\s*([A-Za-z0-9][A-Za-z0-9._/-]{0,62})\s*\]")
# A picture shown in the HTML (multipart/related, by Content-ID) is a logo or an icon of a
# signature when it is small; a screenshot or photo pasted into the mail (Gmail, Outlook)
# is larger, and is what the client meant to send.
DECORATION_MAX = 40 * 1024
# RFC 5322's limit for a header line; a longer "Message-ID" is garbage, not an id.
MAX_MESSAGE_ID = 998
# Enough to find the mail a reply answers; References of a long thread can hold thousands.
MAX_THREAD_IDS = 100
# C0 controls but tab, newline and carriage return, DEL, and the C1 controls: NUL cannot be
# stored in a PostgreSQL text column at all, and none of them mean anything in a message.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A C1 control in a mail is nearly always Windows-1252 text that a program read as Latin-1
# (and wrote on as UTF-8): U+0092 was its apostrophe. Those 27 are given their Windows-1252
# meaning; the other five, unassigned there, are dropped with the rest.
_C1_AS_WINDOWS_1252 = {
    code: bytes([code]).decode("cp1252")
    for code in range(0x80, 0xA0)
    if bytes([code]).decode("cp1252", "ignore")
}
_SIGNATURES = {
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "application/pgp-signature",
}
_SMIME = {"application/pkcs7-mime", "application/x-pkcs7-mime"}
_BOUNDARY_LINE = re.compile(r"^--([^\s-][^\r\n]{0,69}?)[ \t]*\r?$", re.MULTILINE)


# A file this large is written to a file of its own as soon as it is decoded (``Spooled``):
# the parsed mail travels from the parsing worker to the bridge without it, and the bridge
# streams it into the store, instead of holding it twice more (pickled, and unpickled).
SPOOL_MIN = 1024 * 1024


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class Spooled:
    """A decoded file in a temporary file, which goes when the object that owns it does.
    Pickled (from the parsing worker to the bridge) the file changes owner: the copy that
    is unpickled removes it, the one that was pickled no longer does."""

    def __init__(self, path: str, size: int) -> None:
        self.path = path
        self.size = size
        self._owner = weakref.finalize(self, _unlink, path)

    def __reduce__(self) -> tuple[type[Spooled], tuple[str, int]]:
        self._owner.detach()
        return (Spooled, (self.path, self.size))

    def read(self) -> bytes:
        with open(self.path, "rb") as fh:
            return fh.read()

    def discard(self) -> None:
        self._owner()


def _spooled(write: Callable[[BinaryIO], int]) -> Spooled:
    """A new spool file, filled by ``write`` (which gives the size it wrote)."""
    fd, path = tempfile.mkstemp(prefix=spool.PART_PREFIX, suffix=".bin")
    try:
        with os.fdopen(fd, "wb") as fh:
            size = write(fh)
    except BaseException:
        _unlink(path)
        raise
    return Spooled(path, size)


@dataclass
class Attachment:
    filename: str | None
    content_type: str
    data: bytes  # empty when ``spooled``: then the file is there
    inline: bool = False
    spooled: Spooled | None = field(default=None, compare=False)

    @property
    def size(self) -> int:
        return self.spooled.size if self.spooled is not None else len(self.data)

    def content(self) -> bytes:
        """The file's bytes, from memory or from its spool file."""
        return self.spooled.read() if self.spooled is not None else self.data


@dataclass
class ParsedMail:
    msg: EmailMessage
    recipients: list[str]
    subject: str
    message_id: str | None
    in_reply_to: list[str]
    text: str | None
    html: str | None
    attachments: list[Attachment] = field(default_factory=list)
    # Every address in From (a mail may name several, or a group).
    senders: list[str] = field(default_factory=list)
    # The HTML as plain text, made here in the parsing worker (it can take a while).
    html_text: str | None = None
    # Why the content cannot be read (encrypted, or signed in an opaque wrapper); None if it can.
    sealed: str | None = None
    # What staff should know about how the text was read (an unwrapped signature, say).
    notes: list[str] = field(default_factory=list)
    # The policy parses a header anew on every access; the pipeline's rules ask for the same
    # few many times.
    _seen: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def sender(self) -> str:
        """The address the mail is from (the first, if From names several)."""
        return self.senders[0] if self.senders else ""

    @property
    def body_text(self) -> str:
        """What the sender wrote, as text: the text part, or else the HTML as text."""
        if self.text and self.text.strip():
            return self.text
        return self.html_text or ""

    @property
    def dossier_numbers(self) -> list[str]:
        return DOSSIER_IN_SUBJECT.findall(self.subject)

    @cached_property
    def content_type(self) -> str:
        return self.msg.get_content_type()

    @cached_property
    def authentication_results(self) -> list[str]:
        """The Authentication-Results headers, unfolded (``authresults`` picks the firm's)."""
        return unfolded(self.msg, "Authentication-Results")

    @cached_property
    def filed_text(self) -> str:
        """What of the mail's text goes into the dossier: the client's own words, without
        the quoted mail, the signature block and the disclaimer."""
        # A mail that brings files and, besides them, only the quoted notification and a
        # signature ("Verstuurd vanaf mijn iPhone") has no text of its own.
        with_files = any(not a.inline for a in self.attachments)
        reply, _quoted = split_reply(self.body_text, keep_all_if_empty=not with_files)
        return reply

    def read_ahead(self) -> ParsedMail:
        """Read now what the pipeline's rules will ask of the mail's headers, and keep it
        (it travels with the mail when pickled): called in the parsing worker, so that the
        email package's header parser runs there, not on the event loop."""
        self.content_type  # noqa: B018 (a cached property, read for its side effect)
        self.authentication_results  # noqa: B018
        self.filed_text  # noqa: B018
        for name in READ_AHEAD:
            self.header(name)
        return self

    def header(self, name: str) -> str:
        key = name.lower()
        if key not in self._seen:
            self._seen[key] = header(self.msg, name)
        return self._seen[key]


# The headers the pipeline's rules ask every mail for (``ParsedMail.read_ahead``).
READ_AHEAD = (
    "Auto-Submitted",
    "X-Autoreply",
    "X-Autorespond",
    "X-Auto-Response-Suppress",
    "Precedence",
    "X-Loket-Kind",
    "Return-Path",
)


def unfolded(msg: EmailMessage, name: str) -> list[str]:
    """Each ``name`` header of ``msg``, unfolded; none when the policy cannot parse one."""
    try:
        return [" ".join(str(v).split()) for v in msg.get_all(name, [])]
    except Exception:
        return []


def clean(text: str) -> str:
    """``text`` without the control characters no message or header should hold."""
    return _CONTROLS.sub("", text.translate(_C1_AS_WINDOWS_1252))


def header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the policy cannot parse
        raw = msg.get_all(name, failobj=[]) if hasattr(msg, "get_all") else []
        value = raw[0] if raw else None
    return clean(str(value)).strip() if value is not None else ""


def _all(msg: EmailMessage, name: str) -> list[str]:
    try:
        return [clean(str(v)) for v in msg.get_all(name, failobj=[])]
    except Exception:
        return []


def _addresses(msg: EmailMessage, *names: str) -> list[str]:
    values = [v for name in names for v in _all(msg, name)]
    return [addr.strip() for _, addr in getaddresses(values) if "@" in addr]


def _message_id(msg: EmailMessage) -> str | None:
    value = header(msg, "Message-ID")
    return value if value and len(value.encode(errors="replace")) <= MAX_MESSAGE_ID else None


def _thread_ids(msg: EmailMessage) -> list[str]:
    """The ids a reply answers, the most telling first: In-Reply-To, then References from
    the newest back (a long thread's References start with its oldest mail)."""
    answered = header(msg, "In-Reply-To").split()
    references = header(msg, "References").split()[::-1]
    ids = dict.fromkeys(r for r in answered + references if r.startswith("<"))
    return list(ids)[:MAX_THREAD_IDS]


def _payload(part: EmailMessage) -> bytes:
    quoted = part.get("content-transfer-encoding", "").strip().lower() == "quoted-printable"
    try:
        data = part.get_payload(decode=not quoted)
    except Exception:
        return b""
    if quoted and isinstance(data, str):
        return _quoted_printable(data.encode("utf-8", "surrogateescape"))
    if not isinstance(data, bytes):
        return b""
    if any(isinstance(d, errors.InvalidBase64LengthDefect) for d in part.defects):
        # One character too many after the last whole group: the standard library then
        # gives the undecoded text back. Decode the whole groups instead.
        encoded = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        data = base64.b64decode(encoded[: len(encoded) // 4 * 4])
    return data


def _quoted_printable(encoded: bytes) -> bytes:
    """RFC 2045 6.7: whitespace that a mail server added at a line's end is removed before
    decoding, so that "= " still ends in a soft line break; the standard library keeps it
    and leaves a "=" in the text."""
    lines = encoded.split(b"\n")
    for i, line in enumerate(lines):
        end = b"\r" if line.endswith(b"\r") else b""
        lines[i] = line[: len(line) - len(end)].rstrip(b" \t") + end
    return binascii.a2b_qp(b"\n".join(lines))


# Lines a mail program writes as lines of their own, though they may end in a space:
# "----- Original Message ----- " (Windows Live Mail, Outlook Express), "________________ ",
# and a header line of a quoted mail ("From: X " above "Sent: …"). Joined to the next line
# the separator and the header block under it would no longer be seen.
_STANDS_ALONE = re.compile(
    r"^[ \t]*(?:[-_=*~]{2,}.*[-_=*~]{2,}|[-_=*~]{5,}"
    r"|\*?(?:from|to|cc|sent|date|subject|van|aan|verzonden|datum|onderwerp|von|an|gesendet"
    r"|betreff)\*?:[ \t].*)[ \t]*$",
    re.IGNORECASE,
)


def _unflow(text: str, *, delsp: bool) -> str:
    """RFC 3676 format=flowed back to paragraphs: a line ending in a space goes on in the
    next line of the same quote depth; ``delsp`` removes that space (it was added)."""
    out: list[tuple[int, str]] = []
    joining = False
    for line in text.split("\n"):
        line = line.rstrip("\r")
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        flowed = content.endswith(" ") and content != "-- " and not _STANDS_ALONE.match(content)
        if flowed and delsp:
            content = content[:-1]
        if joining and out and out[-1][0] == depth:
            out[-1] = (depth, out[-1][1] + content)
        else:
            out.append((depth, content))
        joining = flowed
    return "\n".join((">" * depth + " " if depth else "") + body for depth, body in out)


def _text(part: EmailMessage) -> str:
    text = clean(charsets.decode(_payload(part), part.get_content_charset()))
    if part.get_content_subtype() == "plain" and part.get_param("format", "").lower() == "flowed":
        text = _unflow(text, delsp=part.get_param("delsp", "").lower() == "yes")
    return text


def _filename(part: EmailMessage, charset: Callable[[], str | None] = lambda: None) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = "\ufffd"
    if name is None or "\ufffd" not in name:
        return name
    return _filename_again(part, charset)


def _filename_again(part: EmailMessage, body_charset: Callable[[], str | None]) -> str | None:
    """The filename that the policy could only give with U+FFFD in it, read from the raw
    header: raw 8-bit bytes (UTF-8, else the mail's body charset, else
    Windows-1252), or an encoded word or RFC 2231 value in a charset it does not know."""
    charset = body_charset()
    legacy = Message(policy=email.policy.compat32)
    for name, value in part.raw_items():
        if name.lower() in ("content-disposition", "content-type"):
            legacy[name] = charsets.raw_header(value, charset)
    for param, where in (("filename", "content-disposition"), ("name", "content-type")):
        try:
            value = legacy.get_param(param, header=where)
        except Exception:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, text as latin-1)
            charset, _, text = value
            try:
                data = text.encode("latin-1")
            except UnicodeEncodeError:
                return clean(text)
            return clean(charsets.decode(data, charset))
        if isinstance(value, str) and value:
            return clean(charsets.encoded_words(value, charset))
    return None


def _named(ctype: str, base: str = "file") -> str:
    """A name for a file sent without one, so that it opens as what it is."""
    return base + (mimetypes.guess_extension(ctype, strict=False) or "")


def _tnef(data: bytes) -> list[Attachment]:
    try:
        from tnefparse import TNEF
    except ImportError:
        return [Attachment("winmail.dat", "application/ms-tnef", data)]
    try:
        parsed = TNEF(data)
        found = [
            Attachment(a.long_filename() or a.name, "application/octet-stream", a.data)
            for a in parsed.attachments
        ]
    except Exception:  # a broken TNEF file is kept as it came
        found = []
    # Nothing unpacked (a broken file, or one that holds only Outlook's rich text): keep it.
    return found or [Attachment("winmail.dat", "application/ms-tnef", data)]


def _regrouped(part: EmailMessage) -> list[EmailMessage] | None:
    """The parts of a multipart whose boundary parameter is missing or wrong, split at the
    first line that looks like a boundary; None if there is none."""
    body = part.get_payload()
    if not isinstance(body, str):
        return None
    found = _BOUNDARY_LINE.search(body)
    if found is None:
        return None
    boundary = found.group(1)
    if part.get_boundary() == boundary:
        return None
    wrapper = email.message_from_string(
        f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n{body}',
        policy=email.policy.default,
    )
    parts = wrapper.get_payload()
    return parts if isinstance(parts, list) and parts else None  # type: ignore[return-value]


@dataclass
class _Found:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)
    # Images the HTML shows from multipart/related: logos, pasted pictures.
    decorations: list[Attachment] = field(default_factory=list)
    sealed: str | None = None
    notes: list[str] = field(default_factory=list)
    # The whole mail, whose text's charset reads raw 8-bit bytes in a filename.
    root: EmailMessage | None = None
    # The files cut out before parsing (``_cut_large_parts``), by their mark.
    cut: dict[str, Spooled] = field(default_factory=dict)

    def body_charset(self) -> str | None:
        return _text_charset(self.root) if self.root is not None else None

    def take(self, other: _Found) -> None:
        self.files += other.files
        self.decorations += other.decorations
        self.sealed = self.sealed or other.sealed
        self.notes += other.notes


def _walk(part: EmailMessage, found: _Found, parent: str = "") -> None:
    ctype = part.get_content_type()
    if part.get_content_maintype() == "multipart":
        children = part.get_payload()
        if not isinstance(children, list):
            children = _regrouped(part)
        if children is None:  # no parts at all: what there is, is text
            found.plain.append(_text(part))
            return
        if ctype == "multipart/encrypted":
            found.sealed = "encrypted (PGP/MIME)"
            return
        if ctype == "multipart/alternative":
            _alternatives(children, found)
            return
        for child in children:
            if ctype == "multipart/signed" and child.get_content_type() in _SIGNATURES:
                continue  # the signature is no document of the client's
            _walk(child, found, ctype)
        return
    _leaf(part, found, parent, ctype)


def _alternatives(children: list[EmailMessage], found: _Found) -> None:
    """Versions of the same content: the first with plain text and the last with HTML, and
    the files any of them carries (Apple nests its pictures in the HTML version)."""
    versions = []
    for child in children:
        version = _Found(root=found.root, cut=found.cut)
        if child.get_content_maintype() == "multipart":
            _walk(child, version, "multipart/alternative")
        elif child.get_content_subtype() in ("plain", "html") or child.is_attachment():
            _leaf(child, version, "multipart/alternative", child.get_content_type())
        elif child.get_content_type() == "text/calendar":
            # An invitation beside its text: staff get the text, and the .ics to open.
            name = _filename(child, found.body_charset) or "invite.ics"
            version.files.append(Attachment(name, "text/calendar", _payload(child)))
        # other renderings are left out
        versions.append(version)
        found.take(version)
    found.plain += next((v.plain for v in versions if "".join(v.plain).strip()), [])
    found.html += next((v.html for v in reversed(versions) if "".join(v.html).strip()), [])


def _leaf(part: EmailMessage, found: _Found, parent: str, ctype: str) -> None:
    filename = _filename(part, found.body_charset)
    attached = part.is_attachment() or bool(filename)
    if ctype in ("text/plain", "text/html") and not attached:
        (found.plain if ctype == "text/plain" else found.html).append(_text(part))
        return
    if ctype in _SMIME:
        kind = (part.get_param("smime-type") or "").lower()
        if kind != "enveloped-data" and parent not in _SMIME:  # one wrapper deep, no more
            content = cms.signed_content(_payload(part))
            if content is not None:
                inner: EmailMessage = email.message_from_bytes(content, policy=email.policy.default)  # type: ignore[assignment]
                found.notes.append("signed in an S/MIME wrapper: unwrapped, signature not checked")
                _walk(inner, found, ctype)
                return
        found.sealed = (
            "signed in an S/MIME wrapper (smime.p7m)"
            if kind == "signed-data"
            else "encrypted (S/MIME)"
        )
        return
    if ctype == "message/rfc822":
        inner = part.get_payload()
        data = inner[0].as_bytes() if isinstance(inner, list) and inner else _payload(part)
        found.files.append(Attachment(filename or "forwarded.eml", ctype, data))
        return
    spooled = _cut_file(part, found.cut)
    if spooled is not None:
        found.files.append(Attachment(filename or _named(ctype), ctype, b"", spooled=spooled))
        return
    data = _payload(part)
    if ctype == "application/ms-tnef" or (filename or "").lower() == "winmail.dat":
        found.files.extend(_tnef(data))
        return
    inline = (
        parent == "multipart/related"
        and ctype.startswith("image/")
        and part.get_content_disposition() != "attachment"
        and bool(part.get("Content-ID"))
        and len(data) < DECORATION_MAX
    )
    attachment = Attachment(filename or _named(ctype), ctype, data, inline)
    (found.decorations if inline else found.files).append(attachment)


_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
# A broken header block has a line or two out of place; more is no header block to mend.
_MOST_MENDED = 5
_HEAD_END = re.compile(rb"\r?\n\r?\n")


def _mended(raw: bytes) -> bytes:
    """``raw`` with its header block mended: a stray line before the first header goes, and
    a wrapped line that lost its indent is folded back into the header above, instead of
    ending the headers there and pushing the rest (the subject, the sender) into the body."""
    end = _HEAD_END.search(raw)
    head = raw[: end.start()] if end else raw
    lines = [line.rstrip(b"\r") for line in head.split(b"\n")]
    if all(_FIELD.match(line) or line[:1] in (b" ", b"\t") for line in lines[1:]) and (
        _FIELD.match(lines[0]) or lines[0].startswith(b"From ")
    ):
        return raw
    fields = [n for n, line in enumerate(lines) if _FIELD.match(line)]
    flawed = sum(1 for line in lines if line[:1] not in (b" ", b"\t") and not _FIELD.match(line))
    if not fields or flawed > _MOST_MENDED:
        return raw  # not a header block with a flaw or two: left to the parser as it is
    newline = b"\r\n" if b"\r\n" in head or (end and end.group().startswith(b"\r")) else b"\n"
    out: list[bytes] = []
    for n, line in enumerate(lines):
        if _FIELD.match(line) or (out and line[:1] in (b" ", b"\t")):
            out.append(line)
        elif out and n > fields[-1]:
            # No header after it: the body, which the sender began without an empty line.
            return newline.join([*out, b"", *lines[n:]]) + (raw[end.start() :] if end else b"")
        elif out:
            out.append(b" " + line)
        elif n == 0 and line.startswith(b"From "):
            out.append(line)  # an mbox separator, which the parser knows
    return newline.join(out) + (raw[end.start() :] if end else newline * 2)


def _text_charset(msg: EmailMessage) -> str | None:
    for part in msg.walk():
        if part.get_content_maintype() == "text" and part.get_content_charset():
            return part.get_content_charset()
    return None


def _subject(msg: EmailMessage) -> str:
    """The subject, also when the policy could only give it with U+FFFD in it: raw 8-bit
    bytes (read as UTF-8, else the body's charset, else Windows-1252) or an encoded word in
    a charset it does not know."""
    subject = header(msg, "Subject")
    if "\ufffd" in subject:
        raw = next((v for k, v in msg.raw_items() if k.lower() == "subject"), "")
        subject = clean(charsets.encoded_words(raw, _text_charset(msg))).strip()
    return " ".join(subject.split()) if "\n" in subject else subject


_PGP_BEGIN = "-----BEGIN PGP SIGNED MESSAGE-----"
_PGP_SIGNATURE = "-----BEGIN PGP SIGNATURE-----"
_PGP_END = "-----END PGP SIGNATURE-----"
_PGP_MESSAGE = re.compile(r"^-----BEGIN PGP MESSAGE-----\s*$", re.MULTILINE)


def _pgp_unarmoured(text: str) -> tuple[str, str]:
    """(the text, what staff should know) for text with inline PGP armour: a clear-signed
    text without its armour and signature (dash-escaped lines restored, the signature not
    checked); an inline-encrypted one cannot be read."""
    text = text.replace("\r\n", "\n")
    if _PGP_MESSAGE.search(text):
        return text, "encrypted (inline PGP)"
    begin = text.find(_PGP_BEGIN)
    if begin < 0 or (begin and text[begin - 1] != "\n"):
        return text, ""
    body = text.find("\n\n", begin)  # after the armour headers ("Hash: SHA256")
    signature = text.find("\n" + _PGP_SIGNATURE, body) if body >= 0 else -1
    end = text.find(_PGP_END, signature) if signature >= 0 else -1
    if end < 0:
        return text, ""
    signed = re.sub(r"(?m)^- ", "", text[body + 2 : signature])
    note = "signed with inline PGP: signature not checked"
    return text[:begin] + signed + text[end + len(_PGP_END) :], note


def _spool(attachment: Attachment) -> Attachment:
    if len(attachment.data) < SPOOL_MIN:
        return attachment
    data = attachment.data
    return replace(attachment, data=b"", spooled=_spooled(lambda fh: fh.write(data)))


# Large base64 files are cut out before the standard library's parser sees the mail: it holds
# a mail many times over while it reads it, in lines of its own (a 41 MB mail with a 30 MB
# file took 313 MB). A part is cut when its body is SPOOL_MIN or more of lines of base64
# alone, its header block follows a boundary line and says base64, and it is a file: not
# text, not a mail, nothing read further (S/MIME, TNEF). Anything else, or any doubt, is left
# to the parser as it is.
# (A search for the first byte that ends the run: a pattern of repeated lines would keep a
# mark for each line it matched, megabytes of them.)
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=\r\n]")
_CUT_MARK = "loket-spooled-"
_READ_FURTHER = _SMIME | _SIGNATURES | {"application/ms-tnef"}
# A header block longer than this after a boundary line is no file's: not looked at.
_MOST_HEAD = 64 * 1024
# How much of a large file's base64 is read (and decoded) at a time.
_BLOCK = 256 * 1024


def _cut_large_parts(raw: bytes) -> tuple[bytes, dict[str, Spooled]]:
    """``raw`` with the body of each large base64 file replaced by a mark, and the files
    (decoded, in spool files) by their mark."""
    if len(raw) < SPOOL_MIN:
        return raw, {}
    kept, cut = _cut_from(io.BytesIO(raw))
    return (kept, cut) if cut else (raw, {})


def _cut_from(fh: BinaryIO) -> tuple[bytes, dict[str, Spooled]]:
    """What ``_cut_large_parts`` does, reading a mail from ``fh`` a line at a time (a large
    file's lines a block at a time): only the rest of the mail is ever held in memory."""
    kept = bytearray()
    cut: dict[str, Spooled] = {}
    head: list[bytes] | None = None  # the lines since the last boundary line
    previous = b"\n"
    try:
        while line := fh.readline():
            kept += line
            blank = line in (b"\n", b"\r\n") and previous.endswith(b"\n")
            previous = line
            if line.startswith(b"--"):
                head = []
            elif not blank:
                if head is not None:
                    head.append(line)
                    if len(head) * 80 > _MOST_HEAD and sum(map(len, head)) > _MOST_HEAD:
                        head = None
            else:
                if head and _a_file_head(b"".join(head)):
                    spooled = _cut_run(fh)
                    if spooled is not None:
                        mark = _CUT_MARK + secrets.token_hex(8)
                        cut[mark] = spooled
                        kept += mark.encode() + b"\r\n"
                        previous = b"\n"
                head = None
    except BaseException:
        for spooled in cut.values():
            spooled.discard()
        raise
    return bytes(kept), cut


def _cut_run(fh: BinaryIO) -> Spooled | None:
    """The base64 run that starts at ``fh``'s position, decoded into a spool file, with
    ``fh`` left after it; None (``fh`` left where it was) if it is no run to cut: shorter
    than SPOOL_MIN, not followed by a boundary line, or not base64 after all."""
    start = fh.tell()
    end = start  # after the last line end in the run
    at = start
    while block := fh.read(_BLOCK):
        other = _NOT_BASE64.search(block)
        stop = other.start() if other else len(block)
        if (newline := block.rfind(b"\n", 0, stop)) >= 0:
            end = at + newline + 1
        if other:
            break
        at += len(block)
    else:
        end = start  # the mail ends in the run: left to the parser
    fh.seek(end)
    if end - start < SPOOL_MIN or fh.read(2) != b"--":
        fh.seek(start)
        return None
    fh.seek(start)
    try:
        spooled = _spooled(lambda out: _decode_into(out, fh, end - start))
    except (binascii.Error, ValueError):
        fh.seek(start)
        return None
    fh.seek(end)
    return spooled


def _a_file_head(head: bytes) -> bool:
    """Whether ``head``, a header block right after a boundary line, is that of a file in
    base64."""
    try:
        parsed = BytesHeaderParser(policy=email.policy.default).parsebytes(head)
        encoding = str(parsed.get("Content-Transfer-Encoding", "")).strip().lower()
        filename = (_filename(parsed) or "").lower()  # type: ignore[arg-type]
        ctype, maintype = parsed.get_content_type(), parsed.get_content_maintype()
    except Exception:
        return False
    return (
        encoding == "base64"
        and maintype not in ("text", "multipart", "message")
        and ctype not in _READ_FURTHER
        and filename != "winmail.dat"
    )


def _decode_into(out: BinaryIO, fh: BinaryIO, length: int) -> int:
    """Decode ``length`` bytes of base64 lines from ``fh`` into ``out`` a block at a time;
    the size."""
    size = 0
    carry = b""
    while length > 0:
        block = fh.read(min(_BLOCK, length))
        if not block:
            raise ValueError("the mail ended early")
        length -= len(block)
        text = block.translate(None, b"\r\n")
        text = carry + text if carry else text
        whole = len(text) // 4 * 4
        carry = text[whole:]
        size += out.write(binascii.a2b_base64(memoryview(text)[:whole]))
    return size  # a last group of fewer than four characters is dropped, as _payload does


def _cut_file(part: EmailMessage, cut: dict[str, Spooled]) -> Spooled | None:
    """The file cut out of ``part`` before parsing, if it was."""
    payload = part.get_payload()
    if not cut or not isinstance(payload, str) or not payload.startswith(_CUT_MARK):
        return None
    return cut.pop(payload.strip(), None)


def _drop_large_payloads(msg: EmailMessage) -> None:
    """Empty the large parts of ``msg``: what they hold is in the parsed mail already (its
    files, its text), and the pipeline reads only the mail's headers and its small parts (a
    delivery report's) from ``msg``. Kept, they would travel to the bridge as well."""
    for part in msg.walk():
        payload = part.get_payload() if not part.is_multipart() else None
        if isinstance(payload, str | bytes) and len(payload) >= SPOOL_MIN:
            part.set_payload("")


def parse(raw: bytes) -> ParsedMail:
    raw, cut = _cut_large_parts(_mended(raw))
    return _parsed(raw, cut)


def parse_file(path: str | os.PathLike[str]) -> ParsedMail:
    """``parse`` for a mail in a file (a large one, as the IMAP source fetches it): its large
    files go from the file to spool files, and only the rest of it is read into memory."""
    with open(path, "rb") as fh:
        raw, cut = _cut_from(fh)
    try:
        return _parsed(_mended(raw), cut)
    except BaseException:
        for spooled in cut.values():
            spooled.discard()
        raise


def _parsed(raw: bytes, cut: dict[str, Spooled]) -> ParsedMail:
    msg: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
    senders = _addresses(msg, "From")
    found = _Found(root=msg, cut=cut)
    try:
        _walk(msg, found)
    except Exception:  # whatever the walk stumbled on: the text, if it is text
        found = _Found()
        if msg.get_content_maintype() == "text":
            found.plain.append(_text(msg))
    for unused in cut.values():  # in a part the walk left out
        unused.discard()
    text = "\n\n".join(t.strip("\n") for t in found.plain) if found.plain else None
    if text and "-----BEGIN PGP" in text:
        text, pgp = _pgp_unarmoured(text)
        found.sealed = found.sealed or (pgp if pgp.startswith("encrypted") else None)
        found.notes += [pgp] if pgp and not pgp.startswith("encrypted") else []
    html = "\n".join(found.html) if found.html else None
    html_text = html_to_text(html) if html and not (text or "").strip() else None
    if not found.files and not (text or "").strip() and not (html_text or "").strip():
        # A mail that is only a picture: the picture is what the client sent.
        found.files = [replace(a, inline=False) for a in found.decorations]
        found.decorations = []
    attachments = [_spool(a) for a in found.files + found.decorations]
    _drop_large_payloads(msg)
    return ParsedMail(
        msg=msg,
        senders=senders,
        recipients=_addresses(msg, "To", "Cc", "Delivered-To", "X-Original-To"),
        subject=_subject(msg),
        message_id=_message_id(msg),
        in_reply_to=_thread_ids(msg),
        text=text,
        html=html,
        html_text=html_text,
        attachments=attachments,
        sealed=found.sealed,
        notes=found.notes,
    )
