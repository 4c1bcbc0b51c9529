"""The mail inside an opaque-signed S/MIME message (smime.p7m, "signed-data"): Outlook and
some government and bank mail programs wrap the whole mail in a CMS SignedData structure
instead of signing it beside the text. The content is read out here so that the client's
text and files reach the dossier; the signature itself is not checked (the bridge trusts
the receiving server's DKIM/DMARC verdict, not S/MIME certificates), which the filing notes.

A small BER reader, enough for ContentInfo → SignedData → EncapsulatedContentInfo → the
OCTET STRING (definite or indefinite lengths, the content in one piece or in chunks), so no
CMS library is needed; anything else gives None and the mail is handled as sealed."""

from __future__ import annotations

# 1.2.840.113549.1.7.2, id-signedData
_SIGNED_DATA = bytes.fromhex("2a864886f70d010702")
_SEQUENCE, _OID, _OCTETS, _CONSTRUCTED_OCTETS, _CONTEXT_0 = 0x30, 0x06, 0x04, 0x24, 0xA0
_MAX_DEPTH = 32


class _Broken(Exception):
    pass


def _element(data: bytes, pos: int, depth: int = 0) -> tuple[int, int, int, int]:
    """(tag, start of content, end of content, end of element) of the element at ``pos``."""
    if depth > _MAX_DEPTH or pos + 2 > len(data):
        raise _Broken
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:  # high tag number: not in the structures read here
        raise _Broken
    first = data[pos]
    pos += 1
    if first == 0x80:  # indefinite length: the children up to the end-of-contents octets
        start = cursor = pos
        while True:
            if cursor + 2 > len(data):
                raise _Broken
            if data[cursor] == 0 and data[cursor + 1] == 0:
                return tag, start, cursor, cursor + 2
            cursor = _element(data, cursor, depth + 1)[3]
    if first & 0x80:
        count = first & 0x7F
        if count > 4 or pos + count > len(data):
            raise _Broken
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > len(data):
        raise _Broken
    return tag, pos, pos + length, pos + length


def _children(data: bytes, start: int, end: int, depth: int) -> list[tuple[int, int, int]]:
    out, cursor = [], start
    while cursor < end:
        tag, first, last, cursor = _element(data, cursor, depth)
        out.append((tag, first, last))
    return out


def _octets(data: bytes, tag: int, start: int, end: int, depth: int) -> bytes:
    if tag == _OCTETS:
        return data[start:end]
    if tag != _CONSTRUCTED_OCTETS:
        raise _Broken
    return b"".join(
        _octets(data, *child, depth + 1) for child in _children(data, start, end, depth)
    )


def signed_content(der: bytes) -> bytes | None:
    """The content signed in a CMS SignedData structure, or None (not signed-data, detached,
    or not readable)."""
    try:
        tag, start, end, _ = _element(der, 0)
        if tag != _SEQUENCE:
            return None
        info = _children(der, start, end, 1)
        if len(info) < 2 or info[0][0] != _OID or der[info[0][1] : info[0][2]] != _SIGNED_DATA:
            return None
        wrapper = _children(der, info[1][1], info[1][2], 2)  # [0] EXPLICIT
        if not wrapper or wrapper[0][0] != _SEQUENCE:
            return None
        signed = _children(der, wrapper[0][1], wrapper[0][2], 3)
        encapsulated = signed[2] if len(signed) > 2 and signed[2][0] == _SEQUENCE else None
        if encapsulated is None:
            return None
        parts = _children(der, encapsulated[1], encapsulated[2], 4)
        if len(parts) < 2 or parts[1][0] != _CONTEXT_0:
            return None  # detached: the content is not inside
        content = _children(der, parts[1][1], parts[1][2], 5)
        return _octets(der, *content[0], 6) if content else None
    except (_Broken, IndexError):
        return None
