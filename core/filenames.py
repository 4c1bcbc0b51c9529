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
# A longer "extension" is just a part of the name after a dot ("notes.about the meeting").
MAX_EXTENSION = 16
_SEPARATORS = re.compile(r"[/\\]")
_SPACES = re.compile(r"\s+")


def _visible(ch: str) -> bool:
    # Cc: control characters (NUL, newlines…); Cf: invisible formatting, the bidi marks,
    # embeddings, overrides and isolates included; Co/Cs: private use and lone surrogates
    # (from undecodable bytes), which cannot even be encoded for a page or a mail.
    return unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs")


def display_filename(name: str | None, *, max_length: int = 120) -> str:
    """A safe name to show for a file a client sent.

    Only the last path part (``/`` and ``\\`` both separate), without control and invisible
    formatting characters (a tab counts as a space, other controls such as newlines vanish),
    NFC-normalised, runs of whitespace made one space, spaces and dots stripped from both
    ends, and shortened to ``max_length`` characters keeping the extension.

    A name with nothing usable left (empty, ``.``, ``..``, only spaces) becomes ``"file"``.
    Because leading dots are stripped, a name that is only an extension keeps it as its
    name: ``".pdf"`` and ``"..pdf"`` become ``"pdf"``.
    """
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    name = "".join(ch for ch in (name or "").replace("\t", " ") if _visible(ch))
    # After the removal, so that a mark that was split off its letter by an invisible
    # character still combines with it.
    name = unicodedata.normalize("NFC", name)
    name = _SEPARATORS.split(name)[-1]
    name = _SPACES.sub(" ", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > MAX_EXTENSION or " " in ext:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    if len(suffix) >= max_length:
        # No room for the extension and a name before it: shorten the whole.
        stem, suffix = name, ""
    stem = stem[: max_length - len(suffix)].rstrip(" .") or DEFAULT_NAME
    return f"{stem}{suffix}"[:max_length]


def guess_content_type(filename: str) -> str:
    """The MIME type by the name's extension; ``application/octet-stream`` if unknown."""
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"
