"""Upgrading an SQLite database keeps every row. A migration that changes a column there
copies the table and drops the old one (0006 does so with accounts); with foreign keys on,
that drop deleted every token, recovery code and session of every account and emptied the
audit trail's actors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic import command
from sqlalchemy import text

from core import schema
from core.db import create_engine

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
