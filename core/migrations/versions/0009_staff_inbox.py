"""the staff inbox: read marks per staff member, and indexes for newest-first across dossiers

inbox_reads marks an entry opened (messages keep theirs in message_reads); inbox_read_until is
"mark all read" as one row. The indexes let the inbox read the newest items of each kind
without scanning a table; checklists.submitted_channel lets it filter submissions by channel.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPARSE = [
    ("ix_dossiers_handler_id", "dossiers", "handler_id"),
    ("ix_checklists_submitted_at", "checklists", "submitted_at"),
]


def upgrade() -> None:
    op.create_table(
        "inbox_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_inbox_reads_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_reads")),
        sa.UniqueConstraint(
            "account_id", "kind", "item_id", name=op.f("uq_inbox_reads_account_id_kind_item_id")
        ),
    )
    op.create_table(
        "inbox_read_until",
        sa.Column("account_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("read_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_inbox_read_until_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_inbox_read_until")),
    )
    with op.batch_alter_table("checklists") as batch:
        batch.add_column(sa.Column("submitted_channel", sa.String(length=32), nullable=True))
    op.create_index("ix_messages_created", "messages", ["created_at"])
    loose = sa.text("message_id IS NULL")
    op.create_index(
        "ix_documents_loose_created",
        "documents",
        ["created_at"],
        sqlite_where=loose,
        postgresql_where=loose,
    )
    for name, table, column in SPARSE:
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, table, [column], sqlite_where=where, postgresql_where=where)
    op.create_index(
        "ix_answers_not_available_updated",
        "answers",
        ["updated_at"],
        sqlite_where=sa.text("not_available IS 1"),
        postgresql_where=sa.text("not_available IS true"),
    )


def downgrade() -> None:
    op.drop_index("ix_answers_not_available_updated", table_name="answers")
    for name, table, _ in SPARSE:
        op.drop_index(name, table_name=table)
    op.drop_index("ix_documents_loose_created", table_name="documents")
    op.drop_index("ix_messages_created", table_name="messages")
    with op.batch_alter_table("checklists") as batch:
        batch.drop_column("submitted_channel")
    op.drop_table("inbox_read_until")
    op.drop_table("inbox_reads")
