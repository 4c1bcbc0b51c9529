"""loket demo: a sample firm to look around in.

Until the web view exists this sets up the database with sample data and prints what to try
on the command line; later issues make it start the web view and a mail catcher too.
"""

from __future__ import annotations

import argparse

from sqlalchemy import select

from core import schema
from core.actor import Actor
from core.models import Account, ClientKind, Role
from core.services import accounts, clients, documents, dossiers, messages
from core.services.documents import Upload
from core.storage import aiter_bytes

from ..output import emit
from ..runtime import Runtime

SYSTEM = Actor.system()
STAFF_PASSWORD = "Demo-wachtwoord1"

LETTER = (
    b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


async def _seed(rt: Runtime) -> None:
    async with rt.db.begin() as s:
        staff = await accounts.create_staff(
            s,
            SYSTEM,
            username="medewerker",
            email="medewerker@kantoor.example",
            name="Sanne Medewerker",
            password=STAFF_PASSWORD,
        )
        _, alice = await clients.create_client(
            s, SYSTEM, name="Alice de Vries", email="alice@example.nl", username="alice"
        )
        bv, _ = await clients.create_client(
            s,
            SYSTEM,
            name="Bakkerij Brood BV",
            email="info@bakkerij.example",
            username="bakkerij",
            kind=ClientKind.COMPANY,
        )
        await accounts.create_account(
            s,
            SYSTEM,
            email="boekhouding@bakkerij.example",
            username="bakkerij.boekhouding",
            name="Boekhouding Bakkerij",
            role=Role.CLIENT,
            client_id=bv.id,
        )
        await dossiers.create_dossier(
            s,
            SYSTEM,
            number="2026-0001",
            description="Aangifte inkomstenbelasting 2025",
            client_id=alice.client_id,
            handler_id=staff.id,
            steps=["Intake", "Documenten verzameld", "Aangifte opgesteld", "Aangifte ingediend"],
        )
        await dossiers.create_dossier(
            s,
            SYSTEM,
            number="2026-0002",
            description="Testament",
            client_id=alice.client_id,
            handler_id=staff.id,
        )
        await dossiers.create_dossier(
            s,
            SYSTEM,
            number="2026-0100",
            description="Jaarrekening 2025",
            client_id=bv.id,
            handler_id=staff.id,
        )
        await dossiers.tick_step(s, SYSTEM, "2026-0001", 1)
        await documents.publish_document(
            s,
            rt.store,
            SYSTEM,
            number="2026-0001",
            upload=Upload("Opdrachtbevestiging.pdf", aiter_bytes(LETTER), "application/pdf"),
            category="correspondence",
        )
        await messages.send_message(
            s,
            rt.store,
            SYSTEM,
            number="2026-0001",
            subject="Welkom",
            body="Beste Alice,\n\nWelkom in ons klantportaal. Hier vindt u uw dossiers.\n",
        )


async def demo(rt: Runtime, args: argparse.Namespace) -> None:
    await schema.upgrade(rt.db.engine)
    async with rt.db.read() as s:
        seeded = await s.scalar(select(Account.id).where(Account.username == "medewerker"))
    if seeded is None:
        await _seed(rt)
    logins = [
        {"username": "medewerker", "role": "staff", "password": STAFF_PASSWORD},
        {"username": "alice", "role": "client", "password": None},
        {"username": "bakkerij", "role": "client (company, main account)", "password": None},
        {"username": "bakkerij.boekhouding", "role": "client (company, extra)", "password": None},
    ]
    human = "\n".join(
        [
            f"Loket demo ready in {rt.settings.data_dir.resolve()}",
            "",
            "Accounts:",
            *(f"  {x['username']:<22} {x['role']}" for x in logins),
            f"  (staff password: {STAFF_PASSWORD}; clients set theirs through the invitation)",
            "",
            "Try:",
            "  loket dossier show 2026-0001",
            "  loket message send --dossier 2026-0001 --subject Vraag --body 'Is alles binnen?'",
            "  loket message send --dossier 2026-0001 --as alice --subject Re --body 'Ja!'",
            "  loket document publish --dossier 2026-0100 --file README.md",
            "  loket dossier status 2026-0100 in_treatment",
        ]
    )
    emit(
        args.json,
        {"id": "demo", "data_dir": str(rt.settings.data_dir.resolve()), "logins": logins},
        human,
    )
