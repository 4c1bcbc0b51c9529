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
    resume,
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
        ("verhuisdatum", "31-02-2026", "bestaat niet", "does not exist"),
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


# --- optional questions: offered once, then the walk ends ------------------------------------

REQUIRED_ANSWERS = {
    "partner": False,
    "verhuisd": False,
    "inkomstenbron": ["loondienst"],
    "jaaropgave": {"documents": [1], "filenames": ["j.pdf"]},
    "eigen_woning": False,
    "spaargeld": "100.00",
    "beleggingen": False,
    "zorgkosten": False,
    "kinderen": "0",
    "vorige_aanslag": {"documents": [2], "filenames": ["a.pdf"]},
}


def walk(definition: dict, on_optional: str, postpone: tuple[str, ...] = ()) -> list[str]:
    """A chat session through the walker, storing what the services store: each required
    question answered (those in ``postpone`` skipped the first time), each optional one
    skipped ("skip") or sent back empty ("empty"); the keys asked, in order, until the end."""
    answers: dict[str, Given] = {}
    asked: list[str] = []
    position = next_key(definition, {})
    for _ in range(100):
        key = resume(definition, answers, position)
        if key is None:
            return asked
        asked.append(key)
        if key in postpone and asked.count(key) == 1:
            position = step(definition, answers, key, +1)
        elif key in REQUIRED_ANSWERS:
            answers[key] = Given(REQUIRED_ANSWERS[key])
            position = next_key(definition, answers, after=key)
        elif on_optional == "skip":
            answers[key] = Given(skipped=True)
            position = step(definition, answers, key, +1)
        else:
            answers[key] = Given(check(definition, key, ""), skipped=True)
            position = next_key(definition, answers, after=key)
    raise AssertionError(f"the walk never ends: {asked[-12:]}")


OPTIONAL = ["bruto_loon", "giften", "toeslagen", "opmerkingen"]


@pytest.mark.parametrize("on_optional", ["skip", "empty"])
@pytest.mark.parametrize("postpone", [(), ("vorige_aanslag",), ("partner", "spaargeld")])
def test_optional_questions_left_open_are_offered_once_and_the_walk_ends(
    tax: dict, on_optional: str, postpone: tuple[str, ...]
) -> None:
    asked = walk(tax, on_optional, postpone)
    assert [k for k in asked if k in OPTIONAL] == OPTIONAL  # each once, in order
    assert sorted(asked) == sorted([*REQUIRED_ANSWERS, *OPTIONAL, *postpone])
    assert asked[len(asked) - len(postpone) :] == list(postpone)  # asked again at the end


def test_skipping_the_last_question_ends_the_walk_or_goes_to_what_is_still_to_ask(
    tax: dict,
) -> None:
    done = {key: Given(value) for key, value in REQUIRED_ANSWERS.items()}
    done |= {key: Given(skipped=True) for key in OPTIONAL}
    assert step(tax, done, "opmerkingen", +1) is None
    assert resume(tax, done, None) is None  # the end: submit now
    assert step(tax, done, None, -1) == "opmerkingen"  # back from the end
    assert step(tax, done, None, +1) is None
    assert missing_required(tax, done) == []
    open_ = {k: v for k, v in done.items() if k != "spaargeld"}
    assert step(tax, open_, "opmerkingen", +1) == "spaargeld"
    assert resume(tax, open_, None) == "spaargeld"
    assert next_key(tax, open_, after="spaargeld") == "spaargeld"  # required: asked until done
    # A passed optional question is not asked again; one never offered is, once.
    unseen = {k: v for k, v in done.items() if k != "giften"}
    assert next_key(tax, unseen, after="opmerkingen") == "giften"
    # Skipped is no answer: a required question stays open, an optional one stays empty.
    assert next_key(tax, done | {"spaargeld": Given(skipped=True)}) == "spaargeld"
    assert show(tax, "giften", Given(skipped=True), "nl") == "—"


def test_a_position_that_no_longer_applies_goes_on_after_its_place(tax: dict) -> None:
    answers = {"partner": Given(False)}  # partner_naam, where the walk stood, is now hidden
    assert resume(tax, answers, "partner_naam") == "verhuisd"
    assert resume(tax, answers, "partner") == "partner"


# --- conditions follow the chain --------------------------------------------------------------

CAR = """
name: auto
title: {nl: Auto, en: Car}
sections:
  - title: {nl: Auto, en: Car}
    questions:
      - {key: heeft_auto, type: yesno, label: {nl: a, en: a}}
      - key: soort
        type: choice
        label: {nl: b, en: b}
        options:
          - {value: benzine, label: {nl: Benzine, en: Petrol}}
          - {value: elektrisch, label: {nl: Elektrisch, en: Electric}}
        show_if: {question: heeft_auto, equals: true}
      - key: laadpaal
        type: yesno
        label: {nl: c, en: c}
        show_if: {question: soort, in: [elektrisch]}
      - key: laadpaal_kosten
        type: amount
        label: {nl: d, en: d}
        show_if: {question: laadpaal, equals: true}
"""


def test_a_question_hangs_on_the_one_it_looks_at_even_down_a_chain() -> None:
    car = parse_template(CAR)
    answers = {
        "heeft_auto": Given(True),
        "soort": Given("elektrisch"),
        "laadpaal": Given(True),
    }
    keys = [q["key"] for q in visible(car, answers)]
    assert keys == ["heeft_auto", "soort", "laadpaal", "laadpaal_kosten"]
    assert missing_required(car, answers) == ["laadpaal_kosten"]
    answers["heeft_auto"] = Given(False)  # the earlier answers stay stored, but do not count
    assert [q["key"] for q in visible(car, answers)] == ["heeft_auto"]
    assert missing_required(car, answers) == []
    assert visible_in_section(car, answers, 0) == ["heeft_auto"]
    assert next_key(car, answers, after="heeft_auto") is None


def test_a_stored_definition_with_a_bare_in_value_still_walks() -> None:
    """Imported before show_if was checked on import: assigning must not crash."""
    car = parse_template(CAR)
    car["sections"][0]["questions"][2]["show_if"] = {"question": "soort", "in": "elektrisch"}
    assert next_key(car, {}) == "heeft_auto"
    answers = {"heeft_auto": Given(True), "soort": Given("elektrisch")}
    assert "laadpaal" in [q["key"] for q in visible(car, answers)]
    assert "laadpaal" not in [q["key"] for q in visible(car, {"heeft_auto": Given(True)})]


def _with_condition(condition: str, extra: str = "") -> str:
    return CAR.replace("show_if: {question: soort, in: [elektrisch]}", condition) + extra


@pytest.mark.parametrize(
    "yaml_text,words",
    [
        (
            _with_condition("show_if: {question: soort, in: elektrisch}"),
            "show_if of 'laadpaal': 'in' needs a list of options of 'soort'",
        ),
        (
            _with_condition("show_if: {question: soort, in: []}"),
            "'in' needs a list of options",
        ),
        (
            _with_condition("show_if: {question: soort, in: [elektrisch, diesel]}"),
            "show_if of 'laadpaal': 'diesel' is not an option of 'soort' (benzine, elektrisch)",
        ),
        (
            _with_condition("show_if: {question: soort, equals: Elektrisch}"),
            "'Elektrisch' is not an option of 'soort'",
        ),
        (
            _with_condition("show_if: {question: soort, not_equals: hybride}"),
            "'hybride' is not an option of 'soort'",
        ),
        (
            _with_condition("show_if: {question: heeft_auto, equals: ja}"),
            "show_if of 'laadpaal': 'heeft_auto' is a yes/no question, so compare with true",
        ),
        (
            _with_condition("show_if: {question: laadpaal, equals: true}"),
            "refers to 'laadpaal', which is not an earlier question",
        ),
        (
            _with_condition(
                "show_if: {question: heeft_auto, in: [true]}",
                "      - key: merken\n        type: multichoice\n        label: {nl: e, en: e}\n"
                "        options: [{value: a, label: A}, {value: b, label: B}]\n"
                "      - key: na_merk\n        type: text\n        label: {nl: f, en: f}\n"
                "        show_if: {question: merken, equals: a}\n",
            ),
            "show_if of 'na_merk' looks at the multiple-choice question 'merken': use in",
        ),
        (
            _with_condition(
                "show_if: {question: heeft_auto, in: [true]}",
                "      - key: naam\n        type: text\n        label: {nl: e, en: e}\n"
                "      - key: na_naam\n        type: text\n        label: {nl: f, en: f}\n"
                "        show_if: {question: naam, equals: Bert}\n",
            ),
            "show_if of 'na_naam' looks at 'naam', a text question",
        ),
    ],
)
def test_conditions_that_could_never_come_true_are_refused_on_import(
    yaml_text: str, words: str
) -> None:
    with pytest.raises(ValidationError) as info:
        parse_template(yaml_text)
    assert words in info.value.message
    assert info.value.message.startswith("line ")


def test_conditions_are_stored_as_the_answers_are() -> None:
    text = CAR.replace("{value: benzine,", "{value: 1,").replace(
        "show_if: {question: soort, in: [elektrisch]}",
        "show_if: {question: soort, in: [1, elektrisch, 1]}",
    )
    car = parse_template(text)
    assert car["sections"][0]["questions"][2]["show_if"] == {
        "question": "soort",
        "in": ["1", "elektrisch"],
    }


# --- each type its own message; numbers have a minimum -------------------------------------


@pytest.mark.parametrize(
    "key,raw,nl,en",
    [
        ("burgerlijke_staat", "²", "'²' is geen van de keuzes", "'²' is not one of the choices"),
        ("aantal_kopers", "٣", "is geen van de keuzes", "is not one of the choices"),
        ("gewenste_datum", "12-03-55", "jaar met vier cijfers", "year with four digits"),
        ("gewenste_datum", "1/7/26", "jaar met vier cijfers", "year with four digits"),
        ("koopsom", "²", "bedrag in euro", "amount in euros"),
        ("hypotheek", "²", "ja of nee", "yes or no"),
    ],
)
def test_each_type_of_question_says_what_it_wants(
    notary: dict, key: str, raw: str, nl: str, en: str
) -> None:
    with pytest.raises(ValidationError) as info:
        check(notary, key, raw)
    assert nl.lower() in info.value.translated(gettext_for("nl")).lower()
    assert en.lower() in info.value.translated(gettext_for("en")).lower()
    assert "datum" not in info.value.translated(gettext_for("nl")) or key == "gewenste_datum"


@pytest.mark.parametrize("raw", [",", " ; ", ",,\n"])
def test_separators_alone_are_no_answer_to_multiple_choice(tax: dict, raw: str) -> None:
    with pytest.raises(ValidationError) as info:
        check(tax, "inkomstenbron", raw)
    assert "verplicht" in info.value.translated(gettext_for("nl"))
    assert check(tax, "toeslagen", raw) is None  # optional: left empty


def test_a_count_is_not_negative_unless_the_template_allows_it(tax: dict) -> None:
    with pytest.raises(ValidationError) as info:
        check(tax, "kinderen", "-3")
    assert info.value.translated(gettext_for("nl")) == "Vul een getal in van minstens 0."
    assert info.value.translated(gettext_for("en")) == "Enter a number of at least 0."
    assert check(tax, "kinderen", "0") == check(tax, "kinderen", "-0") == "0"
    assert check(tax, "spaargeld", "-250") == "-250.00"  # an amount may be negative

    def number(extra: str) -> dict:
        return parse_template(
            "name: x\ntitle: {nl: a, en: b}\nsections:\n  - title: {nl: a, en: b}\n"
            "    questions:\n      - {key: n, type: number, label: {nl: a, en: b}" + extra + "}\n"
            "      - {key: a, type: amount, label: {nl: a, en: b}, min: 0}\n"
        )

    assert check(number(", min: -10"), "n", "-3") == "-3"
    assert check(number(", min: null"), "n", "-300") == "-300"
    with pytest.raises(ValidationError) as info:
        check(number(", min: 1.5"), "n", "1")
    assert info.value.message == "Enter a number of at least 1.5."
    with pytest.raises(ValidationError) as info:
        check(number(""), "a", "-1")
    assert info.value.translated(gettext_for("nl")) == "Vul een bedrag in van minstens € 0."


@pytest.mark.parametrize(
    "question,words",
    [
        ("{key: n, type: text, label: {nl: a, en: b}, min: 0}", "Only number and amount"),
        ("{key: n, type: number, label: {nl: a, en: b}, min: nul}", "min of 'n' must be a number"),
        ("{key: n, type: number, label: {nl: a, en: b}, min: .nan}", "min of 'n' must be a number"),
    ],
)
def test_a_wrong_minimum_is_refused_on_import(question: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_template(
            "name: x\ntitle: {nl: a, en: b}\nsections:\n  - title: {nl: a, en: b}\n"
            "    questions:\n      - " + question + "\n"
        )
    assert words in info.value.message
