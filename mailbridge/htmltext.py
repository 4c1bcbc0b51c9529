"""HTML mail to plain text, safely: scripts, styles and images (tracking pixels) are left
out; only text comes through, so nothing of the HTML can run anywhere. Quoted earlier mail
comes through as a plain-text mail quotes it, each line after "> " (a blockquote, Gmail's and
Thunderbird's attribution line), so that quotes.split_reply cuts it as it cuts a plain-text
quote and keeps what a client typed between the quotes (answers inline, in Gmail a block
between blockquotes inside its quote container). Where a reply's quote is not marked as such
(Outlook's and Yahoo's containers, the earlier mail unquoted after a header block), all from
the container on is left out."""

from __future__ import annotations

import re
from collections import Counter
from html import unescape
from html.parser import HTMLParser

_SKIP = {"script", "style", "head", "title", "template", "noscript", "svg"}
_BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
# Rows and list items are lines, not paragraphs: no empty line after each.
_LINES = {"tr", "li"}
# Where a table cell starts; cells of a row with text in them are joined with " | " so
# that "Loon" and "30.000" in two cells do not run together as "Loon30.000".
_CELL = "\x1f"
_SOURCE_SPACE = re.compile(r"[ \t\r\n\f]+")
# Characters that show nothing: a line of only these is an empty line.
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Containers from which on all is the earlier mail, unquoted.
_EARLIER_MAIL = ("divrplyfwdmsg", "appendonsend", "yahoo_quoted")
# Attribution lines ("Op ma 1 dec. schreef …:"), quoted with the mail they introduce.
_ATTRIBUTION = ("gmail_attr", "moz-cite-prefix")
# Where a quoted line's text starts (taken out again, the line put after "> ").
_QUOTED = "\x1e"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip_depth = 0
        self.stack: list[str] = []
        # How many of each tag are open: a stray end tag is looked up here, not searched
        # for in the stack (thousands of unmatched end tags made that quadratic).
        self.open: Counter[str] = Counter()
        self.stopped = False
        # Of each open tag in ``stack``, whether it quotes (a blockquote, an attribution).
        self.quoting: list[bool] = []
        self.quote_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        marks = " ".join(v or "" for k, v in attrs if k in ("class", "id")).lower()
        if any(m in marks for m in _EARLIER_MAIL):
            self.stopped = True
            return
        if tag in ("br", "img", "hr", "meta", "link", "input"):
            if tag == "br":
                self.out.append("\n")
            return
        quotes = tag == "blockquote" or any(m in marks for m in _ATTRIBUTION)
        self.stack.append(tag)
        self.quoting.append(quotes)
        self.open[tag] += 1
        if quotes:
            self.quote_depth += 1
            self.out.append("\n")
        if tag in _SKIP:
            self.skip_depth += 1
        elif tag in _BLOCK:
            self.out.append("\n")
        elif tag in ("td", "th"):
            self.out.append(_CELL)

    def handle_endtag(self, tag: str) -> None:
        if self.stopped or not self.open[tag]:
            return
        while self.stack:
            top = self.stack.pop()
            if self.quoting.pop():
                self.quote_depth -= 1
                self.out.append("\n")
            self.open[top] -= 1
            if top in _SKIP:
                self.skip_depth -= 1
            if top == tag:
                break
        if tag in _BLOCK and tag not in _LINES:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.stopped and self.skip_depth == 0:
            if not self.open["pre"]:
                # Line breaks in the HTML source are spaces; only <br> and blocks end a line
                # (Outlook's source, wrapped and in CRLF, otherwise gave runs of empty lines).
                data = _SOURCE_SPACE.sub(" ", data)
            data = data.replace(_CELL, "").replace(_QUOTED, "")
            self.out.append(_QUOTED + data if self.quote_depth else data)

    def close(self) -> None:
        """The end of the HTML, as HTML5 ends it: a comment, declaration or tag still open
        is dropped, text is kept. The standard library's own ``close`` rescans the rest for
        every such construct, which is quadratic (CVE-2025-6069, fixed in Python 3.11.13):
        a few hundred KB of ``<!--`` took minutes."""
        rest, self.rawdata = self.rawdata, ""
        if rest and not rest.startswith("<"):
            self.handle_data(unescape(rest))


def html_to_text(html: str) -> str:
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # malformed HTML: keep what was read
        pass
    text = _INVISIBLE.sub("", "".join(parser.out)).replace("\xa0", " ")
    if _CELL in text:
        text = "\n".join(_cells(line) for line in text.split("\n"))
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    if _QUOTED in text:
        text = "\n".join(_quoted(line) for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _quoted(line: str) -> str:
    if _QUOTED not in line:
        return line
    said = line.replace(_QUOTED, "").strip()
    return f"> {said}" if said else ">"


def _cells(line: str) -> str:
    if _CELL not in line:
        return line
    return " | ".join(cell.strip() for cell in line.split(_CELL) if cell.strip())
