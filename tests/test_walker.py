"""The walker over both shipped templates: what to ask next, conditions, back and skip,
checking every type of answer in Dutch and English, and templates with mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ValidationError
from core.i18n import gettext_for
from core.templates import parse_template
from core.walker import (
    Given,
    check,
    missing_required,
    next_key,
    prompt,
    section_of,
    show,
    step,
    visible,
    visible_in_section,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"


@pytest.fixture(scope="module")
def tax() -> dict:
    return parse_template((TEMPLATES / "inkomstenbelasting.yaml").read_text())


@pytest.fixture(scope="module")
def notary() -> dict:
    return parse_template((TEMPLATES / "notaris-koopwoning.yaml").read_text())


def test_the_tax_checklist_has_seven_sections(tax: dict) -> None:
    assert len(tax["sections"]) == 7
    assert tax["sections"][2]["title"] == {"nl": "Eigen woning", "en": "Own home"}


def test_first_prompt_in_both_languages(tax: dict) -> None:
    first = next_key(tax, {})
    nl, en = prompt(tax, {}, first, "nl"), prompt(tax, {}, first, "en")
    assert (nl.key, nl.type, nl.section) == ("partner", "yesno", "Persoonlijke gegevens")
    assert en.label == "Did you have a tax partner in the tax year?"
    assert nl.help and nl.section_help
    assert (nl.number, nl.total) == (1, len(visible(tax, {})))


def test_conditions_hide_and_show_questions(tax: dict) -> None:
    base = {q["key"] for q in visible(tax, {})}
    assert "partner_naam" not in base and "woz_beschikking" not in base
    with_partner = {"partner": Given(True), "eigen_woning": Given(True)}
    shown = {q["key"] for q in visible(tax, with_partner)}
    assert {"partner_naam", "woz_beschikking", "hypotheekrente"} <= shown
    employed = {"inkomstenbron": Given(["loondienst"])}
    assert "bruto_loon" in {q["key"] for q in visible(tax, employed)}
    retired = {"inkomstenbron": Given(["pensioen"])}
    keys = {q["key"] for q in visible(tax, retired)}
    assert "jaaropgave" in keys and "bruto_loon" not in keys


def test_each_question_knows_its_part(tax: dict) -> None:
    """So that a missing answer on the summary can link to the part that asks it."""
    partner = {"partner": Given(True)}
    assert prompt(tax, partner, "partner_naam", "nl").section_index == 0
    assert prompt(tax, {}, "spaargeld", "nl").section_index == 3
    assert section_of(tax, "spaargeld") == 3 and section_of(tax, None) == 0
    assert visible_in_section(tax, {}, 0) == ["partner", "verhuisd"]
    assert visible_in_section(tax, partner, 0) == ["partner", "partner_naam", "verhuisd"]


def test_next_skips_answered_and_hidden_questions(tax: dict) -> None:
    answers = {"partner": Given(False)}
    assert next_key(tax, answers, after="partner") == "verhuisd"
    answers["verhuisd"] = Given(False)
    assert next_key(tax, answers, after="verhuisd") == "inkomstenbron"


def test_back_and_skip(tax: dict) -> None:
    answers = {"partner": Given(True)}
    assert step(tax, answers, "verhuisd", -1) == "partner_naam"
    assert step(tax, answers, "partner", +1) == "partner_naam"
    assert step(tax, answers, "partner", -1) == "partner"  # nothing before the first
    # Skipping leaves the question open; it is still asked for later.
    assert next_key(tax, answers, after="partner_naam") != "partner_naam"
    assert "partner_naam" in missing_required(tax, answers)


def test_not_available_is_an_answer_of_its_own(tax: dict) -> None:
    answers = {"inkomstenbron": Given(["loondienst"]), "jaaropgave": Given(not_available=True)}
    assert "jaaropgave" not in missing_required(tax, answers)
    assert show(tax, "jaaropgave", answers["jaaropgave"], "nl") == "Niet beschikbaar"


@pytest.mark.parametrize(
    "key,raw,stored",
    [
        ("spaargeld", "1.234,56", "1234.56"),
        ("spaargeld", "1234.56", "1234.56"),
        ("spaargeld", "€ 1.234", "1234.00"),
        ("spaargeld", "1,234.56", "1234.56"),
        ("spaargeld", "12,5", "12.50"),
        ("kinderen", "2", "2"),
        ("kinderen", "2,5", "2.5"),
        ("verhuisdatum", "24-11-2026", "2026-11-24"),
        ("verhuisdatum", "2026-11-24", "2026-11-24"),
        ("verhuisdatum", "24/11/2026", "2026-11-24"),
        ("partner", "ja", True),
        ("partner", "Nee", False),
        ("partner", "yes", True),
        ("partner", "no", False),
        ("inkomstenbron", "1, 3", ["loondienst", "pensioen"]),
        ("inkomstenbron", "Pensioen of AOW, loondienst", ["loondienst", "pensioen"]),
        ("inkomstenbron", "Salary from employment", ["loondienst"]),
        ("partner_naam", "  Bert  ", "Bert"),
    ],
)
def test_answers_are_checked_and_converted(tax: dict, key: str, raw: str, stored) -> None:
    assert check(tax, key, raw) == stored


def test_choice_by_number_or_text(notary: dict) -> None:
    assert check(notary, "burgerlijke_staat", "2") == "gehuwd"
    assert check(notary, "burgerlijke_staat", "Registered partner", "en") == "geregistreerd"
    assert check(notary, "aantal_kopers", "samen") == "samen"


@pytest.mark.parametrize(
    "key,raw,nl,en",
    [
        ("spaargeld", "veel", "bedrag in euro", "amount in euros"),
        ("kinderen", "twee", "Vul een getal in", "Enter a number"),
        ("verhuisdatum", "31-02-2026", "dag-maand-jaar", "day-month-year"),
        ("partner", "misschien", "ja of nee", "yes or no"),
        ("inkomstenbron", "7", "nummer van 1 tot 4", "number from 1 to 4"),
        ("partner", "", "antwoord is verplicht", "answer is required"),
        ("jaaropgave", "tekst", "document", "document"),
    ],
)
def test_wrong_answers_get_a_clear_error_in_both_languages(
    tax: dict, key: str, raw: str, nl: str, en: str
) -> None:
    with pytest.raises(ValidationError) as info:
        check(tax, key, raw)
    assert nl.lower() in info.value.translated(gettext_for("nl")).lower()
    assert en.lower() in info.value.translated(gettext_for("en")).lower()


def test_optional_questions_may_stay_empty(tax: dict) -> None:
    assert check(tax, "giften", "") is None


def test_answers_read_back(tax: dict) -> None:
    assert show(tax, "spaargeld", Given("1234.56"), "nl") == "€ 1.234,56"
    assert show(tax, "spaargeld", Given("1234.56"), "en") == "€ 1,234.56"
    assert show(tax, "partner", Given(True), "nl") == "Ja"
    assert show(tax, "verhuisdatum", Given("2026-11-24"), "en") == "24-11-2026"
    assert show(tax, "inkomstenbron", Given(["loondienst"]), "en") == "Salary from employment"


@pytest.mark.parametrize(
    "yaml_text,words",
    [
        ("name: x\nsections: []\n", "at least one section"),
        ("name: Bad Name\nsections: []\n", "not a valid template name"),
        (
            "name: x\ntitle: {nl: a, en: b}\nsections:\n  - title: {nl: a, en: b}\n    questions:\n"
            "      - {key: a, type: colour, label: {nl: a, en: b}}\n",
            "line 6: Question 'a' has type 'colour'",
        ),
        (
            "name: x\ntitle: {nl: a, en: b}\nsections:\n  - title: {nl: a, en: b}\n    questions:\n"
            "      - {key: a, type: text, label: {nl: a}}\n",
            "no text in: en",
        ),
        (
            "name: x\ntitle: {nl: a, en: b}\nsections:\n  - title: {nl: a, en: b}\n    questions:\n"
            "      - {key: a, type: text, label: {nl: a, en: b}}\n"
            "      - {key: a, type: text, label: {nl: a, en: b}}\n",
            "line 7: The question key 'a' is used twice",
        ),
        (
            "name: x\ntitle: {nl: a, en: b}\nsections:\n  - title: {nl: a, en: b}\n    questions:\n"
            "      - {key: a, type: text, label: {nl: a, en: b}, show_if: {question: z, equals: 1}}\n",
            "refers to 'z'",
        ),
        (
            "name: x\ntitle: {nl: a, en: b}\nsections:\n  - title: {nl: a, en: b}\n    questions:\n"
            "      - {key: a, type: choice, label: {nl: a, en: b}, options: [{value: x, label: x}]}\n",
            "at least two options",
        ),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_template_mistakes_are_named_with_line_and_key(yaml_text: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_template(yaml_text)
    assert words in info.value.message
