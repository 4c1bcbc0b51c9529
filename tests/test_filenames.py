"""Filenames from clients and mail are shown, never used as paths: made safe to display."""

from __future__ import annotations

import pytest

from core.filenames import display_filename, guess_content_type


@pytest.mark.parametrize(
    "given,shown",
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\jan\\evil.exe", "evil.exe"),
        ("scan\x00.pdf", "scan.pdf"),
        ("factuur\u202efdp.exe", "factuurfdp.exe"),
        ("a\u2066b\u2069c.pdf", "abc.pdf"),
        ("Überweisung café.pdf", "Überweisung café.pdf"),
        ("Cafe\u0301.pdf", "Café.pdf"),  # NFC
        ("  lots   of\tspace  .pdf", "lots of space.pdf"),
        ("line\nbreak.txt", "linebreak.txt"),
        ("", "file"),
        (None, "file"),
        ("   ", "file"),
        ("..", "file"),
        ("../", "file"),
        (".pdf", "pdf"),
        ("...hidden", "hidden"),
    ],
)
def test_display_filename(given: str | None, shown: str) -> None:
    assert display_filename(given) == shown


def test_long_names_are_shortened_keeping_the_extension() -> None:
    shown = display_filename("a" * 300 + ".pdf")
    assert len(shown) <= 120 and shown.endswith(".pdf") and shown.startswith("aaa")


def test_a_long_pseudo_extension_is_not_kept() -> None:
    shown = display_filename("report." + "x" * 300)
    assert len(shown) <= 120 and shown.startswith("report.")


@pytest.mark.parametrize(
    "name,expected",
    [
        ("a.pdf", "application/pdf"),
        ("foto.JPG", "image/jpeg"),
        ("x.unknownext", "application/octet-stream"),
    ],
)
def test_guess_content_type(name: str, expected: str) -> None:
    assert guess_content_type(name) == expected
