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
        ("\u200fx\u200e\u061cy\u202a\u202b\u202c\u202dz.pdf", "xyz.pdf"),
        ("zero\u200bwidth\ufeff.pdf", "zerowidth.pdf"),
        ("Überweisung café.pdf", "Überweisung café.pdf"),
        ("Cafe\u0301.pdf", "Café.pdf"),  # NFC
        ("Cafe\u200b\u0301.pdf", "Café.pdf"),  # NFC after removing the invisible character
        ("  lots   of\tspace  .pdf", "lots of space.pdf"),
        ("line\nbreak.txt", "linebreak.txt"),
        ("", "file"),
        (None, "file"),
        ("   ", "file"),
        ("..", "file"),
        ("../", "file"),
        (".", "file"),
        ("dossier/..", "file"),
        ("\x00\u202e", "file"),
        (".pdf", "pdf"),
        ("..pdf", "pdf"),
        ("name.", "name"),
        ("notes.about the meeting", "notes.about the meeting"),
        ("...hidden", "hidden"),
    ],
)
def test_display_filename(given: str | None, shown: str) -> None:
    assert display_filename(given) == shown


def test_long_names_are_shortened_keeping_the_extension() -> None:
    shown = display_filename("a" * 300 + ".pdf")
    assert len(shown) == 120 and shown.endswith(".pdf") and shown.startswith("aaa")


def test_a_long_pseudo_extension_is_not_kept() -> None:
    shown = display_filename("report." + "x" * 300)
    assert len(shown) == 120 and shown.startswith("report.")


def test_shortening_does_not_end_the_name_in_a_space_or_dot() -> None:
    assert display_filename("a" * 10 + " . b.pdf", max_length=16) == "aaaaaaaaaa.pdf"


@pytest.mark.parametrize("max_length", [1, 2, 4, 5, 8])
def test_a_tiny_max_length_is_still_kept(max_length: int) -> None:
    shown = display_filename("jaaropgave.pdf", max_length=max_length)
    assert 0 < len(shown) <= max_length


def test_max_length_must_be_positive() -> None:
    with pytest.raises(ValueError):
        display_filename("a.pdf", max_length=0)


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
