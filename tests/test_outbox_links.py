"""A mail with a link in it (invitation, set-password) that ends as failed takes its link down:
the token it carries no longer works, and the outbox no longer holds the link. Staff see a
failed mail and send a new one; no live link is left behind that nobody received (or that
reached someone while the outbox says it did not)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core import outbox
from core.db import Database
from core.errors import LinkExpired
from core.models import Account, OutboxItem, OutboxStatus, utcnow
from core.services import auth
from mailbridge.smtp import SmtpSender

from .conftest import SYSTEM, Firm, SmtpServer, mail_settings
from .webclient import Browser


async def send_all(db: Database, settings) -> outbox.PassResult:
    return await outbox.run_once(db, {"email": SmtpSender(settings)}, settings)


async def the_item(db: Database, kind: str) -> OutboxItem:
    async with db.read() as s:
        return await s.scalar(select(OutboxItem).where(OutboxItem.kind == kind))


def no_link_in(item: OutboxItem, raw: str) -> None:
    assert all(raw not in str(value) for value in item.payload.values()), item.payload
    assert all(
        "/invite/" not in str(v) and "/password/" not in str(v) for v in item.payload.values()
    )


async def test_an_invitation_refused_for_good_no_longer_opens(
    browser: Browser, db: Database, firm: Firm, smtp: SmtpServer
) -> None:
    settings = browser.settings
    async with db.begin() as s:
        raw = await auth.invite(s, SYSTEM, settings, await s.get(Account, firm.alice.id))
    assert (await browser.get(f"/invite/{raw}")).status == 200  # live while it waits
    smtp.catcher.refuse_with = "550 5.1.1 no such user"
    assert (await send_all(db, settings)).failed == 1
    item = await the_item(db, "invitation")
    assert item.status is OutboxStatus.FAILED and "550" in item.last_error
    no_link_in(item, raw)
    assert (await browser.get(f"/invite/{raw}")).status == 410
    async with db.read() as s:
        with pytest.raises(LinkExpired):
            await auth.invitation_account(s, raw)


async def test_a_password_link_past_the_outbox_lifetime_dies_with_its_mail(
    db: Database, firm: Firm, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port, password_link_ttl_minutes=60 * 24 * 30)
    async with db.begin() as s:
        raw = await auth.send_password_link(s, settings, await s.get(Account, firm.alice.id))
        await s.execute(
            update(OutboxItem).values(
                created_at=utcnow() - dt.timedelta(hours=settings.outbox_lifetime_hours + 1)
            )
        )
    smtp.stop()  # the relay has been away for the mail's whole lifetime
    assert (await send_all(db, settings)).failed == 1
    item = await the_item(db, "set_password")
    assert item.status is OutboxStatus.FAILED
    no_link_in(item, raw)
    async with db.read() as s:
        with pytest.raises(LinkExpired):
            await auth.password_link_account(s, raw)


async def test_a_mail_that_waits_to_be_retried_keeps_its_link(
    db: Database, firm: Firm, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port)
    async with db.begin() as s:
        raw = await auth.invite(s, SYSTEM, settings, await s.get(Account, firm.alice.id))
    smtp.catcher.refuse_with = "451 4.3.0 try again later"
    assert (await send_all(db, settings)).retrying == 1
    item = await the_item(db, "invitation")
    assert raw in item.payload["secret_link"]  # still needed for the next try
    async with db.read() as s:
        assert (await auth.invitation_account(s, raw)).id == firm.alice.id


async def test_only_the_token_of_the_failed_mail_dies(
    db: Database, firm: Firm, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, smtp.port)
    async with db.begin() as s:
        alice = await s.get(Account, firm.alice.id)
        invitation = await auth.invite(s, SYSTEM, settings, alice)
        password = await auth.send_password_link(s, settings, alice)
        carol = await auth.invite(s, SYSTEM, settings, await s.get(Account, firm.carol.id))
        # Alice's invitation cannot be composed (an address with a line break in it).
        await s.execute(
            update(OutboxItem)
            .where(OutboxItem.kind == "invitation", OutboxItem.account_id == firm.alice.id)
            .values(recipient="alice@example.nl\r\nBcc: iedereen@example.nl")
        )
    result = await send_all(db, settings)
    assert (result.sent, result.failed) == (2, 1)
    async with db.read() as s:
        with pytest.raises(LinkExpired):
            await auth.invitation_account(s, invitation)
        assert (await auth.password_link_account(s, password)).id == firm.alice.id
        assert (await auth.invitation_account(s, carol)).id == firm.carol.id
