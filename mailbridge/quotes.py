"""Cutting a reply down to what the sender wrote: the quoted earlier mail and the signature go.

The approach is Discourse's email_reply_trimmer (MIT), ported: every line is classified
(empty, delimiter, mobile signature, embedded-mail marker, mail header, quote, text), the
classes form a pattern string such as ``tteebqqq``, and regular expressions over that string
decide what to cut. The line classes cover Dutch and English first ("Op … schreef …",
"On … wrote …", Outlook's "Van:/Verzonden:/Aan:" blocks), and the other languages clients
of a Dutch firm write in.

What the client typed is worth more than a tidy cut: a line only counts as a marker, a
header block, a signature or a delimiter when it looks like what a mail program writes, not
like a sentence that happens to start the same way ("Op 3 maart schreef de Belastingdienst
mij dat …", "Van: mijn moeder", "Verzonden met spoed.", "---"). A forwarded mail ("----------
Forwarded message ----------", "Begin doorgestuurd bericht:") is what the client sends us,
so it is kept, unlike the quote under a reply.
"""

from __future__ import annotations

import re

from .signatures import cut_signature

EMPTY, DELIMITER, SIGNATURE, EMBEDDED, HEADER, QUOTE, TEXT = "e", "d", "s", "b", "h", "q", "t"
# Classes that only live while classifying, resolved from the lines around them:
# a line of dashes, stars, underscores… (a delimiter when the mail's own text is over, else
# text) and a colon-less "Op … schreef …" (a marker when quoted lines follow, else text).
_RULE, _MAYBE_MARKER = "r", "m"

# RFC 3676's signature delimiter "-- " (often trimmed to "--", or turned into a dash by a
# phone's autocorrection) and the "ᐧ" of Gmail's tracking extensions.
_DELIMITER = re.compile(r"^[ \t]*(?:--|[—–]|ᐧ)[ \t]*$")
_RULE_LINE = re.compile(r"^[ \t]*[-_,=+~#*ᐧ—–]+[ \t]*$")

# Device and app names that follow "Sent from/with/via …" in a phone's or app's signature.
_DEVICE = (
    r"(?:[\w-]*phone\w*|ipad|ipod|android\w*|mobile?\w*|mobiel\w*|handy|cell\w*|tablet\w*"
    r"|galaxy|samsung|blackberry|huawei|pixel|nokia|htc|sony|xperia|motorola|oneplus|xiaomi"
    r"|alcatel|windows|mac|macbook|macos|ios|ipados|device|apparaat|telefoon|outlook|gmail|yahoo|aol"
    r"|airmail|mailbox|spark|proton\w*|tutanota|thunderbird|k-9|bluemail|edison|newton"
    r"|superhuman|zoho|icloud|hotmail|gmx|ziggo|kpn|telenet|mail\]?(?:\([^)\s]*\))?\s+"
    r"(?:for|voor|pour|für|on|op|app)\b)"
)
_SENT = (
    r"(?:sent|envoyé|enviado|gesendet|verzonden|verstuurd|inviato|wysłane|skickat|sendt|отправлено)"
)
_SIGNATURE = re.compile(
    r"^[ \t]*[(<]*(?:"
    # "Sent from my …", "Verstuurd vanaf mijn …", "Envoyé depuis mon …": a device of one's own.
    rf"{_SENT}\s+(?:from|vanaf|van|depuis|desde|von|da|dal|z|från|fra|от|с)\s+"
    r"(?:my|mijn|mon|ma|mi|meinem|il\s+mio|mio|mojego|min|mitt|моего|моей)\s.{1,80}"
    # "Sent with Airmail", "Verzonden met Outlook voor Android", "Sent from Mail for Windows",
    # "(sent from a phone)": only with the name of a device or a mail app.
    rf"|{_SENT}\s+(?:from|with|by|via|de|depuis|desde|von|mit|vanaf|met|da|dal|z|från|fra|от|с)"
    rf"\s+(?:(?:a|an|the|een|de|het|le|la|un|une|my|mijn|mon)\s+)?\[?{_DEVICE}\b.{{0,100}}"
    # "Someone from mobile", "From My Iphone 6"
    rf"|(?:\w+\s+)?from\s+(?:mobile|my\s+{_DEVICE})\b.{{0,60}}"
    r"|(?:get|télécharger|download)\s+\[?outlook\s+(?:for|pour)\b.{0,80}"
    # "Von meinem iPhone gesendet", "Diese Nachricht wurde von meinem Android-… gesendet."
    rf"|.{{0,60}}\bvon\s+meinem\s+{_DEVICE}.{{0,80}}\bgesendet\b.{{0,20}}"
    r"|.{0,30}(?:從我的|从我的).{0,30}(?:傳送|发送)"
    r")[)>.]*[ \t]*$",
    re.IGNORECASE,
)
_WROTE = [
    # English: "On <date>, <someone> wrote:" and "At <date>, you wrote:"
    r"^[ \t>]*-*\s*(?:on|at)\s.{1,300}?\bwrote\s*:?\s*-*\s*$",
    r"^[ \t>]*.{1,300}?\bwrote\s*:\s*$",
    # Dutch "Op <datum> schreef <iemand>:" and German "Am <Datum> schrieb <jemand>:": see
    # _DATE_MARKER below.
    r"^[ \t>]*.{0,300}?\bschrieb\b.{0,200}?:\s*$",
    # French, Spanish, Italian, Portuguese, Polish, Swedish, Norwegian, Danish, Russian, Chinese
    r"^[ \t>]*-*\s*le\s.{1,300}?\ba\s+écrit\s*:?\s*$",
    r"^[ \t>]*.{1,300}?\ba\s+écrit\s*:\s*$",
    r"^[ \t>]*-*\s*el\s.{1,300}?\bescribió\s*:?\s*$",
    r"^[ \t>]*.{1,300}?\bescribió\s*:\s*$",
    r"^[ \t>]*-*\s*il\s.{1,300}?\bha\s+scritto\s*:?\s*$",
    r"^[ \t>]*.{1,300}?\bha\s+scritto\s*:\s*$",
    r"^[ \t>]*-*\s*em\s.{1,300}?\bescreveu\s*:?\s*$",
    r"^[ \t>]*.{1,300}?\bnapisał(?:a|\(a\))?\s*:?\s*$",
    r"^[ \t>]*.{1,300}?\bskrev\b.{0,100}?:\s*$",
    r"^[ \t>]*.{1,300}?\b(?:написал|написала|написав|пише|пишет)\b.{0,100}?:?\s*$",
    r"^[ \t>]*.{1,300}?\b(?:写道|寫道)\s*[:：]\s*$",
    # "2016-03-03 17:21 GMT+01:00 Some One" / "03.03.2016 17:21, Some One <a@b>:" /
    # "2013/7/20 sam via Discourse Meta <info@discourse.org>"
    r"^[ \t>]*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\s+.{1,150}<[^>]+@[^>]+>\s*:?\s*$",
    r"^[ \t>]*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\s+\d{1,2}:\d{2}.{0,100}$",
    r"^[ \t>]*\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\s*,?\s*\d{1,2}:\d{2}.{0,200}"
    r"<[^>]+@[^>]+>.{0,20}:?\s*$",
    # Open-Xchange and Thunderbird's newer Dutch: "Kantoor <a@b> heeft op 24 november 2026
    # om 10:12 geschreven:", "Kantoor schreef op 24-11-2026 om 10:12:", and The Bat!'s "U
    # schreef op …:"; always with a time.
    r"^[ \t>]*.{1,200}?\b(?:heeft|hat)\s+(?:op|am)\s.{1,120}?\d{1,2}[:.]\d{2}.{0,40}?"
    r"\b(?:geschreven|geschrieben)\s*:\s*$",
    r"^[ \t>]*.{1,120}?\b(?:schreef|schrieb)\s+(?:op|am)\s.{1,120}?\d{1,2}[:.]\d{2}.{0,30}:\s*$",
    # Mutt's other attribution: "* Kantoor Test <portaal@kantoor.example> [2026-11-24 10:12]:"
    r"^[ \t>]*\*\s+.{1,100}<[^>]+@[^>]+>\s+\[[^\]]{4,40}\]:\s*$",
    # "Thu, 26 Jun 2014 14:00:51 +0400 от Alexander L <abc@example.com>:"
    r"^[ \t>]*.{0,100}\d{1,2}:\d{2}.{0,120}<[^>]+@[^>]+>\s*:\s*$",
    # Separators of original mail
    r"^[ \t>*]*-+\s*(?:original message|oorspronkelijk bericht|origineel bericht"
    r"|ursprüngliche nachricht|message d'origine|mensaje original|messaggio originale"
    r"|oryginalna wiadomość|ursprungligt meddelande|opprinnelig melding"
    r"|исходное сообщение)\s*-+[\s*]*$",
]
# Separators of a forwarded mail: the client sends us that mail, it is kept (see split_reply);
# inside a quoted mail they are markers like the others.
_FORWARD = re.compile(
    r"^[ \t>*]*(?:-+\s*(?:forwarded message|doorgestuurd bericht|weitergeleitete nachricht"
    r"|message transféré|mensaje reenviado|messaggio inoltrato|пересылаемое сообщение)"
    r"\s*-+[\s*]*"
    r"|(?:begin forwarded message|begin doorgestuurd bericht|anfang der weitergeleiteten"
    r"|début du message réexpédié|inicio del mensaje reenviado)\b.{0,40}:?\s*)$",
    re.IGNORECASE,
)
_EMBEDDED = [re.compile(p, re.IGNORECASE) for p in _WROTE]
# "Op wo 25 nov. 2026 om 23:43 schreef Loket <loket@kantoor.example>:", Apple's "Op … heeft …
# het volgende geschreven:", "Am … schrieb …:". Clients start sentences the same way ("Op 3
# maart schreef de Belastingdienst mij dat …"), so the line must look like a mail program's:
# a date with a time or an address, and a colon at the end, or the address at the end
# without one. Anything else is a marker only when quoted lines follow it.
_DATE_MARKER = re.compile(
    r"^[ \t>]*-*\s*(?:op|am)\s.{1,300}?\b(?:schreef|geschreven|schrieb)\b.{0,200}$",
    re.IGNORECASE,
)
_TIME = re.compile(r"\d{1,2}[:.]\d{2}\b")
_ADDRESS = re.compile(r"[^\s<>\"'@]+@[^\s<>\"'@]+\.\w")
_ADDRESS_AT_END = re.compile(r"[^\s<>\"'@]+@[^\s<>\"'@]+\.\w+>?\s*$")

_HEADER = re.compile(
    r"^[ \t>]*\*?(from|sent|to|subject|date|cc|bcc|reply-to"
    r"|van|verzonden|aan|onderwerp|datum"
    r"|von|gesendet|an|betreff|kopie"
    r"|de|envoyé|à|objet"
    r"|enviado|para|asunto|fecha"
    r"|da|inviato|a|oggetto|data|risposta"
    r"|od|wysłano|do|temat"
    r"|från|skickat|till|ämne"
    r"|от|отправлено|кому|тема|дата)[ \t]*:\*?(?:[ \t]+\S|[ \t]*$)",
    re.IGNORECASE,
)
# The sender, which every header block of Outlook or a forward has.
_FROM_HEADERS = {"from", "van", "von", "de", "da", "od", "från", "от"}
_QUOTE = re.compile(r"^[ \t]*>")


def _marker(line: str) -> str:
    """EMBEDDED for a line that is an embedded-mail marker on its own, _MAYBE_MARKER for a
    colon-less "Op … schreef …" that is one only above quoted lines, else ""."""
    if any(p.match(line) for p in _EMBEDDED) or _FORWARD.match(line):
        return EMBEDDED
    if _DATE_MARKER.match(line):
        stripped = line.rstrip()
        has_time, has_address = bool(_TIME.search(line)), bool(_ADDRESS.search(line))
        if stripped.endswith(":") and (has_time or has_address):
            return EMBEDDED
        if has_time and _ADDRESS_AT_END.search(stripped):
            return EMBEDDED
        return _MAYBE_MARKER
    return ""


def _classify(line: str, markers: dict[str, str]) -> str:
    stripped = line.strip()
    if not stripped or all(
        not ch.isprintable() or ch.isspace() or ch == "\u200b" for ch in stripped
    ):
        return EMPTY
    if _DELIMITER.match(line):
        return DELIMITER
    if _RULE_LINE.match(line):
        return _RULE
    if _SIGNATURE.match(line):
        return SIGNATURE
    marker = markers[line] if line in markers else _marker(line)
    if marker:
        return marker
    if _HEADER.match(line):
        return HEADER
    if _QUOTE.match(line):
        return QUOTE
    return TEXT


def _header_blocks(lines: list[str], classes: list[str]) -> None:
    """Header lines count as such only in a block like the one Outlook or a forward writes:
    the sender ("Van:", "From:", "*From:*"; Hotmail puts "Subject:" above it) and at least
    two more header lines ("Verzonden:", "Aan:", "Onderwerp:", "Date:", "Cc:" …), one after
    the other, a value wrapped onto a line or two of its own allowed in between. Elsewhere
    "Datum: 12 maart" or "Van: mijn moeder" is the client's text. One pass over the lines:
    no part of a run that falls short would pass."""
    i, n = 0, len(classes)
    while i < n:
        if classes[i] != HEADER:
            i += 1
            continue
        end, senders, others = i, 0, 0
        j, gap = i, 0
        while j < n and gap <= 2:
            if classes[j] == HEADER:
                if _header_name(lines[j]) in _FROM_HEADERS:
                    senders += 1
                else:
                    others += 1
                end, gap = j, 0
            elif classes[j] in (TEXT, EMPTY, QUOTE):
                gap += 1
            else:
                break
            j += 1
        valid = senders >= 1 and others >= 2
        for k in range(i, end + 1):
            if valid:
                # A value wrapped onto a line of its own ("Subject: … that" / "spans two
                # lines") is the header's too.
                if classes[k] == HEADER or classes[k] == TEXT and classes[k - 1] == HEADER:
                    classes[k] = HEADER
            elif classes[k] == HEADER:
                classes[k] = QUOTE if _QUOTE.match(lines[k]) else TEXT
        i = end + 1


def _header_name(line: str) -> str:
    found = _HEADER.match(line)
    return found.group(1).lower() if found else ""


def _classify_all(lines: list[str], markers: dict[str, str] | None = None) -> list[str]:
    """Classes per line; inside a ``` code block everything is text. ``markers``: the
    marker classes of lines already looked at."""
    markers = {} if markers is None else markers
    out, in_code = [], False
    for line in lines:
        if line.strip().startswith("```"):
            in_code = not in_code
            out.append(TEXT)
        else:
            out.append(TEXT if in_code else _classify(line, markers))
    _header_blocks(lines, out)
    # Backwards, each line knowing the class of the next non-empty one:
    # - a colon-less "Op … schreef …" is a marker above quoted lines only;
    # - a rule ("---", "_____", "***") ends the text when no more text of the client's
    #   follows (the quoted mail, a header block, a signature, the end); a "---" between
    #   two paragraphs is the client's;
    # - "Sent from my iPhone" is a signature at the end of the text, above the quote,
    #   not when more of the client's text follows it.
    following = ""  # class of the next line that is not empty
    after_signatures = ""  # … and not a signature either
    for i in range(len(out) - 1, -1, -1):
        c = out[i]
        if c == _MAYBE_MARKER:
            c = EMBEDDED if following == QUOTE else TEXT
        elif c == _RULE:
            c = TEXT if following == TEXT else DELIMITER
        elif c == SIGNATURE and after_signatures == TEXT:
            c = TEXT
        out[i] = c
        if c != EMPTY:
            following = c
            if c != SIGNATURE:
                after_signatures = c
    return out


# Markers that mail programs wrap over a few lines, joined back before classifying.
_MARKER_WORD = re.compile(
    r"wrote|schreef|geschreven|schrieb|écrit|escribió|scritto|escreveu|napisał|skrev"
    r"|написал|пише|写道|寫道",
    re.IGNORECASE,
)
_MARKER_START = re.compile(r"^[ \t>]*-*\s*(?:on|op|am|le|el|il|em)\s", re.IGNORECASE)
# How the last line of a wrapped marker ends: "wrote:", "<adres>:", "um 12:52 Uhr:", "schreef".
_MARKER_END = re.compile(
    r"(?:[:：>]|wrote|schreef|geschreven|schrieb|écrit|escribió|scritto|escreveu|napisał"
    r"|skrev|написал|пише)\s*$",
    re.IGNORECASE,
)
# The end of a marker that stands alone on the next line, the rest a marker by itself.
_MARKER_TAIL = re.compile(
    r"^[ \t>]*(?:het\s+volgende(?:\s+geschreven)?|volgende\s+geschreven|geschreven|wrote"
    r"|schreef|folgendes(?:\s+geschrieben)?|geschrieben|a\s+écrit)\s*:\s*$",
    re.IGNORECASE,
)
_QUOTE_PREFIX = re.compile(r"^[ \t]*((?:>[ \t]*)*)")


def _glue(parts: list[str]) -> str:
    """The lines of a wrapped marker as one: the continuation lines lose the quote marks
    the first line has; an address cut after its "<" is closed up."""
    depth = _QUOTE_PREFIX.match(parts[0]).group(1).count(">")
    joined = parts[0].rstrip()
    for part in parts[1:]:
        part = part.lstrip(" \t")
        for _ in range(depth):
            if part.startswith(">"):
                part = part[1:].lstrip(" \t")
        if not part:
            continue
        open_address = joined.rfind("<") > joined.rfind(">")
        joined += ("" if open_address else " ") + part.rstrip()
    return joined


class _Markers(dict[str, str]):
    """The marker class of each line looked at, looked at once."""

    def __missing__(self, line: str) -> str:
        found = self[line] = _marker(line)
        return found


def _wrapped_marker(lines: list[str], i: int, markers: _Markers) -> int:
    """How many lines from lines[i] on form one wrapped marker (0: none). Gmail and others
    wrap "Op … schreef … <adres>:" over two or three lines, never over an empty one; the
    joined text looks like a date header: a digit, and an address or a colon at the end.
    (One mail program splits "On <date> <name>" / "" / "<" / "mailto:… <address>" / "> wrote:"
    over empty lines: only when the first line has a time and the whole an address.)"""
    first = lines[i]
    if not first.strip() or len(first) > 400:
        return 0
    open_address = first.rfind("<") > first.rfind(">")
    starts = _MARKER_START.match(first)
    tail_next = i + 1 < len(lines) and bool(_MARKER_TAIL.match(lines[i + 1]))
    if not (starts or open_address or tail_next or _MARKER_WORD.search(first)):
        return 0
    window = lines[i : i + 5]
    if len(window) > 1 and _MARKER_TAIL.match(window[1]) and markers[first] == EMBEDDED:
        # Gmail's Dutch "Op … schreef Naam <adres>" / "het volgende:": whole without its tail.
        return 2
    if open_address and len(window) > 1 and ">" in window[1] and markers[first] == EMBEDDED:
        # "2016-10-24 15:36 GMT+02:00 Foo bar <" / "info@foo.bar>:"
        return 2 if markers[_glue(window[:2])] == EMBEDDED else 0
    if not _MARKER_WORD.search(" ".join(window)) or markers[first] == EMBEDDED:
        return 0
    spans_empty = bool(starts and _TIME.search(first))
    for k in range(2, len(window) + 1 if spans_empty else min(len(window), 3) + 1):
        last, before = window[k - 1], window[k - 2]
        if k > 2 and _MARKER_START.match(before) and _TIME.search(before):
            return 0  # the marker starts on a later line
        if not last.strip():
            if not spans_empty:
                return 0
            continue
        if len(last) > 300 or markers[last] == EMBEDDED and any(c.isdigit() for c in last):
            return 0  # the next marker, with its date; a bare "wrote:" ends this one
        if not _MARKER_END.search(last):
            continue
        joined = _glue(window[:k])
        if not any(c.isdigit() for c in joined) or not _MARKER_WORD.search(joined):
            continue
        if not (_ADDRESS.search(joined) or joined.endswith(":")):
            continue
        if any(not part.strip() for part in window[:k]) and not _ADDRESS.search(joined):
            continue
        if markers[joined] == EMBEDDED:
            return k
    return 0


def _join_wrapped_markers(lines: list[str], markers: _Markers) -> list[str]:
    out, i = [], 0
    while i < len(lines):
        k = _wrapped_marker(lines, i, markers)
        if k:
            out.append(_glue(lines[i : i + k]))
            i += k
        else:
            out.append(lines[i])
            i += 1
    return out


# Linear stand-ins for searches over the pattern that the regular expression engine runs in
# quadratic or exponential time on long runs of lines (a mail of thousands of quote or
# marker lines stalled the bridge for seconds to hours). Each is tested against its
# expression in tests/test_mail_quirks.py.


def _bottom_posted(pattern: str) -> bool:
    """``(?:b[^t]+)*b[bqeh]+t[et]*`` matches the whole pattern: quoted mail first, then the
    reply at the end."""
    first_text = pattern.find(TEXT)
    if first_text < 2 or pattern[first_text:].strip(TEXT + EMPTY) or pattern[0] != EMBEDDED:
        return False
    head = pattern[:first_text]
    tail_run = len(head) - len(head.rstrip(EMBEDDED + QUOTE + EMPTY + HEADER))
    # The last "b[bqeh]+" starts at a marker inside that run, one line before its end at
    # the latest; what comes before it is empty or "b" and at least one more line.
    return any(head[j] == EMBEDDED and j != 1 for j in range(len(head) - tail_run, len(head) - 1))


_MARKER_TO_END = re.compile(r"[eqdh]*be*")
_QUOTE_TO_END = re.compile(r"[eqd]*q[ed]*b*e*")


def _quoted_to_end(pattern: str) -> int | None:
    """Where ``e*(?:b[eqdh]*|b*[ed]*q[eqd]*)$`` would match: the start of the longest such
    end. Matched backwards, anchored, so each expression runs once over the string."""
    backwards = pattern[::-1]
    lengths = [
        len(m.group())
        for m in (_MARKER_TO_END.match(backwards), _QUOTE_TO_END.match(backwards))
        if m
    ]
    return len(pattern) - max(lengths) if lengths else None


def _trim(lines: list[str], pattern: str) -> tuple[list[str], str]:
    # Everything after the first delimiter goes (signatures, footers).
    found = re.search(DELIMITER, pattern)
    if found:
        lines, pattern = lines[: found.start()], pattern[: found.start()]
    # Mobile signatures go.
    keep = [i for i, c in enumerate(pattern) if c != SIGNATURE]
    lines, pattern = [lines[i] for i in keep], "".join(pattern[i] for i in keep)
    # The reply at the end, under the quoted mail ("bottom posting"): keep the end.
    if _bottom_posted(pattern):
        start = pattern.index(TEXT)
        return lines[start:], pattern[start:]
    # An embedded-mail marker (or a quote) running to the end: cut it off.
    cut = _quoted_to_end(pattern)
    if cut is not None:  # all of it, when there is no text: split_reply decides then
        lines, pattern = lines[:cut], pattern[:cut]
    else:
        # A marker followed by unquoted text (a quote marked with "|", say): cut there;
        # a marker followed by ">" quotes and then text is an answer between the lines.
        found = re.search(r"b(?!e*q)", pattern)
        if found and found.start() > 0 and TEXT in pattern[: found.start()]:
            lines, pattern = lines[: found.start()], pattern[: found.start()]
    # Markers left over (answers between the lines): drop just those lines.
    keep = [i for i, c in enumerate(pattern) if c != EMBEDDED]
    lines, pattern = [lines[i] for i in keep], "".join(pattern[i] for i in keep)
    # Outlook's header blocks (three lines or more, see _header_blocks) after the text.
    found = re.search(r"t[eq]*h(?:e?h){2,}", pattern)
    if found:
        end = found.start() + 1
        lines, pattern = lines[:end], pattern[:end]
    # Quotes left at the end, once there is text.
    if TEXT in pattern:
        end = len(pattern.rstrip(EMPTY + QUOTE))
        lines, pattern = lines[:end], pattern[:end]
    return lines, pattern


def _quoted_context(lines: list[str], pattern: str) -> list[str]:
    """Answers between quoted lines, each under the quoted paragraph right above it (kept as
    a quote, for context); the rest of the quoted mail (the notification's greeting, its
    other paragraphs, links and closing) goes. One pass over the lines."""
    if QUOTE not in pattern or TEXT not in pattern:
        return lines
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] != QUOTE:
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < n and pattern[j] in (QUOTE, EMPTY):
            j += 1
        if j == n:  # quotes at the very end: _trim has kept them for a reason
            out += lines[i:j]
            break
        said = [k for k in range(i, j) if pattern[k] == QUOTE and _said(lines[k])]
        if said:
            start = end = said[-1]
            while start > i and pattern[start - 1] == QUOTE and _said(lines[start - 1]):
                start -= 1
            if out and out[-1].strip():
                out.append("")
            out += lines[start : end + 1]
            out += [""] if end + 1 < j else []
        i = j
    return out


def _said(line: str) -> bool:
    """A quoted line with words in it: not an empty ">" nor a rule ("> -----")."""
    said = line.lstrip(" \t>").strip()
    return bool(said) and not _RULE_LINE.match(said)


# "Zie mijn antwoorden hieronder (in rood)": Outlook's way of answering inline, in the quoted
# mail itself, which its text version shows unquoted under the header block.
_ANSWERS_BELOW = re.compile(
    r"\b(?:antwoord(?:en)?|reactie|opmerkingen|answers?|comments|replies)\b.{0,40}"
    r"\b(?:hieronder|onder|in\s+de\s+(?:tekst|mail)|tussen\s+de\s+regels|below|inline"
    r"|in\s+(?:rood|blauw|red|blue))\b"
    r"|\b(?:zie|see)\s+(?:hieronder|below)\b",
    re.IGNORECASE,
)


def _answers_below(kept: list[str], lines: list[str], pattern: str) -> list[str]:
    """When the client says the answers are in the mail below, and that mail stands there
    unquoted (Outlook), that mail without its header block or attribution, up to its own
    signature delimiter: cutting it would lose the answers. Else nothing."""
    cut = next((i for i, c in enumerate(pattern) if c in (EMBEDDED, HEADER)), None)
    if cut is None or not _ANSWERS_BELOW.search(" ".join(kept[-20:])):
        return []
    below = pattern.find(DELIMITER, cut)
    end = below if below >= 0 else len(pattern)
    if QUOTE in pattern[cut:end]:
        return []  # quoted with ">": the answers between the quotes are kept already
    rest = [lines[i] for i in range(cut, end) if pattern[i] not in (EMBEDDED, HEADER)]
    while rest and not rest[0].strip():
        rest.pop(0)
    return ["", *rest] if any(_said(line) for line in rest) else []


def _one_empty_line(lines: list[str]) -> list[str]:
    """Where a cut took lines out from between empty ones, one empty line is left."""
    return [line for k, line in enumerate(lines) if line.strip() or k == 0 or lines[k - 1].strip()]


def _forwarded_from(lines: list[str], pattern: str) -> int | None:
    """The line where a forwarded mail starts, when the client's own text (and signature)
    above it is all that comes before: no quote, no marker, no header block."""
    for i, c in enumerate(pattern):
        if c in (EMBEDDED, QUOTE, HEADER):
            return i if c == EMBEDDED and _FORWARD.match(lines[i]) else None
    return None


def split_reply(
    text: str,
    *,
    strip_signature: bool = True,
    keep_all_if_empty: bool = True,
    keep_forwards: bool = True,
    quote_context: bool = True,
) -> tuple[str, str]:
    """(the reply, what was cut off) for a plain-text mail body. When nothing but quotes
    and a signature is left, the whole text is the reply, unless ``keep_all_if_empty`` is
    False (the mail's files are the answer then, and the reply is empty). A forwarded mail
    under the client's text is part of the reply: the client sends it to us. Answers between
    quoted lines keep the quoted paragraph right above each, and no more of the quote.

    ``strip_signature``, ``keep_forwards`` and ``quote_context`` set to False turn those
    choices off, to compare like with like with tools that only cut quotes, cut forwards
    and keep all quoted text between answers (tests/test_corpora.py)."""
    if not text or not text.strip():
        return "", ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    markers = _Markers()
    lines = _join_wrapped_markers(text.split("\n"), markers)
    text = "\n".join(lines)
    pattern = "".join(_classify_all(lines, markers))
    forwarded = _forwarded_from(lines, pattern) if keep_forwards else None
    if forwarded is not None:
        lines, pattern, forward = lines[:forwarded], pattern[:forwarded], lines[forwarded:]
    else:
        forward = []
    if not strip_signature:
        pattern = pattern.replace(SIGNATURE, TEXT).replace(DELIMITER, TEXT)
    kept, kept_pattern = _trim(lines, pattern)
    if quote_context:
        kept = _quoted_context(kept, kept_pattern)
    if strip_signature:
        kept = cut_signature(kept)
    if quote_context:
        kept += _answers_below(kept, lines, pattern)
    if not any(_said(line) for line in kept):
        kept = []  # empty quote marks are not a reply
    kept = _one_empty_line(kept)
    reply = "\n\n".join(
        part for part in ("\n".join(kept).strip(), "\n".join(forward).strip()) if part
    )
    if not reply:
        if not any(c != EMBEDDED and _said(line) for line, c in zip(lines, pattern, strict=True)):
            return "", text.strip()  # only "wrote:" lines and empty quote marks: nothing said
        # Nothing but quoted text: keep everything rather than nothing (an answer may
        # have been typed between the quoted lines), unless the mail's files are the answer.
        return (text.strip(), "") if keep_all_if_empty else ("", text.strip())
    elided = text.strip()[len(reply) :].strip() if text.strip().startswith(reply) else ""
    return reply, elided
