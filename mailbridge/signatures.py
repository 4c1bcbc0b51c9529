"""The end of a reply that the client did not write for us: the signature block under a
closing, typed without the "-- " delimiter that most people never use, and the legal
disclaimer a company's mail server or template adds.

The closing ("Met vriendelijke groet," "Kind regards,") and the name under it stay: they
are how the client signs. What follows the name goes only when every line of it is what a
signature holds (a job title, the company, an address with its postcode, phone numbers, web
and mail addresses, KvK/BTW/IBAN, logo placeholders, social links) and at least one line is
unmistakably so (a number, an address, a registration); a sentence among them ("P.S. de rest
volgt morgen.") keeps the whole block, since a cut that loses the client's words is worse
than a signature left in. A disclaimer goes wherever it stands at the end, closing or not.
"""

from __future__ import annotations

import re

# A closing on a line of its own, perhaps with the name after it ("Groet, Jan").
_CLOSINGS = (
    r"(?:"
    r"(?:met\s+)?(?:vriendelijke|hartelijke|beste|warme|zonnige|lieve|collegiale|sportieve)\s+"
    r"groet(?:en|jes)?"
    r"|(?:met\s+)?(?:vriendelijke\s+|hartelijke\s+)?groet(?:en|jes)?(?:\s+van\s+\S+)?"
    r"|gr(?:t|oet)?\.?|m\.?v\.?g\.?|mvg|vr\.?\s*gr\.?|hgr\.?|groetjes"
    r"|(?:alvast\s+)?(?:hartelijk\s+)?(?:bedankt|dank(?:\s+je|\s+u)?(?:\s+wel)?)(?:\s+alvast)?"
    r"|(?:with\s+)?(?:kind|best|warm|warmest|kindest)\s+(?:regards|wishes)"
    r"|thanks\s+(?:and|&)\s+(?:best\s+|kind\s+)?regards|thanks\s+(?:again|in\s+advance)"
    r"|regards|best|cheers|thanks|thank\s+you|many\s+thanks|fijne\s+dag|fijn\s+weekend"
    r"|prettige\s+(?:dag|avond)|tot\s+(?:ziens|snel|morgen)"
    r"|(?:yours\s+)?(?:sincerely|faithfully|truly)|sincerely\s+yours|all\s+the\s+best"
    r"|(?:mit\s+)?(?:freundlichen|besten|herzlichen)\s+grüßen|viele\s+grüße|cordialement"
    r")"
)
# "Met vriendelijke groet / Kind regards," and "Groet, Jan": the name checked in _closing_at.
_CLOSING = re.compile(
    rf"^[ \t*_]*{_CLOSINGS}(?:[ \t]*[/|,-][ \t]*{_CLOSINGS})?[ \t]*[,.!]*[*_]*[,.!]*"
    r"(?P<name>[ \t]+[^\s,.!?:;@\d][^.!?:;@\d]{0,40})?[ \t]*$",
    re.IGNORECASE,
)
# Lines only a signature holds.
_STRONG = re.compile(
    r"(?:^|[\s:(|])(?:\+|00)\d{2}[\s\d().-]{7,}\d"  # +31 (0)20 123 45 67
    r"|(?:^|[\s:(|])0\d{1,3}[\s-]?\d{3}[\s\d-]{3,}\d"  # 020-1234567, 06 12345678
    r"|\b\d{4}\s?[A-Z]{2}\b(?!\w)"  # a Dutch postcode: 1234 AB
    r"|\b(?:[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}|\d{5}(?:-\d{4})?)\b(?=\s*(?:$|[,|]))"  # UK, US
    r"|\bwww\.|https?://|\b[\w.+-]+@[\w-]+\.[\w.]+"
    r"|\b(?:kvk|kvk-nummer|btw|btw-nummer|btw-id|iban|bic|vat|rsin|coc|chamber\s+of\s+commerce"
    r"|handelsregister)\b"
    r"|\[(?:logo|cid:|image|afbeelding|banner|signature)[^\]]*\]"
    r"|\b(?:linkedin|twitter|facebook|instagram|youtube|xing)\b"
    r"|^[ \t]*(?:t|tel|telefoon|phone|m|mob|mobiel|mobile|f|fax|e|email|e-mail|w|web|a)"
    r"\s*[.:]",
    re.IGNORECASE,
)
# A line of a signature that says little on its own: a title, a company, a street.
_SHORT_WORDS = 9
# Signature blocks and disclaimers are short; what is longer is the client's, and is not
# searched line by line (a mail of many thousand lines must not stall the bridge).
_LONGEST_LINE = 200
_LONGEST_BLOCK = 40
_LONGEST_DISCLAIMER = 6000
_MOST_PARAGRAPHS = 8
_SENTENCE_END = re.compile(r"[.?!]\s*$")
_ABBREVIATION_END = re.compile(r"\b(?:[A-Za-z]\.){1,3}\s*$|\b(?:ltd|inc|co|corp|jr|sr)\.\s*$", re.I)
_DISCLAIMER = re.compile(
    r"uitsluitend\s+(?:bestemd|bedoeld)\s+voor\s+(?:de\s+)?(?:geadresseerde|ontvanger)"
    r"|niet\s+de\s+(?:juiste\s+|beoogde\s+)?(?:geadresseerde|ontvanger)"
    r"|(?:geen|niet)\s+(?:rechten|aansprakelijkheid)\s+(?:worden|kunnen\s+worden|ontleend|aanvaard)"
    r"|kunnen\s+geen\s+rechten\s+worden\s+ontleend"
    r"|(?:dit|deze)\s+e-?mail(?:bericht)?\s+(?:en\s+eventuele\s+bijlagen\s+)?(?:is|zijn|kan)"
    r"\s+vertrouwelijk"
    r"|denk\s+aan\s+het\s+milieu|print\s+(?:deze|dit|uw)\s+e-?mail"
    r"|intended\s+(?:solely\s+|only\s+|exclusively\s+)?for\s+the\s+(?:use\s+of\s+the\s+)?"
    r"(?:addressee|named|intended|individual|person|recipient)"
    r"|if\s+you\s+(?:have\s+received|are\s+not\s+the\s+(?:intended|named|addressee))"
    r"|^\s*disclaimer\s*:|voordat\s+u\s+(?:deze|dit)\s+(?:e-?mail|bericht)\s+print"
    r"|^\s*(?:confidentiality\s+notice|vertrouwelijkheid|disclaimer)\s*:?\s*$"
    r"|(?:this|the)\s+e-?mail(?:\s+message)?\s+(?:and\s+any\s+(?:attachments?|files)"
    r"|(?:is|may\s+be)\s+confidential)"
    r"|confidential\s+and\s+(?:may\s+be\s+)?(?:legally\s+)?privileged"
    r"|(?:please\s+)?(?:consider|think\s+of)\s+the\s+environment|think\s+before\s+you\s+print",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"^[ \t]*>")
# Between the parts of a one-line signature.
_SEPARATOR = re.compile(r"\s+[|·•–-]\s+|\s*\|\s*")
# Lines no signature holds: a postscript, a question.
_OWN_WORDS = re.compile(r"^[ \t]*(?:p\.?\s?s\.?\b|n\.?b\.?\b)|.*\?", re.IGNORECASE)


def disclaimer(paragraph: str) -> bool:
    """Whether the paragraph is a legal disclaimer or a please-do-not-print line."""
    return bool(_DISCLAIMER.search(" ".join(paragraph.split())))


def _signature_line(line: str) -> tuple[bool, bool]:
    """(could be a signature line, must be one)."""
    if len(line) > _LONGEST_LINE or _OWN_WORDS.match(line):
        return False, False
    if _STRONG.search(line):
        return True, True
    words = line.split()
    short = len(words) <= _SHORT_WORDS and len(line.strip()) <= 80
    sentence = bool(_SENTENCE_END.search(line)) and not _ABBREVIATION_END.search(line)
    return short and not sentence, False


def _paragraphs(lines: list[str], start: int) -> list[tuple[int, int]]:
    """(first, end) of each run of non-empty lines from ``start`` on."""
    runs, i = [], start
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].strip():
            j += 1
        runs.append((i, j))
        i = j
    return runs


def _without_disclaimers(lines: list[str]) -> list[str]:
    """The lines without the disclaimer paragraphs at their end (and the rule above one).
    A disclaimer glued to the signature above it, with no empty line between, begins at
    the first line that is no signature line."""
    end = len(lines)
    for first, stop in reversed(_paragraphs(lines, 0)[-_MOST_PARAGRAPHS:]):
        if first >= end:
            continue  # the rule above a disclaimer, already left out
        paragraph = "\n".join(lines[first:stop])
        if len(paragraph) > _LONGEST_DISCLAIMER or not disclaimer(paragraph):
            if all(_signature_line(line)[1] for line in lines[first:stop]):
                continue  # a logo or links under the disclaimer: they go if one is above
            break
        glued = min(stop, first + _SHORT_WORDS)
        while (
            first + 1 < glued
            and _signature_line(lines[first])[0]
            and not disclaimer(lines[first])
            and disclaimer("\n".join(lines[first + 1 : stop]))
        ):
            first += 1
        end = first
        while end and (not lines[end - 1].strip() or set(lines[end - 1].strip()) <= set("-_=*~")):
            end -= 1
    return lines[:end]


def _closing_at(line: str) -> tuple[bool, bool]:
    """(the line is a closing, it ends with the name). "Bedankt voor uw hulp" is a sentence:
    what follows a closing on its line must be a name, with a capital."""
    found = _CLOSING.match(line)
    if found is None:
        return False, False
    name = (found.group("name") or "").strip()
    if name and not name[0].isupper():
        return False, False
    return True, bool(name)


def _closing(lines: list[str]) -> int | None:
    """The last closing line among the client's own (unquoted) lines after the last quote,
    near enough to the end to have only a signature block under it."""
    for i in range(len(lines) - 1, max(-1, len(lines) - 2 * _LONGEST_BLOCK - 5), -1):
        if _QUOTED.match(lines[i]):
            return None
        if _closing_at(lines[i])[0]:
            return i
    return None


def cut_signature(lines: list[str]) -> list[str]:
    """``lines`` (the reply, quotes already cut) without the disclaimer at the end and the
    signature block under the closing."""
    lines = _without_disclaimers(lines)
    closing = _closing(lines)
    if closing is None:
        return lines
    rest, name = closing + 1, None
    if not _closing_at(lines[closing])[1]:
        # The name: the first line under the closing, unless it is already the signature's
        # ("Alice de Vries | Bakkerij BV | 06-12345678": the name is its first part).
        names = [k for k in range(rest, min(rest + 3, len(lines))) if lines[k].strip()]
        if names and not _STRONG.search(lines[names[0]]):
            rest = names[0] + 1
        elif names:
            first = _SEPARATOR.split(lines[names[0]].strip())[0]
            if first != lines[names[0]].strip() and not _STRONG.search(first):
                rest, name = names[0], first
    block = [line for line in lines[rest:] if line.strip()]
    if not block or len(block) > _LONGEST_BLOCK:
        return lines
    kinds = [_signature_line(line) for line in block]
    if all(could for could, _ in kinds) and any(must for _, must in kinds):
        return lines[:rest] + ([name] if name else [])
    return lines
