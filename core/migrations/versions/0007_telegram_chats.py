"""Telegram: each chat's conversation, the updates handled, the bot's name; 64-bit chat ids

The bot keeps nothing of its own: what a chat waits for next, the message of its current
question, whether it blocked the bot and when the next message may go to it live in
telegram_chats; every update handled is recorded in telegram_updates in the same unit of work
as its effect; telegram_bots holds the username getMe gave, for the web view's deep links.

Telegram's user and chat ids need up to 52 bits: accounts.telegram_chat_id was a 32-bit
integer on PostgreSQL (SQLite's integers are 64-bit whatever the declared type).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _chat_id_type(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> None:
    # Not on SQLite, whose integers hold 64 bits whatever the declared type: changing a type
    # there means copying the table, and dropping the old accounts table (foreign keys on)
    # would delete every row that cascades from an account.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("accounts", "telegram_chat_id", existing_type=old, type_=new)


def upgrade() -> None:
    _chat_id_type(sa.Integer(), sa.BigInteger())
    op.create_table(
        "telegram_chats",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "language",
            sa.Enum("nl", "en", name="language", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("question_message_id", sa.BigInteger(), nullable=True),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_send_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_telegram_chats")),
    )
    op.create_table(
        "telegram_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_telegram_updates")),
    )
    op.create_index(
        op.f("ix_telegram_updates_handled_at"), "telegram_updates", ["handled_at"], unique=False
    )
    op.create_table(
        "telegram_bots",
        sa.Column("bot_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", name=op.f("pk_telegram_bots")),
    )


def downgrade() -> None:
    op.drop_table("telegram_bots")
    op.drop_index(op.f("ix_telegram_updates_handled_at"), table_name="telegram_updates")
    op.drop_table("telegram_updates")
    op.drop_table("telegram_chats")
    _chat_id_type(sa.BigInteger(), sa.Integer())
