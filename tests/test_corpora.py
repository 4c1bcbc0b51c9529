"""Quote stripping and bounce detection measured on the public corpora in ../shared/corpora:
the share of cases whose result matches the corpus's own expectation (replies at 97% or
better, bounces at 90%), with the Dutch cases named separately. The shares are printed in
the test report."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from mailbridge.htmltext import html_to_text
from mailbridge.parse import parse
from mailbridge.pipeline import delivery_failures
from mailbridge.quotes import split_reply

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
REPORT: dict[str, tuple[int, int]] = {}
TARGET = 0.97
BOUNCE_TARGET = 0.9


def corpora_folder(folder: Path, *, ci: bool) -> Path:
    """The corpora, whenever they are beside the clone. Without them a developer's run skips
    the measurements; CI, which must measure, fails."""
    if folder.is_dir():
        return folder
    if ci:
        pytest.fail(f"CI is set, but the corpora are not at {folder}", pytrace=False)
    pytest.skip(f"the corpora are not at {folder}")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def corpora() -> Path:
    return corpora_folder(CORPORA, ci=in_ci())


def outcome(folder: Path, *, ci: bool) -> BaseException | Path:
    # Caught here, not with pytest.raises: a skip that should have been a failure must fail
    # this test, not skip it.
    try:
        return corpora_folder(folder, ci=ci)
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        return exc


def test_without_the_corpora_a_developer_skips_and_ci_fails(tmp_path: Path) -> None:
    missing = tmp_path / "corpora"
    skipped, failed = outcome(missing, ci=False), outcome(missing, ci=True)
    assert isinstance(skipped, pytest.skip.Exception) and "not at" in str(skipped)
    assert isinstance(failed, pytest.fail.Exception) and "CI is set" in str(failed)
    missing.mkdir()
    assert corpora_folder(missing, ci=False) == corpora_folder(missing, ci=True) == missing


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def share(name: str, results: list[bool]) -> float:
    REPORT[name] = (sum(results), len(results))
    assert results, f"no cases found for {name}"
    return sum(results) / len(results)


# Where the bridge differs from email_reply_trimmer on purpose: it keeps a forwarded mail
# (the client sends it to us), and only the quoted paragraph right above an answer given
# between quoted lines.
# The trimmer's own rules are measured with those choices turned off; the bridge's own
# rules are measured on tests/mailcorpus and in tests/test_mail_programs.py.
BY_DESIGN = {
    "forwarded_apple.txt": "a forwarded mail is kept",
    "forwarded_gmail.txt": "a forwarded mail is kept",
    "forwarded_message.txt": "a forwarded mail is kept",
    "embedded_email_7.txt": "only the quoted paragraph above an answer is kept",
    "embedded_email_16.txt": "only the quoted paragraph above an answer is kept",
    "embedded_email_17.txt": "only the quoted paragraph above an answer is kept",
}


def test_email_reply_trimmer_corpus(corpora: Path) -> None:
    base = corpora / "email_reply_trimmer" / "test"
    results, as_filed, dutch, misses, differ = [], [], [], [], []
    for mail in sorted((base / "emails").glob("*.txt")):
        expected = norm((base / "trimmed" / mail.name).read_text(errors="replace"))
        text = mail.read_text(errors="replace")
        filed, _ = split_reply(text)
        got, _ = split_reply(text, keep_forwards=False, quote_context=False)
        ok = norm(got) == expected
        results.append(ok)
        as_filed.append(norm(filed) == expected)
        if "dutch" in mail.name:
            dutch.append(ok and as_filed[-1])
        if not ok:
            misses.append(mail.name)
        if not as_filed[-1]:
            differ.append(mail.name)
    assert share("email_reply_trimmer", results) >= TARGET, misses
    share("email_reply_trimmer (as the bridge files it)", as_filed)
    assert set(differ) <= set(BY_DESIGN), set(differ) - set(BY_DESIGN)
    assert share("email_reply_trimmer (Dutch)", dutch) == 1.0


def test_talon_standard_replies(corpora: Path) -> None:
    base = corpora / "talon" / "tests" / "fixtures" / "standard_replies"
    results = []
    for eml in sorted(base.glob("*.eml")):
        expected_file = base / f"{eml.stem}_reply_text"
        expected = expected_file.read_text() if expected_file.exists() else "Hello"
        mail = parse(eml.read_bytes())
        # talon cuts quotes only; compare like with like.
        got, _ = split_reply(mail.body_text, strip_signature=False)
        results.append(norm(got) == norm(expected))
    assert share("talon standard replies", results) >= TARGET


def test_talon_html_replies(corpora: Path) -> None:
    base = corpora / "talon" / "tests" / "fixtures" / "html_replies"
    expected = "Hi. I am fine. Thanks, Alex".replace(" ", "")
    results = [
        norm(split_reply(html_to_text(f.read_text(errors="replace")))[0]).replace(" ", "")
        == expected
        for f in sorted(base.glob("*.html"))
    ]
    assert share("talon html replies", results) >= TARGET


TALON_DUTCH = [
    # The Dutch cases inline in talon's text_quotations_test.py.
    "Op 13-02-2014 3:18 schreef Julius Caesar <pantheon@rome.com>:",
    "Op 17-feb.-2015, om 13:18 heeft Julius Caesar <pantheon@rome.com> het volgende geschreven:",
]


@pytest.mark.parametrize("header", TALON_DUTCH)
def test_talon_dutch_reply_headers(header: str) -> None:
    mail = f"Hallo, hier het antwoord.\n\n{header}\n\n> Dit was de vraag.\n> Groet\n"
    assert split_reply(mail)[0] == "Hallo, hier het antwoord."


def test_flufl_bounce_permanent_failures(corpora: Path) -> None:
    base = corpora / "flufl-bounce"
    results = []
    for case in json.loads((base / "expected.json").read_text()):
        if case.get("temporary_failure") or not case.get("expected_addresses"):
            continue
        _, permanent = delivery_failures(parse((base / case["file"]).read_bytes()))
        found = {a.decode(errors="replace").lower() for a in permanent}
        results.append({a.lower() for a in case["expected_addresses"]} <= found)
    assert share("flufl-bounce permanent failures", results) >= BOUNCE_TARGET
