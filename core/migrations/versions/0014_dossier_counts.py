"""The number of dossiers per status, kept as dossiers are created and change status, so the
staff's dossier list shows the firm's totals without counting the dossiers table.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dossier_counts",
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("status", name=op.f("pk_dossier_counts")),
    )
    # The one count of the whole table, done once here; from now on each change adds to it.
    op.execute(
        "INSERT INTO dossier_counts (status, count)"
        " SELECT status, count(*) FROM dossiers GROUP BY status"
    )


def downgrade() -> None:
    op.drop_table("dossier_counts")
