"""The outbox worker against a real SMTP server (aiosmtpd) and real databases: a temporary
failure waits twice as long each time, up to six hours; an item older than its lifetime fails
instead of waiting again; an item whose worker died mid-send goes out again with the same
Message-ID. Time passes by moving the item's own timestamps in the database, not by sleeping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import update

from core import outbox
from core.db import Database
from core.models import OutboxItem, OutboxStatus, utcnow
from mailbridge import smtp as smtp_module
from mailbridge.smtp import SmtpSender

from .conftest import SmtpServer, mail_settings

TRY_LATER = "451 4.3.0 try again later"
MINUTE = dt.timedelta(minutes=1)


async def queue(
    db: Database, n: int = 1, recipient: str | None = None, **fields: object
) -> list[int]:
    """``n`` plain notification mails, due now; their ids in queue order."""
    async with db.begin() as s:
        items = [
            OutboxItem(
                channel="email",
                kind="new_document",
                recipient=recipient or f"klant{i}@example.nl",
                payload={"dossier_number": "2026-0001", "filename": f"stuk {i}.pdf"},
                idempotency_key=f"test:{recipient}:{i}",
                **fields,
            )
            for i in range(n)
        ]
        s.add_all(items)
        await s.flush()
        return [item.id for item in items]


async def load(db: Database, item_id: int) -> OutboxItem:
    async with db.read() as s:
        return await s.get(OutboxItem, item_id)


async def change(db: Database, item_id: int, **values: object) -> None:
    async with db.begin() as s:
        await s.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(**values))


async def pass_by(db: Database, sender: SmtpSender, settings) -> outbox.PassResult:
    """One pass with a sender the test keeps (and its connection) from pass to pass."""
    return await outbox.run_once(db, {"email": sender}, settings)


async def send_pass(db: Database, settings) -> tuple[outbox.PassResult, dt.datetime, dt.datetime]:
    """One pass, with the clock read just before and just after it."""
    before = utcnow()
    result = await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)
    return result, before, utcnow()


async def test_a_temporary_failure_waits_twice_as_long_each_time(
    db: Database, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port)
    [item_id] = await queue(db)
    smtp.catcher.refuse_with = TRY_LATER
    for attempt, wait in enumerate([1, 2, 4, 8, 16], start=1):
        result, before, after = await send_pass(db, settings)
        assert (result.sent, result.retrying, result.failed) == (0, 1, 0)
        item = await load(db, item_id)
        assert item.status is OutboxStatus.PENDING and item.attempts == attempt
        assert "451" in item.last_error
        assert before + wait * MINUTE <= item.next_try_at <= after + wait * MINUTE
        # Not due yet: a pass now leaves it alone.
        assert (await send_pass(db, settings))[0].retrying == 0
        await change(db, item_id, next_try_at=utcnow())  # the wait is over
    smtp.catcher.refuse_with = None
    assert (await send_pass(db, settings))[0].sent == 1
    assert [m["To"] for m in smtp.messages] == ["klant0@example.nl"]


@pytest.mark.parametrize(
    ("attempts_before", "wait"),
    [
        (8, dt.timedelta(minutes=256)),  # the ninth try: 2⁸ minutes, still under the cap
        (9, dt.timedelta(hours=6)),  # 2⁹ minutes would be more than six hours
        (200, dt.timedelta(hours=6)),  # a long lifetime: still six hours, no overflow
    ],
)
async def test_the_wait_between_tries_is_capped_at_six_hours(
    db: Database, smtp: SmtpServer, tmp_path: Path, attempts_before: int, wait: dt.timedelta
) -> None:
    settings = mail_settings(tmp_path, smtp.port, outbox_lifetime_hours=24 * 365)
    [item_id] = await queue(db, attempts=attempts_before)
    smtp.catcher.refuse_with = TRY_LATER
    result, before, after = await send_pass(db, settings)
    assert (result.retrying, result.failed) == (1, 0)
    item = await load(db, item_id)
    assert item.status is OutboxStatus.PENDING and item.attempts == attempts_before + 1
    assert before + wait <= item.next_try_at <= after + wait


@pytest.mark.parametrize("trouble", ["451 answer", "server away"])
async def test_an_item_past_its_lifetime_fails_instead_of_waiting_again(
    db: Database, smtp: SmtpServer, tmp_path: Path, trouble: str
) -> None:
    settings = mail_settings(tmp_path, smtp.port, outbox_lifetime_hours=48)
    lifetime = dt.timedelta(hours=48)
    old, young = await queue(db, 2)
    await change(db, old, created_at=utcnow() - lifetime - MINUTE)
    await change(db, young, created_at=utcnow() - lifetime + 10 * MINUTE)
    if trouble == "451 answer":
        smtp.catcher.refuse_with = TRY_LATER
    else:
        smtp.stop()
    result, _, _ = await send_pass(db, settings)
    assert (result.sent, result.retrying, result.failed) == (0, 1, 1)
    gone, waiting = await load(db, old), await load(db, young)
    assert gone.status is OutboxStatus.FAILED and gone.attempts == 1
    assert gone.last_error == waiting.last_error  # why it failed, as staff see it
    assert ("451" if trouble == "451 answer" else "TemporaryFailure") in gone.last_error
    assert waiting.status is OutboxStatus.PENDING
    # It stays failed: a later pass, with the server fine again, does not send it.
    smtp.catcher.refuse_with = None
    if trouble == "server away":
        smtp.start()
    await change(db, young, next_try_at=utcnow())
    result, _, _ = await send_pass(db, settings)
    assert (result.sent, result.failed) == (1, 0)
    assert [m["To"] for m in smtp.messages] == ["klant1@example.nl"]
    assert (await load(db, old)).status is OutboxStatus.FAILED


async def test_an_item_whose_worker_died_mid_send_goes_again_with_the_same_message_id(
    db: Database, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port)
    [item_id] = await queue(db)
    # A worker claims the item and sends it, then dies before it records that it did.
    [claimed] = await outbox.claim(db, ["email"], domain=outbox.message_id_domain(settings))
    await SmtpSender(settings).send(claimed)
    item = await load(db, item_id)
    assert item.status is OutboxStatus.SENDING and item.attempts == 1
    assert item.email_message_id
    # While its lease runs, no other pass takes it.
    result, _, _ = await send_pass(db, settings)
    assert (result.sent, result.retrying, result.failed) == (0, 0, 0)
    assert len(smtp.messages) == 1
    # The lease runs out.
    await change(db, item_id, next_try_at=utcnow() - dt.timedelta(seconds=1))
    result, _, _ = await send_pass(db, settings)
    assert result.sent == 1
    item = await load(db, item_id)
    assert item.status is OutboxStatus.SENT and item.attempts == 2
    first, second = smtp.messages
    # Sent twice, as one mail: a mail client shows it once.
    assert first["Message-ID"] == second["Message-ID"] == item.email_message_id
    assert first["To"] == second["To"] == "klant0@example.nl"


async def test_a_claimed_item_is_leased_for_five_minutes(db: Database, tmp_path: Path) -> None:
    [item_id] = await queue(db)
    before = utcnow()
    await outbox.claim(db, ["email"])
    item = await load(db, item_id)
    assert item.status is OutboxStatus.SENDING
    assert before + 5 * MINUTE <= item.next_try_at <= utcnow() + 5 * MINUTE
    assert await outbox.claim(db, ["email"]) == []  # a second worker finds nothing


async def test_a_mail_that_cannot_be_composed_fails_at_once_and_the_rest_go_out(
    db: Database, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port)
    [broken] = await queue(db)
    # Written straight into the database, as an older version or a bug could have stored it.
    await change(
        db,
        broken,
        kind="new_message",
        payload={"dossier_number": "2026-0001", "subject": "Hallo\r\nBcc: iedereen@example.nl"},
    )
    behind = await queue(db, 2, recipient="achter@example.nl")
    result, _, _ = await send_pass(db, settings)
    assert (result.sent, result.retrying, result.failed) == (2, 0, 1)
    item = await load(db, broken)
    assert item.status is OutboxStatus.FAILED and item.attempts == 1
    # Staff read why: it could not be composed, and what was wrong.
    assert item.last_error.startswith("PermanentFailure: the mail could not be composed: ")
    assert "linefeed or carriage return" in item.last_error
    assert [m["To"] for m in smtp.messages] == ["achter@example.nl"] * 2
    assert [(await load(db, i)).status for i in behind] == [OutboxStatus.SENT] * 2
    # It is not tried again.
    await change(db, broken, next_try_at=utcnow())
    assert (await send_pass(db, settings))[0] == outbox.PassResult()
    assert (await load(db, broken)).attempts == 1


async def test_connection_trouble_stays_temporary(
    db: Database, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port)
    [item_id] = await queue(db)
    smtp.stop()
    result, _, _ = await send_pass(db, settings)
    assert (result.retrying, result.failed) == (1, 0)
    item = await load(db, item_id)
    assert item.status is OutboxStatus.PENDING and item.last_error.startswith("TemporaryFailure")


async def test_a_pass_sends_its_mails_over_one_connection(
    db: Database, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port)
    await queue(db, 3)
    sender = SmtpSender(settings)
    result = await pass_by(db, sender, settings)
    await sender.aclose()
    assert result.sent == 3 and len(smtp.messages) == 3
    assert len(set(smtp.catcher.peers)) == 1


async def test_a_connection_left_idle_is_not_used_again(
    db: Database, smtp: SmtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtp_module, "IDLE_SECONDS", -1)  # every mail finds it idle too long
    settings = mail_settings(tmp_path, smtp.port)
    await queue(db, 2)
    sender = SmtpSender(settings)
    result = await pass_by(db, sender, settings)
    await sender.aclose()
    assert result.sent == 2 and len(set(smtp.catcher.peers)) == 2


async def test_a_connection_the_server_dropped_is_replaced_and_the_mail_goes_out(
    db: Database, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port)
    sender = SmtpSender(settings)
    await queue(db, 1, recipient="eerste@example.nl")
    assert (await pass_by(db, sender, settings)).sent == 1
    smtp.stop()  # the server restarts between passes: the kept connection is gone
    smtp.start()
    await queue(db, 1, recipient="tweede@example.nl")
    result = await pass_by(db, sender, settings)
    await sender.aclose()
    assert (result.sent, result.retrying) == (1, 0)
    assert [m["To"] for m in smtp.messages] == ["eerste@example.nl", "tweede@example.nl"]
    assert len(set(smtp.catcher.peers)) == 2


async def test_after_a_refused_mail_the_next_goes_out_on_a_new_connection(
    db: Database, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port)
    sender = SmtpSender(settings)
    await queue(db, 1, recipient="eerst@example.nl")
    assert (await pass_by(db, sender, settings)).sent == 1
    await queue(db, 1, recipient="weg@example.nl")
    smtp.catcher.refuse_with = "550 5.1.1 no such user"
    assert (await pass_by(db, sender, settings)).failed == 1
    smtp.catcher.refuse_with = None
    await queue(db, 1, recipient="er@example.nl")
    assert (await pass_by(db, sender, settings)).sent == 1
    await sender.aclose()
    assert [m["To"] for m in smtp.messages] == ["eerst@example.nl", "er@example.nl"]
    # The first two on one connection; the one it refused closed it.
    first, refused, last = smtp.catcher.peers
    assert first == refused != last
