"""Writes the mail corpus: 40 replies shaped like real clients' mail (Outlook, Gmail, Apple
Mail, Thunderbird, phones; Dutch and English; replied and forwarded; with and without HTML),
each with what the bridge must make of it in expected.json.

    python tests/mailcorpus/build.py      # rewrites the .eml files and expected.json

In the To header, ``{{reply:USER:DOSSIER}}`` stands for that account's signed reply address
for that dossier; the test puts the real one in.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

HERE = Path(__file__).parent
FIRM = "Kantoor Test <portaal@kantoor.example>"
SENT_ID = "<loket.1.notification@kantoor.example>"
ORIGINAL_NL = "Beste klant,\n\nWilt u de ontbrekende stukken voor uw aangifte sturen?\n\nMet vriendelijke groet,\nKantoor Test"
ORIGINAL_EN = "Dear client,\n\nCould you send the missing documents for your tax return?\n\nKind regards,\nKantoor Test"

PEOPLE = {
    "alice": ("Alice de Vries", "alice@example.nl", "2026-0001"),
    "bakkerij": ("Bakkerij Brood BV", "info@bakkerij.example", "2026-0100"),
    "boekhouding": ("Boekhouding Bakkerij", "boekhouding@bakkerij.example", "2026-0100"),
}


@dataclass
class Style:
    name: str
    language: str
    mailer: str

    def header(self) -> str:
        nl = self.language == "nl"
        return {
            "outlook": (
                "Van: Kantoor Test <portaal@kantoor.example>\nVerzonden: dinsdag 24 november 2026 10:12\n"
                "Aan: {name} <{email}>\nOnderwerp: [{dossier}] Nieuw bericht"
                if nl
                else "From: Kantoor Test <portaal@kantoor.example>\nSent: Tuesday, November 24, 2026 10:12 AM\n"
                "To: {name} <{email}>\nSubject: [{dossier}] New message"
            ),
            "gmail": (
                "Op di 24 nov 2026 om 10:12 schreef Kantoor Test <portaal@kantoor.example>:"
                if nl
                else "On Tue, Nov 24, 2026 at 10:12 AM Kantoor Test <portaal@kantoor.example> wrote:"
            ),
            "apple": (
                "Op 24 nov. 2026 om 10:12 heeft Kantoor Test <portaal@kantoor.example> het volgende geschreven:"
                if nl
                else "On 24 Nov 2026, at 10:12, Kantoor Test <portaal@kantoor.example> wrote:"
            ),
            "thunderbird": (
                "Op 24-11-2026 om 10:12 schreef Kantoor Test:"
                if nl
                else "On 24/11/2026 10:12, Kantoor Test wrote:"
            ),
            "android": (
                "-------- Oorspronkelijk bericht --------\nVan: Kantoor Test <portaal@kantoor.example>\n"
                "Datum: 24-11-2026 10:12 (GMT+01:00)\nAan: {email}\nOnderwerp: [{dossier}] Nieuw bericht"
                if nl
                else "-------- Original message --------\nFrom: Kantoor Test <portaal@kantoor.example>\n"
                "Date: 11/24/26 10:12 (GMT+01:00)\nTo: {email}\nSubject: [{dossier}] New message"
            ),
        }[self.mailer]

    def signature(self, name: str) -> str:
        nl = self.language == "nl"
        return {
            "outlook": f"\n\nMet vriendelijke groet,\n{name}"
            if nl
            else f"\n\nBest regards,\n{name}",
            "gmail": f"\n\n-- \n{name}\n06-12345678",
            "apple": "\n\nVerstuurd vanaf mijn iPhone" if nl else "\n\nSent from my iPhone",
            "thunderbird": f"\n\n-- \n{name}",
            "android": "\n\nVerzonden vanaf mijn Samsung Galaxy-smartphone."
            if nl
            else "\n\nSent from my Samsung Galaxy smartphone.",
        }[self.mailer]


STYLES = [
    Style(f"{m}-{lang}", lang, m)
    for m in ("outlook", "gmail", "apple", "thunderbird", "android")
    for lang in ("nl", "en")
]
REPLIES = {
    "nl": [
        "Hierbij de jaaropgave van mijn werkgever.",
        "Zie de bijlagen. De WOZ-beschikking volgt later.",
        "Ik heb geen hypotheek meer sinds maart.",
        "Graag een afspraak volgende week; dinsdag kan ik.",
    ],
    "en": [
        "Please find my annual statement attached.",
        "Attached are the documents. The WOZ value follows.",
        "I no longer have a mortgage since March.",
        "Could we meet next week? Tuesday works for me.",
    ],
}
FILES = [
    ("Jaaropgave 2025.pdf", "application/pdf", b"%PDF-1.4 jaaropgave"),
    ("WOZ-beschikking Gemeente Utrecht.pdf", "application/pdf", b"%PDF-1.4 woz"),
    ("Loonstrook maart €.jpg", "image/jpeg", b"\xff\xd8\xff loonstrook"),
    (
        "Hypotheekoverzicht (2).xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        b"PK\x03\x04 x",
    ),
]


def build_case(n: int) -> tuple[bytes, dict]:
    style = STYLES[n % len(STYLES)]
    who = ["alice", "bakkerij", "boekhouding", "alice"][n % 4]
    name, email, dossier = PEOPLE[who]
    text = REPLIES[style.language][n % 4]
    with_html = n % 3 != 0
    n_files = [0, 1, 2, 1][n % 4]
    forwarded = n % 10 == 9
    match = ["token", "token", "thread", "subject"][n % 4]

    header = style.header().format(name=name, email=email, dossier=dossier)
    original = ORIGINAL_NL if style.language == "nl" else ORIGINAL_EN
    if style.mailer in ("gmail", "apple", "thunderbird"):
        quoted = "\n".join("> " + line if line else ">" for line in original.splitlines())
    else:
        quoted = original
    body_text = text + style.signature(name) + "\n\n" + header + "\n\n" + quoted + "\n"
    if forwarded:
        # A client forwards a letter from the bank to the firm, with a line of their own on top.
        fwd = (
            "---------- Doorgestuurd bericht ---------"
            if style.language == "nl"
            else "---------- Forwarded message ---------"
        )
        body_text = (
            text + "\n\n" + fwd + "\nVan: Bank <post@bank.example>\nDatum: 20 nov 2026\n"
            "Onderwerp: Jaaroverzicht\n\nGeachte klant, hierbij uw jaaroverzicht.\n"
        )

    msg = EmailMessage()
    msg["From"] = f"{name} <{email}>"
    msg["To"] = (
        ("{{reply:" + who + ":" + dossier + "}}") if match == "token" else "portaal@kantoor.example"
    )
    subject_prefix = "Fwd: " if forwarded else ("Re: " if style.language == "en" else "RE: ")
    msg["Subject"] = (
        f"{subject_prefix}[{dossier}] Nieuw bericht"
        if match != "thread"
        else f"{subject_prefix}Nieuw bericht"
    )
    msg["Date"] = f"Tue, 24 Nov 2026 11:{n:02d}:00 +0100"
    msg["Message-ID"] = f"<corpus-{n}@{email.split('@')[1]}>"
    if match == "thread":
        msg["In-Reply-To"] = SENT_ID.replace("1", str(n))
        msg["References"] = SENT_ID.replace("1", str(n))
    if style.mailer == "outlook":
        msg["Thread-Index"] = "AdnLoketCorpus=="
        msg["X-Mailer"] = "Microsoft Outlook 16.0"
    elif style.mailer == "apple":
        msg["X-Mailer"] = "iPhone Mail (21A360)"
    elif style.mailer == "thunderbird":
        msg["User-Agent"] = "Mozilla Thunderbird"
    msg.set_content(body_text)
    if with_html:
        reply_html = html.escape(text + style.signature(name)).replace("\n", "<br>")
        if style.mailer == "gmail":
            rest = f'<div class="gmail_quote"><div>{html.escape(header)}</div><blockquote>{html.escape(original)}</blockquote></div>'
        elif style.mailer == "outlook":
            rest = f'<div id="divRplyFwdMsg"><hr>{html.escape(header)}</div><div>{html.escape(original)}</div>'
        else:
            rest = f'<blockquote type="cite">{html.escape(original)}</blockquote>'
        msg.add_alternative(
            f"<html><body><div>{reply_html}</div>{rest}</body></html>", subtype="html"
        )
    files = [FILES[(n + k) % len(FILES)] for k in range(n_files)]
    if style.mailer == "outlook" and with_html and n_files:
        # Outlook sends its signature logo inline; it is not an attachment for the dossier.
        html_part = msg.get_payload()[1]
        html_part.add_related(
            b"\x89PNG logo", maintype="image", subtype="png", cid="<logo@outlook>"
        )
    for filename, ctype, data in files:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    expected = {
        "file": f"{n:02d}-{style.name}.eml",
        "sender": email,
        "dossier": dossier,
        "author": who if who != "bakkerij" else "bakkerij",
        # Outlook's sign-off is plain text (no "-- " line): it stays, as a person would expect.
        # A forwarded letter is what the client is sending the firm: it stays whole.
        "reply": body_text.strip()
        if forwarded
        else text + (style.signature(name) if style.mailer == "outlook" else ""),
        "attachments": sorted(f[0] for f in files),
        "match": match,
        "thread_message_id": msg["In-Reply-To"],
    }
    return msg.as_bytes(), expected


def main() -> None:
    cases = []
    for n in range(40):
        raw, expected = build_case(n)
        (HERE / expected["file"]).write_bytes(raw)
        cases.append(expected)
    (HERE / "expected.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
