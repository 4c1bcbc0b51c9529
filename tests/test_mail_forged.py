"""Forged senders: From is whatever the sender wrote. A mail that finds its dossier only by a
number in its subject or by the thread it answers is filed only when the firm's own receiving
server vouches for the sender (an aligned DKIM pass or a DMARC pass in its
Authentication-Results); otherwise it waits in quarantine with the dossier it names, and only
the real owner of the address hears of it. A signed reply address is enough on its own, unless
DMARC fails. One sample mail per class."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core import replytokens
from core.db import Database
from core.models import InboundMail, Message, OutboxItem
from core.replytokens import ReplyTarget
from core.services.inbound import AuthResult, sender_verified
from core.storage import LocalFileStore
from mailbridge import authresults
from mailbridge.parse import parse
from mailbridge.pipeline import Pipeline

from .conftest import Firm, mail_settings
from .mails import AUTHSERV, reply_mail

ALICE = "Alice de Vries <alice@example.nl>"
NOT_VERIFIED = f"sender not verified: matched by subject only, no DKIM/DMARC pass from {AUTHSERV}"


@pytest.fixture
def settings(tmp_path: Path):
    return mail_settings(
        tmp_path, reply_address="reply+{token}@kantoor.example", mail_authserv_id=AUTHSERV
    )


@pytest.fixture
def pipeline(db: Database, store: LocalFileStore, settings) -> Pipeline:
    return Pipeline(db, store, settings)


def by_subject(results: str | None, *, sender: str = ALICE, **extra) -> bytes:
    """A mail that names dossier 2026-0001 in its subject and has no reply token."""
    headers = {"Authentication-Results": results} if results else {}
    return reply_mail(
        sender=sender,
        to="portaal@kantoor.example",
        subject="Re: [2026-0001] Uw aangifte",
        text="Graag het saldo naar NL00EVIL0123456789.",
        headers=headers | extra,
        verified_by=None,
    )


async def incoming(db: Database) -> list[Message]:
    async with db.read() as s:
        return list(await s.scalars(select(Message).where(Message.direction == "incoming")))


async def record(db: Database, inbound_id: int) -> InboundMail:
    async with db.read() as s:
        return await s.get(InboundMail, inbound_id)


async def test_forged_from_with_the_number_in_the_subject_waits_with_its_dossier(
    pipeline: Pipeline, db: Database, firm: Firm
) -> None:
    raw = by_subject(None, **{"Reply-To": "mallory@evil.example"})
    result = await pipeline.handle(raw)
    # Was: stored as Alice's message in her dossier.
    assert (result.outcome, result.reason) == ("quarantined", NOT_VERIFIED)
    assert await incoming(db) == []
    row = await record(db, result.inbound_id)
    assert row.dossier_id == firm.alice_1.id and row.raw_storage_key  # staff can file it there
    async with db.read() as s:
        told = list(await s.scalars(select(OutboxItem)))
    # Only the real owner of the address hears of it, at her own address, never the Reply-To.
    assert [(i.kind, i.recipient) for i in told] == [("mail_held", "alice@example.nl")]


@pytest.mark.parametrize(
    "results",
    [
        "mx.evil.example; dkim=pass header.d=example.nl; dmarc=pass header.from=example.nl",
        f"{AUTHSERV}.evil.example; dmarc=pass header.from=example.nl",
        f"{AUTHSERV}; dmarc=none (p=none) header.from=example.nl",
        f"{AUTHSERV}; spf=fail smtp.mailfrom=example.nl",
        f"{AUTHSERV}; spf=pass smtp.mailfrom=example.nl",
        f"{AUTHSERV}; dkim=pass header.d=evil.example header.s=s1",
        f"{AUTHSERV}; dkim=pass header.d=ample.nl",
        f"{AUTHSERV}; dkim=pass header.d=nl",
        f"{AUTHSERV}; dkim=neutral header.d=example.nl (dkim=pass header.d=example.nl)",
        f"{AUTHSERV}; dkim=pass header.d=evil.example (on behalf of header.d=example.nl)",
        f"{AUTHSERV}; dkim=none (no signature; dmarc=pass would need one)",
        f"{AUTHSERV}; dmarc=pass header.from=evil.example",
        f"{AUTHSERV}; none",
    ],
    ids=[
        "foreign-authserv-says-pass",
        "authserv-lookalike",
        "dmarc-none",
        "spf-fail-only",
        "spf-pass-only",
        "dkim-pass-unaligned",
        "dkim-pass-suffix-not-parent",
        "dkim-pass-top-level-domain",
        "pass-only-in-a-comment",
        "aligned-domain-only-in-a-comment",
        "a-pass-after-a-semicolon-in-a-comment",
        "dmarc-pass-for-another-domain",
        "no-results",
    ],
)
async def test_no_pass_from_our_server_for_the_senders_domain_waits(
    pipeline: Pipeline, db: Database, firm: Firm, results: str
) -> None:
    result = await pipeline.handle(by_subject(results))
    assert (result.outcome, result.reason) == ("quarantined", NOT_VERIFIED)
    assert await incoming(db) == []
    assert (await record(db, result.inbound_id)).dossier_id == firm.alice_1.id


@pytest.mark.parametrize(
    "results",
    [
        f"{AUTHSERV}; dkim=pass (2048-bit key) header.d=example.nl header.s=sel",
        f"{AUTHSERV} 1; dkim=pass header.i=@example.nl",
        f'{AUTHSERV.upper()}; spf=fail; dkim=pass header.d="Example.NL."',
        f"{AUTHSERV}; dmarc=pass (p=reject dis=none) header.from=example.nl",
        f"{AUTHSERV}; dmarc=pass",
    ],
    ids=["dkim-aligned", "dkim-header-i", "dkim-case-quotes-dot", "dmarc-pass", "dmarc-bare"],
)
async def test_an_aligned_dkim_or_a_dmarc_pass_from_our_server_is_filed(
    pipeline: Pipeline, db: Database, firm: Firm, results: str
) -> None:
    result = await pipeline.handle(by_subject(results))
    assert (result.outcome, result.reason) == ("stored", None)
    [message] = await incoming(db)
    assert (message.dossier_id, message.author_id) == (firm.alice_1.id, firm.alice.id)


async def test_without_our_authserv_id_set_a_subject_match_always_waits(
    db: Database, store: LocalFileStore, firm: Firm, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, reply_address="reply+{token}@kantoor.example")
    raw = by_subject(f"{AUTHSERV}; dkim=pass header.d=example.nl; dmarc=pass")
    result = await Pipeline(db, store, settings).handle(raw)
    assert result.outcome == "quarantined"
    assert result.reason == (
        "sender not verified: matched by subject only; LOKET_MAIL_AUTHSERV_ID is not set,"
        " so no DKIM/DMARC pass is trusted"
    )
    assert await incoming(db) == []


def signed_reply(settings, firm: Firm, results: str | None) -> bytes:
    token = replytokens.make(settings.secret_key, ReplyTarget("a", firm.alice.id, firm.alice_1.id))
    headers = {"Authentication-Results": results} if results else {}
    return reply_mail(
        sender=ALICE,
        to=replytokens.address(settings.reply_address, token),
        subject="Re: Uw aangifte",
        headers=headers,
        verified_by=None,
    )


async def test_a_signed_reply_address_is_enough_on_its_own(
    pipeline: Pipeline, db: Database, firm: Firm, settings
) -> None:
    result = await pipeline.handle(signed_reply(settings, firm, None))
    assert (result.outcome, result.reason) == ("stored", None)
    assert [m.dossier_id for m in await incoming(db)] == [firm.alice_1.id]


async def test_a_signed_reply_address_with_our_dmarc_fail_waits(
    pipeline: Pipeline, db: Database, firm: Firm, settings
) -> None:
    raw = signed_reply(settings, firm, f"{AUTHSERV} 1; dmarc=fail (p=none) header.from=example.nl")
    result = await pipeline.handle(raw)
    assert result.outcome == "quarantined" and "authentication failed" in result.reason
    assert await incoming(db) == []


async def test_a_reply_in_our_thread_needs_a_pass_too(
    pipeline: Pipeline, db: Database, firm: Firm
) -> None:
    async with db.begin() as s:  # the notification Alice was sent
        s.add(
            OutboxItem(
                channel="email",
                kind="new_message",
                recipient="alice@example.nl",
                account_id=firm.alice.id,
                dossier_id=firm.alice_2.id,
                payload={},
                idempotency_key="forged:thread",
                email_message_id="<sent-1@kantoor.example>",
            )
        )

    def answer(results: str | None) -> bytes:
        headers = {"In-Reply-To": "<sent-1@kantoor.example>"}
        if results:
            headers["Authentication-Results"] = results
        return reply_mail(
            sender=ALICE,
            to="portaal@kantoor.example",
            subject="Re: Testament",
            headers=headers,
            verified_by=None,
        )

    forged = await pipeline.handle(answer(None))
    assert (forged.outcome, forged.reason) == (
        "quarantined",
        f"sender not verified: matched by thread only, no DKIM/DMARC pass from {AUTHSERV}",
    )
    assert (await record(db, forged.inbound_id)).dossier_id == firm.alice_2.id
    assert await incoming(db) == []
    real = await pipeline.handle(answer(f"{AUTHSERV}; dkim=pass header.d=example.nl"))
    assert (real.outcome, real.reason) == ("stored", None)
    assert [m.dossier_id for m in await incoming(db)] == [firm.alice_2.id]


# --- the rule and the header, alone ----------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "sender", "verified"),
    [
        ("example.nl", "alice@example.nl", True),
        ("example.nl", "alice@mail.example.nl", True),  # a parent domain signed
        ("mail.example.nl", "alice@example.nl", False),  # a child domain is not the sender's
        ("xample.nl", "alice@example.nl", False),
        ("nl", "alice@example.nl", False),
        (None, "alice@example.nl", False),
    ],
)
def test_dkim_alignment(domain: str | None, sender: str, verified: bool) -> None:
    assert sender_verified([AuthResult("dkim", "pass", domain)], sender) is verified


def test_only_our_servers_header_is_read() -> None:
    msg = parse(
        b"Authentication-Results: mx.evil.example; dmarc=pass header.from=example.nl\r\n"
        b"Authentication-Results: mx.kantoor.example (our MX) 1;\r\n"
        b"  dkim=pass (good sig) header.d=example.nl header.s=sel;\r\n"
        b'  spf=softfail smtp.mailfrom=x@example.nl; dmarc=fail reason="p=reject"\r\n'
        b"From: alice@example.nl\r\n\r\nhoi\r\n"
    ).msg
    assert authresults.results(msg, AUTHSERV) == [
        AuthResult("dkim", "pass", "example.nl"),
        AuthResult("spf", "softfail", None),
        AuthResult("dmarc", "fail", None),
    ]
    assert authresults.results(msg, None) == []
