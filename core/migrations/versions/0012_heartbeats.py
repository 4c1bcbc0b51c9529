"""Heartbeats: when each worker, mail reader and bot process last said it was working (for
/healthz on any web process).

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("component", sa.String(length=16), nullable=False),
        sa.Column("instance", sa.String(length=200), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("component", "instance", name=op.f("pk_heartbeats")),
    )
    op.create_index(op.f("ix_heartbeats_seen_at"), "heartbeats", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_heartbeats_seen_at"), table_name="heartbeats")
    op.drop_table("heartbeats")
