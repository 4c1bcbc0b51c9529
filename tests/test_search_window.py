"""The staff's search reads a bounded part of each table: a text inside a word among the
newest rows only, a dossier by the start of its number among all of them."""

from __future__ import annotations

import pytest

from core.db import Database
from core.models import Client, Dossier
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


async def test_descriptions_names_and_emails_are_found_among_all_rows_as_they_change(
    db: Database, firm: Firm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "WINDOW", 1)  # the oldest rows are far outside it

    async def find(q: str) -> search.Results:
        async with db.read() as s:
            return await search.search(s, SYSTEM, q)

    # Three characters or more: by the trigram index, inside a word, in any case.
    assert [d.number for d, _ in (await find("KOMSTENbel")).dossiers] == ["2026-0001"]
    assert [c.name for c in (await find("de vries")).clients] == ["Alice de Vries"]
    assert {d.number for d, _ in (await find("de vries")).dossiers} == {"2026-0001", "2026-0002"}
    assert [c.name for c in (await find("ice@example")).clients] == ["Alice de Vries"]
    # The index follows the table: a new name is found, the old one no longer.
    async with db.begin() as s:
        (await s.get(Client, firm.alice.client_id)).name = "Alice Jansen"
        (await s.get(Dossier, firm.alice_1.id)).description = "Erfenis"
    assert (await find("de vries")).clients == []
    assert [c.name for c in (await find("ice jans")).clients] == ["Alice Jansen"]
    assert (await find("komstenbel")).dossiers == []
    assert [d.number for d, _ in (await find("erfenis")).dossiers] == ["2026-0001"]
    # Two characters make no trigram: those are searched among the newest rows only.
    assert (await find("fe")).dossiers == []
