"""Alembic environment. Loket always runs migrations through ``core.schema.upgrade``, which hands
in an open connection; the database URL never comes from alembic.ini or the environment."""

from __future__ import annotations

from alembic import context

from core.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `loket init`, which passes the connection in")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported; use `loket init`")
run_migrations_online()
