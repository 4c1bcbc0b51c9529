"""The ``loket`` command line, the way an operator or a script runs it. Commands run in the
test's own process (tests/cli_in_process.py: the same ``main``, environment, streams and exit
status); where the process itself is what is tested (``python -m loket.cli``'s exit status,
a server stopped by a signal) they run as real processes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .cli_in_process import run_cli


class Loket:
    """``loket …`` on the data dir ``data_dir``; ``process``: as a real process."""

    def __init__(self, data_dir: Path, *, process: bool = False) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LOKET_")} | {
            "LOKET_DATA_DIR": str(data_dir)
        }
        self.process = process

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        if not self.process:
            return run_cli(args, self.env, stdin)
        return subprocess.run(
            [sys.executable, "-m", "loket.cli", *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def __call__(self, *args: str, ok: bool | None = True) -> subprocess.CompletedProcess[str]:
        proc = self.run(*args)
        if ok:
            assert proc.returncode == 0, proc.stderr
        elif ok is False:
            assert proc.returncode != 0, proc.stdout
            assert proc.stderr.startswith("loket: "), proc.stderr
            assert "Traceback" not in proc.stderr
        return proc

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def loket(tmp_path: Path) -> Loket:
    cli = Loket(tmp_path / "data")
    cli("init")
    return cli


def test_commands_before_init_say_what_to_do(tmp_path: Path) -> None:
    # As a real process: `python -m loket.cli` exits non-zero with one sentence on stderr.
    proc = Loket(tmp_path / "fresh", process=True)("dossier", "show", "1", ok=False)
    assert "loket init" in proc.stderr


def test_init_twice_is_fine(loket: Loket) -> None:
    out = loket.json("init")
    assert out["revision"] == out["previous_revision"] is not None


def test_a_walk_through(loket: Loket, tmp_path: Path) -> None:
    staff = loket.json(
        "staff",
        "add",
        "--username",
        "sanne",
        "--email",
        "sanne@kantoor.nl",
        "--password",
        "Kantoor-Geheim9",
    )
    assert staff["username"] == "sanne" and staff["role"] == "staff"
    client = loket.json("client", "add", "--name", "Alice de Vries", "--email", "alice@example.nl")
    assert client["username"] == "alice" and client["kind"] == "person"
    company = loket.json(
        "client",
        "add",
        "--name",
        "Bakkerij BV",
        "--email",
        "info@bakkerij.nl",
        "--company",
        "--username",
        "bakkerij",
        "--language",
        "en",
    )
    assert company["kind"] == "company" and company["account"]["language"] == "en"
    office = loket.json("intermediary", "add", "--name", "Tussen", "--email", "post@tussen.nl")
    assert office["email"] == "post@tussen.nl" and office["username"]

    dossier = loket.json(
        "dossier",
        "add",
        "--number",
        "2026-0042",
        "--description",
        "Aangifte IB 2025",
        "--client",
        str(client["id"]),
    )
    assert dossier["number"] == "2026-0042" and dossier["status"] == "new"
    hidden = loket.json(
        "dossier",
        "add",
        "--number",
        "2026-0043",
        "--description",
        "Verzekering",
        "--client",
        str(client["id"]),
        "--intermediary",
        str(office["id"]),
        "--hidden-from-client",
    )
    assert hidden["visible_to_client"] is False

    assert loket.json("dossier", "status", "2026-0042", "in_treatment")["status"] == (
        "in_treatment"
    )

    letter = tmp_path / "Opdrachtbevestiging.pdf"
    letter.write_bytes(b"%PDF-1.4 brief")
    doc = loket.json(
        "document",
        "publish",
        "--dossier",
        "2026-0042",
        "--file",
        str(letter),
        "--category",
        "correspondence",
    )
    assert doc["filename"] == "Opdrachtbevestiging.pdf"
    assert doc["sha256"] == hashlib.sha256(b"%PDF-1.4 brief").hexdigest()

    scan = tmp_path / "loonstrook maart.jpg"
    scan.write_bytes(b"\xff\xd8\xff jpeg")
    msg = loket.json(
        "message",
        "send",
        "--dossier",
        "2026-0042",
        "--subject",
        "Loonstrook",
        "--body",
        "Hierbij.",
        "--attach",
        str(scan),
        "--as",
        "alice",
    )
    assert msg["direction"] == "incoming" and msg["author"] == "alice"
    assert msg["attachments"][0]["category"] == "delivered"

    shown = loket.json("dossier", "show", "2026-0042")
    assert shown["status"] == "in_treatment"
    assert sorted(
        (d["category"], d["filename"], d["source_channel"]) for d in shown["documents"]
    ) == [
        ("correspondence", "Opdrachtbevestiging.pdf", "cli"),
        ("delivered", "loonstrook maart.jpg", "cli"),
    ]
    assert [
        (m["direction"], m["channel"], m["author"], m["subject"], m["body"])
        for m in shown["messages"]
    ] == [("incoming", "cli", "alice", "Loonstrook", "Hierbij.")]
    assert shown["messages"][0]["attachments"][0]["size"] == len(b"\xff\xd8\xff jpeg")

    human = loket("dossier", "show", "2026-0042").stdout
    assert "Dossier 2026-0042: Aangifte IB 2025" in human and "Loonstrook" in human
    # What the design promises for `dossier show` is in the text too, not only in the JSON.
    assert "client Alice de Vries" in human and "visible to the client" in human
    assert "Hierbij." in human  # the message's body
    assert "attachment: document" in human and "loonstrook maart.jpg" in human
    for d in shown["documents"]:
        assert f"sha256 {d['sha256']}" in human
    assert "Opdrachtbevestiging.pdf (14 bytes, via cli)" in human
    human = loket("dossier", "show", "2026-0043").stdout
    assert f"intermediary Tussen (id {office['id']})" in human
    assert "hidden from the client" in human


@pytest.mark.parametrize(
    "args,words",
    [
        (
            ["client", "add", "--name", "Jan", "--email", "jan@x.nl", "--username", "jan jansen"],
            "only letters, digits",
        ),
        (["client", "add", "--name", "Jan", "--email", "geen-adres"], "not a valid email"),
        (
            ["dossier", "add", "--number", "1", "--description", "d", "--client", "99"],
            "no client with id 99",
        ),
        (["dossier", "status", "9999", "completed"], "9999 was not found"),
        (["dossier", "show", "9999"], "9999 was not found"),
        (
            ["document", "publish", "--dossier", "9999", "--file", "/nonexistent/x.pdf"],
            "does not exist",
        ),
        (["message", "send", "--dossier", "9999", "--subject", "s", "--body", "b"], "not found"),
        (
            [
                "message",
                "send",
                "--dossier",
                "9999",
                "--subject",
                "s",
                "--body",
                "b",
                "--as",
                "nobody",
            ],
            "no account 'nobody'",
        ),
        (
            ["staff", "add", "--username", "x", "--email", "x@y.nl", "--password", "kort"],
            "at least 8",
        ),
        # Without --name the username is also the name: the missing one is the username.
        (["staff", "add", "--username", "", "--email", "x@kantoor.nl"], "A username is required"),
    ],
)
def test_errors_are_sentences_with_a_non_zero_exit(loket: Loket, args, words) -> None:
    proc = loket(*args, "--json", ok=False)
    assert words in proc.stderr
    assert proc.stdout == ""


def test_a_refused_message_leaves_nothing(loket: Loket) -> None:
    client = loket.json("client", "add", "--name", "Alice", "--email", "alice@example.nl")
    loket("dossier", "add", "--number", "D1", "--description", "d", "--client", str(client["id"]))
    proc = loket(
        "message", "send", "--dossier", "D1", "--subject", "Lang", "--body", "x" * 4001, ok=False
    )
    assert "at most 4000 characters" in proc.stderr
    assert loket.json("dossier", "show", "D1")["messages"] == []


def test_duplicate_dossier_number(loket: Loket) -> None:
    client = loket.json("client", "add", "--name", "Alice", "--email", "alice@example.nl")
    add = ["dossier", "add", "--number", "D1", "--description", "d", "--client", str(client["id"])]
    loket(*add)
    assert "already exists" in loket(*add, ok=False).stderr


def test_demo_sets_up_a_firm_once(tmp_path: Path) -> None:
    cli = Loket(tmp_path / "demo")
    first = json.loads(cli("demo", "--setup-only", "--json").stdout)
    again = json.loads(cli("demo", "--setup-only", "--json").stdout)
    assert {x["username"] for x in first["logins"]} >= {"medewerker", "alice", "bakkerij"}
    assert again["logins"] == first["logins"]
    shown = cli.json("dossier", "show", "2026-0001")
    assert shown["documents"] and shown["messages"] and shown["steps_done"] == 1


def test_invite_and_outbox_send_through_smtp(tmp_path: Path) -> None:
    from .mailcatcher import SmtpServer

    server = SmtpServer()
    server.start()
    try:
        cli = Loket(tmp_path / "data")
        cli.env |= {
            "LOKET_SMTP_HOST": "127.0.0.1",
            "LOKET_SMTP_PORT": str(server.port),
            "LOKET_PUBLIC_URL": "http://portal.test",
        }
        cli("init")
        cli("client", "add", "--name", "Alice", "--email", "alice@example.nl", "--language", "en")
        invited = cli.json("client", "invite", "--account", "alice")
        assert invited["email"] == "alice@example.nl"
        sent = cli.json("outbox", "send")
        assert (sent["sent"], sent["failed"]) == (1, 0)
        assert cli.json("outbox", "send")["sent"] == 0  # never twice
    finally:
        server.stop()
    [mail] = server.messages
    assert mail["Subject"] == "Your invitation to the client portal of Loket"
    assert "http://portal.test/invite/" in mail.get_body(("plain",)).get_content()


def test_outbox_send_without_smtp_says_so(loket: Loket) -> None:
    proc = loket("outbox", "send")
    assert "LOKET_SMTP_HOST" in proc.stdout


def test_demo_serves_the_web_view_and_catches_the_invitations(tmp_path: Path) -> None:
    import time
    import urllib.request

    from .mailcatcher import free_port

    port = free_port()
    cli = Loket(tmp_path / "demo")
    cli.env |= {"LOKET_HTTP_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loket.cli", "demo", "--json"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = json.loads(_read_json_object(proc))
        assert banner["url"] == f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            assert json.load(r)["status"] == "ok"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as r:
            assert "Inloggen" in r.read().decode()
        caught = tmp_path / "demo" / "mailcatcher"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(list(caught.glob("*.eml"))) < 2:
            time.sleep(0.2)
        texts = [p.read_text(errors="replace") for p in caught.glob("*.eml")]
        assert any(f"http://127.0.0.1:{port}/invite/" in t for t in texts)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode == 0, proc.stderr.read()


def _read_json_object(proc: subprocess.Popen) -> str:
    lines = []
    while True:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        lines.append(line)
        if line.rstrip() == "}":
            return "".join(lines)


def test_mail_quarantine_and_file(loket: Loket, tmp_path: Path) -> None:
    import asyncio

    from core.db import Database
    from core.storage import LocalFileStore
    from loket.config import ensure_secret_key, load_settings
    from mailbridge.pipeline import Pipeline

    from .mails import reply_mail

    client = loket.json("client", "add", "--name", "Alice", "--email", "alice@example.nl")
    loket("dossier", "add", "--number", "D1", "--description", "d", "--client", str(client["id"]))
    settings = ensure_secret_key(load_settings(loket.env))

    async def deliver() -> None:
        db = Database.connect(settings.resolved_database_url())
        pipeline = Pipeline(db, LocalFileStore(settings.store_dir, limit=10**6), settings)
        await pipeline.handle(
            reply_mail(
                sender="alice@example.nl",
                to="loket@localhost",
                subject="Vraag",
                text="Waar moet dit heen?",
            )
        )
        await db.dispose()

    asyncio.run(deliver())
    [waiting] = loket.json("mail", "quarantine")
    assert waiting["sender"] == "alice@example.nl" and waiting["outcome"] == "quarantined"
    filed = loket.json("mail", "file", str(waiting["id"]), "--dossier", "D1")
    assert filed["message_id"]
    assert loket.json("mail", "quarantine") == []
    shown = loket.json("dossier", "show", "D1")
    assert [(m["channel"], m["author"], m["body"]) for m in shown["messages"]] == [
        ("email", "alice", "Waar moet dit heen?")
    ]
    again = loket("mail", "file", str(waiting["id"]), "--dossier", "D1", ok=False)
    assert "not in quarantine" in again.stderr


def test_template_assign_and_chat_in_the_terminal(loket: Loket, tmp_path: Path) -> None:
    templates = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"
    imported = loket.json("template", "import", str(templates / "inkomstenbelasting.yaml"))
    assert (imported["name"], imported["version"], imported["sections"]) == (
        "inkomstenbelasting",
        1,
        7,
    )
    client = loket.json("client", "add", "--name", "Alice", "--email", "alice@example.nl")
    loket("dossier", "add", "--number", "D1", "--description", "IB", "--client", str(client["id"]))
    assigned = loket.json(
        "checklist",
        "assign",
        "--dossier",
        "D1",
        "--template",
        "inkomstenbelasting",
        "--due",
        "2026-05-01",
    )
    scan = tmp_path / "jaaropgave.pdf"
    scan.write_bytes(b"%PDF jaaropgave")
    session = (
        "\n".join(
            [
                "?",
                "nee",
                "ja",
                "31-02-2025",
                "1-7-2025",
                "1",
                "bestand /nonexistent/loonstrook.pdf",
                f"bestand {scan}",
                "terug",
                "overslaan",
                "stop",
            ]
        )
        + "\n"
    )
    proc = loket.run("chat", "--account", "alice", stdin=session)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "[1/" in out and "Had u in het belastingjaar een fiscaal partner?" in out
    assert "uw echtgenoot" in out.lower()  # the help after "?"
    assert "31-02-2025 bestaat niet: die maand heeft 28 dagen" in out  # refused, asked again
    assert "Het bestand /nonexistent/loonstrook.pdf bestaat niet." in out  # was in English
    assert "antwoorden zijn bewaard" in out
    shown = loket.json("checklist", "show", str(assigned["id"]))
    answers = {a["question_key"]: a for a in shown["answers"]}
    assert answers["partner"]["value"] is False and answers["verhuisd"]["value"] is True
    assert answers["verhuisdatum"]["value"] == "2025-07-01"
    assert answers["inkomstenbron"]["value"] == ["loondienst"]
    assert answers["jaaropgave"]["shown"] == "jaaropgave.pdf"
    assert answers["partner"]["channel"] == "cli"
    assert shown["status"] == "open" and "eigen_woning" in shown["missing"]
    assert shown["position"] == "bruto_loon"  # back, then skip: where the walk stopped


def usage_error(cli: Loket, *args: str) -> str:
    """Run a command argparse must refuse; its complaint (exit 2, nothing run)."""
    proc = cli(*args, ok=None)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    return proc.stderr


def _quarantine(loket: Loket, raw: bytes) -> None:
    import asyncio

    from core.db import Database
    from core.storage import LocalFileStore
    from loket.config import ensure_secret_key, load_settings
    from mailbridge.pipeline import Pipeline

    settings = ensure_secret_key(load_settings(loket.env))

    async def deliver() -> None:
        db = Database.connect(settings.resolved_database_url())
        pipeline = Pipeline(db, LocalFileStore(settings.store_dir, limit=10**6), settings)
        await pipeline.handle(raw)
        await db.dispose()

    asyncio.run(deliver())


def test_a_strangers_mail_filed_by_staff_shows_who_sent_it(loket: Loket) -> None:
    from .mails import reply_mail

    client = loket.json("client", "add", "--name", "Alice", "--email", "alice@example.nl")
    loket("dossier", "add", "--number", "D1", "--description", "d", "--client", str(client["id"]))
    _quarantine(
        loket,
        reply_mail(
            sender="notaris@elders.example",
            to="loket@localhost",
            subject="Akte",
            text="Zie bijlage.",
        ),
    )
    [waiting] = loket.json("mail", "quarantine")
    loket("mail", "file", str(waiting["id"]), "--dossier", "D1")
    [message] = loket.json("dossier", "show", "D1")["messages"]
    assert (message["direction"], message["author"]) == ("incoming", None)
    assert message["sender"] == "notaris@elders.example"
    human = loket("dossier", "show", "D1").stdout
    assert "from notaris@elders.example: Akte" in human and "the firm" not in human


@pytest.mark.parametrize(
    "args",
    [
        ["dossier", "add", "--number", "1", "--description", "d", "--client", "9" * 20],
        ["dossier", "add", "--number", "1", "--description", "d", "--client", "1"]
        + ["--intermediary", "9" * 20],
        ["checklist", "show", "9" * 20],
        ["mail", "file", "9" * 20, "--dossier", "X"],
        ["chat", "--account", "alice", "--checklist", "9" * 20],
        ["checklist", "show", "2147483648"],  # one past the largest id the database holds
        ["checklist", "show", "0"],
        ["checklist", "show", "-1"],
        ["checklist", "show", "abc"],
    ],
)
def test_ids_the_database_cannot_hold_are_refused_as_ids(loket: Loket, args) -> None:
    assert "is not an id" in usage_error(loket, *args)


@pytest.mark.parametrize("args", [["mail", "quarantine"], ["outbox", "send"]])
def test_a_limit_the_database_cannot_hold_is_refused(loket: Loket, args) -> None:
    assert "is not a count" in usage_error(loket, *args, "--limit", "9" * 20)


def test_the_largest_id_is_simply_not_found(loket: Loket) -> None:
    proc = loket("checklist", "show", "2147483647", ok=False)
    assert "This checklist was not found." in proc.stderr


def test_a_template_that_is_not_utf8_is_refused_plainly(loket: Loket, tmp_path: Path) -> None:
    templates = Path(__file__).resolve().parent.parent / "core" / "data" / "templates"
    text = (templates / "inkomstenbelasting.yaml").read_text(encoding="utf-8")
    text = text.replace("Persoonlijke gegevens", "Persoonlijke gegevens (één keer)", 1)
    assert "één" in text
    notepad = tmp_path / "ansi.yaml"  # an old Notepad's "ANSI": Windows-1252
    notepad.write_bytes(text.encode("cp1252"))
    proc = loket("template", "import", str(notepad), ok=False)
    assert "is not UTF-8 text" in proc.stderr and "save it with the encoding UTF-8" in proc.stderr
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)))
    assert "is not UTF-8 text" in loket("template", "import", str(binary), ok=False).stderr
    # Notepad's "Unicode" (UTF-16 with a byte order mark) and UTF-8 with one are fine.
    unicode = tmp_path / "unicode.yaml"
    unicode.write_bytes(text.encode("utf-16"))
    assert loket.json("template", "import", str(unicode))["version"] == 1
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(text.encode("utf-8-sig"))
    assert loket.json("template", "import", str(bom))["version"] == 2


def test_an_unreachable_imap_server_is_named_as_such(loket: Loket) -> None:
    from .mailcatcher import free_port

    loket.env |= {"LOKET_IMAP_HOST": "127.0.0.1", "LOKET_IMAP_PORT": str(free_port())}
    proc = loket("mail", "fetch", ok=False)
    assert "Cannot reach the IMAP server 127.0.0.1:" in proc.stderr
    assert "database" not in proc.stderr


def test_an_unreachable_database_is_named_as_such(loket: Loket) -> None:
    from .mailcatcher import free_port

    port = free_port()
    loket.env["LOKET_DATABASE_URL"] = f"postgresql+asyncpg://loket:geheim@127.0.0.1:{port}/loket"
    proc = loket("dossier", "show", "1", ok=False)
    assert (
        f"cannot reach the database at postgresql+asyncpg://loket:***@127.0.0.1:{port}/loket"
        in proc.stderr
    )
    assert "geheim" not in proc.stderr


@pytest.mark.parametrize(
    "url,words",
    [
        ("garbage", "LOKET_DATABASE_URL is not a database URL"),
        ("mysql://loket@localhost/loket", "Loket cannot use (mysql)"),
        ("sqlite:///loket.db", "Loket cannot use (sqlite)"),
    ],
)
def test_a_database_url_loket_cannot_use_is_a_settings_error(
    loket: Loket, url: str, words: str
) -> None:
    loket.env["LOKET_DATABASE_URL"] = url
    proc = loket("dossier", "show", "1", ok=False)
    assert proc.returncode == 1
    assert words in proc.stderr and "sqlite+aiosqlite://" in proc.stderr


def test_invite_twice_withdraws_the_unsent_first_invitation(tmp_path: Path) -> None:
    from .mailcatcher import SmtpServer

    cli = Loket(tmp_path / "data")
    cli("init")
    cli("client", "add", "--name", "Alice", "--email", "alice@example.nl", "--language", "en")
    cli("client", "invite", "--account", "alice")  # no mail server yet: both wait in the outbox
    cli("client", "invite", "--account", "alice")
    server = SmtpServer()
    server.start()
    try:
        cli.env |= {"LOKET_SMTP_HOST": "127.0.0.1", "LOKET_SMTP_PORT": str(server.port)}
        assert cli.json("outbox", "send")["sent"] == 1
        # A sent invitation is not withdrawn: a third one goes out as well.
        said = cli("client", "invite", "--account", "alice").stdout
        assert "queued" in said and "sent." not in said  # was "sent", before it was
        assert cli.json("outbox", "send")["sent"] == 1
    finally:
        server.stop()
    assert len(server.messages) == 2


def test_chat_has_no_json_option(loket: Loket) -> None:
    refused = usage_error(loket, "chat", "--account", "x", "--json")
    assert "unrecognized arguments: --json" in refused


def test_demo_setup_only_does_not_say_stop_with_ctrl_c(tmp_path: Path) -> None:
    out = Loket(tmp_path / "demo")("demo", "--setup-only").stdout
    assert "Ctrl-C" not in out and "loket demo" in out
