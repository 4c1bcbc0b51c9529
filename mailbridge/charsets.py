"""Bytes of a mail to text, whatever the label says: senders' programs label text with a
charset smaller than the one they wrote in (GB2312 holding GBK characters, ISO-2022-JP with
NEC's and IBM's extensions, ISO-8859-1 holding Windows-1252's € and curly quotes), and put
raw 8-bit bytes in headers where only ASCII belongs. Each label is read as its superset, as
browsers do (the WHATWG Encoding Standard); what still does not decode is read byte by byte
as Windows-1252, so that no text ever turns into U+FFFD."""

from __future__ import annotations

import codecs
import email.header
import re

# Labels that senders put on text in whatever single-byte Western encoding they had: read as
# windows-1252 (its € and curly quotes sit where latin-1 has invisible C1 controls), after
# UTF-8, which such text is often really in.
WESTERN = {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252"}
# A label and the superset its text is read in.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "iso-8859-9": "cp1254",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "iso-8859-8-i": "iso-8859-8",
}
_ISO_2022_JP = {"iso-2022-jp", "iso2022_jp", "csiso2022jp", "iso-2022-jp-2", "iso-2022-jp-3"}
_SURROGATES = re.compile("[\udc80-\udcff]")


def _windows_1252_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Error handler: the bytes that do not decode, read one by one as Windows-1252 (its five
    unassigned bytes as Latin-1): "Zoë" typed in Windows-1252 inside UTF-8 text stays "Zoë"."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in bad), exc.end


codecs.register_error("loket-cp1252", _windows_1252_bytes)


def _iso_2022_jp(data: bytes) -> str:
    """ISO-2022-JP as Japanese mail programs write it: JIS X 0208 rows with NEC's and IBM's
    extensions (①, ㈱, Roman numerals), which Python's codecs refuse. Each two-byte JIS
    character is turned into its Shift_JIS code and the whole read as Windows-31J (cp932),
    which has those extensions."""
    out, i, mode = bytearray(), 0, "ascii"
    while i < len(data):
        byte = data[i]
        if byte == 0x1B:
            escape = data[i : i + 3]
            if escape in (b"\x1b$B", b"\x1b$@"):
                mode, i = "jis", i + 3
                continue
            if escape in (b"\x1b(B", b"\x1b(J"):
                mode, i = "ascii", i + 3
                continue
            if escape == b"\x1b(I":
                mode, i = "kana", i + 3
                continue
        if mode == "jis" and 0x21 <= byte <= 0x7E and i + 1 < len(data):
            second = data[i + 1]
            first = ((byte + 1) >> 1) + 0x70
            first += 0x40 if first >= 0xA0 else 0
            if byte & 1:
                second += 0x1F + (1 if second + 0x1F >= 0x7F else 0)
            else:
                second += 0x7E
            out += bytes([first, second])
            i += 2
            continue
        out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
        i += 1
    return bytes(out).decode("cp932", "loket-cp1252")


def decode(data: bytes, charset: str | None, *, utf8_first: bool = False) -> str:
    """``data`` as text: in the superset of ``charset``, else UTF-8, else byte by byte as
    Windows-1252 where UTF-8 fails. ``utf8_first``: raw bytes in a header, which programs
    write in UTF-8 more often than in the body's charset."""
    label = (charset or "us-ascii").strip().strip('"').lower()
    if label in WESTERN:
        return data.decode("utf-8", "loket-cp1252")
    tries = [_SUPERSETS.get(label, label), label]
    if utf8_first:
        tries.insert(0, "utf-8")
    if label in _ISO_2022_JP:
        tries.append("iso2022_jp_2")
    for candidate in tries:
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeError):
            continue
    if label in _ISO_2022_JP or data.startswith(b"\x1b$"):
        return _iso_2022_jp(data)
    return data.decode("utf-8", "loket-cp1252")


def raw_header(value: str, charset: str | None) -> str:
    """A header value whose raw 8-bit bytes the parser kept as surrogates, as text: UTF-8,
    then the mail's body charset, then Windows-1252."""
    if not _SURROGATES.search(value):
        return value
    return decode(value.encode("ascii", "surrogateescape"), charset, utf8_first=True)


def encoded_words(value: str, charset: str | None = None) -> str:
    """A header value with RFC 2047 encoded words ("=?iso-8859-1?Q?Zo=EB?="), each decoded
    as ``decode`` does, also when its charset is unknown or understated."""
    try:
        parts = email.header.decode_header(raw_header(value, charset))
    except Exception:  # a malformed encoded word: the text as it stands
        return value
    return "".join(
        decode(part, enc or charset) if isinstance(part, bytes) else part for part, enc in parts
    )


def has_raw_bytes(value: str) -> bool:
    return bool(_SURROGATES.search(value))
