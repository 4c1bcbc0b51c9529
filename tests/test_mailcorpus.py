"""The project's own corpus of 40 real-world-shaped replies (tests/mailcorpus, written by
build.py): Outlook, Gmail, Apple Mail, Thunderbird and phones, in Dutch and English, replied
and forwarded, with and without HTML. Each must land in the right dossier, from the right
account, with the reply text alone and its attachments."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core import replytokens
from core.db import Database
from core.models import Message, OutboxItem
from core.replytokens import ReplyTarget
from core.storage import LocalFileStore
from mailbridge.pipeline import Pipeline

from .conftest import Firm, mail_settings
from .mails import AUTHSERV, passed

HERE = Path(__file__).parent / "mailcorpus"
CASES = json.loads((HERE / "expected.json").read_text())
PLACEHOLDER = re.compile(rb"\{\{reply:(\w+):([\w-]+)\}\};?")


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
async def test_corpus_mail(
    db: Database, firm: Firm, store: LocalFileStore, tmp_path, case, mail_reader
) -> None:
    settings = mail_settings(
        tmp_path, reply_address="reply+{token}@kantoor.example", mail_authserv_id=AUTHSERV
    )
    accounts = {"alice": firm.alice, "bakkerij": firm.bv_main, "boekhouding": firm.bv_extra}
    dossiers = {d.number: d for d in (firm.alice_1, firm.bv_1)}

    def signed(match: re.Match[bytes]) -> bytes:
        account = accounts[match.group(1).decode()]
        dossier = dossiers[match.group(2).decode()]
        token = replytokens.make(settings.secret_key, ReplyTarget("a", account.id, dossier.id))
        return replytokens.address(settings.reply_address, token).encode()

    raw = PLACEHOLDER.sub(signed, (HERE / case["file"]).read_bytes())
    # As the firm's receiving server hands it over: these senders' providers sign their mail.
    raw = f"Authentication-Results: {passed(case['sender'])}\n".encode() + raw
    author = accounts[case["author"]]
    dossier = dossiers[case["dossier"]]
    if case["match"] == "thread":
        async with db.begin() as s:  # the notification this mail answers
            s.add(
                OutboxItem(
                    channel="email",
                    kind="new_message",
                    recipient=case["sender"],
                    account_id=author.id,
                    dossier_id=dossier.id,
                    payload={},
                    idempotency_key=f"corpus:{case['file']}",
                    email_message_id=case["thread_message_id"],
                )
            )

    result = await Pipeline(db, store, settings, reader=mail_reader).handle(raw)
    assert (result.outcome, result.reason) == ("stored", None)
    async with db.read() as s:
        message = await s.scalar(
            select(Message)
            .where(Message.id == result.message_id)
            .options(selectinload(Message.attachments))
        )
    assert message.dossier_id == dossier.id
    assert message.author_id == author.id
    assert norm(message.body) == norm(case["reply"])
    assert sorted(d.filename for d in message.attachments) == case["attachments"]
