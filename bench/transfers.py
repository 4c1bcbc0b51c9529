"""Large transfers against the server's memory and the disk's speed.

Three transfers, each against a server in a process of its own, as in production:
- a client uploads a 500 MB document to a dossier through the web form (a message with an
  attachment, multipart with a Content-Length, as a browser sends it);
- the same client downloads it again;
- a mail with a 30 MB attachment goes through the mail bridge (IMAP from a private Dovecot,
  ``ImapSource.fetch_once`` with its parse worker, as ``loket serve`` runs it).

For each it measures the serving process's resident memory (``VmRSS`` in /proc) before, and
its peak during the transfer (``VmHWM``, reset just before through /proc/<pid>/clear_refs,
and sampled every 10 ms besides). For the mail it measures the bridge's process and its parse
worker each. Target: each grows by at most 32 MB.

The upload's rate is measured against writing the same bytes to a file in the same data dir,
in the store's chunks and with the store's fsync, side by side in the same run: the disk, an
upload, the disk, another upload, the disk (``--rounds``); the best of each counts. Target:
the upload at least half that rate.

    python bench/transfers.py [--size-mb 500] [--mail-mb 30] [--rounds 2] [--data-dir DIR]
        [--skip-web] [--skip-mail]

Everything is written under a temporary folder in the data dir's parent (default: the
system's temporary folder), removed at the end. Needs dovecot-imapd for the mail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.web_load import cpu_seconds, free_port, wait_up  # noqa: E402

MB = 1024 * 1024
CHUNK = 64 * 1024  # the store's chunk (core/storage.py)
GROWTH_TARGET_MB = 32
RATE_TARGET = 0.5
NUMBER = "T-0001"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


# -- the data --------------------------------------------------------------------------------


BLOCKS = 16


def block(seed: int) -> bytes:
    """1 MB of bytes that do not compress (a scan, a PDF)."""
    return hashlib.shake_256(seed.to_bytes(8, "big")).digest(MB)


def content(size: int):
    """``size`` bytes, 1 MB at a time, without holding them all: 16 different megabytes over
    and over, made once, so that the client spends its time sending rather than making them."""
    blocks = [block(i) for i in range(BLOCKS)]
    for i in range(0, size, MB):
        yield blocks[(i // MB) % BLOCKS][: min(MB, size - i)]


def expected_sha256(size: int) -> str:
    digest = hashlib.sha256()
    for chunk in content(size):
        digest.update(chunk)
    return digest.hexdigest()


# -- memory of another process ----------------------------------------------------------------


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Watch:
    """The resident memory of processes ``pids``: before, then the peak until ``stop``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before = {name: status_kb(pid, "VmRSS") for name, pid in pids.items()}
        self.sampled = dict(self.before)
        for pid in pids.values():
            # "5" resets the peak (VmHWM) to the current size: from now on it is this transfer's.
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            for name, pid in self.pids.items():
                with contextlib.suppress(OSError, KeyError):
                    self.sampled[name] = max(self.sampled[name], status_kb(pid, "VmRSS"))

    def stop(self) -> dict[str, tuple[float, float]]:
        """Per process: (before, peak) in MB."""
        self._done.set()
        self._thread.join()
        out = {}
        for name, pid in self.pids.items():
            peak = max(self.sampled[name], status_kb(pid, "VmHWM"))
            out[name] = (self.before[name] / 1024, peak / 1024)
        return out


def loop_thread(pid: int) -> tuple[float, float]:
    """Process ``pid``'s main thread, which runs its event loop: its CPU seconds so far, and
    the seconds it was ready to run but waiting for a core (/proc schedstat)."""
    task = Path(f"/proc/{pid}/task/{pid}")
    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    waiting = int((task / "schedstat").read_text().split()[1]) / 1e9
    return cpu, waiting


def verdict(ok: bool) -> str:
    return "met" if ok else "missed"


def report_growth(what: str, memory: dict[str, tuple[float, float]]) -> list[bool]:
    results = []
    for name, (before, peak) in memory.items():
        growth = peak - before
        ok = growth <= GROWTH_TARGET_MB
        results.append(ok)
        print(
            f"  {what}: {name} RSS {before:7.1f} MB before, peak {peak:7.1f} MB,"
            f" growth {growth:6.1f} MB   [target <= {GROWTH_TARGET_MB} MB: {verdict(ok)}]"
        )
    return results


# -- the disk's own rate ----------------------------------------------------------------------


def disk_write_seconds(folder: Path, size: int) -> float:
    """Write ``size`` bytes to a new file in ``folder`` in the store's chunks, fsync it as the
    store does before placing an object, and remove it."""
    path = folder / "disk-floor.bin"
    chunks = [block(i)[:MB] for i in range(4)]
    started = time.perf_counter()
    with path.open("xb") as fh:
        written = 0
        i = 0
        while written < size:
            piece = chunks[i % 4]
            for start in range(0, min(MB, size - written), CHUNK):
                fh.write(piece[start : start + CHUNK])
            written += min(MB, size - written)
            i += 1
        fh.flush()
        os.fsync(fh.fileno())
    elapsed = time.perf_counter() - started
    path.unlink()
    return elapsed


# -- the web server ---------------------------------------------------------------------------


async def prepare_web(url: str) -> tuple[str, int]:
    """A client with one dossier; its session cookie, and the client's account id."""
    from bench.rows import add_clients
    from core import schema
    from core.db import Database
    from core.models import Account
    from core.services import sessions
    from core.settings import Settings

    db = Database.connect(url)
    await schema.upgrade(db.engine)
    async with db.begin() as s:
        await add_clients(s, 1, username="client", dossier=NUMBER)
    async with db.begin() as s:
        cookie, _ = await sessions.create(
            s, Settings(session_idle_minutes=600), await s.get(Account, 1), stage="full"
        )
    await db.dispose()
    return cookie, 1


def serve_web(url: str, data_dir: str, port: int, limit: int) -> None:
    """The web view as ``loket serve --only web`` runs it (its runner and connection cap)."""
    if os.environ.get("BENCH_PROFILE"):  # a look at where the server's time goes
        import cProfile

        with cProfile.Profile() as prof:
            asyncio.run(_serve_web(url, Path(data_dir), port, limit))
        prof.dump_stats(os.environ["BENCH_PROFILE"])
        return
    asyncio.run(_serve_web(url, Path(data_dir), port, limit))


async def _serve_web(url: str, data_dir: Path, port: int, limit: int) -> None:
    import signal

    from core.db import Database
    from core.settings import Settings
    from loket.runtime import Runtime, build_store
    from loket.serve import start_web

    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        secret_key="bench",
        session_idle_minutes=600,
        http_host="127.0.0.1",
        http_port=port,
        public_url=f"http://127.0.0.1:{port}",
        upload_limit=limit,
    )
    runner = await start_web(Runtime(settings, Database.connect(url), build_store(settings)))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


def multipart_body(token: str, size: int) -> tuple[str, bytes, bytes]:
    """(content type, the bytes before the file, the bytes after it) of the message form, as
    a browser sends it: the CSRF token first, the subject and text, then the file."""
    boundary = "----LoketBenchBoundary7MA4YWxkTrZu0gW"
    head = b""
    for name, value in (("csrf", token), ("subject", "Stukken"), ("body", "Hierbij de scan.")):
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    head += (
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="files"; filename="scan-{size // MB}mb.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", head, tail


async def upload(base: str, cookie: str, size: int) -> tuple[float, int]:
    """Send the message with a file of ``size`` bytes; (seconds, the message's id)."""
    async with aiohttp.ClientSession(cookies={"loket": cookie}) as http:
        async with http.get(f"{base}/dossiers/{NUMBER}/messages/new") as response:
            page = await response.text()
            assert response.status == 200, (response.status, page[:300])
        token = CSRF.search(page).group(1)
        ctype, head, tail = multipart_body(token, size)

        async def body():
            yield head
            for chunk in content(size):
                yield chunk
            yield tail

        headers = {
            "Content-Type": ctype,
            "Content-Length": str(len(head) + size + len(tail)),
            "Origin": base,
        }
        started = time.perf_counter()
        async with http.post(
            f"{base}/dossiers/{NUMBER}/messages",
            data=body(),
            headers=headers,
            allow_redirects=False,
        ) as response:
            answer = await response.text()
        elapsed = time.perf_counter() - started
        location = response.headers.get("Location", "")
        sent = re.search(r"sent=(\d+)", location)
        if response.status != 303 or sent is None:
            raise RuntimeError(f"upload refused: {response.status} {answer[:500]}")
        return elapsed, int(sent.group(1))


async def download(base: str, cookie: str, document_id: int) -> tuple[float, int, str]:
    digest = hashlib.sha256()
    size = 0
    async with aiohttp.ClientSession(cookies={"loket": cookie}) as http:
        started = time.perf_counter()
        async with http.get(f"{base}/documents/{document_id}/download") as response:
            assert response.status == 200, response.status
            async for chunk in response.content.iter_chunked(MB):
                digest.update(chunk)
                size += len(chunk)
        elapsed = time.perf_counter() - started
    return elapsed, size, digest.hexdigest()


def document_of(db_path: Path, message_id: int) -> tuple[int, int, str]:
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        row = conn.execute(
            "SELECT id, size, sha256 FROM documents WHERE message_id = ?",
            (message_id,),
        ).fetchone()
    if row is None:
        raise RuntimeError(f"message {message_id} has no document")
    return row


async def web_transfers(work: Path, size: int, rounds: int) -> list[bool]:
    data = work / "web"
    data.mkdir()
    db_path = data / "bench.sqlite3"
    url = f"sqlite+aiosqlite:///{db_path}"
    cookie, _ = await prepare_web(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    me = str(Path(__file__).resolve())
    limit = size + 16 * MB
    server = subprocess.Popen(
        [sys.executable, me, "--serve-web", url, str(data), str(port), str(limit)], env=env
    )
    results = []
    try:
        await wait_up(f"{base}/healthz")
        # Warm: the form's code paths run once on a small file, not counted.
        _, warm = await upload(base, cookie, MB)
        await download(base, cookie, document_of(db_path, warm)[0])
        expected = await asyncio.to_thread(expected_sha256, size)

        # Side by side: the disk, the upload, the disk again, as often as ``rounds``; the
        # best of each counts (the machine is shared, and either may be slowed by others).
        disks = [await asyncio.to_thread(disk_write_seconds, data, size)]
        ups = []
        up_memory: dict[str, tuple[float, float]] = {}
        up_cpu = []
        client_cpu = []
        loop_cpu: list[tuple[float, float]] = []
        for _ in range(rounds):
            watch = Watch({"web server": server.pid})
            cpu = cpu_seconds(server.pid)
            mine = cpu_seconds(os.getpid())
            loop = loop_thread(server.pid)
            up_seconds, message_id = await upload(base, cookie, size)
            up_cpu.append(cpu_seconds(server.pid) - cpu)
            client_cpu.append(cpu_seconds(os.getpid()) - mine)
            loop_cpu.append(
                tuple(b - a for a, b in zip(loop, loop_thread(server.pid), strict=True))
            )
            for name, (before, peak) in watch.stop().items():
                old = up_memory.get(name, (before, before))
                up_memory[name] = (before, peak) if peak - before > old[1] - old[0] else old
            ups.append(up_seconds)
            disks.append(await asyncio.to_thread(disk_write_seconds, data, size))
        document_id, stored_size, stored_sha = document_of(db_path, message_id)
        assert stored_size == size and stored_sha == expected, "the stored file differs"
        watch = Watch({"web server": server.pid})
        cpu = cpu_seconds(server.pid)
        down_seconds, got_size, got_sha = await download(base, cookie, document_id)
        down_cpu = cpu_seconds(server.pid) - cpu
        down_memory = watch.stop()
        assert got_size == size and got_sha == expected, "the downloaded file differs"
    finally:
        server.terminate()
        server.wait(timeout=30)

    mb = size / MB
    disk, up_seconds = min(disks), min(ups)
    ratio = disk / up_seconds
    print(f"web upload of {mb:.0f} MB (a message with the file, multipart as a browser sends)")
    print(
        "  disk (write + fsync, same dir): "
        + ", ".join(f"{mb / t:.0f}" for t in disks)
        + " MB/s; uploads: "
        + ", ".join(f"{mb / t:.0f}" for t in ups)
        + " MB/s; the best of each counts"
    )
    print(
        f"  upload: {mb / up_seconds:7.1f} MB/s ({up_seconds:.1f} s) = {ratio:.2f} of the disk"
        f" ({mb / disk:.0f} MB/s)   [target >= {RATE_TARGET}: {verdict(ratio >= RATE_TARGET)}]"
    )
    results.append(ratio >= RATE_TARGET)
    print(
        "  server CPU per upload: "
        + ", ".join(f"{c:.2f}" for c in up_cpu)
        + " s (a share of a core of its time: "
        + ", ".join(f"{c / t:.0%}" for c, t in zip(up_cpu, ups, strict=True))
        + ")"
    )
    print(
        "  of which the event loop's thread (reading the body; the store hashes and writes in"
        " threads of its own): "
        + ", ".join(f"{c:.2f} s" for c, _ in loop_cpu)
        + "; it waited for a core "
        + ", ".join(f"{w:.2f} s" for _, w in loop_cpu)
    )
    print(
        "  the client's CPU per upload (this process, on the same cores): "
        + ", ".join(f"{c:.2f} s ({c / t:.0%})" for c, t in zip(client_cpu, ups, strict=True))
    )
    results += report_growth("upload", up_memory)
    print(
        f"web download of {mb:.0f} MB: {mb / down_seconds:7.1f} MB/s ({down_seconds:.1f} s),"
        f" server CPU {down_cpu:.2f} s"
    )
    results += report_growth("download", down_memory)
    return results


# -- the mail bridge --------------------------------------------------------------------------


def big_mail(size: int) -> bytes:
    from tests.mails import reply_mail

    data = b"".join(content(size))
    return reply_mail(
        sender="c0@bench.example",
        to="portaal@kantoor.example",
        subject=f"Re: [{NUMBER}] Stukken",
        text="Hierbij de scan.",
        attachments=[("scan.pdf", "application/pdf", data)],
    ).replace(b"\n", b"\r\n")


def serve_bridge(data_dir: str, imap_port: int) -> None:
    """The bridge in a process of its own: set up, warm, say "ready" with the parse worker's
    pid, then run one pass over the mailbox on "go" and print its outcomes."""
    asyncio.run(_bridge(Path(data_dir), imap_port))


async def _bridge(data: Path, imap_port: int) -> None:
    from bench.rows import add_clients
    from core import schema
    from core.db import Database
    from core.settings import Settings
    from core.storage import LocalFileStore
    from mailbridge.imap import ImapSource
    from mailbridge.pipeline import Pipeline
    from mailbridge.reader import MailReader
    from tests.mails import AUTHSERV, reply_mail

    db = Database.connect(f"sqlite+aiosqlite:///{data / 'bench.sqlite3'}")
    await schema.upgrade(db.engine)
    async with db.begin() as s:
        await add_clients(s, 1, dossier=NUMBER)
    settings = Settings(
        data_dir=data,
        secret_key="bench",
        imap_host="127.0.0.1",
        imap_port=imap_port,
        imap_user="portal",
        imap_password="secret",
        mail_rate_per_sender=10**9,
        mail_authserv_id=AUTHSERV,
    )
    reader = MailReader()  # as `loket serve` runs it
    store = LocalFileStore(settings.store_dir, limit=settings.upload_limit)
    pipeline = Pipeline(db, store, settings, reader=reader)
    # Warm: the parse worker started and the statements run once, on a small mail.
    warm = reply_mail(
        sender="c0@bench.example",
        to="portaal@kantoor.example",
        subject=f"Re: [{NUMBER}] Warm",
        text="Warm.",
        attachments=[("warm.pdf", "application/pdf", block(99))],
    )
    result = await pipeline.handle(warm)
    assert result.outcome == "stored", result.reason
    workers = [p.pid for p in (reader._pool._processes or {}).values()]  # type: ignore[union-attr]
    source = ImapSource(settings, pipeline)
    await source.connect()
    print(f"ready {' '.join(map(str, workers))}", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    counts = await source.fetch_once()
    print(f"done {counts}", flush=True)
    await source.close()
    reader.close()
    await db.dispose()


async def mail_transfer(work: Path, size: int) -> list[bool]:
    from tests.dovecot import Dovecot

    data = work / "mail"
    data.mkdir()
    dovecot = Dovecot()
    dovecot.start()
    try:
        raw = big_mail(size)
        dovecot.append(raw)
        raw_mb = len(raw) / MB
        del raw
        env = os.environ | {"PYTHONPATH": str(ROOT)}
        me = str(Path(__file__).resolve())
        bridge = subprocess.Popen(
            [sys.executable, me, "--serve-bridge", str(data), str(dovecot.port)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = await asyncio.to_thread(bridge.stdout.readline)
            if not line.startswith("ready"):
                raise RuntimeError(f"the bridge did not start: {line!r}")
            pids = {"bridge": bridge.pid}
            for n, pid in enumerate(line.split()[1:]):
                pids[f"parse worker {n + 1}"] = int(pid)
            watch = Watch(pids)
            started = time.perf_counter()
            bridge.stdin.write("go\n")
            bridge.stdin.flush()
            line = await asyncio.to_thread(bridge.stdout.readline)
            elapsed = time.perf_counter() - started
            memory = watch.stop()
        finally:
            bridge.stdin.close()
            bridge.wait(timeout=60)
    finally:
        dovecot.stop()
    print(
        f"mail with a {size / MB:.0f} MB attachment ({raw_mb:.1f} MB as mailed):"
        f" {elapsed:.1f} s, {line.strip()}"
    )
    if "'stored': 1" not in line:
        print("  NOTE: the mail was not stored")
    return report_growth("mail", memory)


# -- main ---------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> list[bool]:
    parent = Path(args.data_dir) if args.data_dir else None
    work = Path(tempfile.mkdtemp(prefix="loket-transfers-", dir=parent))
    try:
        results = []
        if not args.skip_web:
            results += await web_transfers(work, args.size_mb * MB, args.rounds)
        if not args.skip_mail:
            results += await mail_transfer(work, args.mail_mb * MB)
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-web":
        serve_web(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-bridge":
        serve_bridge(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=500, help="the web upload's size")
    parser.add_argument("--mail-mb", type=int, default=30, help="the mail attachment's size")
    parser.add_argument("--rounds", type=int, default=2, help="uploads, between disk writes")
    parser.add_argument("--data-dir", help="where to make the temporary folder")
    parser.add_argument("--skip-web", action="store_true")
    parser.add_argument("--skip-mail", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print(f"{sum(results)} of {len(results)} targets met")


if __name__ == "__main__":
    main()
