"""A line break (or another control character) in a subject or a name is refused in every
channel, with an error that says which field, and nothing is stored: once stored, it went
into the header of the notification mail, whose composing then failed. A client's mail
whose subject holds one (folded, or encoded in the header) is still filed, with the subject
made one clean line."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.errors import ValidationError
from core.models import Account, Client, Dossier, DossierStep, IntermediaryOffice, Message
from core.services import accounts, clients, dossiers, messages
from core.storage import LocalFileStore
from mailbridge.compose import compose
from mailbridge.pipeline import Pipeline

from .cli_in_process import loket_with_dossier
from .conftest import PASSWORD, SYSTEM, Firm, mail_settings, set_password
from .mails import AUTHSERV, reply_mail
from .webclient import Browser

BROKEN = [
    "Vraag\r\nBcc: iedereen@example.nl",
    "Vraag\nover de aangifte",
    "Vraag\rover",
    "Vraag\x00",
    "Vraag\x1b[31m",
    "Vraag\u2028over",
    "Vraag \u202egnitfel",  # a bidi override
    "Vraag\udcff",  # a byte that was not text (a command line in another encoding)
]


async def count(db: Database, model) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("value", BROKEN)
async def test_every_service_refuses_a_subject_or_name_that_is_not_one_line(
    db: Database, firm: Firm, store: LocalFileStore, value: str
) -> None:
    staff = firm.actor(firm.staff)
    before = {m: await count(db, m) for m in (Message, Client, Account, Dossier, DossierStep)}
    attempts = {
        "subject": lambda s: messages.send_message(
            s, store, staff, number="2026-0001", subject=value, body="Tekst"
        ),
        "name": lambda s: clients.create_client(
            s, SYSTEM, name=value, email="nieuw@example.nl", username="nieuw"
        ),
        "intermediary": lambda s: clients.create_intermediary(
            s, SYSTEM, name=value, email="kantoor@example.nl", username="kantoor"
        ),
        "staff": lambda s: accounts.create_staff(
            s, staff, username="piet", email="piet@firm.example", name=value
        ),
        "description": lambda s: dossiers.create_dossier(
            s, staff, number="2026-0999", description=value, client_id=firm.alice.client_id
        ),
        "number": lambda s: dossiers.create_dossier(
            s, staff, number=value, description="d", client_id=firm.alice.client_id
        ),
        "title": lambda s: dossiers.add_step(s, staff, "2026-0001", value),
    }
    for what, attempt in attempts.items():
        with pytest.raises(ValidationError) as refused:
            async with db.begin() as s:
                await attempt(s)
        assert "control characters" in str(refused.value), what
    assert {m: await count(db, m) for m in before} == before
    assert await count(db, IntermediaryOffice) == 2


async def test_a_company_account_name_is_refused(db: Database, firm: Firm) -> None:
    from core.services import profile

    with pytest.raises(ValidationError) as refused:
        async with db.begin() as s:
            await profile.add_company_account(
                s, firm.actor(firm.bv_main), name="Piet\r\nBcc: x", email="piet@bakkerij.example"
            )
    assert refused.value.field == "name"
    assert await count(db, Account) == 7


async def test_a_message_body_keeps_its_lines_but_not_other_controls(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    async with db.begin() as s:
        sent = await messages.send_message(
            s,
            store,
            firm.actor(firm.alice),
            number="2026-0001",
            subject="Stukken",
            body="Beste Sanne,\r\n\r\n\tHierbij de stukken.\nGroet",
        )
    assert sent.body == "Beste Sanne,\r\n\r\n\tHierbij de stukken.\nGroet"
    with pytest.raises(ValidationError, match="control characters"):
        async with db.begin() as s:
            await messages.send_message(
                s, store, firm.actor(firm.alice), number="2026-0001", subject="S", body="a\x00b"
            )


async def test_the_web_form_refuses_a_subject_with_a_line_break(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    response = await browser.post_multipart(
        "/dossiers/2026-0001/messages",
        [("subject", "Vraag\r\nBcc: iedereen@example.nl"), ("body", "Tekst")],
        [("files", "scan.pdf", b"%PDF scan", "application/pdf")],
    )
    assert response.status == 400
    assert "Het onderwerp mag geen regeleinden of andere stuurtekens bevatten" in (
        browser.last_html
    )
    assert await count(db, Message) == 0


def test_the_command_line_refuses_a_subject_with_a_line_break(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main = loket_with_dossier(tmp_path, monkeypatch)
    capsys.readouterr()
    code = main(
        ["message", "send", "--dossier", "D1", "--subject", "Vraag\r\nBcc: x", "--body", "b"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert (
        err.startswith("loket: The subject may not contain line breaks") and "Traceback" not in err
    )
    code = main(["client", "add", "--name", "Bob\nBcc: x", "--email", "bob@example.nl"])
    assert code == 1 and "The name may not contain" in capsys.readouterr().err
    assert main(["dossier", "show", "D1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["messages"] == []
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "loket.sqlite3")) as conn:
        assert conn.execute("SELECT name FROM clients").fetchall() == [("Alice",)]


@pytest.mark.parametrize(
    "header",
    [
        # Encoded: the decoded subject holds CR LF.
        b"Subject: =?utf-8?q?Re=3A_=5B2026-0001=5D_Stukken=0D=0ABcc=3A_x?=",
        # Folded over two lines, and a tab.
        b"Subject: Re: [2026-0001]\r\n\tStukken\r\n Bcc: x",
        b"Subject: =?utf-8?b?" + __import__("base64").b64encode(b"[2026-0001] A\nB\x0bC") + b"?=",
    ],
)
async def test_a_clients_mail_with_a_broken_subject_is_filed_with_a_clean_one(
    db: Database, firm: Firm, store: LocalFileStore, tmp_path: Path, header: bytes
) -> None:
    # Matched by the dossier number in the subject: trusted with our own server's DMARC pass.
    settings = mail_settings(
        tmp_path, reply_address="reply+{token}@kantoor.example", mail_authserv_id=AUTHSERV
    )
    raw = reply_mail(sender="alice@example.nl", to="portaal@kantoor.example", subject="X")
    raw = raw.replace(b"Subject: X", header)
    result = await Pipeline(db, store, settings).handle(raw)
    assert result.outcome == "stored", result.reason
    async with db.read() as s:
        message = await s.get(Message, result.message_id)
        from core.models import OutboxItem

        told = list(await s.scalars(select(OutboxItem)))
    assert message.subject.isprintable() and "  " not in message.subject
    assert "[2026-0001]" in message.subject
    # The staff's notification, which failed on this subject, is composed.
    assert told and all(compose(item, settings)["Subject"] for item in told)


def test_one_line() -> None:
    from core.validation import one_line

    assert one_line("  a\r\n\tb \u2028 c\x00d\u202e ") == "a b c d"
