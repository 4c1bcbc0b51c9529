"""The migrations build exactly the schema the models describe: an index, column or table added
to one and not the other shows up here (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.db import Database
from core.models import Base


def described_by_the_models(obj, name: str | None, kind: str, reflected: bool, other) -> bool:  # noqa: ANN001, ARG001
    """All but the search's trigram indexes (migration 0015), which each database makes in
    its own way and the models cannot describe: SQLite's FTS5 tables (and their shadow
    tables), PostgreSQL's pg_trgm indexes."""
    if kind == "table":
        return not (name or "").startswith("search_")
    return not (kind == "index" and (name or "").endswith("_trgm"))


async def test_migrated_database_matches_the_models(db: Database) -> None:
    def differences(connection) -> list:
        with warnings.catch_warnings():
            # SQLite cannot reflect expression indexes (lower(email)); Alembic says so and
            # skips them there. PostgreSQL compares them.
            warnings.simplefilter("ignore")
            return compare_metadata(
                MigrationContext.configure(
                    connection, opts={"include_object": described_by_the_models}
                ),
                Base.metadata,
            )

    async with db.engine.connect() as conn:
        found = await conn.run_sync(differences)
    assert found == []
