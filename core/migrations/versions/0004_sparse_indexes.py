"""indexes over the set rows only, for mostly-NULL columns

SQLite's statistics (ANALYZE) count every NULL of a column as one shared value: with most
documents belonging to no message, the index on documents.message_id looked useless and the
planner scanned the whole table for each dossier page's message attachments (6-10 ms with
8,000 documents). An index restricted to the rows where the column is set is both smaller and
used, on SQLite and PostgreSQL alike.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPARSE = [
    ("ix_documents_message_id", "documents", "message_id"),
    ("ix_documents_answer_id", "documents", "answer_id"),
    ("ix_dossiers_intermediary_id", "dossiers", "intermediary_id"),
    ("ix_accounts_intermediary_id", "accounts", "intermediary_id"),
    ("ix_messages_email_message_id", "messages", "email_message_id"),
]


def upgrade() -> None:
    for name, table, column in SPARSE:
        op.drop_index(name, table_name=table)
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, table, [column], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, table, column in SPARSE:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column])
