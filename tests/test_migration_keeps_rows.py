"""Upgrading an SQLite database keeps every row. A migration that changes a column there
copies the table and drops the old one (0006 does so with accounts); with foreign keys on,
that drop deleted every token, recovery code and session of every account and emptied the
audit trail's actors."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import selectinload

from core import schema
from core.db import Database, create_engine
from core.models import Account, Answer, AuditEvent, Dossier, Message
from loket.cli import main

from .conftest import pg_url

ROWS = [
    "INSERT INTO accounts (id, username, email, name, role, language, active, is_main, "
    "two_factor, notifications, created_at) VALUES (1, 'alice', 'alice@example.nl', '', "
    "'client', 'nl', 1, 0, 'totp', '{}', :now)",
    "INSERT INTO tokens (purpose, token_hash, account_id, created_at, expires_at, data) "
    "VALUES ('invitation', 'h', 1, :now, :now, '{}')",
    "INSERT INTO recovery_codes (account_id, code_hash) VALUES (1, 'h')",
    "INSERT INTO web_sessions (session_hash, account_id, stage, csrf_secret, created_at, "
    "last_seen_at, expires_at, failed_codes) VALUES ('s', 1, 'full', 'c', :now, :now, :now, 0)",
    "INSERT INTO audit_events (at, actor_id, action, channel, details) "
    "VALUES (:now, 1, 'login.password', 'web', '{}')",
]


async def test_an_upgrade_that_rebuilds_accounts_keeps_what_refers_to_them(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(schema.alembic_config(c), "0005"))
            for row in ROWS:
                await conn.execute(text(row), {"now": dt.datetime.now(dt.UTC).isoformat()})

        await schema.upgrade(engine)

        async with engine.connect() as conn:
            assert (await schema.revision(engine))[0] == (await schema.revision(engine))[1]
            for table in ("accounts", "tokens", "recovery_codes", "web_sessions"):
                count = await conn.scalar(text(f"SELECT count(*) FROM {table}"))
                assert count == 1, table
            assert await conn.scalar(text("SELECT actor_id FROM audit_events")) == 1
            # The connection goes back to the pool as every other: foreign keys enforced.
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        await engine.dispose()


# A firm as the first schema (0001) held it: every kind of record, with the values the newest
# schema must still show.
FIRST_SCHEMA_ROWS = [
    "INSERT INTO clients (id, name, kind, created_at) VALUES (1, 'Alice de Vries', 'person', :now)",
    "INSERT INTO accounts (id, username, email, name, role, language, active, is_main, "
    "two_factor, totp_secret, notifications, client_id, created_at) VALUES (1, 'alice', "
    "'Alice@Example.nl', 'Alice', 'client', 'en', :yes, :yes, 'totp', 'JBSWY3DPEHPK3PXP', "
    '\'{"new_message": {"email": false}}\', 1, :now)',
    "INSERT INTO accounts (id, username, email, name, role, language, active, is_main, "
    "two_factor, notifications, created_at) VALUES (2, 'sanne', 'sanne@kantoor.nl', 'Sanne', "
    "'staff', 'nl', :yes, :no, 'none', '{}', :now)",
    "INSERT INTO dossiers (id, number, description, status, client_id, visible_to_client, "
    "handler_id, created_at, updated_at) VALUES (1, '2024-0007', 'Aangifte IB 2023', "
    "'completed', 1, :yes, 2, :now, :now)",
    "INSERT INTO messages (id, dossier_id, author_id, direction, subject, body, channel, "
    "email_message_id, created_at) VALUES (1, 1, 1, 'incoming', 'Stukken', 'Hierbij mijn "
    "jaaropgave.', 'email', '<a@client.example>', :now)",
    "INSERT INTO documents (id, dossier_id, category, filename, content_type, size, sha256, "
    "storage_key, source_channel, uploaded_by_id, message_id, review_state, created_at) VALUES "
    f"(1, 1, 'delivered', 'Jaaropgave 2023.pdf', 'application/pdf', 11, '{'ab' * 32}', "
    f"'{'ab' * 32}', 'email', 1, 1, 'accepted', :now)",
    "INSERT INTO checklist_templates (id, name, version, kind, title, definition, created_at) "
    "VALUES (1, 'ib', 1, 'checklist', '{\"nl\": \"IB\"}', '{\"sections\": []}', :now)",
    "INSERT INTO checklists (id, dossier_id, template_id, status, locked, assigned_at) "
    "VALUES (1, 1, 1, 'approved', :yes, :now)",
    "INSERT INTO answers (id, checklist_id, question_key, value, not_available, channel, "
    "answered_by_id, review_state, updated_at) VALUES (1, 1, 'iban', '\"NL91ABNA0417164300\"', "
    ":no, 'web', 1, 'none', :now)",
    "INSERT INTO inbound_mails (id, sha256, sender, subject, outcome, path, dossier_id, "
    "message_id, received_at) VALUES (1, 'cd', 'alice@example.nl', 'Stukken', 'stored', "
    "'[\"store\"]', 1, 1, :now)",
    "INSERT INTO audit_events (id, at, actor_id, action, channel, dossier_id, details) "
    "VALUES (1, :now, 1, 'document.download', 'web', 1, '{\"document\": 1}')",
]


async def test_an_upgrade_from_the_first_schema_keeps_the_firm(
    database_url: str, tmp_path: Path
) -> None:

    if make_url(database_url).get_backend_name() == "sqlite":
        url, kwargs, pg = f"sqlite+aiosqlite:///{tmp_path / 'first.sqlite3'}", {}, False
    else:
        url, pg = pg_url(), True
        kwargs = {"connect_args": {"server_settings": {"search_path": "loket_upgrade"}}}
        admin = create_engine(url)
        async with admin.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS loket_upgrade CASCADE"))
            await conn.execute(text("CREATE SCHEMA loket_upgrade"))
    db = Database.connect(url, **kwargs)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(schema.alembic_config(c), "0001"))
            now = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
            values = {"now": now if pg else now.isoformat(), "yes": True, "no": False}
            for row in FIRST_SCHEMA_ROWS:
                await conn.execute(text(row), values)

        await schema.upgrade(db.engine)

        current, head = await schema.revision(db.engine)
        assert current == head != "0001"
        async with db.read() as s:
            dossier = await s.scalar(select(Dossier))
            assert (dossier.number, dossier.status.value, dossier.kind) == (
                "2024-0007",
                "completed",
                "",
            )
            assert dossier.updated_at == now
            message = await s.scalar(select(Message).options(selectinload(Message.attachments)))
            assert message.body == "Hierbij mijn jaaropgave."
            [document] = message.attachments
            assert (document.filename, document.sha256) == ("Jaaropgave 2023.pdf", "ab" * 32)
            assert (await s.scalar(select(Answer))).value == "NL91ABNA0417164300"
            alice = await s.get(Account, 1)
            assert alice.notifications == {"new_message": {"email": False}}
            assert (alice.email, alice.language.value, alice.client_id) == (
                "Alice@Example.nl",
                "en",
                1,
            )
            event = await s.scalar(select(AuditEvent))
            assert (event.actor_id, event.details) == (1, {"document": 1})
    finally:
        await db.dispose()
        if pg:
            async with admin.begin() as conn:
                await conn.execute(text("DROP SCHEMA loket_upgrade CASCADE"))
            await admin.dispose()


def test_loket_init_upgrades_a_first_schema_database_and_seals_its_secrets(
    tmp_path: Path, monkeypatch, capsys
) -> None:

    data = tmp_path / "data"
    data.mkdir()

    async def first() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{data / 'loket.sqlite3'}")
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(schema.alembic_config(c), "0001"))
            now = dt.datetime.now(dt.UTC).isoformat()
            for row in FIRST_SCHEMA_ROWS:
                await conn.execute(text(row), {"now": now, "yes": True, "no": False})
        await engine.dispose()

    asyncio.run(first())
    monkeypatch.setenv("LOKET_DATA_DIR", str(data))
    monkeypatch.delenv("LOKET_DATABASE_URL", raising=False)
    capsys.readouterr()
    assert main(["dossier", "show", "2024-0007"]) == 1
    assert "needs an upgrade: run `loket init`" in capsys.readouterr().err
    assert main(["init", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["previous_revision"], out["secrets_sealed"]) == ("0001", 1)
    assert main(["dossier", "show", "2024-0007", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [m["body"] for m in shown["messages"]] == ["Hierbij mijn jaaropgave."]
    assert [d["filename"] for d in shown["documents"]] == ["Jaaropgave 2023.pdf"]
