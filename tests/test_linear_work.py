"""Hostile mail grows the work of reading it linearly: the work done on an input of n and of
2n repeated pieces is compared, and twice the input may cost at most GROWTH times the work.
Work is counted, not timed (tests/workmeter.py: Python lines run plus the characters the
regular expressions scan), so the bound holds on a busy machine too.

The mails themselves, at full size, go through the pipeline in tests/test_mail_quirks.py."""

from __future__ import annotations

import _markupbase
import html.parser
import re
import sys
from collections.abc import Callable

import pytest

from mailbridge import charsets, htmltext, parse, quotes, signatures
from mailbridge.htmltext import html_to_text
from mailbridge.quotes import split_reply

from .workmeter import work_at

N = 400
# Linear work doubles (a little less, for the fixed part); quadratic work quadruples.
GROWTH = 2.25
HTML_MODULES = (html.parser, _markupbase, htmltext)
QUOTE_MODULES = (quotes, signatures)
PARSE_MODULES = (parse, charsets)

MARKER = "On Mon, 1 Jan 2026 Kantoor <k@kantoor.example> wrote:"

HTML_INPUTS: dict[str, Callable[[int], str]] = {
    # CPython's HTMLParser.close searched the rest again for each "<!--" (CVE-2025-6069).
    "unclosed comments": lambda n: "<p>Kort antwoord.</p>" + "<!--" * n + "</b>" * n,
    # Each stray end tag was looked up in the whole stack of open tags.
    "stray end tags": lambda n: "<div>" * n + "<p>Kort antwoord.</p>" + "</b>" * n,
    "unclosed tags": lambda n: "<p>Kort antwoord.</p>" + "<b x='" * n,
    "many paragraphs": lambda n: "<p>Kort antwoord.</p>" * n,
    "table cells": lambda n: "<table><tr>" + "<td>Loon</td><td>30.000</td>" * n + "</tr></table>",
}

QUOTE_INPUTS: dict[str, Callable[[int], list[str]]] = {
    "bottom-posted": lambda n: [MARKER] + ["> q", ""] * n + ["Akkoord."],
    "quotes-to-end": lambda n: ["Akkoord."] + ["> q", ""] * n,
    "markers-then-text": lambda n: [MARKER] * n + ["Akkoord."],
    "text-then-quotes-and-markers": lambda n: ["Akkoord."] + ["> q", MARKER] * n,
    "quote lines before the text": lambda n: ["> q"] * n + ["Akkoord."],
    "header-like lines": lambda n: ["Akkoord."] + ["Van: iemand", "Aan: x"] * n,
    "wrapped markers": lambda n: ["Akkoord.", ""] + ["On Mon, 1 Jan 2026 Kantoor", "wrote:"] * n,
    "signature lines under a closing": lambda n: (
        ["Akkoord.", "", "Groet,", "Alice"] + ["T 020 123 45 67"] * n
    ),
    "disclaimer paragraphs": lambda n: ["Akkoord.", ""] + ["Denk aan het milieu.", ""] * n,
    "disclaimer glued to many lines": lambda n: (
        ["Akkoord.", "", "Groet,"]
        + ["Alice"] * n
        + ["Dit e-mailbericht is uitsluitend bestemd voor de geadresseerde."]
    ),
    "answers between quotes": lambda n: ["> Vraag?", "Antwoord."] * n,
}

PARSE_INPUTS: dict[str, Callable[[int], bytes]] = {
    "PGP signature lines": lambda n: (
        b"From: a@b.example\r\n\r\n-----BEGIN PGP SIGNED MESSAGE"
        + b"-----\r\nHash: SHA256\r\n\r\nAkkoord.\r\n"
        + b"-----BEGIN PGP SIGNATURE-----\r\n" * n
    ),
    "header lines to mend": lambda n: b"From: a@b.example\r\n" + b"x-no-colon\r\n" * n + b"\r\nA",
    "raw 8-bit subject": lambda n: (
        b"From: a@b.example\r\nSubject: " + b"Zo\xeb " * n + b"\r\n\r\nA"
    ),
}


def assert_linear(monkeypatch, modules, make: Callable[[int], object], run) -> None:
    once = work_at(monkeypatch, modules, lambda: run(make(N)))
    twice = work_at(monkeypatch, modules, lambda: run(make(2 * N)))
    assert twice <= GROWTH * once, f"work {once} at n={N}, {twice} at 2n: {twice / once:.2f}×"


@pytest.mark.parametrize("shape", HTML_INPUTS)
def test_html_to_text_work_grows_linearly(monkeypatch, shape: str) -> None:
    assert_linear(monkeypatch, HTML_MODULES, HTML_INPUTS[shape], html_to_text)


@pytest.mark.parametrize("shape", QUOTE_INPUTS)
def test_the_quote_cutters_work_grows_linearly(monkeypatch, shape: str) -> None:
    assert_linear(
        monkeypatch, QUOTE_MODULES, QUOTE_INPUTS[shape], lambda lines: split_reply("\n".join(lines))
    )


@pytest.mark.parametrize("shape", PARSE_INPUTS)
def test_reading_a_mail_works_linearly(monkeypatch, shape: str) -> None:
    assert_linear(monkeypatch, PARSE_MODULES, PARSE_INPUTS[shape], parse.parse)


def rescan(text: str) -> None:
    for i in range(len(text)):
        re.search("x", text[: i + 1])  # the text up to here, again for each character


def test_the_meter_sees_quadratic_work(monkeypatch) -> None:
    """The yardstick itself: searching the text so far again for each character of it."""
    with pytest.raises(AssertionError, match="at 2n"):
        assert_linear(monkeypatch, (sys.modules[__name__],), lambda n: "a" * n, rescan)
