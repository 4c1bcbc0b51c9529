"""Telegram: which bot message carried which outbox item, so a reply finds its dossier

A client answers a firm's message in the chat by replying to the bot's message that showed
it; telegram_deliveries maps (chat, message) to the outbox item, dossier and portal message.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telegram_deliveries",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("outbox_item_id", sa.Integer(), nullable=True),
        sa.Column("dossier_id", sa.Integer(), nullable=True),
        sa.Column("portal_message_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_telegram_deliveries_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_item_id"],
            ["outbox_items.id"],
            name=op.f("fk_telegram_deliveries_outbox_item_id_outbox_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["portal_message_id"],
            ["messages.id"],
            name=op.f("fk_telegram_deliveries_portal_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("chat_id", "message_id", name=op.f("pk_telegram_deliveries")),
    )
    op.create_index(
        op.f("ix_telegram_deliveries_dossier_id"),
        "telegram_deliveries",
        ["dossier_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_telegram_deliveries_dossier_id"), table_name="telegram_deliveries")
    op.drop_table("telegram_deliveries")
