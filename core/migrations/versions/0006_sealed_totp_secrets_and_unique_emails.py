"""TOTP secrets are stored sealed; no two accounts share an email address

A sealed TOTP secret (core.secretbox: version, key id, nonce, ciphertext and tag) is longer
than the 64 characters a plain base32 secret needed. The secrets already stored cannot be
sealed here, as a migration has no secret key: `loket init` seals them right after migrating
(core.services.totpsecrets), and until then they are read as they are.

Each account now has its own email address, compared without regard to case: the index on
lower(email) becomes unique. An address two accounts share cannot be made unique here without
guessing which account keeps it, so the upgrade refuses, names the addresses and changes
nothing.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.errors import Conflict

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _shared_addresses() -> list[str]:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT lower(email), username FROM accounts WHERE lower(email) IN "
            "(SELECT lower(email) FROM accounts GROUP BY lower(email) HAVING count(*) > 1) "
            "ORDER BY lower(email), username"
        )
    )
    shared: dict[str, list[str]] = {}
    for email, username in rows:
        shared.setdefault(email, []).append(username)
    return [f"{email} ({', '.join(names)})" for email, names in shared.items()]


def _rebuild(*, secret_length: tuple[int, int], unique: bool) -> None:
    # The index is dropped before the batch: on SQLite the batch copies the table, and an
    # index on an expression cannot be read back there, so the copy would silently lose it.
    op.drop_index("ix_accounts_email_lower", table_name="accounts")
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.alter_column(
            "totp_secret",
            existing_type=sa.String(length=secret_length[0]),
            type_=sa.String(length=secret_length[1]),
            existing_nullable=True,
        )
    op.create_index("ix_accounts_email_lower", "accounts", [sa.text("lower(email)")], unique=unique)


def upgrade() -> None:
    shared = _shared_addresses()
    if shared:
        # Said to the operator by `loket init`; the usernames are theirs to see.
        raise Conflict(
            "The database cannot be upgraded: each account needs its own email address, and "
            f"these are shared by several accounts: {'; '.join(shared)}. Give all but one of "
            "the accounts another address (in the database: UPDATE accounts SET email = "
            "'...' WHERE username = '...'), then run `loket init` again. Nothing was changed."
        )
    _rebuild(secret_length=(64, 255), unique=True)


def downgrade() -> None:
    sealed = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM accounts WHERE length(totp_secret) > 64")
    )
    if sealed:
        raise Conflict(
            "Sealed two-step secrets do not fit the old schema: switch two-step verification "
            "off for those accounts first."
        )
    _rebuild(secret_length=(255, 64), unique=False)
