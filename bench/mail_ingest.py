"""Inbound mail throughput against the floor of merely fetching and parsing the same mails.

Puts N mails (a fifth with attachments) into a private Dovecot, then measures:
- the floor: one IMAP pass that fetches and parses every mail, storing nothing;
- the bridge: `ImapSource.fetch_once` end to end (pipeline, store, database, move).
Both are measured warm: the floor after an untimed pass over the same mails (which also
brings them into Dovecot's and the system's caches for the bridge), the bridge after its
parse worker, its connections and its first statements have run on a few mails of their own.
Only mails that reach the expected outcome count: each is a dossier's client replying with
the dossier number in the subject and a passing Authentication-Results of the receiving
server, so each should be stored; the outcomes are printed. Prints mails per second for each
and the ratio. Target: the bridge at no less than half the floor. And the CPU time of the
text rules of issue 13 (signatures, disclaimers, inline answers, broken and 8-bit headers)
per mail, as a share of the bridge's time per mail. Target: at most 10%.

For reference it also measures the least the bridge must write per mail: one transaction
holding only a message and its inbound record, the unit the issue asks for ("store the
message in one transaction with the inbound record"), with no IMAP, parsing or lookups.
Needs dovecot-imapd (scripts/test installs it).

    python bench/mail_ingest.py [--mails 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


EXPECTED = "stored"
WARM_UP_MAILS = 5


def make_mails(n: int, dossiers: int, first: int = 0) -> list[bytes]:
    from tests.mails import reply_mail

    quote = "Op 24 nov. 2026 om 10:12 schreef Kantoor <portaal@kantoor.example>:\n> Vraag\n> Groet"
    mails = []
    for i in range(first, first + n):
        attachments = (
            [("scan.pdf", "application/pdf", b"%PDF-1.4 " + bytes(i % 251 for _ in range(20_000)))]
            if i % 5 == 0
            else []
        )
        mails.append(
            reply_mail(
                sender=f"c{i % dossiers}@bench.example",
                to="portaal@kantoor.example",
                subject=f"Re: [B-{i % dossiers:07d}] Nieuw bericht {i}",
                text=f"Antwoord nummer {i}.",
                quoted=quote,
                attachments=attachments,
            ).replace(b"\n", b"\r\n")
        )
    return mails


async def floor(dovecot) -> tuple[float, int]:
    """Fetch and parse every mail over IMAP, storing nothing: once to warm up, then timed.
    Returns the time and how many mails were parsed with a sender (all, normally)."""
    import aioimaplib

    from mailbridge.parse import parse

    client = aioimaplib.IMAP4(host="127.0.0.1", port=dovecot.port, timeout=30)
    await client.wait_hello_from_server()
    await client.login("portal", "secret")
    await client.select("INBOX")

    async def one_pass() -> int:
        found = await client.uid_search("ALL")
        parsed = 0
        for uid in found.lines[0].decode().split():
            response = await client.uid("fetch", uid, "(BODY.PEEK[])")
            raw = next(bytes(x) for x in response.lines if isinstance(x, bytearray))
            parsed += bool(parse(raw).sender)
        return parsed

    await one_pass()
    started = time.perf_counter()
    parsed = await one_pass()
    elapsed = time.perf_counter() - started
    await client.logout()
    return elapsed, parsed


async def bridge(dovecot, data: Path, dossiers: int) -> tuple[float, dict]:
    from sqlalchemy import insert

    from core import schema
    from core.db import Database
    from core.models import Account, Client, Dossier, utcnow
    from core.settings import Settings
    from core.storage import LocalFileStore
    from mailbridge.imap import ImapSource
    from mailbridge.pipeline import Pipeline
    from mailbridge.reader import MailReader
    from tests.mails import AUTHSERV

    url = f"sqlite+aiosqlite:///{data / 'bench.sqlite3'}"
    db = Database.connect(url)
    await schema.upgrade(db.engine)
    now = utcnow()
    async with db.begin() as s:
        await s.execute(
            insert(Client),
            [
                {"id": i + 1, "name": f"C{i}", "kind": "person", "created_at": now}
                for i in range(dossiers)
            ],
        )
        await s.execute(
            insert(Account),
            [
                {
                    "id": i + 1,
                    "username": f"c{i}",
                    "email": f"c{i}@bench.example",
                    "name": "",
                    "role": "client",
                    "language": "nl",
                    "client_id": i + 1,
                    "notifications": {},
                    "created_at": now,
                    "active": True,
                    "is_main": True,
                    "two_factor": "none",
                }
                for i in range(dossiers)
            ],
        )
        await s.execute(
            insert(Dossier),
            [
                {
                    "id": i + 1,
                    "number": f"B-{i:07d}",
                    "description": "",
                    "status": "new",
                    "client_id": i + 1,
                    "visible_to_client": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(dossiers)
            ],
        )
    settings = Settings(
        data_dir=data,
        secret_key="bench",
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_user="portal",
        imap_password="secret",
        mail_rate_per_sender=10**9,
        mail_authserv_id=AUTHSERV,
    )
    reader = MailReader()  # as `loket serve` and `loket mail fetch` run it
    store = LocalFileStore(data / "store", limit=10**8)
    pipeline = Pipeline(db, store, settings, reader=reader)
    # Warm, as the floor is: the parse worker started, the first statements compiled and the
    # connections open, on mails of its own that are not counted.
    for raw in make_mails(WARM_UP_MAILS, dossiers, first=10**6):
        warm = await pipeline.handle(raw)
        assert warm.outcome == EXPECTED, warm.reason
    source = ImapSource(settings, pipeline)
    await source.connect()
    started = time.perf_counter()
    counts = await source.fetch_once()
    elapsed = time.perf_counter() - started
    await source.close()
    reader.close()
    await db.dispose()
    return elapsed, counts


async def store_unit(data: Path, mails: int) -> float:
    """One transaction per mail with only a message and its inbound record."""
    from sqlalchemy import insert

    from core import schema
    from core.db import Database
    from core.models import Channel, Client, Dossier, InboundMail, Message, utcnow
    from core.models.messages import Direction

    db = Database.connect(f"sqlite+aiosqlite:///{data / 'unit.sqlite3'}")
    await schema.upgrade(db.engine)
    now = utcnow()
    async with db.begin() as s:
        await s.execute(
            insert(Client), [{"id": 1, "name": "C", "kind": "person", "created_at": now}]
        )
        await s.execute(
            insert(Dossier),
            [
                {
                    "id": 1,
                    "number": "B-1",
                    "description": "",
                    "status": "new",
                    "client_id": 1,
                    "visible_to_client": True,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
    started = time.perf_counter()
    for i in range(mails):
        async with db.begin() as s:
            message = Message(
                dossier_id=1,
                direction=Direction.INCOMING,
                subject=f"Re: [B-1] {i}",
                body=f"Antwoord nummer {i}.",
                channel=Channel.EMAIL,
            )
            s.add(message)
            await s.flush()
            s.add(
                InboundMail(
                    sha256=f"{i:064x}", outcome="stored", path=["store"], message_id=message.id
                )
            )
    elapsed = time.perf_counter() - started
    await db.dispose()
    return elapsed


def text_rules_seconds(mails: list[bytes], rounds: int = 5) -> float:
    """CPU seconds per mail of the work that keeps only the client's words and reads every
    charset (issue 13): mending broken header blocks, reading raw 8-bit subjects, keeping the
    quoted paragraph above inline answers, cutting the signature block and disclaimer.
    Measured on the bench's mails and the mail programs corpus (tests/mailcorpus/programs),
    which has signatures and inline answers to cut; the best of ``rounds``."""
    import email
    import email.policy

    from mailbridge import parse, quotes, signatures

    corpus = sorted((ROOT / "tests" / "mailcorpus" / "programs").glob("*.eml"))
    sample = mails + [p.read_bytes() for p in corpus]
    bodies = []
    for raw in sample:
        lines = parse.parse(raw).body_text.replace("\r\n", "\n").split("\n")
        bodies.append((lines, "".join(quotes._classify_all(lines))))
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for raw in sample:
            msg = email.message_from_bytes(parse._mended(raw), policy=email.policy.default)
            parse._subject(msg)
        for lines, pattern in bodies:
            signatures.cut_signature(quotes._quoted_context(lines, pattern))
        best = min(best, time.process_time() - started)
    # The parse and the subject above are the standard library's, done by the bridge
    # anyway: not counted.
    started = time.process_time()
    for raw in sample:
        email.message_from_bytes(raw, policy=email.policy.default).get("Subject")
    baseline = time.process_time() - started
    return max(best - baseline, 0.0) / len(sample)


def append_all(dovecot, mails: list[bytes], folder: str = "INBOX") -> None:
    with imaplib.IMAP4("127.0.0.1", dovecot.port) as imap:
        imap.login("portal", "secret")
        for raw in mails:
            imap.append(folder, None, None, raw)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--dossiers", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from tests.dovecot import Dovecot

    dovecot = Dovecot()
    dovecot.start()
    try:
        mails = make_mails(args.mails, args.dossiers)
        append_all(dovecot, mails)
        floor_seconds, parsed = asyncio.run(floor(dovecot))
        with tempfile.TemporaryDirectory() as tmp:
            bridge_seconds, counts = asyncio.run(bridge(dovecot, Path(tmp), args.dossiers))
            unit_seconds = asyncio.run(store_unit(Path(tmp), args.mails))
    finally:
        dovecot.stop()
    # Only what reached the outcome asked for counts: a mail quarantined or refused quickly
    # is not throughput.
    stored = counts.get(EXPECTED, 0)
    floor_rate = parsed / floor_seconds
    bridge_rate = stored / bridge_seconds
    ratio = bridge_rate / floor_rate
    print(f"{args.mails} mails, a fifth with a 20 KB attachment; both measured warm")
    print(f"floor (fetch + parse)      {floor_rate:8.1f} mails/s   parsed {parsed}")
    print(f"bridge (end to end)        {bridge_rate:8.1f} mails/s   outcomes {counts}")
    if stored != args.mails or parsed != args.mails:
        print(f"  NOTE: of {args.mails} mails {parsed} parsed, {stored} {EXPECTED}; those count")
    verdict = "met" if ratio >= 0.5 else "MISSED"
    print(f"bridge / floor             {ratio:8.3f}   [target >= 0.5: {verdict}]")
    unit_ms = unit_seconds / args.mails * 1000
    print(
        f"reference: one transaction per mail with only the message and its inbound record "
        f"{unit_ms:.2f} ms/mail; the floor is {1000 / floor_rate:.2f} ms/mail"
    )
    text_ms = text_rules_seconds(mails[:500]) * 1000
    share = text_ms / (1000 / bridge_rate)
    verdict = "met" if share <= 0.10 else "MISSED"
    print(
        f"text rules (issue 13)      {text_ms:8.3f} ms/mail = {share:.1%} of the bridge's time"
        f" per mail   [target <= 10%: {verdict}]"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "floor": floor_rate,
                    "bridge": bridge_rate,
                    "ratio": ratio,
                    "outcomes": counts,
                    "parsed": parsed,
                    "stored": stored,
                    "store_unit_ms": unit_ms,
                    "text_rules_ms": text_ms,
                }
            )
        )


if __name__ == "__main__":
    main()
