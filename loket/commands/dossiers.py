"""loket dossier add/status/show, document publish, message send."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.actor import Actor
from core.models import Channel, DocumentCategory
from core.services import accounts, documents, dossiers, messages
from core.services.documents import Upload
from core.storage import read_chunks

from ..files import readable_file
from ..output import document_json, dossier_json, dossier_show_json, emit, message_json
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
        )
    emit(args.json, dossier_json(dossier), f"Dossier {dossier.number} added (id {dossier.id}).")


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
        docs = await documents.list_documents(s, SYSTEM, dossier_id=view.dossier.id)
        msgs = await messages.list_messages(s, SYSTEM, dossier_id=view.dossier.id)
    data = dossier_show_json(view, [r.document for r in docs], [r.message for r in msgs])
    d = view.dossier
    lines = [
        f"Dossier {d.number}: {d.description}",
        f"  status {d.status.value}; steps {view.steps_done}/{len(view.steps)} done",
    ]
    lines += [f"  [{'x' if st.done_at else ' '}] {st.position}. {st.title}" for st in view.steps]
    lines += [
        f"  document {doc['id']} [{doc['category']}] {doc['filename']} ({doc['size']} bytes)"
        for doc in data["documents"]
    ]
    lines += [
        f"  message {m['id']} {m['direction']} via {m['channel']} from {m['author'] or 'the firm'}:"
        f" {m['subject']}"
        for m in data["messages"]
    ]
    emit(args.json, data, "\n".join(lines))


async def document_publish(rt: Runtime, args: argparse.Namespace) -> None:
    path = readable_file(Path(args.file))
    upload = Upload(filename=path.name, chunks=read_chunks(path))
    async with rt.db.begin() as s:
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
    async with rt.db.begin() as s:
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
