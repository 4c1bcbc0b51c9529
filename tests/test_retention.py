"""``loket retention run``: with a controlled clock, the documents, messages and mail records of
a dossier quiet in a status longer than the firm keeps it go, with their stored files unless
another record shares them; what is newer, and dossiers in other statuses, stay; the audit
trail records what went."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core import storekeeping
from core.db import Database
from core.models import (
    AuditEvent,
    Channel,
    Direction,
    Document,
    DocumentCategory,
    Dossier,
    DossierStatus,
    InboundMail,
    Message,
)
from core.services import retention
from core.storage import LocalFileStore

from .cli_in_process import loket_with_dossier
from .conftest import SYSTEM, Firm

NOW = dt.datetime(2034, 6, 1, 12, 0, tzinfo=dt.UTC)
OLD = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)  # over 8 years before NOW
RECENT = dt.datetime(2034, 5, 1, 9, 0, tzinfo=dt.UTC)


async def add_document(
    s, store, dossier_id: int, content: bytes, at: dt.datetime, **kw
) -> Document:
    stored = await store.put_bytes(content)
    document = Document(
        dossier_id=dossier_id,
        category=kw.pop("category", DocumentCategory.DELIVERED),
        filename=kw.pop("filename", "stuk.pdf"),
        content_type="application/pdf",
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        source_channel=Channel.EMAIL,
        created_at=at,
        **kw,
    )
    s.add(document)
    await s.flush()
    return document


def age_all(store: LocalFileStore) -> None:
    then = time.time() - 3 * 24 * 3600
    for path in (store.root / "objects").rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


async def test_retention_removes_what_is_past_it_and_keeps_the_rest(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    shared = b"%PDF dezelfde jaaropgave"
    async with db.begin() as s:
        old_message = Message(
            dossier_id=firm.alice_1.id,
            author_id=firm.alice.id,
            direction=Direction.INCOMING,
            subject="Stukken",
            body="Hierbij.",
            channel=Channel.EMAIL,
            created_at=OLD,
        )
        new_message = Message(
            dossier_id=firm.alice_1.id,
            direction=Direction.OUTGOING,
            subject="Nog een vraag",
            body="Na de afsluiting.",
            channel=Channel.WEB,
            created_at=RECENT,
        )
        s.add_all([old_message, new_message])
        await s.flush()
        attachment = await add_document(
            s, store, firm.alice_1.id, b"%PDF paspoort", OLD, message_id=old_message.id
        )
        old_shared = await add_document(s, store, firm.alice_1.id, shared, OLD)
        new_document = await add_document(s, store, firm.alice_1.id, b"%PDF nieuw", RECENT)
        elsewhere = await add_document(s, store, firm.alice_2.id, shared, OLD)
        raw = await store.put_bytes(b"From: alice@example.nl\r\n\r\nHierbij.")
        mail = InboundMail(
            sha256=raw.sha256,
            outcome="stored",
            raw_storage_key=raw.key,
            dossier_id=firm.alice_1.id,
            message_id=old_message.id,
            received_at=OLD,
        )
        s.add(mail)
        await s.flush()
        ids = (old_message.id, new_message.id, attachment.id, old_shared.id, mail.id)
        # Both completed; the second was still active last month, so all of it stays.
        for dossier, last in ((firm.alice_1, OLD), (firm.alice_2, RECENT)):
            await s.execute(
                update(Dossier)
                .where(Dossier.id == dossier.id)
                .values(status=DossierStatus.COMPLETED, updated_at=last)
            )
    age_all(store)
    old_message_id, new_message_id, attachment_id, old_shared_id, mail_id = ids
    policy = retention.parse_policy("completed=7y, archived=10y")

    # A dry run says what would go, and removes nothing.
    async with db.read() as s:
        [would] = await retention.due(s, SYSTEM, policy, NOW)
    assert (would.number, would.status, would.kept_for) == ("2026-0001", "completed", "7y")
    assert (would.documents, would.messages, would.mails) == (
        [attachment_id, old_shared_id],
        [old_message_id],
        [mail_id],
    )
    # Seven years after the last activity, to the day, it is not yet due.
    async with db.read() as s:
        assert await retention.due(s, SYSTEM, policy, OLD.replace(year=2033)) == []

    async with db.begin() as s:
        [done] = await retention.run(s, SYSTEM, policy, NOW)
    released = await storekeeping.remove_released(
        db, store, done.keys, grace=dt.timedelta(hours=24)
    )
    assert (released.removed, released.shared, released.recent) == (2, 1, 0)

    async with db.read() as s:
        documents = set(await s.scalars(select(Document.id)))
        messages = set(await s.scalars(select(Message.id)))
        assert documents == {new_document.id, elsewhere.id}
        assert messages == {new_message_id}
        assert await s.get(InboundMail, mail_id) is None
        assert await s.get(Dossier, firm.alice_1.id) is not None  # the dossier itself stays
        event = await s.scalar(select(AuditEvent).where(AuditEvent.action == "retention.removed"))
    assert event.dossier_id == firm.alice_1.id
    assert event.details == {
        "status": "completed",
        "kept_for": "7y",
        "documents": [attachment_id, old_shared_id],
        "messages": [old_message_id],
        "mails": [mail_id],
    }
    assert not await store.exists(hashlib.sha256(b"%PDF paspoort").hexdigest())
    assert not await store.exists(raw.key)
    assert await store.exists(hashlib.sha256(shared).hexdigest())  # the other dossier's
    assert await store.exists(new_document.storage_key)


def test_the_retention_setting_and_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main = loket_with_dossier(tmp_path, monkeypatch)
    capsys.readouterr()
    assert main(["retention", "run"]) == 0
    assert "No retention is set" in capsys.readouterr().out
    monkeypatch.setenv("LOKET_RETENTION", "closed=7y")
    assert main(["retention", "run"]) == 1
    assert "'closed' is not a dossier status" in capsys.readouterr().err
    monkeypatch.setenv("LOKET_RETENTION", "completed=7y")
    assert main(["retention", "run", "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["policy"], out["dossiers"], out["dry_run"]) == ({"completed": "7y"}, [], True)


def test_periods_count_calendar_years_and_months() -> None:
    leap = dt.datetime(2028, 2, 29, tzinfo=dt.UTC)
    assert retention.Period(1, "y").before(leap) == dt.datetime(2027, 2, 28, tzinfo=dt.UTC)
    assert retention.Period(3, "m").before(leap) == dt.datetime(2027, 11, 29, tzinfo=dt.UTC)
    assert retention.Period(10, "d").before(leap) == dt.datetime(2028, 2, 19, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="STATUS=PERIOD"):
        retention.parse_policy("completed=7 jaar")
