"""Writes tests/mailcorpus/programs/: replies to Loket's notification as some fifteen mail
programs write them (MIME structure, headers, text and HTML versions, quoting, signatures),
in Dutch and English, one or more per class of quirk the bridge must handle, each with the
text that must stay in the dossier and the text that must go (programs.json).

    python tests/mailcorpus/build_programs.py     # rewrites programs/*.eml and programs.json

tests/test_mail_programs.py reads them, one test per class.
"""

# ruff: noqa: E501 (the samples are data: each reply reads best on one line)
from __future__ import annotations

import base64
import html
import json
import quopri
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "programs"
FIRM = "Kantoor Test <portaal@kantoor.example>"

NOTIFICATION = {
    "nl": (
        "Beste Alice de Vries,\n\nEr staat een nieuw bericht voor u in dossier 2026-0001.\n"
        "----------------------------------------------------------------\n"
        "Wilt u de jaaropgave 2025 sturen?\nHeeft u in 2025 een auto van de zaak gehad?\n"
        "----------------------------------------------------------------\n\n"
        "Bericht bekijken:\nhttps://portaal.kantoor.example/dossiers/2026-0001\n\n"
        "U kunt deze mail direct beantwoorden; uw antwoord komt in uw dossier.\n\n"
        "Met vriendelijke groet,\nKantoor Test\n\n-- \n"
        "Deze mail is automatisch verstuurd door het klantportaal van Kantoor Test."
    ),
    "en": (
        "Dear Alice de Vries,\n\nThere is a new message for you in case 2026-0001.\n"
        "----------------------------------------------------------------\n"
        "Could you send your 2025 annual statement?\nDid you have a company car in 2025?\n"
        "----------------------------------------------------------------\n\n"
        "View the message:\nhttps://portaal.kantoor.example/dossiers/2026-0001\n\n"
        "You can answer this mail directly; your reply is added to your case.\n\n"
        "Kind regards,\nKantoor Test\n\n-- \n"
        "This mail was sent automatically by the client portal of Kantoor Test."
    ),
}
# What of the notification must never reach the dossier.
NOTIFICATION_GOES = {
    "nl": [
        "Er staat een nieuw bericht",
        "portaal.kantoor.example/dossiers",
        "automatisch verstuurd",
    ],
    "en": ["There is a new message", "portaal.kantoor.example/dossiers", "sent automatically"],
}

ATTRIBUTION = {
    ("gmail", "nl"): "Op di 24 nov 2026 om 10:12 schreef Kantoor Test <portaal@kantoor.example>:",
    (
        "gmail",
        "en",
    ): "On Tue, Nov 24, 2026 at 10:12 AM Kantoor Test <portaal@kantoor.example> wrote:",
    (
        "apple",
        "nl",
    ): "Op 24 nov. 2026 om 10:12 heeft Kantoor Test <portaal@kantoor.example> het volgende geschreven:",
    ("apple", "en"): "On 24 Nov 2026, at 10:12, Kantoor Test <portaal@kantoor.example> wrote:",
    ("thunderbird", "nl"): "Op 24-11-2026 om 10:12 schreef Kantoor Test:",
    ("thunderbird", "en"): "On 24/11/2026 10:12, Kantoor Test wrote:",
    ("roundcube", "nl"): "Op 2026-11-24 10:12, schreef Kantoor Test:",
    ("roundcube", "en"): "On 2026-11-24 10:12, Kantoor Test wrote:",
    ("mutt", "en"): "On Tue, Nov 24, 2026 at 10:12:00AM +0100, Kantoor Test wrote:",
    ("mutt", "nl"): "Op di 24 nov 2026 om 10:12:00 +0100, schreef Kantoor Test:",
    ("thebat", "nl"): "Op dinsdag 24 november 2026, 10:12:00 schreef u:",
    ("thebat", "en"): "Tuesday, November 24, 2026, 10:12:00 AM, you wrote:",
    (
        "yahoo",
        "nl",
    ): "Op dinsdag 24 november 2026 10:12:00 CET schreef Kantoor Test <portaal@kantoor.example>:",
    (
        "yahoo",
        "en",
    ): "On Tuesday, November 24, 2026, 10:12:00 AM GMT+1, Kantoor Test <portaal@kantoor.example> wrote:",
    (
        "ox",
        "nl",
    ): "Kantoor Test <portaal@kantoor.example> heeft op 24 november 2026 om 10:12 geschreven:",
    ("ox", "en"): "On November 24, 2026 at 10:12 AM Kantoor Test <portaal@kantoor.example> wrote:",
    ("android", "nl"): "Op di 24 nov. 2026 10:12 schreef Kantoor Test <portaal@kantoor.example>:",
}
HEADER_BLOCK = {
    ("outlook", "nl"): (
        "Van: Kantoor Test <portaal@kantoor.example>\nVerzonden: dinsdag 24 november 2026 10:12\n"
        "Aan: Alice de Vries <alice@example.nl>\nOnderwerp: [2026-0001] Nieuw bericht"
    ),
    ("outlook", "en"): (
        "From: Kantoor Test <portaal@kantoor.example>\nSent: Tuesday, November 24, 2026 10:12 AM\n"
        "To: Alice de Vries <alice@example.nl>\nSubject: [2026-0001] New message"
    ),
    ("owa", "nl"): (
        "________________________________\nVan: Kantoor Test <portaal@kantoor.example>\n"
        "Verzonden: dinsdag 24 november 2026 10:12\nAan: Alice de Vries <alice@example.nl>\n"
        "Onderwerp: [2026-0001] Nieuw bericht"
    ),
    ("owa", "en"): (
        "________________________________\nFrom: Kantoor Test <portaal@kantoor.example>\n"
        "Sent: Tuesday, November 24, 2026 10:12 AM\nTo: Alice de Vries <alice@example.nl>\n"
        "Subject: [2026-0001] New message"
    ),
    ("samsung", "nl"): (
        "-------- Oorspronkelijk bericht --------\nVan: Kantoor Test <portaal@kantoor.example>\n"
        "Datum: 24-11-2026 10:12 (GMT+01:00)\nAan: alice@example.nl\nOnderwerp: [2026-0001] Nieuw bericht"
    ),
    ("samsung", "en"): (
        "-------- Original message --------\nFrom: Kantoor Test <portaal@kantoor.example>\n"
        "Date: 11/24/26 10:12 (GMT+01:00)\nTo: alice@example.nl\nSubject: [2026-0001] New message"
    ),
    ("zimbra", "nl"): (
        '----- Oorspronkelijk bericht -----\nVan: "Kantoor Test" <portaal@kantoor.example>\n'
        'Aan: "Alice de Vries" <alice@example.nl>\nVerzonden: Dinsdag 24 november 2026 10:12:00\n'
        "Onderwerp: [2026-0001] Nieuw bericht"
    ),
    ("zimbra", "en"): (
        '----- Original Message -----\nFrom: "Kantoor Test" <portaal@kantoor.example>\n'
        'To: "Alice de Vries" <alice@example.nl>\nSent: Tuesday, November 24, 2026 10:12:00 AM\n'
        "Subject: [2026-0001] New message"
    ),
    ("wlm", "nl"): (
        "----- Oorspronkelijk bericht ----- \nFrom: Kantoor Test \nTo: alice@example.nl \n"
        "Sent: Tuesday, November 24, 2026 10:12 AM\nSubject: [2026-0001] Nieuw bericht"
    ),
    ("wlm", "en"): (
        "----- Original Message ----- \nFrom: Kantoor Test \nTo: alice@example.nl \n"
        "Sent: Tuesday, November 24, 2026 10:12 AM\nSubject: [2026-0001] New message"
    ),
}
# How each program presents itself and quotes the mail it answers: ">" quotes under an
# attribution line, or the mail unquoted under a header block.
MAILER = {
    "outlook": ("X-Mailer", "Microsoft Outlook 16.0"),
    "owa": ("X-MS-Has-Attach", ""),
    "gmail": ("X-Gm-Message-State", "AOJu0YwLoketCorpus"),
    "android": ("X-Gm-Message-State", "AOJu0YwLoketAndroid"),
    "apple": ("X-Mailer", "Apple Mail (2.3774.600.62)"),
    "thunderbird": ("User-Agent", "Mozilla Thunderbird"),
    "samsung": ("X-Mailer", "Samsung Mail"),
    "roundcube": ("User-Agent", "Roundcube Webmail/1.6.9"),
    "mutt": ("User-Agent", "Mutt/2.2.12 (2023-09-09)"),
    "wlm": ("X-Mailer", "Microsoft Windows Live Mail 16.4.3528.331"),
    "thebat": ("X-Mailer", "The Bat! (v10.5.3) Professional"),
    "yahoo": ("X-Mailer", "WebService/1.1.22876 YMailNorrin"),
    "zimbra": ("X-Mailer", "Zimbra 9.0.0_GA_4546 (ZimbraWebClient - FF120 (Win)/9.0.0_GA_4546)"),
    "ox": ("X-Mailer", "Open-Xchange Mailer v7.10.6-Rev58"),
}
HTML_QUOTE = {
    "gmail": '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">{attr}</div>'
    '<blockquote class="gmail_quote" style="margin:0 0 0 .8ex">{quote}</blockquote></div>',
    "outlook": '<div id="divRplyFwdMsg"><hr><p><b>{attr}</b></p></div><div>{quote}</div>',
    "yahoo": '<div class="yahoo_quoted"><div>{attr}</div><blockquote>{quote}</blockquote></div>',
    "apple": '<div><blockquote type="cite"><div>{attr}</div>{quote}</blockquote></div>',
}


@dataclass
class Case:
    name: str
    quirk: str
    program: str
    language: str
    reply: str  # what the client typed above (or between) the quote, signature and all
    keep: list[str]
    go: list[str]
    how: str = "top"  # top: reply above the quote; inline: answers between quoted lines
    html_only: bool = False
    flowed: bool = False
    charset: str = "utf-8"
    attribution: str | None = None  # instead of the program's own
    extra_headers: dict[str, str] = field(default_factory=dict)


def _quoted(program: str, language: str, attribution: str | None) -> str:
    original = NOTIFICATION[language]
    if (program, language) in HEADER_BLOCK:
        block = attribution or HEADER_BLOCK[(program, language)]
        if program == "wlm":
            return block + "\n\n" + "\n".join("> " + line for line in original.split("\n"))
        return block + "\n\n" + original
    attr = attribution or ATTRIBUTION[(program, language)]
    quoted = "\n".join(("> " + line) if line else ">" for line in original.split("\n"))
    return attr + "\n" + quoted if program == "android" else attr + "\n\n" + quoted


def _inline(language: str, answers: list[str], attribution: str) -> str:
    """The notification quoted, with an answer typed under each question."""
    lines = NOTIFICATION[language].split("\n")
    out = [attribution, ""]
    questions = [i for i, line in enumerate(lines) if line.endswith("?")]
    for i, line in enumerate(lines):
        out.append(("> " + line) if line else ">")
        if i in questions:
            out += ["", answers[questions.index(i)], ""]
    return "\n".join(out)


def _html(text: str, program: str, attribution: str, quote: str) -> str:
    paragraphs = "".join(
        f'<p class="MsoNormal">{html.escape(p).replace(chr(10), "<br>")}<o:p></o:p></p>\r\n'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\r\n'
        for p in text.split("\n\n")
    )
    container = HTML_QUOTE.get(
        program, '<blockquote type="cite"><div>{attr}</div>{quote}</blockquote>'
    )
    return (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>\r\n'
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
        "<style>p.MsoNormal{margin:0cm}</style></head>\r\n<body lang=NL>\r\n"
        f'<div class="WordSection1">\r\n{paragraphs}</div>\r\n'
        + container.format(
            attr=html.escape(attribution),
            quote=html.escape(quote).replace("\n", "<br>\r\n"),
        )
        + "\r\n</body></html>\r\n"
    )


def _qp(text: str, charset: str) -> str:
    return quopri.encodestring(text.replace("\n", "\r\n").encode(charset)).decode("ascii")


def _flowed(text: str) -> str:
    """RFC 3676: long lines wrapped at 72 with a space at the end of each wrapped piece; the
    lines a program writes ending in a space keep it (Windows Live Mail's separator)."""
    out = []
    for line in text.split("\n"):
        prefix = ""
        while line.startswith(">"):
            prefix += ">"
            line = line[1:].lstrip(" ") if line[1:2] == " " else line[1:]
        prefix = prefix + " " if prefix else ""
        while len(line) > 72 and " " in line[:72]:
            cut = line[:72].rfind(" ") + 1
            out.append(prefix + line[:cut])
            line = line[cut:]
        out.append(prefix + line)
    return "\n".join(out)


def build(n: int, case: Case) -> bytes:
    language, program = case.language, case.program
    if case.how == "outlook-inline":
        # Outlook: answers typed into the quoted mail itself, under its header block.
        intro, *answers = case.reply.split("\n\n")
        lines = NOTIFICATION[language].split("\n")
        out = []
        for line in lines:
            out.append(line)
            if line.endswith("?"):
                out.append(answers.pop(0))
        body = intro + "\n\n" + HEADER_BLOCK[(program, language)] + "\n\n" + "\n".join(out)
        attr_text, quote = HEADER_BLOCK[(program, language)].replace("\n", " "), ""
    elif case.how == "inline":
        attribution = case.attribution or ATTRIBUTION[(program, language)]
        body = _inline(language, case.reply.split("\n\n"), attribution)
        attr_text, quote = attribution, ""
    else:
        rest = _quoted(program, language, case.attribution)
        body = case.reply + "\n\n" + rest
        attr_text = (
            case.attribution
            or ATTRIBUTION.get((program, language))
            or HEADER_BLOCK[(program, language)].replace("\n", " ")
        )
        quote = NOTIFICATION[language]
    subject = (
        ("RE: " if program in ("outlook", "owa") else "Re: ")
        + "[2026-0001] "
        + ("Nieuw bericht" if language == "nl" else "New message")
    )
    headers = [
        "Return-Path: <alice@example.nl>",
        "From: Alice de Vries <alice@example.nl>",
        "To: {{reply:alice:2026-0001}}",
        f"Subject: {subject}",
        f"Date: Tue, 24 Nov 2026 11:{n:02d}:00 +0100",
        f"Message-ID: <programs-{n}-{program}@example.nl>",
        "In-Reply-To: <loket.1.notification@kantoor.example>",
        "References: <loket.1.notification@kantoor.example>",
        "MIME-Version: 1.0",
    ]
    name, value = MAILER[program]
    headers.append(f"{name}: {value}".rstrip())
    headers += [f"{k}: {v}" for k, v in case.extra_headers.items()]
    charset = case.charset
    flowed = (
        "; format=flowed" + ("; delsp=yes" if program == "apple" else "") if case.flowed else ""
    )
    text = _flowed(body) if case.flowed else body
    if case.html_only:
        page = _html(case.reply, program, attr_text, quote)
        part = [
            f'Content-Type: text/html; charset="{charset}"',
            "Content-Transfer-Encoding: quoted-printable",
            "",
            _qp(page, charset),
        ]
        return ("\r\n".join(headers + part)).encode("ascii")
    if program in ("thunderbird", "mutt", "roundcube", "wlm", "thebat") or case.flowed:
        encoding = "8bit" if charset != "us-ascii" else "7bit"
        if program == "wlm":
            flowed += "; reply-type=original"
        part = [
            f"Content-Type: text/plain; charset={charset}{flowed}",
            f"Content-Transfer-Encoding: {encoding}",
            "",
            text.replace("\n", "\r\n"),
        ]
        return "\r\n".join(headers + part[:3]).encode("ascii") + b"\r\n" + part[3].encode(charset)
    boundary = f"_000_Loket{n:02d}{program}_"
    page = _html(case.reply, program, attr_text, quote)
    if program in ("samsung", "android"):
        plain = [
            f'Content-Type: text/plain; charset="{charset}"',
            "Content-Transfer-Encoding: base64",
            "",
            base64.encodebytes(text.replace("\n", "\r\n").encode(charset)).decode("ascii"),
        ]
    else:
        plain = [
            f'Content-Type: text/plain; charset="{charset}"',
            "Content-Transfer-Encoding: quoted-printable",
            "",
            _qp(text, charset),
        ]
    parts = [
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
        f"--{boundary}",
        *plain,
        f"--{boundary}",
        f'Content-Type: text/html; charset="{charset}"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        _qp(page, charset),
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(headers + parts).encode("ascii")


SIG_NL = (
    "Alice de Vries\nFinancieel adviseur\nBakkerij Brood B.V.\nKeizersgracht 123\n"
    "1015 CJ Amsterdam\nT +31 (0)20 123 45 67 | M 06 12 34 56 78\nwww.bakkerijbrood.example\n"
    "KvK 12345678 | BTW NL001234567B01\n[cid:image001.png@01DA1234.56789ABC]"
)
SIG_EN = (
    "Alice de Vries\nFinance Manager | Bakery Bread Ltd.\n12 High Street, London EC1A 1BB\n"
    "Phone: +44 20 7946 0958\nalice@example.nl | https://bakery.example\n"
    "[Logo Bakery Bread]\nLinkedIn | Twitter"
)
DISCLAIMER_NL = (
    "Dit e-mailbericht is uitsluitend bestemd voor de geadresseerde(n). Indien u niet de\n"
    "geadresseerde bent, verzoeken wij u de afzender te informeren en het bericht te\n"
    "verwijderen. Aan dit bericht kunnen geen rechten worden ontleend."
)
DISCLAIMER_EN = (
    "This e-mail and any attachments are confidential and may be legally privileged. If you\n"
    "are not the intended recipient, please notify the sender and delete this message."
)
MILIEU = "Denk aan het milieu. Print deze e-mail alleen als het echt nodig is."
ENVIRONMENT = "Please consider the environment before printing this e-mail."

TEXT_NL = "Hierbij de jaaropgave van mijn werkgever. De WOZ-beschikking volgt volgende week."
TEXT_EN = "Please find my annual statement attached. The WOZ value follows next week."


def _case(
    quirk: str, program: str, language: str, reply: str, keep: list[str], go: list[str], **kw
) -> Case:
    name = f"{quirk}-{program}-{language}"
    return Case(name, quirk, program, language, reply, keep, go + NOTIFICATION_GOES[language], **kw)


CASES = [
    # Signatures without "-- " under a closing: closing and name stay, the block goes.
    _case(
        "signature",
        "outlook",
        "nl",
        f"{TEXT_NL}\n\nMet vriendelijke groet,\n\n{SIG_NL}",
        [TEXT_NL, "Met vriendelijke groet,", "Alice de Vries"],
        ["Financieel adviseur", "Keizersgracht", "1015 CJ", "+31 (0)20", "KvK", "cid:image001"],
    ),
    _case(
        "signature",
        "owa",
        "en",
        f"{TEXT_EN}\n\nKind regards,\n{SIG_EN}",
        [TEXT_EN, "Kind regards,", "Alice de Vries"],
        ["Finance Manager", "EC1A 1BB", "+44 20", "[Logo", "LinkedIn"],
    ),
    _case(
        "signature",
        "gmail",
        "nl",
        f"{TEXT_NL}\n\nGroet,\nAlice\n\nAlice de Vries | Bakkerij Brood B.V.\n06-12345678\nhttps://www.linkedin.com/in/alicedevries",
        [TEXT_NL, "Groet,", "Alice"],
        ["06-12345678", "linkedin.com", "Bakkerij Brood B.V."],
    ),
    _case(
        "signature",
        "apple",
        "nl",
        "Dat klopt, de auto was van de zaak tot 1 juli.\n\nHartelijke groet,\nAlice de Vries\n\nBakkerij Brood B.V.\nDorpsstraat 1, 3511 AB Utrecht\nTel. 030-1234567",
        ["Dat klopt, de auto was van de zaak tot 1 juli.", "Hartelijke groet,", "Alice de Vries"],
        ["Dorpsstraat 1", "3511 AB", "030-1234567"],
    ),
    _case(
        "signature",
        "thunderbird",
        "en",
        f"{TEXT_EN}\n\nBest regards,\nAlice de Vries\nFinance Manager\nBakery Bread Ltd.\nT: +31 20 123 4567\nE: alice@example.nl",
        [TEXT_EN, "Best regards,", "Alice de Vries"],
        ["Finance Manager", "+31 20 123 4567", "E: alice@"],
        flowed=True,
    ),
    _case(
        "signature",
        "samsung",
        "nl",
        "Ik heb geen auto van de zaak gehad.\n\nMvg\nAlice de Vries\nIBAN NL91 ABNA 0417 1643 00\nM 0612345678",
        ["Ik heb geen auto van de zaak gehad.", "Mvg", "Alice de Vries"],
        ["IBAN", "0612345678"],
    ),
    _case(
        "signature",
        "roundcube",
        "nl",
        f"{TEXT_NL}\n\nVriendelijke groeten,\nAlice de Vries\nBakkerij Brood\nwww.bakkerijbrood.example\ninfo@bakkerijbrood.example",
        [TEXT_NL, "Vriendelijke groeten,", "Alice de Vries"],
        ["www.bakkerijbrood.example", "info@bakkerijbrood"],
        flowed=True,
    ),
    _case(
        "signature",
        "yahoo",
        "en",
        f"{TEXT_EN}\n\nThanks,\nAlice\n\nAlice de Vries\nBakery Bread Ltd. | VAT NL001234567B01\n+31 6 1234 5678",
        [TEXT_EN, "Thanks,", "Alice"],
        ["VAT NL001234567B01", "+31 6 1234 5678"],
    ),
    _case(
        "signature",
        "zimbra",
        "nl",
        f"{TEXT_NL}\n\nGroeten,\nAlice de Vries\nAdministratie | Bakkerij Brood B.V.\nPostbus 123, 1000 AC Amsterdam\nT 020 - 123 45 67",
        [TEXT_NL, "Groeten,", "Alice de Vries"],
        ["Postbus 123", "1000 AC", "020 - 123 45 67"],
    ),
    _case(
        "signature",
        "thebat",
        "nl",
        f"Beste Kantoor Test,\n\n{TEXT_NL}\n\nMet vriendelijke groet / Kind regards,\nAlice de Vries\nBakkerij Brood B.V. - KvK 12345678\nhttps://facebook.com/bakkerijbrood",
        ["Beste Kantoor Test,", TEXT_NL, "Kind regards,", "Alice de Vries"],
        ["KvK 12345678", "facebook.com"],
        charset="windows-1252",
    ),
    _case(
        "signature",
        "ox",
        "en",
        f"{TEXT_EN}\n\nRegards,\nAlice de Vries\nBakery Bread Ltd.\nKeizersgracht 123, 1015 CJ Amsterdam\n+31 20 123 45 67",
        [TEXT_EN, "Regards,", "Alice de Vries"],
        ["1015 CJ", "+31 20 123 45 67"],
    ),
    _case(
        "signature",
        "android",
        "nl",
        f"{TEXT_NL}\n\n*Met vriendelijke groet,*\n\nAlice de Vries | Bakkerij Brood B.V. | 06-12345678 | www.bakkerijbrood.example",
        [TEXT_NL, "Met vriendelijke groet,", "Alice de Vries"],
        ["Bakkerij Brood B.V.", "06-12345678", "www.bakkerijbrood"],
    ),
    # When in doubt, keep: a P.S. under the signature keeps the whole block.
    _case(
        "signature-kept",
        "gmail",
        "en",
        f"{TEXT_EN}\n\nBest,\nAlice\n+31 6 1234 5678\n\nP.S. I will be away until Friday, so please call my husband if anything is urgent.",
        [TEXT_EN, "Best,", "Alice", "P.S. I will be away until Friday"],
        [],
    ),
    _case(
        "signature-kept",
        "outlook",
        "nl",
        "Met vriendelijke groet aan iedereen op kantoor, en bedankt voor de hulp vorig jaar.\n\nAlice",
        [
            "Met vriendelijke groet aan iedereen op kantoor, en bedankt voor de hulp vorig jaar.",
            "Alice",
        ],
        [],
    ),
    _case(
        "signature-kept",
        "samsung",
        "nl",
        "Hierbij de loonstrook.\n\nGroet,\nAlice\n\nPS bel me op 06-12345678 als er iets mist",
        ["Hierbij de loonstrook.", "Groet,", "Alice", "PS bel me op 06-12345678 als er iets mist"],
        [],
    ),
    _case(
        "signature-kept",
        "thebat",
        "en",
        "Thanks for the quick answer\n\nAlice\n06-12345678",
        ["Thanks for the quick answer", "Alice", "06-12345678"],
        [],
    ),
    # Disclaimers at the end, with or without a closing.
    _case(
        "disclaimer",
        "outlook",
        "nl",
        f"{TEXT_NL}\n\nMet vriendelijke groet,\n{SIG_NL}\n\n{DISCLAIMER_NL}\n\n{MILIEU}",
        [TEXT_NL, "Met vriendelijke groet,", "Alice de Vries"],
        ["uitsluitend bestemd", "geen rechten", "Denk aan het milieu", "KvK"],
    ),
    _case(
        "disclaimer",
        "owa",
        "en",
        f"{TEXT_EN}\n\n{DISCLAIMER_EN}",
        [TEXT_EN],
        ["confidential and may be legally privileged", "intended recipient"],
    ),
    _case(
        "disclaimer",
        "zimbra",
        "nl",
        f"Zie bijlage.\n\n__________________________________\n{DISCLAIMER_NL}",
        ["Zie bijlage."],
        ["uitsluitend bestemd", "_____"],
    ),
    _case(
        "disclaimer",
        "gmail",
        "en",
        f"{TEXT_EN}\n\nCheers,\nAlice\n\n{ENVIRONMENT}",
        [TEXT_EN, "Cheers,", "Alice"],
        ["consider the environment"],
    ),
    _case(
        "disclaimer",
        "samsung",
        "nl",
        f"Nee, geen auto van de zaak.\n\n{MILIEU}",
        ["Nee, geen auto van de zaak."],
        ["Denk aan het milieu"],
    ),
    _case(
        "disclaimer",
        "outlook",
        "en",
        f"{TEXT_EN}\n\nThanks and regards,\nAlice de Vries\nBakery Bread Ltd. | +31 20 123 45 67\n{DISCLAIMER_EN}",
        [TEXT_EN, "Thanks and regards,", "Alice de Vries"],
        ["Bakery Bread Ltd.", "+31 20", "confidential", "intended recipient"],
    ),
    _case(
        "disclaimer",
        "ox",
        "nl",
        f"{TEXT_NL}\n\nVERTROUWELIJKHEID:\n{DISCLAIMER_NL}\n\n[cid:image002.png@01DA1234.56789ABC]",
        [TEXT_NL],
        ["VERTROUWELIJKHEID", "uitsluitend bestemd", "cid:image002"],
    ),
    # Attribution lines of the less common programs.
    _case(
        "attribution",
        "mutt",
        "en",
        f"{TEXT_EN}\n\nAlice",
        [TEXT_EN, "Alice"],
        ["[2026-11-24 10:12]", "Kantoor Test <portaal"],
        attribution="* Kantoor Test <portaal@kantoor.example> [2026-11-24 10:12]:",
    ),
    _case(
        "attribution",
        "ox",
        "nl",
        f"{TEXT_NL}\n\nAlice",
        [TEXT_NL, "Alice"],
        ["heeft op 24 november", "geschreven:"],
        attribution="Kantoor Test <portaal@kantoor.example> heeft op 24 november 2026 om 10:12 geschreven:",
    ),
    _case(
        "attribution",
        "thebat",
        "nl",
        f"Hallo Kantoor,\n\n{TEXT_NL}\n\nAlice",
        [TEXT_NL, "Hallo Kantoor,", "Alice"],
        ["schreef op", "dinsdag 24 november"],
        attribution="U schreef op dinsdag 24 november 2026, 10:12:",
    ),
    # Answers between the quoted lines: each with the question above it, the rest goes.
    _case(
        "inline",
        "gmail",
        "nl",
        "Zit in de bijlage.\n\nNee, die had ik niet.",
        [
            "> Wilt u de jaaropgave 2025 sturen?",
            "Zit in de bijlage.",
            "> Heeft u in 2025 een auto van de zaak gehad?",
            "Nee, die had ik niet.",
        ],
        [
            "Beste Alice de Vries",
            "Bericht bekijken",
            "Met vriendelijke groet",
            "Kantoor Test <portaal",
        ],
        how="inline",
    ),
    _case(
        "inline",
        "thunderbird",
        "nl",
        "Volgt morgen.\n\nJa, tot 1 juli.",
        [
            "> Wilt u de jaaropgave 2025 sturen?",
            "Volgt morgen.",
            "> Heeft u in 2025 een auto",
            "Ja, tot 1 juli.",
        ],
        ["Beste Alice de Vries", "U kunt deze mail direct beantwoorden", "schreef Kantoor Test"],
        how="inline",
    ),
    _case(
        "inline",
        "mutt",
        "en",
        "Attached.\n\nNo, I did not.",
        [
            "> Could you send your 2025 annual statement?",
            "Attached.",
            "> Did you have a company car in 2025?",
            "No, I did not.",
        ],
        ["Dear Alice de Vries", "View the message", "Kind regards", "Kantoor Test wrote"],
        how="inline",
    ),
    _case(
        "inline",
        "apple",
        "en",
        "Here it is.\n\nYes, a Volvo until July.",
        ["> Could you send your 2025 annual statement?", "Here it is.", "Yes, a Volvo until July."],
        ["Dear Alice de Vries", "You can answer this mail directly", "wrote:"],
        how="inline",
        flowed=True,
    ),
    _case(
        "inline",
        "roundcube",
        "nl",
        "Zie bijlage.\n\nNee.",
        [
            "> Wilt u de jaaropgave 2025 sturen?",
            "Zie bijlage.",
            "> Heeft u in 2025 een auto van de zaak gehad?",
            "Nee.",
        ],
        ["Beste Alice de Vries", "U kunt deze mail", "schreef Kantoor Test"],
        how="inline",
    ),
    # Outlook's inline answers: in the quoted mail itself, unquoted under the header block.
    Case(
        "inline-outlook-outlook-nl",
        "inline-outlook",
        "outlook",
        "nl",
        "Zie mijn antwoorden hieronder in rood.\n\nALICE: zit in de bijlage.\n\nALICE: nee, geen auto.",
        [
            "Zie mijn antwoorden hieronder in rood.",
            "Wilt u de jaaropgave 2025 sturen?",
            "ALICE: zit in de bijlage.",
            "ALICE: nee, geen auto.",
        ],
        ["Verzonden:", "Onderwerp:", "automatisch verstuurd"],
        how="outlook-inline",
    ),
    Case(
        "inline-outlook-owa-en",
        "inline-outlook",
        "owa",
        "en",
        "Please see my answers below.\n\n[AdV] Attached.\n\n[AdV] No.",
        [
            "Please see my answers below.",
            "Did you have a company car in 2025?",
            "[AdV] Attached.",
            "[AdV] No.",
        ],
        ["Sent:", "Subject:", "sent automatically"],
        how="outlook-inline",
    ),
    # Attributions wrapped over two lines, each form, both languages.
    _case(
        "wrapped",
        "gmail",
        "nl",
        TEXT_NL,
        [TEXT_NL],
        ["het volgende:", "schreef Kantoor Test"],
        attribution="Op di 24 nov 2026 om 10:12 schreef Kantoor Test <portaal@kantoor.example>\nhet volgende:",
    ),
    _case(
        "wrapped",
        "gmail",
        "en",
        TEXT_EN,
        [TEXT_EN],
        ["wrote:", "<portaal@kantoor.example>"],
        attribution="On Tue, Nov 24, 2026 at 10:12 AM Kantoor Test <\nportaal@kantoor.example> wrote:",
    ),
    _case(
        "wrapped",
        "android",
        "nl",
        TEXT_NL,
        [TEXT_NL],
        ["het volgende", "schreef Kantoor"],
        attribution="Op di 24 nov. 2026 10:12 schreef Kantoor Test <portaal@kantoor.example\n> het volgende:",
    ),
    _case(
        "wrapped",
        "apple",
        "nl",
        TEXT_NL,
        [TEXT_NL],
        ["volgende geschreven", "heeft Kantoor Test"],
        attribution="Op 24 nov. 2026 om 10:12 heeft Kantoor Test <portaal@kantoor.example> het\nvolgende geschreven:",
    ),
    _case(
        "wrapped",
        "thunderbird",
        "nl",
        TEXT_NL,
        [TEXT_NL],
        ["schreef Kantoor", "Kantoor Test:"],
        attribution="Op 24-11-2026 om 10:12 schreef Kantoor Test\n<portaal@kantoor.example>:",
    ),
    _case(
        "wrapped",
        "ox",
        "nl",
        TEXT_NL,
        [TEXT_NL],
        ["geschreven:", "heeft op 24 november"],
        attribution="Kantoor Test <portaal@kantoor.example> heeft op 24 november 2026 om 10:12\ngeschreven:",
    ),
    _case(
        "wrapped",
        "yahoo",
        "en",
        TEXT_EN,
        [TEXT_EN],
        ["wrote:", "GMT+1"],
        attribution="On Tuesday, November 24, 2026, 10:12:00 AM GMT+1, Kantoor Test\n<portaal@kantoor.example> wrote:",
    ),
    _case(
        "wrapped",
        "outlook",
        "nl",
        f"{TEXT_NL}\n\nMet vriendelijke groet,\nAlice de Vries",
        [TEXT_NL, "Met vriendelijke groet,", "Alice de Vries"],
        ["Verzonden:", "Onderwerp:", "Van: Kantoor"],
        attribution="Van: Kantoor Test <portaal@kantoor.example>\nVerzonden: dinsdag 24 november 2026 10:12\n"
        "Aan: Alice de Vries\n<alice@example.nl>; Bakkerij Brood BV\n<info@bakkerij.example>\n"
        "Onderwerp: [2026-0001] Nieuw bericht over uw aangifte inkomstenbelasting\n2025",
    ),
    _case(
        "wrapped",
        "owa",
        "en",
        f"{TEXT_EN}\n\nBest regards,\nAlice de Vries",
        [TEXT_EN, "Best regards,", "Alice de Vries"],
        ["Sent:", "Subject:", "From: Kantoor"],
        attribution="________________________________\nFrom: Kantoor Test\n<portaal@kantoor.example>\n"
        "Sent: Tuesday, November 24, 2026 10:12 AM\nTo: Alice de Vries <alice@example.nl>\n"
        "Subject: [2026-0001] New message",
    ),
    # format=flowed: a separator ending in a space must not swallow the header block.
    _case(
        "flowed",
        "wlm",
        "en",
        f"{TEXT_EN}\n\nAlice",
        [TEXT_EN, "Alice"],
        ["Original Message", "Sent: Tuesday", "From: Kantoor Test"],
        flowed=True,
        charset="iso-8859-1",
    ),
    _case(
        "flowed",
        "wlm",
        "nl",
        f"{TEXT_NL}\n\nAlice",
        [TEXT_NL, "Alice"],
        ["Oorspronkelijk bericht", "Sent: Tuesday", "From: Kantoor Test"],
        flowed=True,
        charset="iso-8859-1",
    ),
    _case(
        "flowed",
        "zimbra",
        "en",
        f"{TEXT_EN} I also added the mortgage statement of the bank, which came in last week after a long wait.\n\nAlice",
        [TEXT_EN, "which came in last week after a long wait.", "Alice"],
        ["Original Message", "Sent: Tuesday"],
        flowed=True,
    ),
    # HTML-only mails: at most one empty line between paragraphs.
    _case(
        "html-only",
        "outlook",
        "nl",
        f"Beste Kantoor Test,\n\n{TEXT_NL}\n\nMet vriendelijke groet,\nAlice de Vries",
        ["Beste Kantoor Test,", TEXT_NL, "Alice de Vries"],
        [],
        html_only=True,
    ),
    _case(
        "html-only",
        "yahoo",
        "en",
        f"Hello,\n\n{TEXT_EN}\n\nThanks,\nAlice",
        ["Hello,", TEXT_EN, "Thanks,", "Alice"],
        [],
        html_only=True,
    ),
    _case(
        "html-only",
        "gmail",
        "nl",
        f"Hoi,\n\n{TEXT_NL}\n\nGroetjes,\nAlice",
        ["Hoi,", TEXT_NL, "Groetjes,", "Alice"],
        [],
        html_only=True,
    ),
]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.eml"):
        old.unlink()
    expected = []
    for n, case in enumerate(CASES):
        file = f"{n:02d}-{case.name}.eml"
        (OUT / file).write_bytes(build(n, case))
        expected.append(
            {
                "file": file,
                "quirk": case.quirk,
                "program": case.program,
                "language": case.language,
                "keep": case.keep,
                "go": case.go,
            }
        )
    (HERE / "programs.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
