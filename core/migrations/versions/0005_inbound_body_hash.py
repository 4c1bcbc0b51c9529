"""inbound mails keep a hash of their body, apart from the headers

A mail that reaches the firm twice (once to the dossier's address, once through a
forwarding address) differs in the headers servers add, so the hash of the whole mail
does not see the copy. The same Message-ID and the same body bytes do.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_mails") as batch_op:
        batch_op.add_column(sa.Column("body_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_mails") as batch_op:
        batch_op.drop_column("body_sha256")
