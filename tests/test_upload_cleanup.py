"""A request that is refused after it stored files leaves nothing new in the store, while an
identical file that a saved document uses stays (the store keeps one object per content).
A form takes files only under the names of its own file inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import FormData
from sqlalchemy import func, select

from core import storage
from core.db import Database
from core.models import Answer, Checklist, Document, Message
from core.services import checklists, documents, messages
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes

from .cli_in_process import loket_with_dossier
from .conftest import PASSWORD, SYSTEM, Firm, set_password
from .webclient import Browser

TEMPLATES = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"
SHARED = b"%PDF de akte die het kantoor al publiceerde"


def objects(store: LocalFileStore) -> set[Path]:
    return {p for p in (store.root / "objects").rglob("*") if p.is_file()}


async def count(db: Database, model) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(model))


@pytest.fixture
async def published(db: Database, firm: Firm, store: LocalFileStore) -> Path:
    """A document the firm published: its object must survive every refusal below."""
    async with db.begin() as s:
        document = await documents.publish_document(
            s, store, SYSTEM, number="2026-0001", upload=Upload("akte.pdf", aiter_bytes(SHARED))
        )
    return store.path_for(document.storage_key)


@pytest.fixture
async def alice(browser: Browser, db: Database, firm: Firm) -> Browser:
    await set_password(db, firm.alice.id)
    await browser.login("alice", PASSWORD)
    await browser.get("/dossiers/2026-0001/messages/new")
    return browser


def pdf(n: int) -> tuple[str, str, bytes, str]:
    return ("files", f"scan{n}.pdf", b"%%PDF scan %d" % n, "application/pdf")


SHARED_FILE = ("files", "akte.pdf", SHARED, "application/pdf")


async def send(browser: Browser, files, **fields: str):
    return await browser.post_multipart(
        "/dossiers/2026-0001/messages",
        [("subject", "Stukken"), ("body", "Hierbij."), *fields.items()],
        files,
    )


async def test_a_message_with_21_files_leaves_none(
    alice: Browser, db: Database, store: LocalFileStore, published: Path
) -> None:
    before = objects(store)
    response = await send(alice, [SHARED_FILE, *(pdf(n) for n in range(20))])
    assert response.status == 400 and "hoogstens 20 bijlagen" in alice.last_html
    assert objects(store) == before and published.is_file()
    assert await count(db, Message) == 0


async def test_a_reply_to_a_message_of_another_dossier_leaves_none(
    alice: Browser, db: Database, firm: Firm, store: LocalFileStore, published: Path
) -> None:
    async with db.begin() as s:
        elsewhere = await messages.send_message(
            s, store, SYSTEM, number="2026-0100", subject="BV", body="Voor de BV."
        )
    before = objects(store)
    response = await send(alice, [pdf(1), SHARED_FILE, pdf(2)], parent_id=str(elsewhere.id))
    assert response.status == 400
    assert objects(store) == before and published.is_file()
    assert await count(db, Message) == 1


async def test_a_second_file_over_the_limit_leaves_the_first_neither(
    alice: Browser, db: Database, store: LocalFileStore, published: Path
) -> None:
    before = objects(store)
    big = ("files", "groot.pdf", b"x" * (store.limit + 1), "application/pdf")
    response = await send(alice, [pdf(1), SHARED_FILE, big])
    assert response.status == 413
    assert objects(store) == before and published.is_file()
    assert await count(db, Message) == 0


async def test_an_empty_file_refused_by_the_service_leaves_the_others_neither(
    alice: Browser, db: Database, store: LocalFileStore, published: Path
) -> None:
    before = objects(store)
    empty = ("files", "leeg.pdf", b"", "application/pdf")
    response = await send(alice, [pdf(1), SHARED_FILE, empty])
    assert response.status == 400 and "is leeg" in alice.last_html
    assert objects(store) == before and published.is_file()
    assert await count(db, Document) == 1


async def test_a_form_that_has_expired_stores_nothing(
    alice: Browser, db: Database, store: LocalFileStore, published: Path
) -> None:
    before = objects(store)
    form = FormData()
    form.add_field("csrf", "verlopen")
    form.add_field("subject", "Stukken")
    form.add_field("body", "Hierbij.")
    form.add_field("files", b"%PDF scan", filename="scan.pdf", content_type="application/pdf")
    response = await alice.client.post(
        "/dossiers/2026-0001/messages", data=form, headers={"Origin": alice.origin}
    )
    assert response.status == 400 and "Dit formulier is verlopen" in await response.text()
    assert objects(store) == before and published.is_file()


async def test_a_message_that_is_sent_keeps_its_files(
    alice: Browser, db: Database, store: LocalFileStore, published: Path
) -> None:
    before = objects(store)
    response = await send(alice, [pdf(1), SHARED_FILE])
    assert response.status == 200 and "Uw bericht is verstuurd." in alice.last_html
    assert len(objects(store) - before) == 1 and published.is_file()
    assert await count(db, Document) == 3


# --- the checklist form -----------------------------------------------------------------------


@pytest.fixture
async def notary(db: Database, firm: Firm) -> Checklist:
    async with db.begin() as s:
        await checklists.import_template(
            s, SYSTEM, (TEMPLATES / "notaris-koopwoning.yaml").read_text()
        )
        return await checklists.assign(
            s, SYSTEM, number="2026-0001", template_name="notaris-koopwoning"
        )


async def save_section(browser: Browser, checklist: Checklist, files):
    await browser.get(f"/checklists/{checklist.id}")
    return await browser.post_multipart(
        f"/checklists/{checklist.id}",
        [("section", "0"), ("q:aantal_kopers", "alleen"), ("go", "next")],
        files,
        allow_redirects=False,
    )


@pytest.mark.parametrize("name", ["files", "q:aantal_kopers", "file:bestaat_niet", "file:koopsom"])
async def test_a_checklist_takes_no_file_under_a_name_it_has_no_file_input_for(
    alice: Browser,
    db: Database,
    store: LocalFileStore,
    published: Path,
    notary: Checklist,
    name: str,
) -> None:
    before = objects(store)
    response = await save_section(alice, notary, [(name, "scan.pdf", b"%PDF", "application/pdf")])
    assert response.status == 400
    assert objects(store) == before and published.is_file()
    assert await count(db, Answer) == 0


async def test_a_file_for_an_upload_question_of_another_part_is_not_kept(
    alice: Browser, db: Database, store: LocalFileStore, published: Path, notary: Checklist
) -> None:
    before = objects(store)
    response = await save_section(
        alice,
        notary,
        [
            ("file:identiteitsbewijs", "paspoort.pdf", b"%PDF paspoort", "application/pdf"),
            # Asked in the next part: not saved with this one.
            ("file:koopovereenkomst", "koop.pdf", b"%PDF koop", "application/pdf"),
        ],
    )
    assert response.status == 303
    async with db.read() as s:
        kept = list(await s.scalars(select(Document.filename).where(Document.answer_id != None)))  # noqa: E711
    assert kept == ["paspoort.pdf"]
    assert len(objects(store) - before) == 1 and published.is_file()


# --- the store's side: only what this request created, and only when unshared ------------------


async def test_release_removes_only_an_object_this_put_created(store: LocalFileStore) -> None:
    first = await store.put_bytes(b"inhoud")
    again = await store.put(aiter_bytes(b"inhoud"))
    assert first.created is not None and again.created is None
    # The second put stamped the object: it is shared now, and the first put's stamp is stale.
    assert not await store.release(first) and not await store.release(again)
    assert await store.exists(first.key)


async def test_a_shared_object_is_never_moved_even_for_a_moment(
    store: LocalFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await store.put_bytes(b"inhoud")
    await store.put(aiter_bytes(b"inhoud"))
    moves = []
    monkeypatch.setattr(storage.os, "rename", lambda *args: moves.append(args))
    assert not await store.release(first)
    assert moves == []  # a download of it in the meantime would find nothing


async def test_a_mail_that_stores_the_same_bytes_shares_the_object(store: LocalFileStore) -> None:
    first = await store.put(aiter_bytes(b"inhoud"))
    again = await store.put_bytes(b"inhoud")  # as the mail bridge stores an attachment
    assert first.created is not None and again.created is None
    assert not await store.release(first) and await store.exists(first.key)


async def test_puts_within_one_clock_tick_still_tell_each_other_apart(
    store: LocalFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.time, "time_ns", lambda: 1_700_000_000_000_000_000)
    first = await store.put_bytes(b"inhoud")
    await store.put(aiter_bytes(b"inhoud"))
    assert not await store.release(first) and await store.exists(first.key)


async def test_release_after_a_put_that_came_later_writes_it_anew(store: LocalFileStore) -> None:
    first = await store.put_bytes(b"inhoud")
    assert await store.release(first) and not await store.exists(first.key)
    second = await store.put(aiter_bytes(b"inhoud"))
    assert second.created is not None and await store.exists(second.key)


async def test_a_put_between_the_look_and_the_move_keeps_the_object(
    store: LocalFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await store.put_bytes(b"inhoud")
    rename = storage.os.rename

    def raced(source, target):
        storage._stamp(Path(source))  # a concurrent upload of the same bytes, just in time
        rename(source, target)

    monkeypatch.setattr(storage.os, "rename", raced)
    assert not await store.release(first)
    assert await store.exists(first.key)
    assert not list((store.root / "tmp").iterdir())


async def test_what_a_record_refers_to_is_never_released(
    db: Database, firm: Firm, store: LocalFileStore
) -> None:
    from core import storekeeping

    with storage.recording_created() as created:
        async with db.begin() as s:
            await documents.publish_document(
                s, store, SYSTEM, number="2026-0001", upload=Upload("a.pdf", aiter_bytes(b"a"))
            )
        orphan = await store.put_bytes(b"niemand")
    assert [c.key for c in created] == [created[0].key, orphan.key]
    assert await storekeeping.remove_unused(db, store, created) == 1
    assert await store.exists(created[0].key) and not await store.exists(orphan.key)


def test_a_command_refused_after_storing_a_file_leaves_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main = loket_with_dossier(tmp_path, monkeypatch)
    (tmp_path / "scan.pdf").write_bytes(b"%PDF scan")
    (tmp_path / "leeg.pdf").write_bytes(b"")
    attach = ["--attach", str(tmp_path / "scan.pdf"), "--attach", str(tmp_path / "leeg.pdf")]
    capsys.readouterr()
    code = main(["message", "send", "--dossier", "D1", "--subject", "S", "--body", "B", *attach])
    assert code == 1 and "is empty" in capsys.readouterr().err
    code = main(["document", "publish", "--dossier", "D1", "--file", str(tmp_path / "leeg.pdf")])
    assert code == 1 and "is empty" in capsys.readouterr().err
    assert objects(LocalFileStore(tmp_path / "data" / "store", limit=1)) == set()
