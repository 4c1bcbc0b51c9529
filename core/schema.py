"""Create or upgrade the database schema through the Alembic migrations in core/migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        with connection.begin():
            command.upgrade(alembic_config(connection), "head")
        return
    # A migration that changes a column on SQLite copies the table and drops the old one (an
    # Alembic batch). With foreign keys on, that DROP deletes every row that cascades from the
    # table (an account's tokens, recovery codes, sessions, checklist assignments...) and
    # empties every SET NULL reference to it. SQLite's own recipe for such changes: foreign
    # keys off, outside any transaction (inside one the pragma does nothing), and a check
    # before committing.
    raw = connection.connection
    raw.cursor().execute("PRAGMA foreign_keys = OFF")
    try:
        with connection.begin():
            command.upgrade(alembic_config(connection), "head")
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    finally:
        raw.cursor().execute("PRAGMA foreign_keys = ON")


def _current(connection: Connection) -> tuple[str | None, str | None]:
    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return current, head


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema; safe to run again."""
    async with engine.connect() as conn:
        await conn.run_sync(_upgrade)


async def revision(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """The database's schema revision and the newest one this code knows."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
