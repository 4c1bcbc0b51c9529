"""loket demo: a sample firm to look around in, on SQLite, with nothing else needed.

It sets up the database and sample data once, invites the sample clients, and starts the web
view, the outbox worker and a local mail catcher whose mails staff read in the web view (so
the invitation links can be followed without a real mailbox).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys

from sqlalchemy import select

from core import schema
from core.actor import Actor
from core.models import Account, ClientKind, Role
from core.services import accounts, auth, checklists, clients, documents, dossiers, messages
from core.services.documents import Upload
from core.settings import Settings
from core.storage import aiter_bytes
from core.templates import SHIPPED

from ..logs import configure_logging
from ..mailcatcher import start_catcher
from ..output import emit
from ..runtime import Runtime
from ..serve import serve

SYSTEM = Actor.system()
STAFF_PASSWORD = "Demo-wachtwoord1"
TEMPLATES = SHIPPED

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
        for path in sorted(TEMPLATES.glob("*.yaml")):
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
            await checklists.import_template(s, SYSTEM, text)
        await checklists.assign(s, SYSTEM, number="2026-0001", template_name="inkomstenbelasting")
        for username in ("alice", "bakkerij"):
            await auth.invite(
                s, SYSTEM, rt.settings, await accounts.account_by_username(s, username)
            )


def _telegram_lines(settings: Settings) -> list[str]:
    """What the demo says of the bot: that it runs, or how to try it."""
    if settings.telegram_token:
        how = "a webhook" if settings.telegram_webhook_url else "long polling"
        where = settings.telegram_api_url or "Telegram"
        return [
            f"Telegram bot: running ({how}, Bot API at {where}). In the web view, My details",
            "gives a client a code to link the chat; /start in the chat also asks for the email",
            "address (the code arrives in Caught mail).",
        ]
    return [
        "Telegram bot: off. To try it, set LOKET_TELEGRAM_TOKEN to a bot's token from",
        "@BotFather (see the README) and start the demo again. Without Telegram's servers,",
        "LOKET_TELEGRAM_API_URL points the bot at another Bot API server: a local one",
        "(https://github.com/tdlib/telegram-bot-api), or the tests' fake one with a chat you",
        "type into: `.venv/bin/python -m tests.telegram_console` prints the two settings.",
    ]


async def demo(rt: Runtime, args: argparse.Namespace) -> None:
    await schema.upgrade(rt.db.engine)
    catcher_dir = rt.settings.data_dir / "mailcatcher"
    catcher = await start_catcher(catcher_dir)
    port = catcher.sockets[0].getsockname()[1]
    settings = dataclasses.replace(
        rt.settings,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        smtp_user=None,
        smtp_password=None,
        mail_catcher_dir=catcher_dir,
        outbox_poll_seconds=1,
        # A newcomer looks around without an authenticator app at hand; a real firm keeps
        # the requirement (on by default).
        staff_two_factor_required=False,
    )
    if settings.public_url == Settings().public_url:
        # Links in the caught mail must point at where the demo really listens.
        settings = dataclasses.replace(
            settings, public_url=f"http://{settings.http_host}:{settings.http_port}"
        )
    rt = Runtime(settings=settings, db=rt.db, store=rt.store)
    async with rt.db.read() as s:
        seeded = await s.scalar(select(Account.id).where(Account.username == "medewerker"))
    if seeded is None:
        await _seed(rt)
    url = f"http://{settings.http_host}:{settings.http_port}/"
    logins = [
        {"username": "medewerker", "role": "staff", "password": STAFF_PASSWORD},
        {"username": "alice", "role": "client", "password": None},
        {"username": "bakkerij", "role": "client (company, main account)", "password": None},
        {"username": "bakkerij.boekhouding", "role": "client (company, extra)", "password": None},
    ]
    human = "\n".join(
        [
            f"Loket demo: {url}",
            f"  data in {settings.data_dir.resolve()}; mail is caught, not sent",
            "",
            "Log in as staff:",
            f"  medewerker / {STAFF_PASSWORD}",
            "  (two-step verification for staff is not required in the demo)",
            "",
            "Clients set their password through the invitation mail: log in as staff, open",
            f"'Caught mail' ({url}staff/mail), follow the invitation link for alice",
            "(alice@example.nl) in a private window. Other accounts: bakkerij (company),",
            "bakkerij.boekhouding (its extra account).",
            "",
            *_telegram_lines(settings),
            "",
            # With --setup-only nothing listens yet: say how to start it instead.
            "Nothing is running yet: start it with `loket demo`."
            if args.setup_only
            else "Stop with Ctrl-C.",
        ]
    )
    data = {
        "id": "demo",
        "url": url,
        "data_dir": str(settings.data_dir.resolve()),
        "smtp_port": port,
        "logins": logins,
        "telegram": bool(settings.telegram_token),
    }

    async def ready() -> None:
        emit(args.json, data, human)
        sys.stdout.flush()

    try:
        if args.setup_only:
            await ready()
            return
        configure_logging(logging.WARNING, rt.settings.log_format)
        await serve(rt, {"web", "worker", "bot"}, ready=ready)
    finally:
        catcher.close()
        await catcher.wait_closed()
