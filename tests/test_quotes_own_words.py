"""The quote trimmer keeps the client's own words: sentences that merely look like a marker,
a header block, a phone's signature or a delimiter stay, and a forwarded mail is kept as
the evidence the client sends. The usual replies of Gmail, Outlook, Apple Mail and phones,
in Dutch and English, are still cut where the quoted mail begins."""

from __future__ import annotations

import pytest

from mailbridge.quotes import split_reply

MARKER_NL = "Op wo 25 nov. 2026 om 23:43 schreef Loket <loket@kantoor.example>:"
QUOTED = (
    "> Hallo,\n> \n> Er staat een nieuw bericht voor u klaar.\n"
    "> http://127.0.0.1:8080/dossiers/2026-0001\n"
)
NLQ = f"\n\n{MARKER_NL}\n\n{QUOTED}"
NOTIFICATION = (
    "Hallo,\n\nEr staat een nieuw bericht voor u klaar.\nhttp://127.0.0.1:8080/dossiers/2026-0001\n"
)


def reply(text: str) -> str:
    return split_reply(text)[0]


# Sentences that start like a "wrote" marker ----------------------------------------------


def test_a_sentence_starting_with_op_is_not_joined_to_the_marker_below() -> None:
    body = "Op zich prima, ik stuur de stukken morgen.\n\nGroet,\nAlice"
    # Was: only the quote (the sentence was joined to the "schreef" line five lines down).
    assert reply(body + NLQ) == body


@pytest.mark.parametrize(
    "sentence",
    [
        "Op de bijlage staat mijn loon over januari.",
        "On the attached payslip you can see my salary.",
    ],
)
def test_a_paragraph_starting_with_op_or_on_is_kept(sentence: str) -> None:
    body = f"Hoi Sanne,\n\n{sentence}\nDe bonus komt in maart.\n\nGroet, Alice"
    # Was: "Hoi Sanne,".
    assert reply(body + NLQ) == body


def test_op_date_schreef_in_a_sentence_without_colon_is_the_clients() -> None:
    body = (
        "Beste Sanne,\n\nOp 3 maart schreef de Belastingdienst mij dat ik nog 500 euro moet "
        "betalen.\nKunt u daarnaar kijken?\n\nGroet, Alice"
    )
    # Was: "Beste Sanne,".
    assert reply(body) == body
    assert reply(body + NLQ) == body


def test_op_schreef_het_volgende_in_the_clients_words_is_kept() -> None:
    body = (
        "Op 3 maart schreef de Belastingdienst mij het volgende:\n"
        "U moet nog 500 euro betalen.\n\nKunt u daarnaar kijken?"
    )
    assert reply(body + NLQ) == body


# Lines like "Datum:" and "Van:" in the client's text -------------------------------------


def test_a_list_of_data_is_not_an_outlook_header_block() -> None:
    body = (
        "Hierbij de gegevens:\nDatum: 12 maart 2025\nVan: mijn moeder\nBedrag: 10.000 euro\n"
        "Reden: schenking\n\nGroet, Alice"
    )
    # Was: "Hierbij de gegevens:".
    assert reply(body) == body
    assert reply(body + NLQ) == body


# Sentences that look like a phone's signature ---------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Attached is the payslip from my employer.",
        "Verstuurd via PostNL: de originele akte komt morgen.",
        "Verzonden met spoed.",
        "Sent from my phone on the train, so only a short answer for now.",
    ],
)
def test_a_sentence_like_a_mobile_signature_is_kept(sentence: str) -> None:
    body = f"Beste Sanne,\n\n{sentence}\nDe rest volgt.\n\nGroet, Alice"
    # Was: the sentence dropped as a signature.
    assert reply(body + NLQ) == body


@pytest.mark.parametrize(
    "sentence",
    [
        "Attached is the payslip from my employer.",
        "Verstuurd via PostNL: de originele akte komt morgen.",
        "Verzonden met spoed.",
    ],
)
def test_a_last_sentence_like_a_mobile_signature_is_kept(sentence: str) -> None:
    body = f"Beste Sanne,\n\n{sentence}"
    # Was: "Beste Sanne,".
    assert reply(body + NLQ) == body


@pytest.mark.parametrize(
    "signature",
    [
        "Sent from my iPhone",
        "Verstuurd vanaf mijn iPhone",
        "Verzonden met Outlook voor Android",
        "Sent from Mail for Windows",
        "Get Outlook for iOS",
        "Von meinem iPhone gesendet",
        "Verzonden vanaf mijn Samsung Galaxy-smartphone.",
    ],
)
def test_a_device_signature_after_the_text_still_goes(signature: str) -> None:
    body = "Hierbij de jaaropgave.\n\nGroet, Alice"
    assert reply(f"{body}\n\n{signature}{NLQ}") == body
    assert reply(f"{body}\n\n{signature}\n") == body


# Delimiters ---------------------------------------------------------------------------------


def test_three_dashes_between_paragraphs_do_not_cut_the_rest() -> None:
    body = (
        "Punt 1: ik ga akkoord met de aangifte.\n---\nPunt 2: de jaaropgave stuur ik morgen.\n\n"
        "Groet, Alice"
    )
    # Was: "Punt 1: ik ga akkoord met de aangifte.".
    assert reply(body + NLQ) == body


def test_the_signature_delimiter_still_cuts_the_signature() -> None:
    body = "Hierbij de jaaropgave."
    assert reply(f"{body}\n\n-- \nAlice de Vries\n06-12345678{NLQ}") == body
    assert reply(f"{body}\n\n--\nAlice de Vries\n06-12345678\n") == body


# Forwarded mail ------------------------------------------------------------------------------

FORWARDED = (
    "---------- Forwarded message ---------\nVan: Werkgever BV <hr@werkgever.example>\n"
    "Date: ma 23 nov. 2026 om 10:00\nSubject: Bonus 2025\nTo: <alice@example.nl>\n\n"
    "Beste Alice,\n\nJe bonus over 2025 is 4.250 euro bruto.\n\nHR"
)


def test_a_forwarded_mail_is_kept_as_what_the_client_sends() -> None:
    body = "Hierbij de mail van mijn werkgever over de bonus.\n\n" + FORWARDED
    # Was: only the first line.
    assert reply(body) == body


@pytest.mark.parametrize(
    "forwarded",
    [
        "---------- Doorgestuurd bericht ---------\nVan: Bank <post@bank.example>\n"
        "Datum: 20 nov 2026\nOnderwerp: Jaaroverzicht\nAan: <alice@example.nl>\n\n"
        "Geachte klant, hierbij uw jaaroverzicht.",
        "Begin doorgestuurd bericht:\n\nVan: Bank <post@bank.example>\n"
        "Onderwerp: Jaaroverzicht\nDatum: 20 november 2026 om 10:00:00 CET\n"
        "Aan: alice@example.nl\n\nGeachte klant, hierbij uw jaaroverzicht.",
        "Begin forwarded message:\n\n> From: Bank <post@bank.example>\n"
        "> Subject: Annual statement\n> Date: 20 November 2026 at 10:00:00 CET\n"
        "> To: alice@example.nl\n> \n> Dear client, here is your annual statement.",
    ],
)
def test_forwarded_mail_of_other_programs_is_kept(forwarded: str) -> None:
    body = "Zie hieronder de brief van de bank.\n\n" + forwarded
    assert reply(body) == body


def test_a_forward_keeps_the_mail_but_not_the_signature_above_it() -> None:
    text = "Zie hieronder.\n\n-- \nAlice de Vries\n06-12345678\n\n" + FORWARDED
    assert reply(text) == "Zie hieronder.\n\n" + FORWARDED


def test_a_forward_inside_the_quoted_mail_is_cut_with_the_quote() -> None:
    quoted = "\n".join("> " + line if line else ">" for line in FORWARDED.split("\n"))
    assert reply(f"Akkoord.\n\n{MARKER_NL}\n\n{quoted}\n") == "Akkoord."


# The usual replies are still cut -----------------------------------------------------------

BODY = "Hierbij de jaaropgave van mijn werkgever.\n\nMet vriendelijke groet,\nAlice de Vries"


@pytest.mark.parametrize(
    "marker",
    [
        MARKER_NL,
        "On Wed, Nov 25, 2026 at 11:43 PM Loket <loket@kantoor.example> wrote:",
        # Gmail wraps a long marker over two lines.
        "Op wo 25 nov. 2026 om 23:43 schreef Loket <\nloket@kantoor.example>:",
        "Op wo 25 nov. 2026 om 23:43 schreef Loket Belastingadvies en Notariaat\n"
        "<loket@kantoor.example>:",
        "On Wed, Nov 25, 2026 at 11:43 PM Loket <loket@kantoor.example>\nwrote:",
        "On Wed, Nov 25, 2026 at 11:43 PM Loket Belastingadvies en Notariaat <\n"
        "loket@kantoor.example> wrote:",
        # Apple Mail
        "Op 25 nov. 2026 om 23:43 heeft Loket <loket@kantoor.example> het volgende geschreven:",
        "On 25 Nov 2026, at 23:43, Loket <loket@kantoor.example> wrote:",
        # Thunderbird
        "Op 25-11-2026 om 23:43 schreef Loket:",
        # Without the colon, when quoted lines follow.
        "Op wo 25 nov. 2026 om 23:43 schreef Loket <loket@kantoor.example>",
    ],
)
def test_gmail_apple_and_thunderbird_markers_cut_the_quote(marker: str) -> None:
    assert reply(f"{BODY}\n\n{marker}\n\n{QUOTED}") == BODY


@pytest.mark.parametrize(
    "header",
    [
        "________________________________\nVan: Loket <loket@kantoor.example>\n"
        "Verzonden: woensdag 25 november 2026 23:43\nAan: Alice de Vries <alice@example.nl>\n"
        "Onderwerp: [2026-0001] Nieuw bericht",
        "________________________________\nFrom: Loket <loket@kantoor.example>\n"
        "Sent: Wednesday, November 25, 2026 11:43 PM\nTo: Alice de Vries <alice@example.nl>\n"
        "Subject: [2026-0001] New message",
        "Van: Loket <loket@kantoor.example>\nVerzonden: woensdag 25 november 2026 23:43\n"
        "Aan: Alice de Vries <alice@example.nl>\nCc: Bob <bob@example.nl>\n"
        "Onderwerp: [2026-0001] Nieuw bericht",
        "*From:* Loket <loket@kantoor.example>\n*Sent:* Wednesday, November 25, 2026 11:43 PM\n"
        "*To:* Alice de Vries <alice@example.nl>\n*Subject:* [2026-0001] New message",
        "-----Oorspronkelijk bericht-----\nVan: Loket <loket@kantoor.example>\n"
        "Verzonden: woensdag 25 november 2026 23:43\nAan: Alice de Vries <alice@example.nl>\n"
        "Onderwerp: [2026-0001] Nieuw bericht",
        "-------- Original message --------\nFrom: Loket <loket@kantoor.example>\n"
        "Date: 11/25/26 23:43 (GMT+01:00)\nTo: alice@example.nl\n"
        "Subject: [2026-0001] New message",
    ],
)
def test_outlook_header_blocks_and_original_message_cut_the_quote(header: str) -> None:
    assert reply(f"{BODY}\n\n{header}\n\n{NOTIFICATION}") == BODY


def test_verstuurd_vanaf_mijn_iphone_after_the_text_goes() -> None:
    marker = "Op 25 nov. 2026 om 23:43 heeft Loket <loket@kantoor.example> het volgende geschreven:"
    text = f"Hierbij de jaaropgave.\n\nVerstuurd vanaf mijn iPhone\n\n{marker}\n\n{QUOTED}"
    assert reply(text) == "Hierbij de jaaropgave."


def test_a_reply_under_the_quote_is_kept() -> None:
    assert reply(f"{MARKER_NL}\n\n{QUOTED}\nAkkoord.\n") == "Akkoord."
