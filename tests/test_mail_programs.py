"""What staff read in the dossier is what the client wrote, whichever mail program wrote the
reply and whichever charset it used. One test per quirk, each with its samples (in the style
of Zulip's email gateway tests): the replies in tests/mailcorpus/programs/ are written the
way Outlook (desktop and web), Gmail (web and Android), Apple Mail, Thunderbird, Samsung,
Roundcube, Mutt, Windows Live Mail, The Bat!, Yahoo, Zimbra and Open-Xchange write them
(tests/mailcorpus/build_programs.py), in Dutch and English, each with the text that must
stay and the text that must go (programs.json). The robustness samples are inline below."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mailbridge.htmltext import html_to_text
from mailbridge.parse import parse
from mailbridge.pipeline import filed_text
from mailbridge.quotes import split_reply

HERE = Path(__file__).parent / "mailcorpus"
CASES = json.loads((HERE / "programs.json").read_text())
CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def of(quirk: str) -> list:
    return [pytest.param(c, id=c["file"][:-4]) for c in CASES if c["quirk"] == quirk]


def filed(case: dict) -> str:
    return filed_text(parse((HERE / "programs" / case["file"]).read_bytes()))


def assert_filed(case: dict) -> str:
    text = filed(case)
    kept = norm(text)
    assert [k for k in case["keep"] if norm(k) not in kept] == [], text
    assert [g for g in case["go"] if norm(g) in kept] == [], text
    return text


# --- the text ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", of("signature"))
def test_a_signature_block_under_the_closing_goes_the_closing_and_name_stay(case) -> None:
    """Most people never type "-- ". Under "Met vriendelijke groet," / "Kind regards," /
    "Mvg" / "Thanks," the name stays; the block after it goes when it is a signature: a job
    title, the company, street and postcode, phone numbers, web and mail addresses, KvK, BTW,
    IBAN, "[cid:…]" and "[Logo …]" placeholders, social links. The quoted notification goes
    too."""
    assert_filed(case)


@pytest.mark.parametrize("case", of("signature-kept"))
def test_when_in_doubt_the_text_under_a_closing_stays(case) -> None:
    """A sentence under the signature ("P.S. I will be away…") keeps the whole block: a
    signature left in costs less than the client's words cut. A sentence that starts like a
    closing ("Met vriendelijke groet aan iedereen op kantoor, …") is no closing."""
    assert_filed(case)


@pytest.mark.parametrize("case", of("disclaimer"))
def test_a_legal_disclaimer_at_the_end_goes_with_or_without_a_closing(case) -> None:
    """ "Dit e-mailbericht is uitsluitend bestemd voor de geadresseerde…", "This e-mail and
    any attachments are confidential…", "Denk aan het milieu…" go wherever they stand at the
    end, and the rule line above them."""
    assert_filed(case)


@pytest.mark.parametrize("case", of("inline"))
def test_answers_between_quoted_lines_keep_the_question_above_each(case) -> None:
    """Answers typed under the questions of the quoted notification: each keeps the quoted
    paragraph right above it, as a quote; the rest of the notification (greeting, intro,
    link, closing, footer) and the attribution line go."""
    text = assert_filed(case)
    first_answer = case["keep"][1]
    assert text.index(case["keep"][0]) < text.index(first_answer)


@pytest.mark.parametrize("case", of("inline-outlook"))
def test_answers_typed_into_outlooks_unquoted_mail_below_are_kept(case) -> None:
    """Outlook quotes without ">": the answers stand in the quoted mail under the header
    block. When the client says so ("zie mijn antwoorden hieronder", "see my answers
    below"), that mail stays (without its header block and footer): cut, the answers would
    be lost."""
    assert_filed(case)


def test_answers_below_between_quotes_are_kept_once() -> None:
    """ "Zie hieronder" above a quote with ">": the answers between the quotes are kept with
    their question, once; the rest of the quote goes."""
    text = (
        "Zie hieronder.\n\nOp di 24 nov 2026 om 10:12 schreef Kantoor <info@kantoor.nl>:\n"
        "> Beste Alice,\n>\n> Wilt u de jaaropgave sturen?\nZit in de bijlage.\n> Groet"
    )
    assert split_reply(text)[0] == (
        "Zie hieronder.\n\n> Wilt u de jaaropgave sturen?\nZit in de bijlage."
    )


@pytest.mark.parametrize("case", of("wrapped"))
def test_a_wrapped_attribution_or_header_block_still_cuts_the_quote(case) -> None:
    """Gmail wraps a long "Op … schreef Naam <adres>" so that "het volgende:" stands alone,
    Apple breaks "het" / "volgende geschreven:", others break inside the address or before
    "wrote:"/"geschreven:"; Outlook wraps the values of its "Van:/Aan:/Onderwerp:" block."""
    assert_filed(case)


WRAPS = [
    "On Tue, Nov 24, 2026 at 10:12 AM Kantoor Test <info@kantoor.nl>\nwrote:",
    "On Tue, Nov 24, 2026 at 10:12 AM Kantoor Test\n<info@kantoor.nl> wrote:",
    "On Tue, Nov 24, 2026 at 10:12 AM\nKantoor Test <info@kantoor.nl> wrote:",
    "Op di 24 nov 2026 om 10:12 schreef Kantoor Test\n<info@kantoor.nl>:",
    "Op di 24 nov 2026 om 10:12 schreef Kantoor Test <info@kantoor.nl>\nhet volgende:",
    "Op di 24 nov 2026 om 10:12 schreef Kantoor Test <\ninfo@kantoor.nl> het volgende:",
    "Op di 24 nov 2026 om 10:12 schreef\nKantoor Test <info@kantoor.nl>:",
    "Op 24 nov. 2026 om 10:12 heeft Kantoor Test <info@kantoor.nl>\nhet volgende geschreven:",
    "Op 24 nov. 2026 om 10:12 heeft Kantoor Test <info@kantoor.nl> het volgende\ngeschreven:",
    "Op 24 nov. 2026 om 10:12 heeft Kantoor Test\n<info@kantoor.nl> het volgende geschreven:",
    "On 24 Nov 2026, at 10:12, Kantoor Test <info@kantoor.nl>\nwrote:",
    "Op 24-11-2026 om 10:12 schreef\nKantoor Test:",
    "On 24/11/2026 10:12, Kantoor Test\nwrote:",
    "Kantoor Test <info@kantoor.nl> heeft op 24 november 2026 om 10:12\ngeschreven:",
    "On Tuesday, November 24, 2026, 10:12:00 AM GMT+1, Kantoor Test\n<info@kantoor.nl> wrote:",
    "Op dinsdag 24 november 2026 10:12:00 CET schreef Kantoor Test\n<info@kantoor.nl>:",
    "Op di 24 nov. 2026 10:12 schreef Kantoor Test <info@kantoor.nl\n> het volgende:",
    "2026-11-24 10:12 GMT+01:00 Kantoor Test <\ninfo@kantoor.nl>:",
]


@pytest.mark.parametrize("attribution", WRAPS)
def test_every_attribution_form_is_recognised_wrapped_at_any_point(attribution: str) -> None:
    """Gmail, Apple Mail, Thunderbird, Yahoo, Open-Xchange and Outlook's attributions,
    English and Dutch, broken over two lines where each program breaks them."""
    text = f"Hierbij de stukken.\n\n{attribution}\n\n> Beste klant,\n> Wilt u…?\n> Groet"
    assert split_reply(text)[0] == "Hierbij de stukken."


@pytest.mark.parametrize("case", of("attribution"))
def test_the_attribution_lines_of_less_common_programs_cut_the_quote(case) -> None:
    """Mutt's "* Naam <adres> [datum]:", Open-Xchange's quoted "Naam <adres> heeft op …
    geschreven:", The Bat!'s "U schreef op …:"."""
    assert_filed(case)


def test_a_quoted_header_line_is_part_of_the_quote_not_the_answer() -> None:
    """A lone "> From: …" in the quote (no header block) is quoted text, so it goes with
    the rest of the quote above the answer's paragraph."""
    text = '> From: "Kantoor" <portaal@kantoor.example>\n>\n> Klopt het adres?\n\nJa.'
    assert split_reply(text)[0] == "> Klopt het adres?\n\nJa."


def test_a_client_quoting_a_letter_with_schreef_keeps_it() -> None:
    """ "Mijn werkgever schreef:" above a quote is the client's own sentence, not a mail
    program's attribution: it stays, with the quoted paragraph and the question under it."""
    text = "Mijn werkgever schreef:\n\n> Je contract loopt af.\n\nKlopt het dat ik nu WW krijg?"
    assert split_reply(text)[0] == text


@pytest.mark.parametrize("case", of("flowed"))
def test_format_flowed_does_not_join_a_separator_to_the_header_below(case) -> None:
    """Windows Live Mail writes "----- Original Message ----- " with a space at the end in
    format=flowed text: a flowed line by the letter, which would swallow "From: …" below it
    and hide the header block. A separator or header line stands alone; the client's own
    wrapped paragraphs are still joined."""
    assert_filed(case)


@pytest.mark.parametrize("case", of("html-only"))
def test_an_html_only_mail_has_at_most_one_empty_line_between_paragraphs(case) -> None:
    """Outlook's HTML (<p class=MsoNormal> with &nbsp; paragraphs, source wrapped in CRLF)."""
    text = assert_filed(case)
    assert not re.search(r"\n[ \t]*\n[ \t]*\n", text), text


def test_html_source_line_breaks_are_spaces_and_empty_paragraphs_one_empty_line() -> None:
    """Outlook's HTML source is wrapped and in CRLF: a break inside a paragraph is a space,
    and the &nbsp; paragraphs between paragraphs make one empty line, not a run."""
    html = (
        '<p class="MsoNormal">Hierbij de\r\njaaropgave.<o:p></o:p></p>\r\n'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\r\n\r\n<p class="MsoNormal">\u200b</p>\r\n'
        '<p class="MsoNormal">Groet,<br>\r\nAlice</p>'
    )
    assert html_to_text(html) == "Hierbij de jaaropgave.\n\nGroet,\nAlice"


def test_the_corpus_covers_each_quirk_in_several_programs_and_both_languages() -> None:
    by_quirk: dict[str, set[tuple[str, str]]] = {}
    for case in CASES:
        by_quirk.setdefault(case["quirk"], set()).add((case["program"], case["language"]))
    assert len(CASES) >= 30
    for quirk, seen in by_quirk.items():
        assert len({p for p, _ in seen}) >= 2, quirk
        assert {lang for _, lang in seen} == {"nl", "en"} or quirk.endswith("-kept"), quirk


# --- charsets and headers ------------------------------------------------------------------


def mail(content_type: str, body: bytes, *, subject: bytes = b"Re: [2026-0001] Stukken") -> bytes:
    return (
        b"From: Alice de Vries <alice@example.nl>\r\nTo: portaal@kantoor.example\r\n"
        b"Subject: " + subject + b"\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )


@pytest.mark.parametrize(
    ("label", "body", "text"),
    [
        # GBK characters (镕) in text labelled GB2312: read as GB18030.
        ("gb2312", "朱镕基的发票".encode("gbk"), "朱镕基的发票"),
        # NEC's circled digits (row 13) in ISO-2022-JP: JIS to Shift_JIS, read as cp932.
        ("iso-2022-jp", b'\x1b$B-!-"$N=qN`\x1b(B', "①②の書類"),
        # Windows-1252's euro sign and curly quotes in text labelled ISO-8859-1 or us-ascii.
        ("iso-8859-1", b"\x93Loonstrook\x94 \x80 1.250", "“Loonstrook” € 1.250"),
        ("us-ascii", b"Caf\xe9 \x80 12", "Café € 12"),
        # Big5 with HKSCS characters, Shift_JIS with NEC extensions.
        ("shift_jis", "①の書類".encode("cp932"), "①の書類"),
    ],
)
def test_a_charset_label_that_understates_its_content_is_read_as_its_superset(
    label: str, body: bytes, text: str
) -> None:
    parsed = parse(mail(f"text/plain; charset={label}", body))
    assert parsed.text == text


@pytest.mark.parametrize(
    ("subject", "charset", "expected"),
    [
        (b"Factuur Zo\xc3\xab \xe2\x82\xac", "iso-8859-1", "Factuur Zoë €"),  # raw UTF-8
        (b"Factuur Zo\xeb \x80", "iso-8859-1", "Factuur Zoë €"),  # raw Windows-1252
        ("Счет".encode("koi8-r"), "koi8-r", "Счет"),  # raw bytes in the body's charset
        ("Zoë".encode(), "koi8-r", "Zoë"),  # UTF-8 before the body's charset
        (b"=?x-unknown?Q?Zo=EB?=", "utf-8", "Zoë"),  # an encoded word in an unknown charset
    ],
)
def test_raw_8_bit_bytes_in_the_subject_are_read_without_replacement_characters(
    subject: bytes, charset: str, expected: str
) -> None:
    """UTF-8 first, then the mail's body charset, then Windows-1252: never U+FFFD."""
    parsed = parse(mail(f"text/plain; charset={charset}", b"Zie bijlage.", subject=subject))
    assert parsed.subject == expected


def test_filenames_in_raw_bytes_or_an_unknown_charset_are_read_without_replacement() -> None:
    files = [
        b'Content-Disposition: attachment; filename="Zo\xeb.pdf"',  # raw Windows-1252
        b'Content-Disposition: attachment; filename="Zo\xc3\xab 2.pdf"',  # raw UTF-8
        b"Content-Disposition: attachment; filename*=x-unknown''Zo%EB 3.pdf",  # RFC 2231
        b'Content-Disposition: attachment; filename="=?x-mac-foo?Q?Zo=EB_4.pdf?="',  # RFC 2047
    ]
    body = b"".join(
        b"--B\r\nContent-Type: application/pdf\r\n" + f + b"\r\n\r\n%PDF-1.4\r\n" for f in files
    )
    text = b"--B\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nZie bijlage.\r\n"
    parsed = parse(mail('multipart/mixed; boundary="B"', text + body + b"--B--\r\n"))
    assert [a.filename for a in parsed.attachments] == [
        "Zoë.pdf",
        "Zoë 2.pdf",
        "Zoë 3.pdf",
        "Zoë 4.pdf",
    ]


def test_a_badly_folded_header_line_does_not_push_the_headers_into_the_body() -> None:
    """A subject wrapped without the leading space that folding needs: the line joins the
    subject, and the headers after it (the sender, the charset) are still headers."""
    raw = (
        b"Subject: Re: [2026-0001] de jaaropgave en\r\nde WOZ-beschikking\r\n"
        b"From: Alice de Vries <alice@example.nl>\r\nTo: portaal@kantoor.example\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nZie bijlage.\r\n"
    )
    parsed = parse(raw)
    assert parsed.subject == "Re: [2026-0001] de jaaropgave en de WOZ-beschikking"
    assert (parsed.sender, parsed.text.strip()) == ("alice@example.nl", "Zie bijlage.")


def test_a_stray_line_before_the_headers_is_left_out() -> None:
    raw = b"garbage from a broken relay\r\n" + mail("text/plain; charset=utf-8", b"Zie bijlage.")
    parsed = parse(raw)
    assert (parsed.sender, parsed.subject) == ("alice@example.nl", "Re: [2026-0001] Stukken")
    assert parsed.text.strip() == "Zie bijlage."


def test_a_body_begun_without_the_empty_line_stays_the_body() -> None:
    """Some scripts write the text straight under the headers: it is the body, not a
    folded header."""
    raw = mail("text/plain; charset=utf-8", b"").rstrip(b"\r\n") + b"\r\nZie bijlage.\r\n"
    assert parse(raw).text.strip() == "Zie bijlage."


# --- every mail we know of -----------------------------------------------------------------


def _known_mails() -> list[Path]:
    own = sorted(HERE.glob("*.eml")) + sorted((HERE / "programs").glob("*.eml"))
    shared = sorted((CORPORA / "talon").rglob("*.eml")) + sorted(
        p for p in (CORPORA / "flufl-bounce").glob("*.txt")
    )
    return own + shared


def test_every_mail_of_the_corpora_parses_without_replacement_characters() -> None:
    """Our own samples and the shared corpora (talon's mails, flufl.bounce's reports): each
    parses, and no subject, filename or text holds U+FFFD unless the mail itself did."""
    mails = _known_mails()
    assert len(mails) > 100 or not CORPORA.is_dir()
    for path in mails:
        raw = path.read_bytes()
        parsed = parse(raw)
        if "\ufffd".encode() in raw:
            continue
        texts = [parsed.subject, parsed.text or "", parsed.html_text or "", filed_text(parsed)]
        texts += [a.filename or "" for a in parsed.attachments]
        assert not [t for t in texts if "\ufffd" in t], path.name


# --- sealed, signed and other renderings: what staff see ----------------------------------


BASE64 = b"Content-Transfer-Encoding: base64\r\n"


def _opaque_signed(inner: bytes) -> bytes:
    """``inner`` signed the way Outlook's "opaque" S/MIME signing wraps a mail: smime.p7m."""
    import base64
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "alice@example.nl")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(inner)
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    raw = mail(
        'application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
        base64.encodebytes(der),
    )
    return raw.replace(b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\n" + BASE64)


def test_an_opaque_signed_smime_mail_is_unwrapped_with_a_note() -> None:
    """Staff see the client's text and files; the record notes that the S/MIME signature was
    not checked (the receiving server's DKIM/DMARC verdict is what the bridge trusts)."""
    inner = (
        b'Content-Type: multipart/mixed; boundary="I"\r\n\r\n--I\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nHierbij de jaaropgave.\r\n--I\r\n"
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="j.pdf"'
        b"\r\n\r\n%PDF-1.4\r\n--I--\r\n"
    )
    parsed = parse(_opaque_signed(inner))
    assert parsed.sealed is None
    assert filed_text(parsed) == "Hierbij de jaaropgave."
    assert [a.filename for a in parsed.attachments] == ["j.pdf"]
    assert parsed.notes == ["signed in an S/MIME wrapper: unwrapped, signature not checked"]


def test_an_smime_wrapper_that_cannot_be_read_stays_sealed() -> None:
    """Encrypted, or garbage in the wrapper: quarantined with the reason (pipeline step
    ``readable``), where staff see the original."""
    for smime_type, reason in (("enveloped-data", "encrypted"), ("signed-data", "signed")):
        raw = mail(f"application/pkcs7-mime; smime-type={smime_type}", b"MIIBnotder")
        assert (parse(raw).sealed or "").startswith(reason)


def test_inline_pgp_clear_signed_text_is_filed_without_its_armour() -> None:
    body = (
        b"-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\n"
        b"Hierbij de jaaropgave.\r\n- -- niet de handtekening\r\n"
        b"-----BEGIN PGP SIGNATURE-----\r\n\r\niQEzBAEBCAAdFiEE\r\n=abcd\r\n"
        b"-----END PGP SIGNATURE-----\r\n"
    )
    parsed = parse(mail("text/plain; charset=utf-8", body))
    assert filed_text(parsed) == "Hierbij de jaaropgave.\n-- niet de handtekening"
    assert parsed.notes == ["signed with inline PGP: signature not checked"]


def test_inline_pgp_encrypted_text_is_sealed() -> None:
    body = b"-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA1\r\n-----END PGP MESSAGE-----\r\n"
    assert parse(mail("text/plain; charset=utf-8", body)).sealed == "encrypted (inline PGP)"


def test_a_calendar_invitation_offered_as_an_alternative_is_filed_beside_the_text() -> None:
    """Outlook's meeting request: text, HTML and text/calendar as alternatives. Staff get
    the text and the invitation as invite.ics."""
    ics = (
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Bespreking\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    body = (
        b"--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nZullen we dinsdag bespreken?\r\n"
        b"--A\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Zullen we dinsdag bespreken?</p>"
        b"\r\n--A\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\n"
        + ics
        + b"\r\n--A--\r\n"
    )
    parsed = parse(mail('multipart/alternative; boundary="A"', body))
    assert filed_text(parsed) == "Zullen we dinsdag bespreken?"
    assert [(a.filename, a.content_type, a.data) for a in parsed.attachments] == [
        ("invite.ics", "text/calendar", ics)
    ]


def test_a_raw_8_bit_filename_in_the_body_charset_is_read_in_it() -> None:
    body = (
        b"--B\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n"
        + "Счет в приложении.".encode("koi8-r")
        + b"\r\n--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        + b'filename="'
        + "Счет.pdf".encode("koi8-r")
        + b'"\r\n\r\n%PDF-1.4\r\n--B--\r\n'
    )
    parsed = parse(mail('multipart/mixed; boundary="B"', body))
    assert [a.filename for a in parsed.attachments] == ["Счет.pdf"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_staff_read_in_the_mail_record_that_a_signature_was_not_checked(
    db, store, firm, tmp_path
) -> None:
    """The unwrapped S/MIME mail is filed, and the message and its inbound record (the
    mail status staff see) say the signature was not checked, as the bridge's other notes."""
    from core import replytokens
    from core.models import InboundMail, Message
    from core.replytokens import ReplyTarget
    from mailbridge.pipeline import Pipeline

    from .conftest import mail_settings
    from .mails import AUTHSERV, passed

    settings = mail_settings(
        tmp_path, reply_address="reply+{token}@kantoor.example", mail_authserv_id=AUTHSERV
    )
    token = replytokens.make(settings.secret_key, ReplyTarget("a", firm.alice.id, firm.alice_1.id))
    inner = b"Content-Type: text/plain; charset=utf-8\r\n\r\nHierbij de jaaropgave.\r\n"
    raw = _opaque_signed(inner).replace(
        b"To: portaal@kantoor.example",
        b"To: " + replytokens.address(settings.reply_address, token).encode(),
    )
    raw = f"Authentication-Results: {passed('alice@example.nl')}\r\n".encode() + raw
    result = await Pipeline(db, store, settings).handle(raw)
    assert (result.outcome, result.reason) == ("stored", None)
    async with db.read() as s:
        record = await s.get(InboundMail, result.inbound_id)
        message = await s.get(Message, result.message_id)
    note = "signed in an S/MIME wrapper: unwrapped, signature not checked"
    assert note in record.reason
    assert message.body == f"Hierbij de jaaropgave.\n\n[{note}]"
