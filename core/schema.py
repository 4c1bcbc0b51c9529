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
    command.upgrade(alembic_config(connection), "head")


def _current(connection: Connection) -> tuple[str | None, str | None]:
    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return current, head


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema; safe to run again."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def revision(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """The database's schema revision and the newest one this code knows."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
