"""Shared fixtures: a migrated database (SQLite always, PostgreSQL where
LOKET_TEST_DATABASE_URL is set, skipped with the reason where it is not), a file store, and a
small firm to act on."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core import schema
from core.actor import Actor
from core.db import Database, create_engine
from core.models import Account, Base, Channel, ClientKind, Dossier
from core.services import clients, dossiers
from core.settings import Settings
from core.storage import LocalFileStore
from mailbridge.reader import MailReader

from . import backends
from .chromium import ChromiumServer
from .dovecot import Dovecot
from .mailcatcher import SmtpServer
from .s3server import s3_server  # noqa: F401  (a fixture, for every test module)

PG_SCHEMA = "loket_test"
PG_VARIABLE = "LOKET_TEST_DATABASE_URL"
PG_UNSET = f"PostgreSQL not tested: {PG_VARIABLE} is not set"
# The PostgreSQL runs always exist: without the variable they are skipped, and say why.
BACKENDS = ["sqlite", "postgresql"]


def pg_url() -> str:
    return os.environ[PG_VARIABLE]


def pg_schema() -> str:
    """The schema this test process works in: one per pytest-xdist worker, so that workers
    running side by side never truncate each other's tables."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"{PG_SCHEMA}_{worker}" if worker else PG_SCHEMA


def pg_engine_kwargs() -> dict:
    # Every connection of the test suite works in its own schema of the shared test database,
    # and is named after it, so that a test looking at pg_stat_activity sees only its own.
    settings = {"search_path": pg_schema(), "application_name": f"loket-{pg_schema()}"}
    return {"connect_args": {"server_settings": settings}}


async def _prepare_pg() -> None:
    engine = create_engine(pg_url())
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {pg_schema()} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {pg_schema()}"))
    await engine.dispose()
    engine = create_engine(pg_url(), **pg_engine_kwargs())
    await schema.upgrade(engine)
    await engine.dispose()


# Resets every sequence of the schema, as TRUNCATE … RESTART IDENTITY did.
_RESTART_SEQUENCES = """
DO $$
DECLARE seq record;
BEGIN
  FOR seq IN SELECT schemaname, sequencename FROM pg_sequences
             WHERE schemaname = current_schema() LOOP
    PERFORM setval(format('%I.%I', seq.schemaname, seq.sequencename), 1, false);
  END LOOP;
END $$;
"""


async def _empty_pg() -> None:
    """Every table of the test schema emptied and its ids restarted: the schema as migrated.
    DELETE in one round trip on a plain connection, not TRUNCATE through an engine: on tables
    this small TRUNCATE rewrites a file per table, which cost about a second per test."""
    import asyncpg

    url = make_url(pg_url()).set(drivername="postgresql")
    script = "".join(f"DELETE FROM {t.name};" for t in reversed(Base.metadata.sorted_tables))
    conn = await asyncpg.connect(
        url.render_as_string(hide_password=False), server_settings={"search_path": pg_schema()}
    )
    try:
        await conn.execute(script + _RESTART_SEQUENCES)
    finally:
        await conn.close()


# argon2id at the lowest cost it takes: hashing at the real cost (64 MiB, three passes) is what
# made the web tests slow, and none but those marked ``real_argon2`` is about its cost.
CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


@pytest.fixture(autouse=True)
def _cheap_password_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    if request.node.get_closest_marker("real_argon2") is None:
        from argon2 import PasswordHasher

        from core import passwords

        monkeypatch.setattr(passwords, "_hasher", PasswordHasher(**CHEAP_ARGON2))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating each time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "loket.sqlite3"

    async def build() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await schema.upgrade(engine)
        # Closing the last connection checkpoints the WAL into the file we copy.
        await engine.dispose()

    asyncio.run(build())
    return path


@pytest.fixture(scope="session")
def pg_ready() -> None:
    """The test schema, made once. Asked for, PostgreSQL must answer: a run that was told to
    test it fails (every PostgreSQL test errors with this reason) rather than skip it."""
    try:
        asyncio.run(_prepare_pg())
        return
    except Exception as exc:  # refused, unknown database, bad password: all the same here
        why = f"{type(exc).__name__}: {exc}"
    where = make_url(pg_url()).render_as_string(hide_password=True)
    pytest.fail(
        f"{PG_VARIABLE} is set, but PostgreSQL at {where} does not answer: {why}", pytrace=False
    )


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """The URL of an empty, migrated database of each backend."""
    if request.param == "sqlite":
        target = tmp_path / "loket.sqlite3"
        shutil.copy(sqlite_template, target)
        yield f"sqlite+aiosqlite:///{target}"
    else:
        if not os.environ.get(PG_VARIABLE):
            pytest.skip(PG_UNSET)
        request.getfixturevalue("pg_ready")
        asyncio.run(_empty_pg())
        yield pg_url()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    kwargs = pg_engine_kwargs() if make_url(database_url).get_backend_name() != "sqlite" else {}
    database = Database.connect(database_url, **kwargs)
    yield database
    await database.dispose()


@pytest.fixture
async def second_db(database_url: str) -> AsyncIterator[Database]:
    """Another engine on the same database: a second process."""
    sqlite = make_url(database_url).get_backend_name() == "sqlite"
    database = Database.connect(database_url, **({} if sqlite else pg_engine_kwargs()))
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def mail_reader() -> Iterator[MailReader]:
    """Mail parsed in a worker process, as `loket serve` and `loket mail fetch` do it."""
    reader = MailReader()
    yield reader
    reader.close()


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    """One Dovecot per pytest worker: starting and stopping one costs about a second and a
    half, and some thirty tests need one."""
    server = Dovecot()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    """The worker's Dovecot, empty, as if started for this test alone (a test that stopped it
    to play an outage finds it running again)."""
    if not dovecot_server.running():
        dovecot_server.start()
    dovecot_server.empty()
    return dovecot_server


@pytest.fixture(scope="session")
def chromium_endpoint() -> Iterator[str]:
    """The DevTools address of the worker's one Chromium (tests/chromium.py)."""
    server = ChromiumServer()
    yield server.endpoint
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> LocalFileStore:
    return LocalFileStore(tmp_path / "store", limit=1024 * 1024)


SYSTEM = Actor.system()


@dataclass
class Firm:
    """A small firm: one staff member, a private client with two dossiers, a company with a
    main and an extra account, and an intermediary office with a dossier of a third client
    that is hidden from that client and one that is not."""

    staff: Account
    alice: Account  # private client
    bv_main: Account  # company main account
    bv_extra: Account  # company extra account
    carol: Account  # client of the intermediary
    office: Account  # the intermediary's login
    other_office: Account  # an intermediary with no dossiers here
    alice_1: Dossier
    alice_2: Dossier
    bv_1: Dossier
    carol_visible: Dossier
    carol_hidden: Dossier
    # The second office's own client and dossiers: only after with_second_office (most tests
    # count what the firm holds and want the second office empty).
    dirk: Account | None = None
    dirk_visible: Dossier | None = None
    dirk_hidden: Dossier | None = None

    def actor(self, account: Account, channel: Channel = Channel.WEB) -> Actor:
        return Actor.of(account, channel)

    async def with_second_office(self, db: Database) -> None:
        """Give the second office (``other_office``) a client, Dirk, with a dossier he sees
        and one the office keeps hidden from him, as the first office has with Carol."""
        async with db.begin() as s:
            _, self.dirk = await clients.create_client(
                s, SYSTEM, name="Dirk Bos", email="dirk@example.nl", username="dirk"
            )
            office_id = self.other_office.intermediary_id
            self.dirk_visible = await dossiers.create_dossier(
                s,
                SYSTEM,
                number="2026-0500",
                description="Pensioen",
                client_id=self.dirk.client_id,
                intermediary_id=office_id,
                handler_id=self.staff.id,
            )
            self.dirk_hidden = await dossiers.create_dossier(
                s,
                SYSTEM,
                number="2026-0501",
                description="Schade",
                client_id=self.dirk.client_id,
                intermediary_id=office_id,
                visible_to_client=False,
                handler_id=self.staff.id,
            )


async def build_firm(db: Database) -> Firm:
    from core.models import Role
    from core.services.accounts import create_account, create_staff

    async with db.begin() as s:
        staff = await create_staff(s, SYSTEM, username="sanne", email="sanne@firm.example")
        _, alice = await clients.create_client(
            s, SYSTEM, name="Alice de Vries", email="alice@example.nl", username="alice"
        )
        bv, bv_main = await clients.create_client(
            s,
            SYSTEM,
            name="Bakkerij BV",
            email="info@bakkerij.example",
            username="bakkerij",
            kind=ClientKind.COMPANY,
        )
        bv_extra = await create_account(
            s,
            SYSTEM,
            email="boekhouding@bakkerij.example",
            username="bakkerij.boekhouding",
            role=Role.CLIENT,
            client_id=bv.id,
        )
        _, carol = await clients.create_client(
            s, SYSTEM, name="Carol Jansen", email="carol@example.nl", username="carol"
        )
        office_row, office = await clients.create_intermediary(
            s, SYSTEM, name="Adviesbureau Tussen", email="post@tussen.example", username="tussen"
        )
        _, other_office = await clients.create_intermediary(
            s, SYSTEM, name="Ander Kantoor", email="post@ander.example", username="ander"
        )
        alice_1 = await dossiers.create_dossier(
            s,
            SYSTEM,
            number="2026-0001",
            description="Aangifte inkomstenbelasting 2025",
            client_id=alice.client_id,
            handler_id=staff.id,
            steps=["Intake", "Aangifte"],
        )
        alice_2 = await dossiers.create_dossier(
            s,
            SYSTEM,
            number="2026-0002",
            description="Testament",
            client_id=alice.client_id,
            handler_id=staff.id,
        )
        bv_1 = await dossiers.create_dossier(
            s,
            SYSTEM,
            number="2026-0100",
            description="Jaarrekening 2025",
            client_id=bv.id,
            handler_id=staff.id,
        )
        carol_visible = await dossiers.create_dossier(
            s,
            SYSTEM,
            number="2026-0200",
            description="Hypotheek",
            client_id=carol.client_id,
            intermediary_id=office_row.id,
            handler_id=staff.id,
        )
        carol_hidden = await dossiers.create_dossier(
            s,
            SYSTEM,
            number="2026-0201",
            description="Verzekering",
            client_id=carol.client_id,
            intermediary_id=office_row.id,
            visible_to_client=False,
            handler_id=staff.id,
        )
    return Firm(
        staff,
        alice,
        bv_main,
        bv_extra,
        carol,
        office,
        other_office,
        alice_1,
        alice_2,
        bv_1,
        carol_visible,
        carol_hidden,
    )


@pytest.fixture
async def firm(db: Database) -> Firm:
    return await build_firm(db)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of the test's own, where the bridge (tempfile) and a worker process
    it starts (TMPDIR) put their temporary files."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def mail_settings(tmp_path: Path, smtp_port: int | None = None, **extra: object) -> Settings:
    values: dict = {
        "data_dir": tmp_path,
        "public_url": "http://portal.test",
        "secret_key": "test-secret",
        "mail_from": "portaal@kantoor.example",
        "firm_name": "Kantoor Test",
        "smtp_host": "127.0.0.1" if smtp_port else None,
        "smtp_port": smtp_port or 25,
        # Slowing down guesses is shown in test_auth; elsewhere it would only slow the suite.
        "login_max_delay_seconds": 0.01,
        # Staff logging in to test a page would first set up an authenticator app; the
        # requirement itself is shown in tests/test_staff_clients.py.
        "staff_two_factor_required": False,
    }
    return Settings(**(values | extra))


PASSWORD = "Zomer2026!x"


SCREENS: list[Path] = []  # named at the end of the run


@pytest.fixture(scope="session")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots of the pages go, for a person to look at: pytest's temporary
    folder for this run (it keeps the last few), never the repository tree."""
    folder = tmp_path_factory.mktemp("screens", numbered=False)
    SCREENS.append(folder)
    return folder


async def open_browser(
    aiohttp_client,
    db: Database,
    store: LocalFileStore,
    tmp_path: Path,
    smtp,
    *,
    settings_extra: dict | None = None,
    **app,
):
    """A browser-like client on the web view, with mail going to the test SMTP server;
    ``settings_extra``: other settings (a time zone); ``app``: more arguments for
    ``create_app`` (an SMS gateway)."""
    from aiohttp.test_utils import TestServer

    from web.accesslog import RedactingAccessLogger
    from web.app import create_app

    from .webclient import Browser

    settings = mail_settings(
        tmp_path, smtp.port, public_url="http://127.0.0.1", **(settings_extra or {})
    )
    server = TestServer(create_app(settings, db, store, **app))
    # As `loket serve` runs it: the access log shows route patterns, never a token.
    await server.start_server(access_log_class=RedactingAccessLogger)
    client = await aiohttp_client(server)
    b = Browser(client)
    b.settings = settings
    return b


@pytest.fixture
async def browser(aiohttp_client, db: Database, store: LocalFileStore, tmp_path: Path, smtp):
    """A browser-like client on the web view (no SMS gateway)."""
    return await open_browser(aiohttp_client, db, store, tmp_path, smtp)


async def set_password(db: Database, account_id: int, password: str = PASSWORD) -> None:
    from core.passwords import hash_password

    async with db.begin() as s:
        (await s.get(Account, account_id)).password_hash = await hash_password(password)


def pytest_collection_finish(session: pytest.Session) -> None:
    backends.note(session.items)  # what runs, after -k and the like deselected the rest


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker: hand what the end of the run prints to the controller."""
    from . import test_corpora

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["loket_screens"] = [str(folder) for folder in SCREENS]
        workeroutput["loket_corpora"] = dict(test_corpora.REPORT)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ARG001
    """In the pytest-xdist controller: what a worker handed over, for the end of the run."""
    from . import test_corpora

    found = getattr(node, "workeroutput", {})
    SCREENS.extend(Path(folder) for folder in found.get("loket_screens", []))
    for name, (ok, total) in found.get("loket_corpora", {}).items():
        test_corpora.REPORT[name] = (ok, total)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    """At the end of the run: how many tests ran on each database, where the screenshots
    are, and the corpus measurements (tests/test_corpora.py)."""
    from . import test_corpora

    backends.report(terminalreporter, PG_UNSET if not os.environ.get(PG_VARIABLE) else "")
    if SCREENS:
        terminalreporter.section("screenshots of the browser tests")
        for folder in SCREENS:
            terminalreporter.write_line(str(folder))
    if test_corpora.REPORT:
        terminalreporter.section("mail corpora: share of cases matching the corpus")
        for name, (ok, total) in test_corpora.REPORT.items():
            share = f"{ok / total:7.1%}" if total else "   none"  # a corpus that was not found
            terminalreporter.write_line(f"{name:<40} {ok:>4}/{total:<4} {share}")
