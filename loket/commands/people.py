"""loket staff add, client add, intermediary add, account list."""

from __future__ import annotations

import argparse

from core.actor import Actor
from core.models import ClientKind, Language
from core.services import accounts, clients, telegram

from ..output import (
    account_json,
    account_line,
    account_row_json,
    client_json,
    client_row_json,
    emit,
    intermediary_json,
)
from ..runtime import Runtime

SYSTEM = Actor.system()


async def staff_add(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.begin() as s:
        staff = await accounts.create_staff(
            s,
            SYSTEM,
            username=args.username,
            email=args.email,
            name=args.name or "",
            password=args.password,
        )
    emit(args.json, account_json(staff), f"Staff account {staff.username} added (id {staff.id}).")


async def client_add(rt: Runtime, args: argparse.Namespace) -> None:
    kind = ClientKind.COMPANY if args.company else ClientKind.PERSON
    async with rt.db.begin() as s:
        client, account = await clients.create_client(
            s,
            SYSTEM,
            name=args.name,
            email=args.email,
            username=args.username,
            kind=kind,
            language=Language(args.language),
        )
    emit(
        args.json,
        client_json(client, account),
        f"Client {client.name} added (id {client.id}) with account {account.username}.",
    )


async def intermediary_add(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.begin() as s:
        office, account = await clients.create_intermediary(
            s, SYSTEM, name=args.name, email=args.email, username=args.username
        )
    emit(
        args.json,
        intermediary_json(office, account),
        f"Intermediary {office.name} added (id {office.id}) with account {account.username}.",
    )


async def account_list(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.read() as s:
        found = await accounts.list_accounts(s, SYSTEM)
        chats = await telegram.telegram_status(s, found)
    rows = [account_row_json(a, chats.get(a.id, telegram.NOT_LINKED)) for a in found]
    emit(args.json, rows, "\n".join(account_line(r) for r in rows) or "No accounts yet.")


async def client_list(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.read() as s:
        listing = await clients.list_clients(s, SYSTEM, search=args.search, size=args.limit)
        rows = []
        for row in listing.rows:
            held = await clients.client_accounts(s, SYSTEM, row.client.id)
            chats = await telegram.telegram_status(s, held)
            rows.append(
                client_row_json(
                    row.client,
                    row.dossiers,
                    [account_row_json(a, chats.get(a.id, telegram.NOT_LINKED)) for a in held],
                )
            )
    lines = [
        f"{r['id']}: {r['name']} ({r['kind']}; {r['dossiers']} dossier(s);"
        f" {', '.join(a['username'] for a in r['accounts']) or 'no accounts'})"
        for r in rows
    ]
    if listing.has_next:
        lines.append(f"… more; showing the first {args.limit} (--limit)")
    emit(args.json, rows, "\n".join(lines) or "No clients found.")
