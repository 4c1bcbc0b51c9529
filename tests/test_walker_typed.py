"""Amounts, numbers and dates as people type them, in every channel (the web, the bot, mail
and `loket chat` all answer through walker.check): each accepted form with the value stored,
each refused form with its error in Dutch and English.

Read Dutch first: "1.234" is one thousand two hundred and thirty-four, "1,5" one and a half;
a date is day first, and its year is never guessed."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import ValidationError
from core.i18n import gettext_for
from core.templates import parse_template
from core.walker import check, read_date

FORM = parse_template(
    """
name: typed
title: {nl: Getypt, en: Typed}
sections:
  - title: {nl: Alles, en: All}
    questions:
      - {key: bedrag, type: amount, label: {nl: Bedrag, en: Amount}}
      - {key: positief, type: amount, label: {nl: Bedrag, en: Amount}, min: 0}
      - {key: aantal, type: number, label: {nl: Aantal, en: Number}}
      - {key: saldo, type: number, label: {nl: Saldo, en: Balance}, min: -1000}
      - {key: datum, type: date, label: {nl: Datum, en: Date}}
"""
)


AMOUNTS = [
    ("1.234,50", "1234.50"),
    ("1234,50", "1234.50"),
    ("1,234.50", "1234.50"),  # English, unambiguous: the comma groups, the point separates
    ("1234.50", "1234.50"),
    ("1.234", "1234.00"),  # the Netherlands: thousands
    ("1.234.567", "1234567.00"),
    ("1,234,567", "1234567.00"),
    ("1.234.567,89", "1234567.89"),
    ("12,5", "12.50"),
    ("0,05", "0.05"),
    ("0.25", "0.25"),
    ("€ 45.000", "45000.00"),
    ("€45.000", "45000.00"),
    ("€45.000,-", "45000.00"),
    ("€ 45.000,--", "45000.00"),
    ("45,-", "45.00"),
    ("EUR 45000", "45000.00"),
    ("eur 45000", "45000.00"),
    ("45.000 euro", "45000.00"),
    ("45.000 EUR", "45000.00"),
    ("45000 €", "45000.00"),
    ("45.000,00 euro", "45000.00"),
    ("45 000", "45000.00"),
    ("45\u00a0000,50", "45000.50"),  # a no-break space between the thousands
    ("€\u00a0 1.250", "1250.00"),
    ("- 12,50", "-12.50"),
    ("-12,50", "-12.50"),
    ("\u221212,50", "-12.50"),  # the typographic minus
    ("€ -12,50", "-12.50"),
    ("-€ 12,50", "-12.50"),
    ("  250  ", "250.00"),
    ("-0", "0.00"),
]


@pytest.mark.parametrize("raw,stored", AMOUNTS)
def test_amounts_typed_the_usual_ways(raw: str, stored: str) -> None:
    assert check(FORM, "bedrag", raw) == stored


NUMBERS = [
    ("2", "2"),
    ("2,5", "2.5"),
    ("2.5", "2.5"),
    ("1.234", "1234"),  # thousands, as with amounts
    ("1,234", "1.234"),  # a single comma is a decimal comma
    ("1.234,5", "1234.5"),
    ("1,234.5", "1234.5"),
    ("1 000 000", "1000000"),
    ("0.250", "0.25"),  # a leading 0 groups nothing: a decimal point
    ("007", "7"),
]


@pytest.mark.parametrize("raw,stored", NUMBERS)
def test_numbers_typed_the_usual_ways(raw: str, stored: str) -> None:
    assert check(FORM, "aantal", raw) == stored


def test_a_negative_number_where_the_template_allows_one() -> None:
    assert check(FORM, "saldo", "- 12,5") == "-12.5"
    assert check(FORM, "saldo", "-1.000") == "-1000"


AMOUNT_HINT = ("bedrag in euro in, zoals 1.234,56", "amount in euros, like 1.234,56")
CENTS = ("hoogstens twee cijfers achter de komma", "at most two decimals (cents)")
NUMBER_HINT = ("Vul een getal in, zoals 12", "Enter a number, like 12")

REFUSED_NUMBERS = [
    ("bedrag", "veel", AMOUNT_HINT),
    ("bedrag", "€", AMOUNT_HINT),
    ("bedrag", "-", AMOUNT_HINT),
    ("bedrag", ",50", AMOUNT_HINT),
    ("bedrag", "12 34", AMOUNT_HINT),  # a space only between thousands
    ("bedrag", "1.23.4", AMOUNT_HINT),
    ("bedrag", "1.234,56.78", AMOUNT_HINT),
    ("bedrag", "12,50,-", AMOUNT_HINT),
    ("bedrag", "--12", AMOUNT_HINT),
    ("bedrag", "- € -12", AMOUNT_HINT),
    ("bedrag", "12,", AMOUNT_HINT),
    ("bedrag", "12,5 0", AMOUNT_HINT),
    ("bedrag", "$ 12", AMOUNT_HINT),
    ("bedrag", "١٢", AMOUNT_HINT),  # Arabic-Indic digits are no amount here
    ("bedrag", "1" * 41, AMOUNT_HINT),
    ("bedrag", "1,234", CENTS),  # Dutch first: 1 euro and 234 of a cent, which is no amount
    ("bedrag", "12,345", CENTS),
    ("bedrag", "45,000", CENTS),  # never 45 euros, nor a guess at 45 thousand
    ("bedrag", "0.250", CENTS),
    ("bedrag", "0.005", CENTS),
    ("positief", "-12,50", ("minstens € 0", "at least € 0")),
    ("positief", "€ -1", ("minstens € 0", "at least € 0")),
    ("aantal", "-3", ("minstens 0", "at least 0")),
    ("aantal", "€ 5", NUMBER_HINT),  # a number is no amount
    ("aantal", "twee", NUMBER_HINT),
    ("aantal", "2 kinderen", NUMBER_HINT),
    ("saldo", "-1.000,01", ("minstens -1000", "at least -1000")),
]


@pytest.mark.parametrize("key,raw,words", REFUSED_NUMBERS)
def test_numbers_that_cannot_be_read_say_so(key: str, raw: str, words: tuple[str, str]) -> None:
    with pytest.raises(ValidationError) as info:
        check(FORM, key, raw)
    nl, en = words
    assert nl in info.value.translated(gettext_for("nl"))
    assert en in info.value.translated(gettext_for("en"))


DATES = [
    ("15-3-2025", "2025-03-15"),
    ("15-03-2025", "2025-03-15"),
    ("15/3/2025", "2025-03-15"),
    ("15.3.2025", "2025-03-15"),
    ("15 - 3 - 2025", "2025-03-15"),
    ("2025-03-15", "2025-03-15"),
    ("2025-3-5", "2025-03-05"),
    ("15 maart 2025", "2025-03-15"),
    ("15 Maart 2025", "2025-03-15"),
    ("15 mrt 2025", "2025-03-15"),
    ("15 mrt. 2025", "2025-03-15"),
    ("15 March 2025", "2025-03-15"),
    ("15 Mar 2025", "2025-03-15"),
    ("15th March 2025", "2025-03-15"),
    ("March 15, 2025", "2025-03-15"),
    ("march 15 2025", "2025-03-15"),
    ("Mar. 15th, 2025", "2025-03-15"),
    ("1 mei 2025", "2025-05-01"),
    ("May 1, 2025", "2025-05-01"),
    ("31 okt 2025", "2025-10-31"),
    ("31 Oct 2025", "2025-10-31"),
    ("1 sept. 2025", "2025-09-01"),
    ("29-2-2024", "2024-02-29"),  # a leap year
    ("  15-3-2025.  ", "2025-03-15"),
    ("15\u00a0maart\u00a02025", "2025-03-15"),
]


@pytest.mark.parametrize("raw,stored", DATES)
def test_dates_typed_the_usual_ways(raw: str, stored: str) -> None:
    assert check(FORM, "datum", raw) == stored


DATE_HINT = ("als dag-maand-jaar, zoals 24-11-2026", "as day-month-year, like 24-11-2026")
NO_YEAR = ("met het jaar erbij", "with its year")
SHORT_YEAR = ("jaar met vier cijfers", "year with four digits")

REFUSED_DATES = [
    ("morgen", DATE_HINT),
    ("15 maartt 2025", DATE_HINT),
    ("15-3/2025", DATE_HINT),  # two different separators
    ("15 3 2025", DATE_HINT),
    ("15-3-202", DATE_HINT),
    ("15-3-20255", DATE_HINT),
    ("2025-03-15T10:00", DATE_HINT),
    ("15 maart", NO_YEAR),
    ("15-3", NO_YEAR),
    ("March 15", NO_YEAR),
    ("15-3-25", SHORT_YEAR),
    ("1/7/26", SHORT_YEAR),
    ("15 maart 25", SHORT_YEAR),
    ("March 15, 25", SHORT_YEAR),
    (
        "31-2-2025",
        ("31-2-2025 bestaat niet: die maand heeft 28 dagen", "31-2-2025 does not exist"),
    ),
    ("29-2-2025", ("die maand heeft 28 dagen", "that month has 28 days")),
    ("31 april 2025", ("die maand heeft 30 dagen", "that month has 30 days")),
    ("0-3-2025", ("bestaat niet", "does not exist")),
    ("2025-02-30", ("bestaat niet", "does not exist")),
    (
        "3/15/2025",
        ("er is geen maand 15. Schrijf de dag eerst", "no month 15. Write the day first"),
    ),
    ("15-13-2025", ("geen maand 13", "no month 13")),
    ("2025-13-01", ("2025-13-01 is geen datum: er is geen maand 13", "no month 13")),
]


@pytest.mark.parametrize("raw,words", REFUSED_DATES)
def test_dates_that_cannot_be_read_or_do_not_exist_say_so(raw: str, words: tuple[str, str]) -> None:
    with pytest.raises(ValidationError) as info:
        check(FORM, "datum", raw)
    nl, en = words
    assert nl in info.value.translated(gettext_for("nl"))
    assert en in info.value.translated(gettext_for("en"))


def test_a_date_written_year_first_is_not_told_to_write_the_day_first() -> None:
    with pytest.raises(ValidationError) as info:
        check(FORM, "datum", "2025-13-01")
    assert info.value.translated(gettext_for("nl")) == (
        "2025-13-01 is geen datum: er is geen maand 13."
    )
    assert info.value.translated(gettext_for("en")) == (
        "2025-13-01 is not a date: there is no month 13."
    )


def test_other_dates_a_channel_asks_for_are_read_the_same_way() -> None:
    assert read_date("1 sept. 2026") == dt.date(2026, 9, 1)
    with pytest.raises(ValidationError, match="does not exist"):
        read_date("31-9-2026")
