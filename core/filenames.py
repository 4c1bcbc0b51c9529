"""Filenames from clients and mail, made safe to show.

They are kept for display only (the store never builds a path from one), but they are shown in
pages, mail and chat, so path parts, control characters and bidi overrides (which make
``factuur\u202efdp.exe`` read as ``factuurexe.pdf``) are removed, and long names shortened.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata

DEFAULT_NAME = "file"
MAX_EXTENSION = 16
_SPACES = re.compile(r"\s+")


def _visible(ch: str) -> bool:
    # Cc: control characters (NUL, newlines…); Cf: invisible formatting, bidi overrides
    # included; Co/Cs: private-use and lone surrogates.
    return unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs")


def display_filename(name: str | None, *, max_length: int = 120) -> str:
    """A safe display name: last path part only, no control or bidi characters, at most
    ``max_length`` characters with the extension kept. Nothing usable left: ``"file"``
    (with the extension, if there was one)."""
    name = unicodedata.normalize("NFC", name or "")
    name = "".join(ch if _visible(ch) else ("" if ch != "\t" else " ") for ch in name)
    name = re.split(r"[/\\]", name)[-1]
    name = _SPACES.sub(" ", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > MAX_EXTENSION or " " in ext:
        stem, ext = name, ""
    if not stem:
        stem = DEFAULT_NAME
    suffix = f".{ext}" if ext else ""
    stem = stem[: max(1, max_length - len(suffix))].rstrip(" .") or DEFAULT_NAME
    return f"{stem}{suffix}"


def guess_content_type(filename: str) -> str:
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"
