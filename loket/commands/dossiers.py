"""loket dossier add/status/show, document publish, message send."""

from __future__ import annotations

import argparse
from pathlib import Path

from core import storekeeping
from core.actor import Actor
from core.models import (
    Channel,
    Client,
    DocumentCategory,
    IntermediaryOffice,
)
from core.services import accounts, documents, dossiers, messages, profile, telegram
from core.services.documents import Upload
from core.storage import read_chunks

from ..files import readable_file
from ..output import (
    account_line,
    account_row_json,
    document_json,
    dossier_json,
    dossier_row_json,
    dossier_show_json,
    emit,
    message_json,
)
from ..runtime import Runtime

SYSTEM = Actor.system()


async def dossier_add(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.begin() as s:
        dossier = await dossiers.create_dossier(
            s,
            SYSTEM,
            number=args.number,
            description=args.description,
            client_id=args.client,
            intermediary_id=args.intermediary,
            visible_to_client=not args.hidden_from_client,
            kind=args.kind,
        )
    emit(args.json, dossier_json(dossier), f"Dossier {dossier.number} added (id {dossier.id}).")


async def dossier_list(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.read() as s:
        listing = await dossiers.list_dossiers(
            s,
            SYSTEM,
            search=args.search,
            status=args.status,
            client_id=args.client,
            limit=args.limit,
            capped=True,
        )
    rows = [dossier_row_json(r) for r in listing.rows]
    lines = [
        f"{r['number']}: {r['description']} [{r['status']}] {r['client_name']}"
        f" (steps {r['steps_done']}/{r['steps_total']})"
        for r in rows
    ]
    if listing.has_next:
        lines.append(f"… more; showing the first {args.limit} (--limit)")
    emit(args.json, rows, "\n".join(lines) or "No dossiers found.")


async def dossier_status(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.begin() as s:
        dossier = await dossiers.set_status(s, SYSTEM, args.number, args.status)
    emit(
        args.json,
        dossier_json(dossier),
        f"Dossier {dossier.number} is now {dossier.status.value}.",
    )


async def dossier_show(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.read() as s:
        view = await dossiers.open_dossier(s, SYSTEM, number=args.number)
        d = view.dossier
        docs = await documents.list_documents(s, SYSTEM, dossier_id=d.id)
        msgs = await messages.list_messages(s, SYSTEM, dossier_id=d.id)
        senders = {r.message.id: r.sender for r in msgs if r.sender}
        client = await s.get(Client, d.client_id)
        office = await s.get(IntermediaryOffice, d.intermediary_id) if d.intermediary_id else None
        people = await profile.dossier_accounts(s, SYSTEM, d.id)
        chats = await telegram.telegram_status(s, people)
    accounts_data = [account_row_json(a, chats.get(a.id, telegram.NOT_LINKED)) for a in people]
    data = dossier_show_json(
        view, [r.document for r in docs], [r.message for r in msgs], senders, accounts_data
    )
    emit(args.json, data, "\n".join(_dossier_lines(data, client, office)))


def _writer(m: dict) -> str:
    if m["author"] and m["sender"]:
        return f"{m['author']} <{m['sender']}>"
    if m["author"] or m["sender"]:
        return m["author"] or m["sender"]
    return "the firm" if m["direction"] == "outgoing" else "an unknown sender"


def _dossier_lines(
    data: dict, client: Client | None, office: IntermediaryOffice | None
) -> list[str]:
    lines = [
        f"Dossier {data['number']}: {data['description']}",
        f"  status {data['status']}; steps {data['steps_done']}/{data['steps_total']} done",
        f"  client {client.name if client else '?'} (id {data['client_id']}); "
        + (f"intermediary {office.name} (id {office.id}); " if office else "no intermediary; ")
        + ("visible to the client" if data["visible_to_client"] else "hidden from the client"),
    ]
    lines += [
        f"  [{'x' if st['done_at'] else ' '}] {st['position']}. {st['title']}"
        for st in data["steps"]
    ]
    lines += [f"  account {account_line(a)}" for a in data["accounts"]]
    for doc in data["documents"]:
        lines += [
            f"  document {doc['id']} [{doc['category']}] {doc['filename']}"
            f" ({doc['size']} bytes, via {doc['source_channel']})"
            + (f", replaced by document {doc['replaced_by_id']}" if doc["replaced_by_id"] else ""),
            f"      sha256 {doc['sha256']}",
        ]
    for m in data["messages"]:
        lines.append(
            f"  message {m['id']} {m['direction']} via {m['channel']} from {_writer(m)}:"
            f" {m['subject']}"
        )
        lines += [f"      {line}".rstrip() for line in m["body"].splitlines()]
        lines += [
            f"      attachment: document {a['id']} {a['filename']} ({a['size']} bytes)"
            for a in m["attachments"]
        ]
    return lines


async def document_publish(rt: Runtime, args: argparse.Namespace) -> None:
    path = readable_file(Path(args.file))
    upload = Upload(filename=path.name, chunks=read_chunks(path))
    async with storekeeping.removing_unused(rt.db, rt.store), rt.db.begin() as s:
        document = await documents.publish_document(
            s,
            rt.store,
            SYSTEM,
            number=args.dossier,
            upload=upload,
            category=DocumentCategory(args.category),
        )
    emit(
        args.json,
        document_json(document),
        f"Published {document.filename} ({document.size} bytes) in dossier {args.dossier}.",
    )


async def message_send(rt: Runtime, args: argparse.Namespace) -> None:
    paths = [readable_file(Path(p)) for p in args.attach or []]
    uploads = [Upload(filename=p.name, chunks=read_chunks(p)) for p in paths]
    # Refused after a first file was stored (the second one empty): none stays behind.
    async with storekeeping.removing_unused(rt.db, rt.store), rt.db.begin() as s:
        actor = SYSTEM
        if args.as_user:
            actor = Actor.of(await accounts.account_by_username(s, args.as_user), Channel.CLI)
        message = await messages.send_message(
            s,
            rt.store,
            actor,
            number=args.dossier,
            subject=args.subject,
            body=args.body,
            attachments=uploads,
        )
    emit(
        args.json,
        message_json(message),
        f"Message {message.id} sent in dossier {args.dossier}"
        f" with {len(message.attachments)} attachment(s).",
    )
