"""Dossiers get a kind (the type of work: "Aangifte inkomstenbelasting", "Testament"), which
staff choose when they create one and search the list by.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "dossiers", sa.Column("kind", sa.String(length=100), nullable=False, server_default="")
    )


def downgrade() -> None:
    with op.batch_alter_table("dossiers") as batch:
        batch.drop_column("kind")
