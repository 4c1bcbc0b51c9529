"""The migrations build exactly the schema the models describe: an index, column or table added
to one and not the other shows up here (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.db import Database
from core.models import Base


async def test_migrated_database_matches_the_models(db: Database) -> None:
    def differences(connection) -> list:
        with warnings.catch_warnings():
            # SQLite cannot reflect expression indexes (lower(email)); Alembic says so and
            # skips them there. PostgreSQL compares them.
            warnings.simplefilter("ignore")
            return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with db.engine.connect() as conn:
        found = await conn.run_sync(differences)
    assert found == []
