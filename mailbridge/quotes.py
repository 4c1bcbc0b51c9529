"""Cutting a reply down to what the sender wrote: the quoted earlier mail and the signature go.

The approach is Discourse's email_reply_trimmer (MIT), ported: every line is classified
(empty, delimiter, mobile signature, embedded-mail marker, mail header, quote, text), the
classes form a pattern string such as ``tteebqqq``, and regular expressions over that string
decide what to cut. The line classes cover Dutch and English first ("Op … schreef …",
"On … wrote …", Outlook's "Van:/Verzonden:/Aan:" blocks), and the other languages clients
of a Dutch firm write in.
"""

from __future__ import annotations

import re

EMPTY, DELIMITER, SIGNATURE, EMBEDDED, HEADER, QUOTE, TEXT = "e", "d", "s", "b", "h", "q", "t"

_DELIMITER = re.compile(r"^[ \t]*[-_,=+~#*ᐧ—]+[ \t]*$")
_SIGNATURE = re.compile(
    r"^[ \t]*[(<]*(?:"
    r"(?:sent|envoyé|enviado|gesendet|verzonden|verstuurd|inviato|wysłane|skickat|sendt|отправлено)"
    r"\s+(?:from|with|by|via|de|depuis|desde|von|mit|vanaf|met|da|dal|z|från|fra|от|с)\b.{0,80}"
    r"|.{0,40}\bfrom\s+(?:my|mobile)\b.{0,60}"
    r"|(?:get|télécharger|download)\s+\[?outlook\s+(?:for|pour)\b.{0,80}"
    r"|.{0,60}\bvon\s+meinem\b.{0,80}\bgesendet\b.{0,20}"
    r"|.{0,30}(?:從我的|从我的).{0,30}(?:傳送|发送)"
    r"|(?:sent|verzonden|envoyé)\s+(?:from|met|de)\s+\[?\w+\]?.{0,120}"
    r")[)>.]*[ \t]*$",
    re.IGNORECASE,
)
_WROTE = [
    # English: "On <date>, <someone> wrote:" and "At <date>, you wrote:"
    r"^[ \t>]*-*\s*(?:on|at)\s.{1,300}?\bwrote\s*:?\s*-*\s*$",
    r"^[ \t>]*.{1,300}?\bwrote\s*:\s*$",
    # Dutch: "Op <datum> schreef <iemand>:" and Apple's "Op … heeft … het volgende geschreven:"
    r"^[ \t>]*-*\s*op\s.{1,300}?\b(?:schreef|geschreven|het volgende geschreven)\b.{0,200}?:?\s*$",
    # German, French, Spanish, Italian, Portuguese, Polish, Swedish, Norwegian, Danish
    r"^[ \t>]*-*\s*am\s.{1,300}?\bschrieb\b.{0,200}?:?\s*$",
    r"^[ \t>]*.{0,300}?\bschrieb\b.{0,200}?:\s*$",
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
    # "Thu, 26 Jun 2014 14:00:51 +0400 от Alexander L <abc@example.com>:"
    r"^[ \t>]*.{0,100}\d{1,2}:\d{2}.{0,120}<[^>]+@[^>]+>\s*:\s*$",
    # Separators of forwarded and original mail
    r"^[ \t>*]*-+\s*(?:original message|oorspronkelijk bericht|origineel bericht"
    r"|ursprüngliche nachricht|message d'origine|mensaje original|messaggio originale"
    r"|forwarded message|doorgestuurd bericht|weitergeleitete nachricht|message transféré"
    r"|mensaje reenviado|messaggio inoltrato|oryginalna wiadomość|ursprungligt meddelande"
    r"|opprinnelig melding|пересылаемое сообщение|исходное сообщение)\s*-+[\s*]*$",
    r"^[ \t>]*(?:begin forwarded message|begin doorgestuurd bericht|anfang der weitergeleiteten"
    r"|début du message réexpédié|inicio del mensaje reenviado)\b.{0,40}:?\s*$",
]
_EMBEDDED = [re.compile(p, re.IGNORECASE) for p in _WROTE]
_HEADER = re.compile(
    r"^[ \t>]*\*?(?:from|sent|to|subject|date|cc|bcc|reply-to"
    r"|van|verzonden|aan|onderwerp|datum"
    r"|von|gesendet|an|betreff|datum|kopie"
    r"|de|envoyé|à|objet|date|cc"
    r"|de|enviado|para|asunto|fecha"
    r"|da|inviato|a|oggetto|data|risposta"
    r"|od|wysłano|do|temat|data"
    r"|från|skickat|till|ämne|datum"
    r"|от|отправлено|кому|тема|дата)[ \t]*:\*?(?:[ \t]+\S|[ \t]*$)",
    re.IGNORECASE,
)
_QUOTE = re.compile(r"^[ \t]*>")
# Markers that mail clients wrap over several lines; joined back before classifying.
_MULTILINE_WROTE = re.compile(
    r"^[ \t>]*-*\s*(?:on|op|am|le|el|il|em)\s[^\n]{0,300}?(?:\n[^\n]{0,300}?){1,5}?"
    r"\b(?:wrote|schreef|geschreven|schrieb|a\s+écrit|escribió|ha\s+scritto|escreveu)\b[^\n]{0,200}?:",
    re.IGNORECASE | re.MULTILINE,
)


def _classify(line: str) -> str:
    stripped = line.strip()
    if not stripped or all(
        not ch.isprintable() or ch.isspace() or ch == "\u200b" for ch in stripped
    ):
        return EMPTY
    if _DELIMITER.match(line):
        return DELIMITER
    if _SIGNATURE.match(line):
        return SIGNATURE
    if any(p.match(line) for p in _EMBEDDED):
        return EMBEDDED
    if _HEADER.match(line):
        return HEADER
    if _QUOTE.match(line):
        return QUOTE
    return TEXT


_KEYWORD_THEN_COLON = re.compile(
    r"^([^\n]*\b(?:schrieb|wrote|schreef|a écrit|escribió|napisał|napisała|ha scritto|skrev)\b"
    r"[^\n:]*)\n[ \t>]*([^\n]{1,120}:)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_OPEN_ADDRESS = re.compile(r"^([^\n]*<[^>\n]*)\n[ \t>]*([^\n<]*>[^\n]{0,40})$", re.MULTILINE)


def _classify_all(lines: list[str]) -> list[str]:
    """Classes per line; inside a ``` code block everything is text."""
    out, in_code = [], False
    for line in lines:
        if line.strip().startswith("```"):
            in_code = not in_code
            out.append(TEXT)
        else:
            out.append(TEXT if in_code else _classify(line))
    return out


def _join_wrapped_markers(text: str) -> str:
    def join(match: re.Match[str]) -> str:
        return re.sub(r"\n[ \t>\-]*", " ", match.group(0))

    text = _MULTILINE_WROTE.sub(join, text)
    # "… schrieb am Fr., 28." on one line and "Apr. 2017 um 11:53 Uhr:" on the next.
    text = _KEYWORD_THEN_COLON.sub(lambda m: f"{m.group(1)} {m.group(2).strip()}", text)
    # "Foo Bar <" on one line and "foo@bar.example>:" on the next.
    return _OPEN_ADDRESS.sub(lambda m: f"{m.group(1)}{m.group(2).strip()}", text)


# Linear stand-ins for three searches over the pattern that the regular expression engine
# runs in quadratic or exponential time on long runs of lines (a mail of thousands of quote
# or marker lines stalled the bridge for seconds to hours). Each is tested against its
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


def _wrapped_header_block(pattern: str) -> tuple[int, int] | None:
    """Where ``h+[hte]+h+e`` would first match, found run by run: that regular expression
    backtracks cubically on thousands of header-like lines that are not followed by an
    empty one (minutes for one mail)."""
    for run in re.finditer(r"[hte]+", pattern):
        first = run.group().find("h")
        last = run.group().rfind("he")
        if first >= 0 and last >= first + 2:
            return run.start() + first, run.start() + last + 2
    return None


def _trim(lines: list[str], pattern: str) -> tuple[list[str], str]:
    # Everything after the first delimiter goes (signatures, footers).
    found = re.search(DELIMITER, pattern)
    if found:
        lines, pattern = lines[: found.start()], pattern[: found.start()]
    # Mobile signatures go wherever they are.
    keep = [i for i, c in enumerate(pattern) if c != SIGNATURE]
    lines, pattern = [lines[i] for i in keep], "".join(pattern[i] for i in keep)
    # The reply at the end, under the quoted mail ("bottom posting"): keep the end.
    if _bottom_posted(pattern):
        start = pattern.index(TEXT)
        return lines[start:], pattern[start:]
    # An embedded-mail marker (or a quote) running to the end: cut it off.
    cut = _quoted_to_end(pattern)
    if cut:  # not None, and not the whole mail
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
    # Header blocks whose values wrapped onto lines of their own count as headers throughout.
    found = _wrapped_header_block(pattern)
    if found:
        start, end = found
        pattern = pattern[:start] + "h" * (end - start) + pattern[end:]
    # Outlook's header blocks: three or more header lines after the text.
    found = re.search(r"t[eq]*h{3,}", pattern)
    if found:
        end = found.start() + 1
        lines, pattern = lines[:end], pattern[:end]
    found = re.search(r"t[eq]*(?:he*){2,}[hte]*$", pattern)
    if found and "h" in pattern[found.start() :]:
        end = found.start() + 1
        lines, pattern = lines[:end], pattern[:end]
    # Quotes left at the end, once there is text.
    if TEXT in pattern:
        end = len(pattern.rstrip(EMPTY + QUOTE))
        lines, pattern = lines[:end], pattern[:end]
    return lines, pattern


def split_reply(text: str, *, strip_signature: bool = True) -> tuple[str, str]:
    """(the reply, what was cut off) for a plain-text mail body. ``strip_signature=False``
    keeps signatures (to compare with tools that only cut quotes)."""
    if not text or not text.strip():
        return "", ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _join_wrapped_markers(text)
    lines = text.split("\n")
    pattern = "".join(_classify_all(lines))
    if not strip_signature:
        pattern = pattern.replace(SIGNATURE, TEXT).replace(DELIMITER, TEXT)
    kept, _ = _trim(lines, pattern)
    reply = "\n".join(kept).strip()
    if not reply:
        # Nothing but quoted text: keep everything rather than nothing.
        return text.strip(), ""
    elided = text.strip()[len(reply) :].strip() if text.strip().startswith(reply) else ""
    return reply, elided
