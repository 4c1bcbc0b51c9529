"""``loket account erase``: what identifies or reaches the person goes (and they can no longer
log in or be mailed); the records the firm must keep by law stay, and the command says which."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import storekeeping
from core.db import Database
from core.errors import AuthenticationFailed, Conflict, NotFound
from core.models import (
    Account,
    AuditEvent,
    Channel,
    Direction,
    Document,
    DocumentCategory,
    InboundMail,
    Message,
    OutboxItem,
    RecoveryCode,
    TelegramChat,
    Token,
    TwoFactorMethod,
    WebSession,
    utcnow,
)
from core.services import auth, erasure
from core.storage import LocalFileStore

from .cli_in_process import loket_with_dossier
from .conftest import SYSTEM, Firm

CHAT = 777000111


async def test_erasing_an_account_removes_the_person_and_keeps_the_records(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    later = utcnow() + dt.timedelta(days=1)
    async with db.begin() as s:
        alice = await s.get(Account, firm.alice.id)
        alice.name, alice.phone, alice.telegram_chat_id = "Alice de Vries", "+31612345678", CHAT
        alice.two_factor, alice.totp_secret = TwoFactorMethod.TOTP, "sealed"
        s.add(TelegramChat(chat_id=CHAT))
        s.add(WebSession(session_hash="h", account_id=alice.id, csrf_secret="c", expires_at=later))
        s.add(Token(purpose="invitation", token_hash="t", account_id=alice.id, expires_at=later))
        s.add(RecoveryCode(account_id=alice.id, code_hash="r"))
        s.add(
            OutboxItem(
                channel="email",
                kind="new_message",
                recipient="alice@example.nl",
                account_id=alice.id,
                idempotency_key="k1",
            )
        )
        message = Message(
            dossier_id=firm.alice_1.id,
            author_id=alice.id,
            direction=Direction.INCOMING,
            subject="Jaaropgave",
            body="Hierbij.",
            channel=Channel.WEB,
        )
        s.add(message)
        await s.flush()
        stored = await store.put_bytes(b"%PDF jaaropgave")
        s.add(
            Document(
                dossier_id=firm.alice_1.id,
                category=DocumentCategory.DELIVERED,
                filename="jaaropgave.pdf",
                content_type="application/pdf",
                size=stored.size,
                sha256=stored.sha256,
                storage_key=stored.key,
                source_channel=Channel.WEB,
                uploaded_by_id=alice.id,
                message_id=message.id,
            )
        )
        raw = await store.put_bytes(b"From: alice@example.nl\r\n\r\nniet gekoppeld")
        s.add(
            InboundMail(
                sha256=raw.sha256,
                sender="Alice@Example.nl",
                outcome="quarantined",
                raw_storage_key=raw.key,
            )
        )

    async with db.begin() as s:
        erased = await erasure.erase_account(s, SYSTEM, "alice")
    released = await storekeeping.remove_released(db, store, erased.keys, grace=dt.timedelta(0))

    assert erased.removed == {
        "sessions": 1,
        "one_time_links": 1,
        "recovery_codes": 1,
        "login_counts": 0,
        "notifications": 1,
        "unfiled_mails": 1,
        "telegram_chats": 1,
    }
    assert erased.kept == {
        "documents_uploaded": 1,
        "messages_written": 1,
        "checklist_answers": 0,
        "audit_events": erased.kept["audit_events"],
        "client_dossiers": 2,
    }
    assert released.removed == 1 and not await store.exists(raw.key)
    assert await store.exists(stored.key)
    async with db.read() as s:
        alice = await s.get(Account, firm.alice.id)
        assert (alice.username, alice.email, alice.name, alice.phone) == (
            f"erased-{alice.id}",
            f"erased-{alice.id}@erased.invalid",
            "",
            None,
        )
        assert not alice.active and alice.password_hash is None and alice.totp_secret is None
        assert alice.telegram_chat_id is None and alice.notifications == {}
        for model in (WebSession, Token, RecoveryCode, TelegramChat, OutboxItem, InboundMail):
            assert await s.scalar(select(func.count()).select_from(model)) == 0, model
        # The dossier's records stay.
        assert await s.scalar(select(func.count()).select_from(Message)) == 1
        assert await s.scalar(select(Document.uploaded_by_id)) == alice.id
        event = await s.scalar(select(AuditEvent).where(AuditEvent.action == "account.erased"))
        assert (event.subject_id, event.details["kept"]) == (alice.id, erased.kept)
        # Nobody logs in as her, by name or by address.
        for name in ("alice", "alice@example.nl", f"erased-{alice.id}"):
            with pytest.raises((AuthenticationFailed, NotFound)):
                await auth.find_login_account(s, name)
    async with db.begin() as s:
        with pytest.raises(Conflict):
            await erasure.erase_account(s, SYSTEM, f"erased-{firm.alice.id}")


def test_loket_account_erase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main = loket_with_dossier(tmp_path, monkeypatch)
    capsys.readouterr()
    assert main(["account", "erase", "alice", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["username"], out["previous_username"]) == ("erased-1", "alice")
    assert out["kept"]["client_dossiers"] == 1
    assert main(["account", "erase", "erased-1"]) == 1
    assert "erased already" in capsys.readouterr().err
    assert main(["account", "list", "--json"]) == 0
    [account] = json.loads(capsys.readouterr().out)
    assert (account["email"], account["active"]) == ("erased-1@erased.invalid", False)
