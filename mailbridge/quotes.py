"""Cutting a reply down to what the sender wrote: the quoted earlier mail and the signature go.

Mail clients mark the quoted mail in a few ways, each handled here:
- a header line: "On … wrote:", "Op … schreef …:", "Op … heeft … het volgende geschreven:"
  (Apple Mail in Dutch), "Am … schrieb …:", "Le … a écrit :" and the like, sometimes wrapped
  over two lines;
- a separator: "-----Original Message-----", "-----Oorspronkelijk bericht-----", Outlook's
  underscore line, "Begin forwarded message";
- an Outlook header block: "From:/Van:" followed by "Sent:/Verzonden:", "To:/Aan:" lines;
- lines starting with ">" at the end of the mail.
The signature goes from the standard "-- " delimiter, and "Sent from my iPhone"-style lines.
"""

from __future__ import annotations

import re

_WROTE = re.compile(
    r"^\s*(?:>\s*)?("
    r"on\b.{0,200}\bwrote\s*:?"
    r"|op\b.{0,200}\b(?:schreef|geschreven)\b.{0,80}:?"
    r"|am\b.{0,200}\bschrieb\b.{0,80}:?"
    r"|le\b.{0,200}\ba\s+écrit\s*:?"
    r"|el\b.{0,200}\bescribió\s*:?"
    r"|il\b.{0,200}\bha\s+scritto\s*:?"
    r"|em\b.{0,200}\bescreveu\s*:?"
    r"|den\b.{0,200}\bskrev\b.{0,80}:?"
    r"|dnia\b.{0,200}\bnapisał\w*\s*:?"
    r"|\d{1,4}[-./]\d{1,2}[-./]\d{1,4}.{0,120}<[^>]+@[^>]+>:?\s*$"
    r")\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:original message|oorspronkelijk bericht|origineel bericht|ursprüngliche nachricht"
    r"|message d'origine|mensaje original|forwarded message|doorgestuurd bericht)\s*-{2,}"
    r"|_{20,}"
    r"|begin forwarded message:?"
    r"|begin doorgestuurd bericht:?"
    r")\s*$",
    re.IGNORECASE,
)
_HEADER = re.compile(
    r"^\s*\*?(from|van|von|de|sent|verzonden|gesendet|envoyé|date|datum|to|aan|an|à|"
    r"subject|onderwerp|betreff|objet|cc)\s*:\*?\s",
    re.IGNORECASE,
)
_FROM = re.compile(r"^\s*\*?(from|van|von|de)\s*:\*?\s", re.IGNORECASE)
_SIGNATURE = re.compile(
    r"^\s*(?:--\s*|"
    r"(?:sent|verzonden|verstuurd|gesendet|envoyé|enviado)\s+(?:from|vanaf|via|met|von|de|desde)\s+"
    r"(?:my|mijn|mein|mon|mi)\b.{0,60}"
    r"|(?:get|download)\s+outlook\s+for\s+\w+.{0,30}"
    r")$",
    re.IGNORECASE,
)


_DASHES = re.compile(r"^[\s\-_=*]+$")
MAX_HEADER_LINES = 5


def _wrote_header(lines: list[str], i: int) -> bool:
    """Whether an "On … wrote:" header starts at line ``i`` (wrapped over up to five lines,
    and maybe framed in dashes: "---- On … wrote ----")."""
    joined = ""
    for line in lines[i : i + MAX_HEADER_LINES]:
        joined = f"{joined} {line.strip()}".strip()
        if len(joined) > 400:
            return False
        if _WROTE.match(joined.strip("-— ").replace("&lt;", "<").replace("&gt;", ">")):
            return True
    return False


def _quote_start(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if _SEPARATOR.match(line) or (len(line) < 300 and _wrote_header(lines, i)):
            return i
        if _FROM.match(line):
            following = [x for x in lines[i + 1 : i + 6] if x.strip()]
            if sum(1 for x in following[:4] if _HEADER.match(x)) >= 2:
                return i
    # A block of ">" lines running to the end of the mail.
    tail = len(lines)
    while tail > 0 and (not lines[tail - 1].strip() or lines[tail - 1].lstrip().startswith(">")):
        tail -= 1
    if tail < len(lines) and any(x.lstrip().startswith(">") for x in lines[tail:]):
        return tail
    return None


def _signature_start(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line) and i > 0:
            return i
    return None


def split_reply(text: str) -> tuple[str, str]:
    """(the reply, what was cut off) for a plain-text mail body."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    cut = _quote_start(lines)
    kept = lines if cut is None else lines[:cut]
    sig = _signature_start(kept)
    if sig is not None:
        kept = kept[:sig]
    while kept and (not kept[-1].strip() or _DASHES.match(kept[-1])):
        kept = kept[:-1]
    reply = "\n".join(kept).strip()
    if not reply:  # nothing but a quote: keep the whole text rather than nothing
        return text.strip(), ""
    elided = "\n".join(lines[len(kept) :]).strip()
    return reply, elided
