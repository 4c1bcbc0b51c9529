"""indexes for looking up mail senders case-insensitively

The mail bridge asks, for every mail, how many mails the sender sent lately and which accounts
have the sender's address, both on lower(address). Without these indexes each question read
the whole table, so a mailbox of n mails cost n² reads.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_inbound_mails_sender_lower",
        "inbound_mails",
        [sa.text("lower(sender)"), "received_at"],
    )
    op.create_index("ix_accounts_email_lower", "accounts", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_accounts_email_lower", table_name="accounts")
    op.drop_index("ix_inbound_mails_sender_lower", table_name="inbound_mails")
