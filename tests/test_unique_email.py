"""Each account has its own email address, whatever its case: on every path that adds one
(staff, CLI, a company's main account on the web), in the database itself, under concurrency,
and in the upgrade of a database that already has shared addresses. The refusal names no
other account."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from core import schema
from core.db import Database, create_engine
from core.errors import Conflict
from core.models import Account, Client, ClientKind, OutboxItem, Role
from core.services import accounts, clients, profile
from core.services.accounts import EMAIL_TAKEN
from loket.cli import main

from .conftest import (
    BACKENDS,
    PASSWORD,
    SYSTEM,
    Firm,
    pg_engine_kwargs,
    pg_schema,
    pg_url,
    set_password,
)
from .webclient import Browser

# A client whose username must never reach another client.
SECRET_USERNAME = "zz-verborgen"
ADDRESS = "Iemand.Anders@voorbeeld.example"


async def add_other_client(db: Database) -> None:
    async with db.begin() as s:
        await clients.create_client(
            s, SYSTEM, name="Iemand Anders", email=ADDRESS, username=SECRET_USERNAME
        )


async def counts(db: Database) -> tuple[int, int]:
    async with db.read() as s:
        return (
            await s.scalar(select(func.count()).select_from(Account)),
            await s.scalar(select(func.count()).select_from(Client)),
        )


def assert_refused(exc: Conflict) -> None:
    assert exc.template == EMAIL_TAKEN and exc.field == "email"
    assert SECRET_USERNAME not in str(exc)


@pytest.mark.parametrize(
    "same",
    [ADDRESS.lower(), f"  {ADDRESS.swapcase()} "],
)
async def test_every_service_refuses_an_address_in_use(db: Database, firm: Firm, same) -> None:
    await add_other_client(db)
    before = await counts(db)
    bv = firm.actor(firm.bv_main)
    attempts = [
        lambda s: clients.create_client(s, SYSTEM, name="Nieuw", email=same),
        lambda s: clients.create_client(
            s, SYSTEM, name="Nieuw BV", email=same, kind=ClientKind.COMPANY
        ),
        lambda s: clients.create_intermediary(s, SYSTEM, name="Kantoor", email=same),
        lambda s: accounts.create_staff(s, SYSTEM, username="nieuw", email=same),
        lambda s: accounts.create_account(
            s, SYSTEM, email=same, role=Role.CLIENT, client_id=firm.bv_main.client_id
        ),
        lambda s: profile.add_company_account(s, bv, name="Extra", email=same),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict) as refused:
            async with db.begin() as s:
                await attempt(s)
        assert_refused(refused.value)
    assert await counts(db) == before


async def test_an_intermediarys_login_shares_the_offices_general_address(
    db: Database, firm: Firm
) -> None:
    # The office's login account is made with the office's general address (another table):
    # that is one party, not two. Nobody else may then take the address.
    async with db.read() as s:
        office = await s.get(Account, firm.office.id)
    assert office.email == "post@tussen.example"
    with pytest.raises(Conflict) as refused:
        async with db.begin() as s:
            await clients.create_client(s, SYSTEM, name="Nieuw", email="POST@tussen.example")
    assert refused.value.template == EMAIL_TAKEN and "tussen" not in str(refused.value)


async def test_the_database_itself_refuses_a_shared_address(db: Database, firm: Firm) -> None:
    row = {
        "username": "direct",
        "email": "ALICE@example.nl",  # alice@example.nl is Alice's
        "name": "Direct",
        "role": Role.CLIENT,
        "notifications": {},
    }
    with pytest.raises(IntegrityError):
        async with db.begin() as s:
            await s.execute(insert(Account).values(**row))


async def test_a_company_main_account_adding_a_used_address_gets_a_plain_error(
    browser: Browser, db: Database, firm: Firm
) -> None:
    await add_other_client(db)
    before = await counts(db)
    await set_password(db, firm.bv_main.id)
    await browser.login("bakkerij", PASSWORD)
    await browser.get("/me/accounts")
    refused = await browser.post(
        "/me/accounts", {"name": "Nieuwe collega", "email": ADDRESS.upper(), "username": ""}
    )
    assert refused.status == 400
    assert "Dit e-mailadres wordt al gebruikt door een ander account." in browser.last_html
    assert SECRET_USERNAME not in browser.last_html and "Iemand Anders" not in browser.last_html
    assert await counts(db) == before
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxItem)) == 0  # no invitation


async def test_two_concurrent_creates_of_one_address_end_as_one_conflict(
    db: Database, firm: Firm
) -> None:
    first_added = asyncio.Event()
    postgres = db.engine.dialect.name == "postgresql"

    async def second_is_waiting() -> None:
        """On PostgreSQL: until the second insert waits on the first's row in the unique
        index (both have checked the address and found it free). SQLite lets one writer in
        at a time, so there the second checks after the first commits."""
        if not postgres:
            return
        query = text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database() "
            # Not another pytest-xdist worker's wait (each has its own name: tests/conftest.py).
            "AND application_name = current_setting('application_name')"
        )
        for _ in range(400):
            async with db.engine.connect() as conn:
                if await conn.scalar(query):
                    return
            await asyncio.sleep(0.025)
        raise AssertionError("the second insert never waited on the first")

    async def create(name: str, email: str, wait: bool) -> None:
        if wait:
            await first_added.wait()
        async with db.begin() as s:
            await clients.create_client(s, SYSTEM, name=name, email=email, username=name)
            if not wait:
                first_added.set()
                await second_is_waiting()

    results = await asyncio.gather(
        create("Een", "gedeeld@voorbeeld.example", wait=False),
        create("Twee", "GEDEELD@voorbeeld.example", wait=True),
        return_exceptions=True,
    )
    assert results[0] is None
    assert isinstance(results[1], Conflict), results[1]
    assert_refused(results[1])
    async with db.read() as s:
        found = await s.scalars(
            select(Account.name).where(func.lower(Account.email) == "gedeeld@voorbeeld.example")
        )
        assert list(found) == ["Een"]


async def run_loket(capsys, *args: str) -> tuple[int, str, str]:
    """The real `loket` entry point (it runs its own event loop, so in a thread)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path / "data"))
    for name in ("LOKET_DATABASE_URL", "LOKET_CONFIG", "LOKET_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data" / "loket.sqlite3"


async def test_the_cli_refuses_a_used_address_and_stores_nothing(cli_env: Path, capsys) -> None:
    assert (await run_loket(capsys, "init"))[0] == 0
    add = ("client", "add", "--name", "Iemand Anders", "--email", ADDRESS)
    assert (await run_loket(capsys, *add, "--username", SECRET_USERNAME))[0] == 0
    code, out, err = await run_loket(
        capsys, "client", "add", "--name", "Nieuw BV", "--company", "--email", ADDRESS.lower()
    )
    assert code == 1 and out == ""
    assert err == "loket: This email address is already used by another account.\n"
    code, _, err = await run_loket(
        capsys, "staff", "add", "--username", "sanne", "--email", ADDRESS.upper()
    )
    assert code == 1 and "already used by another account" in err
    db = Database.connect(f"sqlite+aiosqlite:///{cli_env}")
    try:
        assert await counts(db) == (1, 1)
    finally:
        await db.dispose()


# A database from before 0006 where two accounts share an address.
async def _old_database_with_a_shared_address(engine) -> None:
    def to_0005(connection) -> None:
        from alembic import command

        command.upgrade(schema.alembic_config(connection), "0005")

    async with engine.begin() as conn:
        await conn.run_sync(to_0005)
        for username, email in (
            ("alice", "alice@example.nl"),
            ("alice2", "Alice@Example.nl"),
            ("bob", "bob@example.nl"),
        ):
            await conn.execute(
                insert(Account).values(
                    username=username,
                    email=email,
                    name=username,
                    role=Role.CLIENT,
                    notifications={},
                )
            )


def _says_what_to_fix(message: str) -> None:
    assert "alice@example.nl (alice, alice2)" in message
    assert "bob" not in message and "Nothing was changed" in message


async def test_the_upgrade_refuses_shared_addresses_and_says_which(cli_env: Path, capsys) -> None:
    cli_env.parent.mkdir(parents=True)
    engine = create_engine(f"sqlite+aiosqlite:///{cli_env}")
    try:
        await _old_database_with_a_shared_address(engine)
        code, out, err = await run_loket(capsys, "init")
        assert code == 1 and out == "" and err.startswith("loket: The database cannot be upgraded")
        _says_what_to_fix(err)
        assert (await schema.revision(engine))[0] == "0005"  # nothing half-done
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE accounts SET email = 'alice2@example.nl' WHERE username = 'alice2'")
            )
    finally:
        await engine.dispose()
    code, out, _ = await run_loket(capsys, "init")
    assert code == 0 and "from schema 0005 to" in out


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="needs LOKET_TEST_DATABASE_URL")
async def test_the_upgrade_refuses_shared_addresses_on_postgresql() -> None:
    name = f"{pg_schema()}_upgrade"  # beside the schema of this test process
    admin = create_engine(pg_url())
    async with admin.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {name}"))
    kwargs = pg_engine_kwargs()
    kwargs["connect_args"]["server_settings"]["search_path"] = name
    engine = create_engine(pg_url(), **kwargs)
    try:
        await _old_database_with_a_shared_address(engine)
        with pytest.raises(Conflict) as refused:
            await schema.upgrade(engine)
        _says_what_to_fix(str(refused.value))
        assert (await schema.revision(engine))[0] == "0005"
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        await admin.dispose()
