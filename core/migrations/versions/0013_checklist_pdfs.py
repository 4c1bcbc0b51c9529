"""A submitted checklist's PDF knows its checklist, and an earlier one the PDF that replaced it

The staff inbox lists a submission once (the checklist, not its PDF as well), and a checklist
submitted again keeps its earlier PDF in the history marked as replaced.

Revision ID: 0013
Revises: 0012
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with warnings.catch_warnings(), op.batch_alter_table("documents") as batch:
        # On SQLite the batch reflects the tables documents refers to; accounts' index on
        # lower(email) cannot be reflected, and need not be: only documents is rebuilt.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        batch.add_column(sa.Column("checklist_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("replaced_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_documents_checklist_id_checklists",
            "checklists",
            ["checklist_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            "fk_documents_replaced_by_id_documents",
            "documents",
            ["replaced_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    where = sa.text("checklist_id IS NOT NULL")
    op.create_index(
        "ix_documents_checklist_id",
        "documents",
        ["checklist_id"],
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_documents_checklist_id", table_name="documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_constraint("fk_documents_replaced_by_id_documents", type_="foreignkey")
        batch.drop_constraint("fk_documents_checklist_id_checklists", type_="foreignkey")
        batch.drop_column("replaced_by_id")
        batch.drop_column("checklist_id")
