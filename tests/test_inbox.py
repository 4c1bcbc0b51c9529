"""The staff inbox in core: what came in across dossiers, newest first, each filter, read marks
per staff member, the firm's own messages never unread, and staff only."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import event, select, update

from core.actor import Actor
from core.db import Database
from core.errors import NotFound, PermissionDenied
from core.models import Account, Channel, Checklist, DocumentCategory, Dossier
from core.services import checklists, documents, inbox, messages
from core.services.accounts import create_staff
from core.services.documents import Upload
from core.services.inbox import Filters, Kind
from core.storage import LocalFileStore, aiter_bytes

from .conftest import SYSTEM, Firm
from .test_checklists import TEMPLATES, fill


@dataclass
class Activity:
    piet: Account  # a second staff member, handler of bv_1
    checklist_id: int


async def say(db, store, actor: Actor, number: str, subject: str) -> None:
    async with db.begin() as s:
        await messages.send_message(s, store, actor, number=number, subject=subject, body="…")


@pytest.fixture
async def activity(db: Database, firm: Firm, store: LocalFileStore) -> Activity:
    """In this order: a checklist filled in and submitted by Telegram (with an upload and a
    "not available"), mail from Alice, a web message from Carol, the firm's reply, a letter,
    and a document the bakery delivered on the web."""
    async with db.begin() as s:
        piet = await create_staff(s, SYSTEM, username="piet", email="piet@firm.example")
        await s.execute(
            update(Dossier).where(Dossier.id == firm.bv_1.id).values(handler_id=piet.id)
        )
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "inkomstenbelasting.yaml").read_text()
        )
        checklist = await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting"
        )
    by_telegram = firm.actor(firm.alice, Channel.TELEGRAM)
    await fill(db, by_telegram, checklist.id, store)
    async with db.begin() as s:
        await checklists.submit(s, store, by_telegram, checklist.id, firm="Kantoor")
    await say(db, store, firm.actor(firm.alice, Channel.EMAIL), "2026-0002", "Testament vraag")
    await say(db, store, firm.actor(firm.carol), "2026-0200", "Hypotheekofferte")
    await say(db, store, firm.actor(firm.staff), "2026-0200", "Re: Hypotheekofferte")
    async with db.begin() as s:
        await documents.publish_document(
            s,
            store,
            firm.actor(firm.staff),
            number="2026-0100",
            upload=Upload("brief.pdf", aiter_bytes(b"%PDF brief")),
            category=DocumentCategory.CORRESPONDENCE,
        )
        await documents.deliver_document(
            s,
            store,
            firm.actor(firm.bv_main),
            number="2026-0100",
            upload=Upload("balans.pdf", aiter_bytes(b"%PDF balans")),
        )
    return Activity(piet, checklist.id)


def shown(page: inbox.InboxPage) -> list[tuple[str, str, str, bool]]:
    return [(e.kind.value, e.dossier_number, e.title, e.unread) for e in page.entries]


async def read(db: Database, actor: Actor, filters: Filters = Filters(), **kw) -> inbox.InboxPage:
    async with db.read() as s:
        return await inbox.inbox(s, actor, filters, **kw)


async def test_everything_new_across_dossiers_newest_first(
    db: Database, firm: Firm, activity: Activity
) -> None:
    page = await read(db, firm.actor(firm.staff))
    assert shown(page) == [
        ("document", "2026-0100", "balans.pdf", True),
        ("published", "2026-0100", "brief.pdf", False),
        ("message", "2026-0200", "Re: Hypotheekofferte", False),
        ("message", "2026-0200", "Hypotheekofferte", True),
        ("message", "2026-0002", "Testament vraag", True),
        # Its PDF is the submission's own: one entry, not the checklist and its file apart.
        ("checklist", "2026-0001", "Checklist aangifte inkomstenbelasting", True),
        (
            "not_available",
            "2026-0001",
            "Checklist aangifte inkomstenbelasting: Aanslag inkomstenbelasting van vorig jaar",
            True,
        ),
        ("document", "2026-0001", "Jaaropgave 2025.pdf", True),
    ]
    first = page.entries[0]
    assert (first.client_name, first.channel, first.author) == (
        "Bakkerij BV",
        Channel.WEB,
        "Bakkerij BV",
    )
    by_kind = {e.kind: e for e in page.entries}
    assert by_kind[Kind.CHECKLIST].channel is Channel.TELEGRAM
    assert by_kind[Kind.NOT_AVAILABLE].detail == "Nog niet ontvangen"
    assert by_kind[Kind.NOT_AVAILABLE].checklist_id == activity.checklist_id
    assert page.unread == 6 and not page.has_more


async def test_paged(db: Database, firm: Firm, activity: Activity) -> None:
    staff = firm.actor(firm.staff)
    whole = shown(await read(db, staff))
    first = await read(db, staff, limit=3)
    second = await read(db, staff, offset=3, limit=3)
    third = await read(db, staff, offset=6, limit=3)
    assert first.has_more and second.has_more and not third.has_more
    assert shown(first) + shown(second) + shown(third) == whole


@pytest.mark.parametrize(
    "filters,expected",
    [
        (
            Filters(kind=Kind.MESSAGE),
            ["Re: Hypotheekofferte", "Hypotheekofferte", "Testament vraag"],
        ),
        (Filters(kind=Kind.PUBLISHED), ["brief.pdf"]),
        (Filters(kind=Kind.CHECKLIST), ["Checklist aangifte inkomstenbelasting"]),
        (
            Filters(kind=Kind.NOT_AVAILABLE),
            ["Checklist aangifte inkomstenbelasting: Aanslag inkomstenbelasting van vorig jaar"],
        ),
        (
            Filters(kind=Kind.DOCUMENT),
            ["balans.pdf", "Jaaropgave 2025.pdf"],
        ),
        (Filters(channel=Channel.EMAIL), ["Testament vraag"]),
        (
            Filters(channel=Channel.TELEGRAM),
            [
                "Checklist aangifte inkomstenbelasting",
                "Checklist aangifte inkomstenbelasting: Aanslag inkomstenbelasting van vorig jaar",
                "Jaaropgave 2025.pdf",
            ],
        ),
        (
            Filters(channel=Channel.WEB, kind=Kind.MESSAGE),
            ["Re: Hypotheekofferte", "Hypotheekofferte"],
        ),
        (Filters(unread_only=True, kind=Kind.MESSAGE), ["Hypotheekofferte", "Testament vraag"]),
    ],
    ids=lambda v: repr(v) if isinstance(v, Filters) else "",
)
async def test_each_filter(db: Database, firm: Firm, activity: Activity, filters, expected) -> None:
    page = await read(db, firm.actor(firm.staff), filters)
    assert [e.title for e in page.entries] == expected


async def test_by_handler_and_by_dossier(db: Database, firm: Firm, activity: Activity) -> None:
    staff = firm.actor(firm.staff)
    mine = await read(db, staff, Filters(handler_id=activity.piet.id))
    assert {e.dossier_number for e in mine.entries} == {"2026-0100"}
    assert len(mine.entries) == 2
    sannes = await read(db, staff, Filters(handler_id=firm.staff.id))
    assert "2026-0100" not in {e.dossier_number for e in sannes.entries}
    assert len(sannes.entries) == 6
    one = await read(db, staff, Filters(dossier_id=firm.carol_visible.id))
    assert [e.title for e in one.entries] == ["Re: Hypotheekofferte", "Hypotheekofferte"]


async def test_read_marks_are_per_staff_member(
    db: Database, firm: Firm, activity: Activity
) -> None:
    sanne, piet = firm.actor(firm.staff), firm.actor(activity.piet)
    page = await read(db, sanne)
    opened = {e.kind: e for e in page.entries if e.unread}
    async with db.begin() as s:
        for e in opened.values():
            target = await inbox.open_entry(s, sanne, e.kind, e.item_id)
            assert target.dossier_number == e.dossier_number
    after = await read(db, sanne)
    assert {e.kind for e in after.entries if e.unread} <= {Kind.DOCUMENT, Kind.MESSAGE}
    assert after.unread == page.unread - len(opened)
    # Piet has read nothing.
    assert (await read(db, piet)).unread == 6
    # Opening a message in the dossier marks it read in the inbox too.
    mail = next(e for e in after.entries if e.unread and e.kind is Kind.MESSAGE)
    async with db.begin() as s:
        await messages.read_message(s, sanne, mail.item_id)
    assert mail.key not in {e.key for e in (await read(db, sanne)).entries if e.unread}
    assert mail.key in {e.key for e in (await read(db, piet)).entries if e.unread}


async def test_a_checklist_submitted_again_is_new_again(
    db: Database, firm: Firm, store: LocalFileStore, activity: Activity
) -> None:
    sanne = firm.actor(firm.staff)
    async with db.begin() as s:
        await inbox.open_entry(s, sanne, Kind.CHECKLIST, activity.checklist_id)
    async with db.begin() as s:
        await checklists.reject(s, sanne, activity.checklist_id, reason="Loonstrook ontbreekt")
    async with db.begin() as s:
        await checklists.submit(
            s, store, firm.actor(firm.alice), activity.checklist_id, firm="Kantoor"
        )
    [entry] = (await read(db, sanne, Filters(kind=Kind.CHECKLIST))).entries
    assert entry.unread and entry.channel is Channel.WEB


async def test_mark_all_read(db: Database, firm: Firm, store, activity: Activity) -> None:
    sanne, piet = firm.actor(firm.staff), firm.actor(activity.piet)
    page = await read(db, sanne)
    async with db.begin() as s:
        await inbox.mark_all_read(s, sanne, until=page.entries[0].at)
    assert (await read(db, sanne)).unread == 0
    assert (await read(db, piet)).unread == 6
    # What comes in after what the staff member saw stays unread.
    await say(db, store, firm.actor(firm.alice), "2026-0001", "Nog een vraag")
    [new] = [e for e in (await read(db, sanne)).entries if e.unread]
    assert new.title == "Nog een vraag"
    # With a filter: only what the filter shows.
    async with db.begin() as s:
        marked = await inbox.mark_all_read(s, piet, Filters(kind=Kind.MESSAGE))
    assert marked == 3  # with the one that came in
    left = {e.kind for e in (await read(db, piet)).entries if e.unread}
    assert left == {Kind.DOCUMENT, Kind.CHECKLIST, Kind.NOT_AVAILABLE}


async def test_the_firms_own_are_never_unread(db: Database, firm: Firm, store, activity) -> None:
    """A colleague's message and letter show, read, for every staff member, and for its
    writer; even with no marks at all and in the unread-only view."""
    piet = firm.actor(activity.piet)
    await say(db, store, piet, "2026-0002", "Van Piet")
    for who in (firm.actor(firm.staff), piet):
        page = await read(db, who)
        own = [e for e in page.entries if e.from_firm]
        assert {e.title for e in own} == {"Van Piet", "Re: Hypotheekofferte", "brief.pdf"}
        assert not any(e.unread for e in own)
        unread_only = await read(db, who, Filters(unread_only=True))
        assert not any(e.from_firm for e in unread_only.entries)


@pytest.mark.parametrize("who", ["alice", "bv_main", "carol", "office", "other_office"])
async def test_only_staff_have_an_inbox(db: Database, firm: Firm, activity, who) -> None:
    actor = firm.actor(getattr(firm, who))
    async with db.begin() as s:
        with pytest.raises(PermissionDenied):
            await inbox.inbox(s, actor)
        with pytest.raises(PermissionDenied):
            await inbox.open_entry(s, actor, Kind.CHECKLIST, activity.checklist_id)
        with pytest.raises(PermissionDenied):
            await inbox.mark_all_read(s, actor)
        with pytest.raises(PermissionDenied):
            await inbox.unread_count(s, actor)


async def test_opening_what_is_not_there(db: Database, firm: Firm, activity) -> None:
    sanne = firm.actor(firm.staff)
    async with db.read() as s:
        checklist = await s.get(Checklist, activity.checklist_id)
        assert checklist is not None
    for kind, item in [(Kind.MESSAGE, 10**6), (Kind.NOT_AVAILABLE, activity.checklist_id * 0)]:
        with pytest.raises(NotFound):
            async with db.begin() as s:
                await inbox.open_entry(s, sanne, kind, item)
    # A letter is not a delivered document, nor the other way round.
    letter = next(e for e in (await read(db, sanne)).entries if e.kind is Kind.PUBLISHED)
    with pytest.raises(NotFound):
        async with db.begin() as s:
            await inbox.open_entry(s, sanne, Kind.DOCUMENT, letter.item_id)


async def test_a_page_is_a_fixed_number_of_statements(
    db: Database, firm: Firm, store, activity
) -> None:
    """However many entries: no statement per entry."""

    async def count() -> int:
        statements: list[str] = []

        def seen(conn, cursor, statement, parameters, context, executemany) -> None:
            statements.append(statement)

        event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
        try:
            await read(db, firm.actor(firm.staff))
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
        return len([x for x in statements if x.lstrip().upper().startswith("SELECT")])

    before = await count()
    for n in range(5):
        await say(db, store, firm.actor(firm.bv_main), "2026-0100", f"Vraag {n}")
    assert await count() == before


async def test_entries_are_in_the_readers_language(db: Database, firm: Firm, activity) -> None:
    page = await read(db, firm.actor(firm.staff), Filters(kind=Kind.CHECKLIST), language="en")
    assert [e.title for e in page.entries] == ["Income tax return checklist"]
    async with db.read() as s:
        assert (await s.scalar(select(Account.id).where(Account.username == "piet"))) is not None
