"""Trigram indexes for the staff's search: a text inside a dossier's description, a client's
name, a login's email or a document's name is found among all rows by an index, not by
reading the newest rows of the table (core/services/search.py).

SQLite: an FTS5 table with the trigram tokenizer per kind (search_<table>), its content read
from the table itself and kept by triggers. PostgreSQL: pg_trgm's GIN index on lower(column).

A later migration that rebuilds one of these tables on SQLite (an Alembic batch) drops its
triggers with the old table: it must create them again (``triggers`` below).

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table, column searched
SEARCHED = [
    ("dossiers", "description"),
    ("clients", "name"),
    ("accounts", "email"),
    ("documents", "filename"),
]


def triggers(table: str, column: str) -> list[str]:
    """The statements that keep search_<table> what <table> holds (SQLite)."""
    fts = f"search_{table}"
    add = f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column});"
    remove = f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column});"
    return [
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {add} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {remove} END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {column} ON {table} BEGIN {remove} {add} END",
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, column in SEARCHED:
            fts = f"search_{table}"
            op.execute(
                f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{table}',"
                " content_rowid='id', tokenize='trigram')"
            )
            op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
            for statement in triggers(table, column):
                op.execute(statement)
        return
    # One extension per database, in public, whatever schema Loket's tables are in (the test
    # suite gives each worker its own); the lock keeps two migrating processes from both
    # creating it.
    op.execute("SELECT pg_advisory_xact_lock(hashtext('loket: pg_trgm'))")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    where = op.get_bind().exec_driver_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    )
    schema = where.scalar_one()
    for table, column in SEARCHED:
        op.execute(
            f"CREATE INDEX ix_{table}_{column}_trgm ON {table}"
            f" USING gin (lower({column}) {schema}.gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, _ in SEARCHED:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER search_{table}_{event}")
            op.execute(f"DROP TABLE search_{table}")
        return
    for table, column in SEARCHED:
        op.execute(f"DROP INDEX ix_{table}_{column}_trgm")
