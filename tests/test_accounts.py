"""Creating staff, clients, companies and intermediaries, and the rules on their names."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.errors import Conflict, PermissionDenied, ValidationError
from core.models import Account, AuditEvent, Client, ClientKind, IntermediaryOffice, Role
from core.passwords import check_password_rule, verify_password
from core.services import accounts, clients

from .conftest import SYSTEM, Firm


async def count(db: Database, model: type) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_client_gets_a_main_account_and_an_audit_event(db: Database) -> None:
    async with db.begin() as s:
        client, account = await clients.create_client(
            s, SYSTEM, name="Jan Jansen", email="Jan@Example.NL", language="en"
        )
    assert client.kind is ClientKind.PERSON
    assert account.role is Role.CLIENT and account.is_main and account.client_id == client.id
    assert account.username == "jan"  # made from the address when none is given
    assert account.email == "Jan@example.nl"  # the domain is case-insensitive, the local part not
    assert account.password_hash is None  # set later through the invitation
    async with db.read() as s:
        actions = set(await s.scalars(select(AuditEvent.action)))
    assert {"client.create", "account.create"} <= actions


async def test_generated_usernames_do_not_collide(db: Database) -> None:
    async with db.begin() as s:
        _, a = await clients.create_client(s, SYSTEM, name="A", email="info@one.example")
        _, b = await clients.create_client(s, SYSTEM, name="B", email="info@two.example")
    assert (a.username, b.username) == ("info", "info2")


async def test_company_client(db: Database) -> None:
    async with db.begin() as s:
        client, main = await clients.create_client(
            s, SYSTEM, name="Bakkerij BV", email="info@bakkerij.example", kind=ClientKind.COMPANY
        )
    assert client.kind is ClientKind.COMPANY and main.is_main


@pytest.mark.parametrize(
    "username", ["jan jansen", "jan@home", "jan/..", "ján", "", "x" * 65, "jan;drop"]
)
async def test_bad_usernames_are_refused_and_nothing_is_saved(db: Database, username: str) -> None:
    with pytest.raises(ValidationError) as info:
        async with db.begin() as s:
            await clients.create_client(
                s, SYSTEM, name="Jan", email="jan@example.nl", username=username
            )
    assert info.value.field == "username"
    assert await count(db, Client) == 0
    assert await count(db, Account) == 0


@pytest.mark.parametrize("username", ["jan", "jan.jansen", "jan_2", "J-J", "a" * 64])
async def test_good_usernames(db: Database, username: str) -> None:
    async with db.begin() as s:
        _, account = await clients.create_client(
            s, SYSTEM, name="Jan", email="jan@example.nl", username=username
        )
    assert account.username == username


async def test_username_taken_regardless_of_case(db: Database) -> None:
    async with db.begin() as s:
        await clients.create_client(s, SYSTEM, name="Jan", email="j@example.nl", username="Jan")
    with pytest.raises(Conflict):
        async with db.begin() as s:
            await clients.create_client(s, SYSTEM, name="J", email="k@example.nl", username="jan")
    assert await count(db, Client) == 1


@pytest.mark.parametrize("email", ["", "jan", "jan@", "@example.nl", "jan @example.nl", "a@b"])
async def test_bad_email_is_refused(db: Database, email: str) -> None:
    with pytest.raises(ValidationError) as info:
        async with db.begin() as s:
            await clients.create_client(s, SYSTEM, name="Jan", email=email)
    assert info.value.field == "email"
    assert await count(db, Client) == 0


async def test_intermediary_office_with_its_own_login(db: Database) -> None:
    async with db.begin() as s:
        office, account = await clients.create_intermediary(
            s, SYSTEM, name="Tussen BV", email="post@tussen.example"
        )
    assert account.role is Role.INTERMEDIARY and account.intermediary_id == office.id
    assert await count(db, IntermediaryOffice) == 1


async def test_staff_with_password_is_hashed_with_argon2id(db: Database) -> None:
    async with db.begin() as s:
        staff = await accounts.create_staff(
            s, SYSTEM, username="sanne", email="sanne@firm.example", password="Kantoor-Geheim9"
        )
    assert staff.password_hash.startswith("$argon2id$")
    assert await verify_password(staff.password_hash, "Kantoor-Geheim9")
    assert not await verify_password(staff.password_hash, "geheim123")


async def test_only_staff_create_clients(db: Database, firm: Firm) -> None:
    for account in (firm.alice, firm.bv_main, firm.office):
        with pytest.raises(PermissionDenied):
            async with db.begin() as s:
                await clients.create_client(s, firm.actor(account), name="X", email="x@y.example")


@pytest.mark.parametrize(
    "password,reason",
    [
        ("Kort1", "at least 8"),
        ("geheim123", "capital"),
        ("GeheimWoord", "digit"),
    ],
)
def test_password_rule_refuses_with_the_reason(password: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_password_rule(password)
    assert reason in info.value.message


@pytest.mark.parametrize(
    "password",
    ["Kantoor-Geheim9", "een lange zin zonder cijfers", "Ünïcødé wachtwoord!", "A1" + "x" * 62],
)
def test_password_rule_accepts(password: str) -> None:
    check_password_rule(password)
