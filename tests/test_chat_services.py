"""What the chat needs of core that the web did not: the checklists waiting for someone with
their titles, dossiers and progress in one go; skipping a question onward to the next one
still to ask; the later photos of an album added to the message sent with the first; and a
date typed as a person types it, for the date a missing document is expected."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core import walker
from core.db import Database
from core.errors import NotFound, ValidationError
from core.models import Answer, Document
from core.services import checklists, messages
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes

from .botkit import income_tax
from .conftest import Firm


async def test_the_waiting_checklists_come_with_title_dossier_and_progress(
    db: Database, firm: Firm
) -> None:
    first = await income_tax(db)
    second = await income_tax(db, number="2026-0002")
    await income_tax(db, number="2026-0100", username="bakkerij")  # another client's
    alice = firm.actor(firm.alice)
    async with db.begin() as s:
        await checklists.answer(s, alice, first, "partner", "nee")
        await checklists.answer(s, alice, first, "verhuisd", "nee")
    async with db.read() as s:
        listed = await checklists.listed_actions(s, alice)
        plain = await checklists.actions(s, alice)
    assert [a.checklist.id for a in listed] == [c.id for c in plain] == [first, second]
    assert listed[0].title["nl"] == "Checklist aangifte inkomstenbelasting"
    assert [a.dossier.number for a in listed] == ["2026-0001", "2026-0002"]
    assert listed[0].counts == checklists.Counts(answered=2, to_go=7, optional_open=3)
    assert listed[1].counts == checklists.Counts(answered=0, to_go=9, optional_open=3)
    async with db.read() as s:
        assert await checklists.listed_actions(s, firm.actor(firm.carol)) == []


async def test_skip_goes_on_to_the_next_question_still_to_ask(db: Database, firm: Firm) -> None:
    cid = await income_tax(db)
    alice = firm.actor(firm.alice)
    async with db.begin() as s:
        for key, raw in (("partner", "nee"), ("verhuisd", "nee"), ("inkomstenbron", "2")):
            await checklists.answer(s, alice, cid, key, raw)
        for key, raw in (("eigen_woning", "nee"), ("spaargeld", "10"), ("beleggingen", "nee")):
            await checklists.answer(s, alice, cid, key, raw)
        await checklists.answer(s, alice, cid, "zorgkosten", "nee")
        loaded = await checklists.answer(s, alice, cid, "kinderen", "1")
        # Round the walk: the optional gift question, passed by the answers after it.
        loaded.checklist.position = "giften"
    async with db.begin() as s:
        loaded = await checklists.skip(s, alice, cid)
        # "move" would go to "kinderen", next in order though answered; skip goes on.
        assert checklists.current(loaded, "nl").key == "toeslagen"
    async with db.read() as s:
        passed = await s.scalar(
            select(Answer).where(Answer.checklist_id == cid, Answer.question_key == "giften")
        )
    assert passed is not None and passed.value is None  # passed: not asked again


async def test_an_albums_later_photos_join_the_message_sent_with_the_first(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    alice = firm.actor(firm.alice)

    def photo(n: int) -> Upload:
        return Upload(f"foto-{n}.jpg", aiter_bytes(b"\xff\xd8 photo %d" % n), "image/jpeg")

    async with db.begin() as s:
        sent = await messages.send_message(
            s,
            store,
            alice,
            subject="Brief",
            body="Zie foto's",
            number="2026-0001",
            attachments=[photo(1)],
        )
    async with db.begin() as s:
        grown = await messages.add_attachments(s, store, alice, sent.id, [photo(2), photo(3)])
    assert [d.filename for d in grown.attachments] == ["foto-1.jpg", "foto-2.jpg", "foto-3.jpg"]
    # Not another client, nor the firm, nor someone who sees the dossier: only the author.
    for stranger in (firm.actor(firm.bv_main), firm.actor(firm.carol), firm.actor(firm.staff)):
        with pytest.raises(NotFound):
            async with db.begin() as s:
                await messages.add_attachments(s, store, stranger, sent.id, [photo(4)])
    with pytest.raises(ValidationError):
        async with db.begin() as s:
            many = [photo(10 + n) for n in range(messages.MAX_ATTACHMENTS - 2)]
            await messages.add_attachments(s, store, alice, sent.id, many)
    async with db.read() as s:
        filed = list(await s.scalars(select(Document).where(Document.message_id == sent.id)))
    assert len(filed) == 3


def test_an_expected_date_is_read_as_a_date_question_reads_it() -> None:
    assert walker.read_date("15-3-2026") == dt.date(2026, 3, 15)
    assert walker.read_date("15 maart 2026") == dt.date(2026, 3, 15)
    with pytest.raises(ValidationError):
        walker.read_date("volgende week")


async def test_the_updates_of_one_chat_take_turns_on_its_state(db: Database) -> None:
    """Two photos of an album handled at once (two bot processes): the second waits for the
    first, so neither overwrites what the other added."""
    import asyncio

    from core.services import telegram
    from core.services.telegram import ChatInfo

    chat = ChatInfo(6_100_200_300, "private", "nl")
    async with db.begin() as s:
        await telegram.chat_seen(s, chat)
    first_in, first_go = asyncio.Event(), asyncio.Event()

    async def add(name: str, hold: bool) -> None:
        async with db.begin() as s:
            view = await telegram.chat_seen(s, chat)
            files = list((view.state or {}).get("files", []))
            if hold:
                first_in.set()
                await first_go.wait()
            state = {"waiting": telegram.WAITING_DOCUMENT_DOSSIER, "files": [*files, name]}
            await telegram.set_state(s, chat.id, state)

    first = asyncio.create_task(add("a.jpg", True))
    await first_in.wait()
    second = asyncio.create_task(add("b.jpg", False))
    # Unlocked, the second would read the state now and commit before the first.
    done, _ = await asyncio.wait([second], timeout=0.5)
    first_go.set()
    await asyncio.gather(first, second)
    async with db.read() as s:
        view = await telegram.get_chat(s, chat.id)
    assert not done
    assert view.state["files"] == ["a.jpg", "b.jpg"]
