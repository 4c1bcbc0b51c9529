"""Rows the benches start from: clients, each with its main account and, when asked, a dossier,
inserted in bulk (no services: their cost is not what a bench measures)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession


async def add_clients(
    s: AsyncSession,
    count: int,
    *,
    username: str = "c{i}",
    email: str = "c{i}@bench.example",
    dossier: str | None = None,
    password_hash: str | None = None,
    telegram_chat: Callable[[int], int | None] | None = None,
) -> None:
    """``count`` clients with ids 1…count, each with one account (no second step) and, with
    ``dossier`` (a format of ``i``), one dossier it can see; ``username`` and ``email`` are
    formats of ``i`` (0…count-1); ``telegram_chat(i)`` the chat linked to account ``i``."""
    from core.models import Account, Client, Dossier, utcnow

    now = utcnow()
    await s.execute(
        insert(Client),
        [{"id": i + 1, "name": f"C{i}", "kind": "person", "created_at": now} for i in range(count)],
    )
    await s.execute(
        insert(Account),
        [
            {
                "id": i + 1,
                "username": username.format(i=i),
                "email": email.format(i=i),
                "name": f"Client {i}",
                "role": "client",
                "language": "nl",
                "client_id": i + 1,
                "notifications": {},
                "created_at": now,
                "active": True,
                "is_main": True,
                "two_factor": "none",
                "password_hash": password_hash,
                "telegram_chat_id": telegram_chat(i) if telegram_chat else None,
            }
            for i in range(count)
        ],
    )
    if dossier is None:
        return
    await s.execute(
        insert(Dossier),
        [
            {
                "id": i + 1,
                "number": dossier.format(i=i),
                "description": "",
                "status": "new",
                "client_id": i + 1,
                "visible_to_client": True,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(count)
        ],
    )
