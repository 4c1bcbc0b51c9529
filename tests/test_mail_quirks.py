"""Mail quirks seen in the wild, one sample mail each (in the style of Zulip's email gateway
tests): every one gets a deliberate outcome, the text a person wrote and the files they sent,
never the pipeline's generic "error in <step>"."""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import struct
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core import replytokens
from core.db import Database
from core.models import InboundMail, Message, OutboxItem
from core.replytokens import ReplyTarget
from core.storage import LocalFileStore
from mailbridge import quotes
from mailbridge.pipeline import Pipeline

from .conftest import Firm, mail_settings
from .mails import AUTHSERV, passed

SUBJECT = "Re: [2026-0001] Uw aangifte"


@pytest.fixture
def settings(tmp_path: Path):
    return mail_settings(
        tmp_path, reply_address="reply+{token}@kantoor.example", mail_authserv_id=AUTHSERV
    )


@pytest.fixture
def pipeline(db: Database, store: LocalFileStore, settings) -> Pipeline:
    return Pipeline(db, store, settings)


@pytest.fixture
def to(settings, firm: Firm) -> str:
    token = replytokens.make(settings.secret_key, ReplyTarget("a", firm.alice.id, firm.alice_1.id))
    return replytokens.address(settings.reply_address, token)


def sample(
    to: str,
    content_type: str,
    body: bytes,
    *,
    headers: str = "",
    sender: str = "Alice de Vries <alice@example.nl>",
    subject: str = SUBJECT,
) -> bytes:
    """A mail as raw bytes, so that the quirk is exactly what a server would hand over."""
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
        f"{headers}Content-Type: {content_type}\r\n\r\n"
    )
    return head.encode() + body


def parts(*items: bytes, boundary: str = "B", close: bool = True) -> bytes:
    out = b"".join(b"--" + boundary.encode() + b"\r\n" + item + b"\r\n" for item in items)
    return out + (b"--" + boundary.encode() + b"--\r\n" if close else b"")


TEXT = b"Content-Type: text/plain; charset=utf-8\r\n\r\nZie bijlage.\r\n"
PDF = (
    b'Content-Type: application/pdf; name="a.pdf"\r\n'
    b'Content-Disposition: attachment; filename="a.pdf"\r\n\r\n%PDF a'
)


async def filed(db: Database, pipeline: Pipeline, raw: bytes) -> tuple[Message, InboundMail]:
    result = await pipeline.handle(raw)
    assert (result.outcome, result.reason) == ("stored", None)
    async with db.read() as s:
        message = await s.scalar(
            select(Message)
            .where(Message.id == result.message_id)
            .options(selectinload(Message.attachments))
        )
        record = await s.get(InboundMail, result.inbound_id)
    return message, record


def documents(message: Message) -> list[tuple[str, str, int]]:
    return sorted((d.filename, d.content_type, d.size) for d in message.attachments)


async def quarantined(db: Database, pipeline: Pipeline, raw: bytes) -> InboundMail:
    result = await pipeline.handle(raw)
    assert result.outcome == "quarantined"
    async with db.read() as s:
        assert await s.scalar(select(Message.id).where(Message.direction == "incoming")) is None
        return await s.get(InboundMail, result.inbound_id)


# --- charsets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ['text/plain; charset="x-unknown"', 'text/plain; charset="utf-8"'],
    ids=["unknown-charset", "utf-8-label-on-latin-1"],
)
async def test_latin_1_text_under_a_wrong_charset_label_reads_as_written(
    db: Database, pipeline: Pipeline, to: str, content_type: str
) -> None:
    raw = sample(to, content_type, "Hierbij de stukken, café Müller.".encode("latin-1"))
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "Hierbij de stukken, café Müller."  # was "caf\ufffd M\ufffdller"


async def test_windows_1252_labelled_iso_8859_1_keeps_euro_sign_and_quotes(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    body = "De factuur is \u20ac 120,\u2013 \u201cinclusief\u201d.".encode("cp1252")
    message, _ = await filed(db, pipeline, sample(to, "text/plain; charset=iso-8859-1", body))
    assert message.body == "De factuur is € 120,– “inclusief”."  # was C1 control characters


async def test_utf_7_is_decoded(db: Database, pipeline: Pipeline, to: str) -> None:
    body = "Prima, tot dan ☺".encode("utf-7")
    raw = sample(to, 'text/plain; charset="unicode-1-1-utf-7"', body)
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "Prima, tot dan ☺"


# --- MIME structure ------------------------------------------------------------------------


async def test_multipart_without_boundary_parameter_is_split_at_its_boundary_lines(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    raw = sample(to, "multipart/mixed", parts(TEXT, PDF))
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "Zie bijlage."  # was "(no text)"
    assert documents(message) == [("a.pdf", "application/pdf", 6)]


async def test_multipart_whose_boundary_never_appears_is_read_as_text(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    raw = sample(to, 'multipart/mixed; boundary="ZZZ"', b"Ik bel u morgen.\r\n")
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "Ik bel u morgen."  # was "(no text)"


async def test_missing_closing_boundary(db: Database, pipeline: Pipeline, to: str) -> None:
    raw = sample(to, 'multipart/mixed; boundary="B"', parts(TEXT, PDF, close=False))
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "Zie bijlage."
    assert documents(message) == [("a.pdf", "application/pdf", 6)]


async def test_a_mail_that_is_one_bare_pdf_files_the_pdf(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    raw = sample(
        to,
        'application/pdf; name="scan.pdf"',
        base64.encodebytes(b"%PDF scan"),
        headers="Content-Transfer-Encoding: base64\r\n",
    )
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "(no text)"
    assert documents(message) == [("scan.pdf", "application/pdf", 9)]  # was lost


async def test_a_calendar_invitation_alone_is_filed_as_an_ics_file(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    ics = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Bespreking\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    message, _ = await filed(db, pipeline, sample(to, "text/calendar; method=REQUEST", ics))
    assert documents(message) == [("file.ics", "text/calendar", len(ics))]


async def test_a_forwarded_mail_as_the_whole_body_is_filed(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    forwarded = b"From: bank@bank.example\r\nSubject: Jaaroverzicht\r\n\r\nUw jaaroverzicht.\r\n"
    message, _ = await filed(db, pipeline, sample(to, "message/rfc822", forwarded))
    [(name, ctype, _size)] = documents(message)
    assert (name, ctype) == ("forwarded.eml", "message/rfc822")


async def test_html_with_only_an_embedded_photo_files_the_photo(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    raw = sample(
        to,
        'multipart/related; boundary="B"',
        parts(
            b"Content-Type: text/html; charset=utf-8\r\n\r\n"
            b'<html><body><img src="cid:p1"></body></html>',
            b'Content-Type: image/jpeg; name="loonstrook.jpg"\r\nContent-ID: <p1>\r\n'
            b'Content-Disposition: inline; filename="loonstrook.jpg"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(b"\xff\xd8 foto"),
        ),
    )
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "(no text)"
    assert documents(message) == [("loonstrook.jpg", "image/jpeg", 7)]  # was lost


async def test_apple_mail_text_split_around_an_attachment_stays_one_text(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    raw = sample(
        to,
        'multipart/mixed; boundary="B"',
        parts(
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHier de loonstrook.\r\n",
            PDF.replace(b"attachment;", b"inline;"),
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\nDe rest volgt morgen.\r\n",
        ),
    )
    message, _ = await filed(db, pipeline, raw)
    # The second text was filed as a nameless document and missing from the message.
    assert message.body == "Hier de loonstrook.\n\nDe rest volgt morgen."
    assert documents(message) == [("a.pdf", "application/pdf", 6)]


async def test_apple_mail_photo_inside_the_html_alternative_is_filed(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    html_version = b'Content-Type: multipart/mixed; boundary="M"\r\n\r\n' + parts(
        b"Content-Type: text/html\r\n\r\n<html><body>Hier de foto.<br>",
        b'Content-Type: image/jpeg; name="IMG_0001.jpeg"\r\nContent-ID: <img1>\r\n'
        b"Content-Disposition: inline; filename=IMG_0001.jpeg\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(b"\xff\xd8 foto"),
        b"Content-Type: text/html\r\n\r\n</body></html>",
        boundary="M",
    )
    raw = sample(
        to,
        'multipart/alternative; boundary="A"',
        parts(
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHier de foto.\r\n",
            html_version,
            boundary="A",
        ),
    )
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "Hier de foto."
    assert documents(message) == [("IMG_0001.jpeg", "image/jpeg", 7)]  # was lost


async def test_a_signature_logo_of_the_html_is_still_left_out(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    raw = sample(
        to,
        'multipart/related; boundary="B"',
        parts(
            b'Content-Type: text/html\r\n\r\n<p>Akkoord.</p><img src="cid:logo">',
            b"Content-Type: image/png\r\nContent-ID: <logo>\r\n"
            b"Content-Disposition: inline\r\n\r\nPNG",
        ),
    )
    message, _ = await filed(db, pipeline, raw)
    assert (message.body, documents(message)) == ("Akkoord.", [])


async def test_a_screenshot_pasted_into_the_text_is_filed(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    # Gmail and Outlook send a pasted picture as a related part shown by its Content-ID.
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 300  # a JPEG of 77 KB
    raw = sample(
        to,
        'multipart/related; boundary="B"',
        parts(
            b"Content-Type: text/html\r\n\r\n"
            b'<p>Hierbij een foto van mijn loonstrook.</p><img src="cid:ii_1"><img src="cid:logo">',
            b"Content-Type: image/jpeg; name=image.png\r\nContent-ID: <ii_1>\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(photo),
            b"Content-Type: image/png\r\nContent-ID: <logo>\r\n\r\nPNG",
        ),
    )
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "Hierbij een foto van mijn loonstrook."
    # Was: nothing filed, and no word about it. The small logo still stays out.
    assert documents(message) == [("image.png", "image/jpeg", len(photo))]


async def test_an_empty_attachment_is_left_out_with_a_note(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    empty = (
        b'Content-Type: application/pdf; name="leeg.pdf"\r\n'
        b'Content-Disposition: attachment; filename="leeg.pdf"\r\n\r\n'
    )
    raw = sample(to, 'multipart/mixed; boundary="B"', parts(TEXT, empty, PDF))
    message, _ = await filed(db, pipeline, raw)
    assert documents(message) == [("a.pdf", "application/pdf", 6)]
    assert message.body == "Zie bijlage.\n\n[attachment 'leeg.pdf' was empty]"


async def test_winmail_dat_with_nothing_to_unpack_is_kept_as_it_came(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    def attribute(level: int, kind: int, data: bytes) -> bytes:
        return struct.pack("<BII", level, kind, len(data)) + data + struct.pack("<H", sum(data))

    tnef = struct.pack("<IH", 0x223E9F78, 1) + attribute(1, 0x00089006, b"\0\0\1\0")
    raw = sample(
        to,
        'multipart/mixed; boundary="B"',
        parts(
            TEXT,
            b"Content-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="winmail.dat"\r\n\r\n'
            + base64.encodebytes(tnef),
        ),
    )
    message, _ = await filed(db, pipeline, raw)
    # An Outlook rich-text file with no files in it vanished without a trace.
    assert documents(message) == [("winmail.dat", "application/ms-tnef", len(tnef))]


QUOTED_NOTIFICATION = (
    "Op wo 25 nov. 2026 om 23:43 schreef Loket <loket@kantoor.example>:\r\n\r\n"
    "> Hallo,\r\n> \r\n> Er staat een nieuw bericht voor u klaar.\r\n"
)


@pytest.mark.parametrize(
    "text",
    ["\r\n\r\n" + QUOTED_NOTIFICATION, "\r\nVerstuurd vanaf mijn iPhone\r\n"],
    ids=["only-the-quote", "only-a-signature"],
)
async def test_a_reply_that_is_only_its_files_has_no_text(
    db: Database, pipeline: Pipeline, to: str, text: str
) -> None:
    own = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode()
    raw = sample(to, "multipart/mixed; boundary=B", parts(own, PDF))
    message, _ = await filed(db, pipeline, raw)
    # Was: the quoted notification, or "Verstuurd vanaf mijn iPhone", as the client's text.
    assert (message.body, documents(message)) == ("(no text)", [("a.pdf", "application/pdf", 6)])


async def test_a_reply_of_only_quoted_text_and_no_files_keeps_it_all(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    # Nothing to go by: the client may have typed between the quoted lines.
    raw = sample(to, "text/plain; charset=utf-8", QUOTED_NOTIFICATION.encode())
    message, _ = await filed(db, pipeline, raw)
    assert "Er staat een nieuw bericht voor u klaar." in message.body


# --- signed and encrypted ------------------------------------------------------------------


async def test_smime_signed_mail_files_the_attachments_inside_not_the_signature(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    signed = b'Content-Type: multipart/mixed; boundary="I"\r\n\r\n' + parts(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nGetekend antwoord.\r\n",
        PDF,
        boundary="I",
    )
    signature = (
        b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        b'Content-Disposition: attachment; filename="smime.p7s"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nMIIGsig=\r\n"
    )
    raw = sample(
        to,
        'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="B"',
        parts(signed, signature),
    )
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "Getekend antwoord."
    # Was: a 0-byte "file" (the inner multipart) and smime.p7s; a.pdf was lost.
    assert documents(message) == [("a.pdf", "application/pdf", 6)]


async def test_pgp_mime_signed_mail_leaves_out_the_signature(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    raw = sample(
        to,
        'multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="B"',
        parts(
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nPGP getekend.\r\n",
            b'Content-Type: application/pgp-signature; name="signature.asc"\r\n\r\n'
            b"-----BEGIN PGP SIGNATURE-----\r\niQEz\r\n-----END PGP SIGNATURE-----\r\n",
        ),
    )
    message, _ = await filed(db, pipeline, raw)
    assert (message.body, documents(message)) == ("PGP getekend.", [])


@pytest.mark.parametrize(
    "content_type,body,reason",
    [
        (
            'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
            b"MIIBenc=\r\n",
            "the mail is encrypted (S/MIME) and cannot be read",
        ),
        (
            'multipart/encrypted; protocol="application/pgp-encrypted"; boundary="B"',
            parts(
                b"Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n",
                b"Content-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n",
            ),
            "the mail is encrypted (PGP/MIME) and cannot be read",
        ),
    ],
    ids=["smime", "pgp"],
)
async def test_encrypted_mail_is_quarantined_with_the_reason(
    db: Database, pipeline: Pipeline, to: str, firm: Firm, content_type, body, reason
) -> None:
    record = await quarantined(db, pipeline, sample(to, content_type, body))
    # Was stored as "(no text)" with the encrypted blob as documents.
    assert record.reason == reason and record.dossier_id == firm.alice_1.id


# --- text encodings ------------------------------------------------------------------------


async def test_format_flowed_with_delsp_is_joined_into_paragraphs(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    # With delsp=yes the space before each soft break was added by the sender: one goes.
    body = (
        b"Dit is een lange zin die  \r\nover twee regels loopt, met een lan \r\ngwoord.\r\n"
        b"\r\nGroet, Alice\r\n"
    )
    raw = sample(to, "text/plain; charset=utf-8; format=flowed; delsp=yes", body)
    message, _ = await filed(db, pipeline, raw)
    assert message.body == (
        "Dit is een lange zin die over twee regels loopt, met een langwoord.\n\nGroet, Alice"
    )


async def test_format_flowed_without_delsp_keeps_the_spaces(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    body = (
        b"Dit is een lange zin die \r\nover twee regels loopt.\r\n\r\n"
        b"> Vraag die \r\n> doorloopt.\r\n"
    )
    message, _ = await filed(db, pipeline, sample(to, "text/plain; format=flowed", body))
    assert message.body == "Dit is een lange zin die over twee regels loopt."


async def test_an_html_table_keeps_its_cells_apart(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    html = (
        b"<html><body><p>Mijn cijfers:</p><table>"
        b"<tr><th>Jaar</th><th>Bedrag</th></tr><tr><td>2024</td><td>1.250</td></tr>"
        b"<tr><td>Loon</td><td>30.000</td><td></td></tr></table>"
        b"<ul><li>loonstrook</li><li>jaaropgave</li></ul></body></html>"
    )
    message, _ = await filed(db, pipeline, sample(to, "text/html; charset=utf-8", html))
    # Was "Jaar\nBedrag" ... "20241.250" and "Loon30.000": amounts run together.
    assert message.body == (
        "Mijn cijfers:\n\nJaar | Bedrag\n2024 | 1.250\nLoon | 30.000\n\nloonstrook\njaaropgave"
    )


async def test_base64_cut_off_mid_group_keeps_the_text_decoded(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    encoded = base64.b64encode(b"Hallo daar, tot morgen")[:-3]  # one character past a group
    raw = sample(to, "text/plain", encoded, headers="Content-Transfer-Encoding: base64\r\n")
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "Hallo daar, tot morge"  # was the base64 itself


async def test_quoted_printable_soft_break_with_trailing_spaces_still_joins(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    # A relay padded "=" at the line ends with blanks; RFC 2045 says a decoder drops them.
    body = (
        b"Ik stuur de loonstroken van januari en febru= \r\n"
        b"ari mee, en de jaaropgave 2025 volgt=\t\r\n"
        b" morgen.  \r\n"
        b"Groet, Alice =C3=A9n Bob\r\n"
    )
    raw = sample(
        to,
        "text/plain; charset=utf-8",
        body,
        headers="Content-Transfer-Encoding: quoted-printable\r\n",
    )
    message, _ = await filed(db, pipeline, raw)
    assert message.body == (  # was "febru= \nari" and "volgt=\t\n morgen"
        "Ik stuur de loonstroken van januari en februari mee, en de jaaropgave 2025 volgt"
        " morgen.\nGroet, Alice \u00e9n Bob"
    )


async def test_quoted_printable_attachment_keeps_its_bytes(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    csv = (
        b'Content-Type: text/csv; name="uren.csv"\r\n'
        b'Content-Disposition: attachment; filename="uren.csv"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"datum;uren=20\r\n2026-01-05;7,5=\r\n0\r\n"
    )
    raw = sample(to, 'multipart/mixed; boundary="B"', parts(TEXT, csv))
    message, _ = await filed(db, pipeline, raw)
    (document,) = message.attachments
    assert hashlib.sha256(b"datum;uren \r\n2026-01-05;7,50\r\n").hexdigest() == document.sha256


async def test_nul_bytes_in_body_subject_and_sender_are_dropped(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    raw = sample(
        to,
        "text/plain; charset=utf-8",
        b"Hallo\x00 daar.\r\n",
        sender="alice@example.nl\x00",
        subject="Re: [2026-0001] nul\x00byte",
    )
    # PostgreSQL refuses NUL in text: the store failed, and the quarantine record too.
    message, record = await filed(db, pipeline, raw)
    assert (message.body, message.subject) == ("Hallo daar.", "Re: [2026-0001] nulbyte")
    assert record.sender == "alice@example.nl"


GMAIL_INLINE = (
    b'<div dir="ltr">Mijn antwoorden staan hieronder.</div><br>'
    b'<div class="gmail_quote"><div dir="ltr" class="gmail_attr">Op ma 30 nov 2026 om 10:00'
    b" schreef Kantoor &lt;portaal@kantoor.example&gt;:<br></div>"
    b'<blockquote class="gmail_quote" style="margin:0 0 0 .8ex">Heeft u een hypotheek?'
    b"</blockquote><div>Ja, bij de Rabobank.</div>"
    b'<blockquote class="gmail_quote">Heeft u kinderen?</blockquote><div>Twee.</div>'
    b'<blockquote class="gmail_quote">Met vriendelijke groet,<br>Kantoor</blockquote></div>'
)
THUNDERBIRD_INLINE = (
    b"<p>Zie de antwoorden tussen de regels.</p>"
    b'<div class="moz-cite-prefix">Op 30-11-2026 om 10:00 schreef Kantoor:<br></div>'
    b'<blockquote type="cite">Wanneer bent u verhuisd?</blockquote>'
    b"<p>Op 1 maart.</p>"
    b'<blockquote type="cite">Met vriendelijke groet,<br>Kantoor</blockquote>'
)
OUTLOOK_REPLY = (
    b"<div>Prima, tot dan.</div>"
    b'<div id="divRplyFwdMsg"><b>Van:</b> Kantoor<br><b>Onderwerp:</b> afspraak</div>'
    b"<div>Zullen we dinsdag om tien uur afspreken?</div>"
)


@pytest.mark.parametrize(
    ("html", "filed_text"),
    [
        (
            GMAIL_INLINE,
            [
                "Mijn antwoorden staan hieronder.",
                "> Heeft u een hypotheek?\n\nJa, bij de Rabobank.",
                "> Heeft u kinderen?\n\nTwee.",
            ],
        ),
        (THUNDERBIRD_INLINE, ["> Wanneer bent u verhuisd?\n\nOp 1 maart."]),
        (OUTLOOK_REPLY, ["Prima, tot dan."]),
    ],
    ids=["gmail", "thunderbird", "outlook"],
)
async def test_answers_typed_between_the_quotes_of_an_html_only_reply_are_filed(
    db: Database, pipeline: Pipeline, to: str, html: bytes, filed_text: list[str]
) -> None:
    # Gmail and Thunderbird mark their quotes (blockquotes, an attribution line): what the
    # client typed between them is the answer, kept with the question it answers. The
    # signature the quote ends with, the attribution and Outlook's unquoted earlier mail go.
    message, _ = await filed(db, pipeline, sample(to, "text/html; charset=utf-8", html))
    for part in filed_text:
        assert part in message.body
    for gone in ("schreef", "Met vriendelijke groet", "Zullen we", "Onderwerp"):
        assert gone not in message.body
    assert "\n\n\n" not in message.body  # where the attribution went, one empty line


async def test_c1_controls_in_body_and_subject_are_dropped(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    # U+0080-U+009F: what a program that read Windows-1252 text as Latin-1 writes on as
    # UTF-8 (U+0092 was its apostrophe, U+0085 its ellipsis). Invisible on screen, they would
    # sit in the filed text and its search: they get their Windows-1252 meaning, and the five
    # it leaves unassigned are dropped.
    raw = sample(
        to,
        "text/plain; charset=utf-8",
        "Hallo\u0085 daar,\u009d de loonstrook\u0092s.\r\n".encode(),
        subject="=?utf-8?q?Re=3A_=5B2026-0001=5D_bijlage=C2=81n?=",
    )
    message, _ = await filed(db, pipeline, raw)
    assert (message.body, message.subject) == (
        "Hallo\u2026 daar, de loonstrook\u2019s.",
        "Re: [2026-0001] bijlagen",
    )


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    [
        "alice@example.nl, mallory@evil.example",
        "Familie: alice@example.nl, mallory@evil.example;",
        "mallory@evil.example\r\nFrom: alice@example.nl",
    ],
    ids=["two-addresses", "group", "two-from-headers"],
)
async def test_more_than_one_sender_is_quarantined(
    db: Database, pipeline: Pipeline, to: str, sender: str
) -> None:
    record = await quarantined(db, pipeline, sample(to, "text/plain", b"x", sender=sender))
    # Was: whichever address came first decided whose mail it was.
    assert record.reason == "more than one sender address: alice@example.nl, mallory@evil.example"


async def test_a_from_with_only_a_name_has_no_sender(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    raw = sample(to, "text/plain", b"x", sender="Alice de Vries")
    record = await quarantined(db, pipeline, raw)
    # Was: "sender Alice de Vries is not the address the reply link was sent to".
    assert record.reason == "no sender address"


async def test_a_second_delivery_of_the_same_mail_is_recorded_not_filed_again(
    db: Database, pipeline: Pipeline, settings, firm: Firm, to: str
) -> None:
    # The client sent one reply to the dossier's address and, in Cc, to an address of the
    # firm that forwards to the same mailbox: two copies, one Received header apart.
    headers = "Message-ID: <een-antwoord@example.nl>\r\n"
    raw = sample(to, "multipart/mixed; boundary=B", parts(TEXT, PDF), headers=headers)
    first, _ = await filed(db, pipeline, raw)
    again = await pipeline.handle(b"Received: from relay.kantoor.example; Tue\r\n" + raw)
    assert (again.outcome, again.reason) == (
        "ignored",
        "a copy of a mail already filed in this dossier",
    )
    async with db.read() as s:
        messages = (await s.scalars(select(Message).where(Message.direction == "incoming"))).all()
        record = await s.get(InboundMail, again.inbound_id)
    assert [m.id for m in messages] == [first.id]
    assert record.dossier_id == firm.alice_1.id and record.raw_storage_key  # staff can see it

    # The same mail to her other dossier (she wrote to both) is filed there too.
    other = replytokens.address(
        settings.reply_address,
        replytokens.make(settings.secret_key, ReplyTarget("a", firm.alice.id, firm.alice_2.id)),
    )
    to_both = raw.replace(f"To: {to}".encode(), f"To: {other}".encode())
    second, _ = await filed(db, pipeline, to_both)
    assert second.dossier_id == firm.alice_2.id


async def test_another_mail_that_reuses_a_message_id_is_still_filed(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    # Some scan-to-mail devices give every mail the same Message-ID.
    headers = "Message-ID: <scan@printer.local>\r\n"
    first, _ = await filed(db, pipeline, sample(to, "text/plain", b"Scan 1", headers=headers))
    second, _ = await filed(db, pipeline, sample(to, "text/plain", b"Scan 2", headers=headers))
    assert (first.body, second.body) == ("Scan 1", "Scan 2")


async def test_an_overlong_message_id_is_not_kept_as_an_id(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    raw = sample(to, "text/plain", b"Lange id.", headers=f"Message-ID: <{'x' * 2000}@a>\r\n")
    # Over the 998 characters of the column: PostgreSQL refused the row.
    message, record = await filed(db, pipeline, raw)
    assert (message.body, message.email_message_id, record.message_id_header) == (
        "Lange id.",
        None,
        None,
    )


async def test_a_long_references_chain_still_finds_the_mail_answered(
    db: Database, pipeline: Pipeline, firm: Firm
) -> None:
    async with db.begin() as s:
        s.add(
            OutboxItem(
                channel="email",
                kind="new_message",
                recipient="alice@example.nl",
                account_id=firm.alice.id,
                dossier_id=firm.alice_2.id,
                payload={},
                idempotency_key="quirk:thread",
                email_message_id="<ours@kantoor.example>",
            )
        )
    # A long thread: References lists the oldest first, ours as the newest.
    references = " ".join(f"<old{n}@x.example>" for n in range(10_000))
    raw = sample(
        "portaal@kantoor.example",
        "text/plain",
        b"Antwoord in een lange draad.",
        subject="Re: Testament",
        headers=f"Authentication-Results: {passed('alice@example.nl')}\r\n"
        f"References: {references} <ours@kantoor.example>\r\n",
    )
    message, _ = await filed(db, pipeline, raw)
    assert message.dossier_id == firm.alice_2.id  # was quarantined: "no dossier found"


# --- size and time -------------------------------------------------------------------------


async def test_text_too_large_to_file_whole_is_cut_with_a_note(
    db: Database, pipeline: Pipeline, to: str, store: LocalFileStore
) -> None:
    text = ("Een hele lange regel tekst. " * 40 + "\n") * (store.limit // 1000)
    raw = sample(to, "text/plain; charset=utf-8", text.encode())
    # Was "error in store: TooLarge" (message.txt over the store's limit).
    message, record = await filed(db, pipeline, raw)
    assert message.body.startswith("Een hele lange regel tekst.") and len(message.body) <= 4000
    assert "the whole text is too large to file" in message.body
    assert documents(message) == [] and "too large to file" in record.reason


async def test_an_error_after_the_dossier_is_known_is_quarantined_with_that_dossier(
    db: Database, pipeline: Pipeline, to: str, firm: Firm, monkeypatch
) -> None:
    async def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pipeline.store, "put_bytes", broken)
    raw = sample(to, 'multipart/mixed; boundary="B"', parts(TEXT, PDF))
    # Was: the safety net itself failed (DetachedInstanceError) and handle() raised.
    record = await quarantined(db, pipeline, raw)
    assert record.reason.startswith("error in attachments: OSError: disk full")
    assert record.dossier_id == firm.alice_1.id


async def test_html_full_of_unclosed_comments_is_read_without_stalling(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    html = b"<p>Kort antwoord.</p>" + b"<!--" * 50_000 + b"</b>" * 20_000
    # The standard library's HTMLParser (CVE-2025-6069) and our end-tag lookup took minutes.
    # That the work grows linearly is counted in tests/test_linear_work.py.
    message, _ = await filed(db, pipeline, sample(to, "text/html; charset=utf-8", html))
    assert message.body == "Kort antwoord."


async def test_many_header_like_lines_at_the_end_do_not_hang_the_quote_cutter(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    body = b"Akkoord.\r\n" + b"Van: iemand\r\nAan: x\r\n" * 10_000
    raw = sample(to, "text/html; charset=utf-8", body.replace(b"\r\n", b"<br>"))
    # A regular expression over the line classes backtracked for many minutes.
    message, _ = await filed(db, pipeline, raw)
    assert message.body == "Akkoord."


@pytest.mark.parametrize(
    "lines",
    [
        [b"On Mon, 1 Jan 2026 Kantoor <k@kantoor.example> wrote:"]
        + [b"> q", b""] * 20_000
        + [b"Akkoord."],  # the reply at the end, under the quoted mail
        [b"Akkoord."] + [b"> q", b""] * 20_000,
        [b"On Mon, 1 Jan 2026 Kantoor <k@kantoor.example> wrote:"] * 20_000 + [b"Akkoord."],
        [b"Akkoord."] + [b"> q", b"On Mon, 1 Jan 2026 Kantoor <k@kantoor.example> wrote:"] * 20_000,
    ],
    ids=["bottom-posted", "quotes-to-end", "markers-then-text", "text-then-quotes-and-markers"],
)
async def test_thousands_of_quote_and_marker_lines_do_not_stall_the_quote_cutter(
    db: Database, pipeline: Pipeline, to: str, lines: list[bytes]
) -> None:
    # Three searches over the line classes ran in quadratic (or exponential) time on these.
    message, _ = await filed(
        db, pipeline, sample(to, "text/plain; charset=utf-8", b"\r\n".join(lines))
    )
    assert message.body == "Akkoord."


def _patterns(max_length: int):
    for length in range(max_length + 1):
        yield from ("".join(p) for p in itertools.product("tedsbhq", repeat=length))


def test_the_linear_pattern_searches_agree_with_their_expressions() -> None:
    bottom = re.compile(r"(?:b[^t]+)*b[bqeh]+t[et]*")
    to_end = re.compile(r"e*(?:b[eqdh]*|b*[ed]*q[eqd]*)$")
    checked = 0
    for pattern in _patterns(7):
        assert quotes._bottom_posted(pattern) == bool(bottom.fullmatch(pattern)), pattern
        found = to_end.search(pattern)
        assert quotes._quoted_to_end(pattern) == (found.start() if found else None), pattern
        checked += 1
    assert checked == sum(7**n for n in range(8))


async def test_thousands_of_quote_lines_before_the_text_do_not_stall_the_quote_cutter(
    db: Database, pipeline: Pipeline, to: str
) -> None:
    # No "wrote:" line says where the quote comes from, so all of it is kept; the search for
    # quotes left at the end was quadratic on this (seconds per mail).
    lines = [b"> q"] * 20_000 + [b"Akkoord."]
    message, _ = await filed(db, pipeline, sample(to, "text/plain", b"\r\n".join(lines)))
    assert message.body.startswith("> q\n> q\n")
    assert message.body.endswith("(the whole text is filed as message.txt)")
