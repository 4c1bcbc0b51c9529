"""The staff's search reads a bounded part of each table: a text inside a word among the
newest rows only, a dossier by the start of its number among all of them."""

from __future__ import annotations

import pytest

from core.db import Database
from core.services import messages, search
from core.storage import LocalFileStore

from .conftest import SYSTEM, Firm


async def test_old_rows_fall_out_of_the_text_search_but_a_number_is_found(
    db: Database, firm: Firm, store: LocalFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = firm.actor(firm.staff)
    async with db.begin() as s:
        for n in range(3):
            await messages.send_message(
                s, store, staff, number=firm.alice_1.number, subject=f"Jaaropgave {n}", body="-"
            )
    monkeypatch.setattr(search, "WINDOW", 2)

    async def find(q: str) -> search.Results:
        async with db.read() as s:
            return await search.search(s, SYSTEM, q)

    # Only the two newest messages are searched for a text inside them.
    assert [m.subject for m, _ in (await find("jaaropgave")).messages] == [
        "Jaaropgave 2",
        "Jaaropgave 1",
    ]
    # The oldest dossiers are outside the window, yet found by the start of their number.
    assert {d.number for d, _ in (await find("2026-000")).dossiers} == {"2026-0001", "2026-0002"}
    assert (await find("026-0001")).dossiers == []  # inside the number: only among the newest
