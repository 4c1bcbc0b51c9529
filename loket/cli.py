"""The ``loket`` command line.

Every command that creates, changes or shows something takes ``--json`` and then prints exactly
one JSON document on stdout. Errors go to stderr in words a person understands, with a non-zero
exit, and nothing half-done: each command is one unit of work.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from core import schema
from core.errors import LoketError
from core.models import DossierStatus
from core.settings import Settings
from core.validation import MAX_ID, parse_id

from . import chat as chat_command
from . import serve
from .backup import BackupError
from .commands import (
    backups,
    checklists,
    demo,
    dossiers,
    mail,
    mailin,
    people,
    privacy,
    run,
    secrets,
    setup,
    store,
)
from .config import ConfigError, load_settings
from .runtime import Runtime, open_runtime

Command = Callable[[Runtime, argparse.Namespace], Awaitable[None]]

EXIT_ERROR = 1
EXIT_UNEXPECTED = 70


def record_id(value: str) -> int:
    """An id argument: a whole number the database can hold, else a usage error. A larger
    number names no record, and must not reach the database (it overflows there)."""
    number = parse_id(value)
    if number is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an id: ids are whole numbers from 1 to {MAX_ID}"
        )
    return number


def count(value: str) -> int:
    """A --limit: a whole number from 1 to MAX_ID."""
    number = parse_id(value)
    if number is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a count: use a whole number from 1 to {MAX_ID}"
        )
    return number


def _json_flag() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print the result as JSON")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loket", description="Loket: a client portal for firms and their clients."
    )
    parser.add_argument("--config", type=Path, help="a TOML settings file (LOKET_CONFIG)")
    groups = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)
    js = [_json_flag()]

    def leaf(
        sub: argparse._SubParsersAction, name: str, run: Command, help: str, *, json: bool = True
    ):
        p = sub.add_parser(name, parents=js if json else [], help=help, description=help)
        p.set_defaults(run=run)
        return p

    leaf(groups, "init", setup.init, "create or upgrade the database")
    p = leaf(groups, "demo", demo.demo, "a sample firm with the web view, on SQLite")
    p.add_argument(
        "--setup-only", action="store_true", help="set up the data and stop, start nothing"
    )
    p = leaf(groups, "serve", run.serve_command, "run the configured components")
    p.add_argument("--only", metavar="LIST", help="comma-separated: " + ", ".join(serve.COMPONENTS))

    staff = groups.add_parser("staff", help="staff accounts").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = leaf(staff, "add", people.staff_add, "add a staff account")
    p.add_argument("--username", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--name")
    p.add_argument("--password", help="set a password now (otherwise by invitation)")

    client = groups.add_parser("client", help="clients").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = leaf(client, "add", people.client_add, "add a client (person or company)")
    p.add_argument("--name", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--username", help="default: made from the email address")
    p.add_argument("--company", action="store_true", help="the client is a company")
    p.add_argument("--language", choices=["nl", "en"], default="nl")

    p = leaf(client, "list", people.client_list, "clients by name, with their accounts")
    p.add_argument("--search", help="part of a name, an address or a username")
    p.add_argument("--limit", type=count, default=1000)

    p = leaf(client, "invite", mail.client_invite, "send (or resend) the invitation mail")
    p.add_argument("--account", required=True, metavar="USERNAME")

    acct = groups.add_parser("account", help="accounts").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    leaf(acct, "list", people.account_list, "every account: role, active, two-step, Telegram")
    p = leaf(
        acct,
        "erase",
        privacy.account_erase,
        "erase a person's account (AVG/GDPR): name, email, phone, password, two-step, "
        "Telegram link, sessions and notifications go, and the account can no longer log in "
        "or be mailed. Kept, and named in the output: the dossiers' documents, messages, "
        "checklist answers and their audit trail, which the firm must keep by law (7 years "
        "for fiscal records in the Netherlands, art. 52 AWR); retention removes them later",
    )
    p.add_argument("username")

    inter = groups.add_parser("intermediary", help="intermediary offices").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = leaf(inter, "add", people.intermediary_add, "add an intermediary office")
    p.add_argument("--name", required=True)
    p.add_argument("--email", required=True, help="the office's general address")
    p.add_argument("--username", help="the office's login; default from the address")

    dossier = groups.add_parser("dossier", help="dossiers").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = leaf(dossier, "add", dossiers.dossier_add, "add a dossier")
    p.add_argument("--number", required=True)
    p.add_argument("--description", required=True)
    p.add_argument("--client", required=True, type=record_id, help="the client's id")
    p.add_argument("--intermediary", type=record_id, help="the intermediary office's id")
    p.add_argument("--hidden-from-client", action="store_true")
    p.add_argument("--type", dest="kind", default="", help="the type of work (free text)")
    p = leaf(dossier, "list", dossiers.dossier_list, "dossiers, newest activity first")
    p.add_argument("--search", help="part of a number, type, description or client's name")
    p.add_argument("--status", choices=[s.value for s in DossierStatus])
    p.add_argument("--client", type=record_id, help="only this client's (id)")
    p.add_argument("--limit", type=count, default=1000)
    p = leaf(dossier, "status", dossiers.dossier_status, "change a dossier's status")
    p.add_argument("number")
    p.add_argument("status", help=", ".join(s.value for s in DossierStatus))
    p = leaf(dossier, "show", dossiers.dossier_show, "show a dossier")
    p.add_argument("number")

    document = groups.add_parser("document", help="documents").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = leaf(document, "publish", dossiers.document_publish, "publish a file to the client")
    p.add_argument("--dossier", required=True, help="the dossier number")
    p.add_argument("--file", required=True)
    p.add_argument("--category", choices=["correspondence", "document"], default="document")

    message = groups.add_parser("message", help="messages").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = leaf(message, "send", dossiers.message_send, "send a message in a dossier")
    p.add_argument("--dossier", required=True, help="the dossier number")
    p.add_argument("--subject", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--attach", action="append", metavar="PATH")
    p.add_argument("--as", dest="as_user", metavar="USERNAME", help="write as this account")

    inbox = groups.add_parser("mail", help="inbound mail").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    leaf(inbox, "fetch", mailin.fetch, "one pass over the inbound mailbox (IMAP)")
    p = leaf(inbox, "quarantine", mailin.quarantine_list, "list mail waiting in quarantine")
    p.add_argument("--limit", type=count, default=100)
    p = leaf(inbox, "file", mailin.file_mail, "file a quarantined mail into a dossier")
    p.add_argument("id", type=record_id)
    p.add_argument("--dossier", help="the dossier number (default: the one suggested in the list)")

    tmpl = groups.add_parser("template", help="checklist templates").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = leaf(tmpl, "import", checklists.template_import, "load a checklist or questionnaire")
    p.add_argument("file")

    chk = groups.add_parser("checklist", help="checklists").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = leaf(chk, "assign", checklists.checklist_assign, "give a client a checklist")
    p.add_argument("--dossier", required=True)
    p.add_argument("--template", required=True)
    p.add_argument("--account", action="append", metavar="USERNAME")
    p.add_argument("--due", metavar="DATE")
    p = leaf(chk, "show", checklists.checklist_show, "a checklist with its answers and state")
    p.add_argument("id", type=record_id)

    # A conversation, not one result: chat has no --json.
    p = leaf(groups, "chat", chat_command.chat, "walk a checklist in the terminal", json=False)
    p.add_argument("--account", required=True, metavar="USERNAME")
    p.add_argument("--checklist", type=record_id)
    p.set_defaults(json=False)

    box = groups.add_parser("outbox", help="outgoing mail").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = leaf(box, "send", mail.outbox_send, "one pass over the outbox")
    p.add_argument("--limit", type=count, default=200)

    keys = groups.add_parser("secrets", help="secrets stored in the database").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    leaf(
        keys,
        "rotate",
        secrets.rotate,
        "seal every stored secret with LOKET_SECRET_KEY (after changing it, with the old key "
        "in LOKET_SECRET_KEY_PREVIOUS)",
    )

    files = groups.add_parser("store", help="the file store").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = leaf(
        files,
        "sweep",
        store.store_sweep,
        "remove stored files that nothing refers to, and unfinished writes",
    )
    p.add_argument(
        "--grace-hours",
        type=count,  # at least 1: with none, the file of an upload on its way could go
        default=24,
        metavar="N",
        help="only files older than this (default 24): uploads still on their way stay",
    )
    leaf(
        files,
        "rotate-key",
        store.rotate_key,
        "encrypt every stored file with LOKET_STORE_KEY (after changing it, with the old key "
        "in LOKET_STORE_KEY_PREVIOUS); resumes where an interrupted run stopped",
    )
    keep = groups.add_parser("retention", help="how long records are kept").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = leaf(
        keep,
        "run",
        privacy.retention_run,
        "remove the documents and messages of dossiers that have been quiet in their status "
        "longer than LOKET_RETENTION keeps it (e.g. completed=7y,archived=7y); records what it "
        "removed in the audit trail",
    )
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")

    p = leaf(
        groups,
        "export",
        privacy.export_account,
        "everything held about a person, as a zip with index.html in their language, "
        "data.json and their documents",
    )
    p.add_argument("--account", required=True, metavar="USERNAME")
    p.add_argument("path", help="the zip to write (a new file)")

    p = leaf(
        groups,
        "backup",
        backups.backup_command,
        "write a consistent archive of the database and the stored documents, while Loket "
        "runs (with the secret key when it lives in the data dir)",
    )
    p.add_argument("path", help="the archive to write (a new file)")
    p = leaf(
        groups,
        "restore",
        backups.restore_command,
        "bring an archive of `loket backup` into an empty data dir and an empty database",
    )
    p.add_argument("path", help="the archive")
    p.set_defaults(before_runtime=True)
    return parser


async def _check_schema(rt: Runtime) -> None:
    current, head = await schema.revision(rt.db.engine)
    if current is None:
        raise ConfigError("The database is not set up yet: run `loket init` first.")
    if current != head:
        raise ConfigError("The database needs an upgrade: run `loket init` first.")


# The databases Loket runs on, as SQLAlchemy names them (backend, async driver).
DATABASES = {("sqlite", "aiosqlite"), ("postgresql", "asyncpg")}
DATABASE_HINT = "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST/NAME"


class DatabaseUnavailable(Exception):
    """The database named in the settings cannot be reached or used."""


def _database_url(settings: Settings) -> str:
    """The configured database URL, password hidden, once it is known to be one Loket uses."""
    try:
        url = make_url(settings.resolved_database_url())
    except ArgumentError:
        raise ConfigError(f"LOKET_DATABASE_URL is not a database URL: {DATABASE_HINT}.") from None
    if (url.get_backend_name(), url.get_driver_name()) not in DATABASES:
        raise ConfigError(
            f"LOKET_DATABASE_URL names a database Loket cannot use ({url.drivername}): "
            f"{DATABASE_HINT}."
        )
    return url.render_as_string(hide_password=True)


async def _run(args: argparse.Namespace) -> None:
    settings = load_settings(config_file=args.config)
    url = _database_url(settings)
    try:
        if getattr(args, "before_runtime", False):
            await args.run(settings, args)
            return
        async with open_runtime(settings) as rt:
            if args.run not in (setup.init, demo.demo):
                await _check_schema(rt)
            await args.run(rt, args)
    except DBAPIError as exc:
        raise DatabaseUnavailable(f"cannot use the database at {url}: {exc.orig}") from None
    except OSError as exc:
        if exc.filename is not None:  # a file or folder, not the database server
            raise
        # Commands that talk to a mail server (IMAP, SMTP) say so themselves; what is left
        # without a file name is the connection to the database.
        raise DatabaseUnavailable(f"cannot reach the database at {url}: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(_run(args))
    except (LoketError, ConfigError, DatabaseUnavailable, BackupError) as exc:
        print(f"loket: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"loket: cannot use {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("loket: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: a person gets a sentence, not a trace
        print(f"loket: unexpected error ({type(exc).__name__}): {exc}", file=sys.stderr)
        return EXIT_UNEXPECTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
