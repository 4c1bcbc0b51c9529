"""Web pages under concurrent load, against a bare aiohttp handler on the same machine.

Fills the bench database (as bench/dossier_queries.py does), starts the web view and a bare
aiohttp "hello" app each in their own process, and drives each URL with 16 concurrent
clients for 10 seconds. Prints answers per second, p50 and p99 latency, the server's CPU time
per answer, and the ratios. Only 200 answers count in all of these: a redirect to the login
page or an error is cheaper than the page and would flatter the rate. Other answers are
printed by status beside the result.

Target: the dossier list at no less than a quarter of the bare handler's rate.

For reference it also drives /healthz, which runs one ``SELECT 1`` in one read transaction and
renders no template: the least a request that touches the database can cost in this stack.
As staff it drives the dossier list over every dossier, the inbox (everything new across
dossiers, unfiltered and filtered by channel and unread) and the search (a dossier number,
and a text found nowhere): their server CPU per answer side by side.

    python bench/web_load.py [--dossiers 10000] [--seconds 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def prepare(url: str, dossiers: int, messages_per_dossier: int) -> tuple[str, str]:
    """Fill the database; return session cookies for the client who owns three dossiers and
    for the staff member (who sees every dossier and the inbox)."""
    from bench.dossier_queries import Filler
    from core import schema
    from core.db import Database
    from core.models import Account
    from core.services import sessions
    from core.settings import Settings

    db = Database.connect(url)
    await schema.upgrade(db.engine)
    filler = Filler(db, messages_per_dossier)
    await filler.start()
    await filler.grow_to(dossiers)
    settings = Settings(session_idle_minutes=600)
    async with db.begin() as s:
        cookie, _ = await sessions.create(s, settings, await s.get(Account, 2), stage="full")
        staff, _ = await sessions.create(s, settings, await s.get(Account, 1), stage="full")
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")
    await db.dispose()
    return cookie, staff


def serve_app(url: str, data_dir: str, port: int) -> None:
    from aiohttp import web

    from core.db import Database
    from core.settings import Settings
    from core.storage import LocalFileStore
    from web.app import create_app

    settings = Settings(
        data_dir=Path(data_dir),
        secret_key="bench",
        session_idle_minutes=600,
        public_url=f"http://127.0.0.1:{port}",
        # The bench's staff member has no second step enrolled: otherwise every staff page
        # answers with a redirect to enrolment, which counts for nothing.
        staff_two_factor_required=False,
    )
    app = create_app(settings, Database.connect(url), LocalFileStore(Path(data_dir), limit=10**6))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (Linux /proc), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_bare(port: int) -> None:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><p>hello</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", hello)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):  # 30 s: a loaded machine starts the server slowly
            try:
                async with http.get(url) as response:
                    await response.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def load(url: str, cookie: str | None, seconds: float, concurrency: int) -> dict:
    """Drive ``url``; only 200 answers count in the rate and latencies, others by status."""
    latencies: list[float] = []
    others: Counter[int] = Counter()
    deadline = time.perf_counter() + seconds
    cookies = {"loket": cookie} if cookie else {}

    async def worker(http: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with http.get(url, allow_redirects=False) as response:
                await response.read()
            if response.status == 200:
                latencies.append(time.perf_counter() - started)
            else:
                others[response.status] += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, cookies=cookies) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "ok": len(latencies),
        "other_statuses": dict(sorted(others.items())),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000, 2)
        if latencies
        else None,
    }


async def main_async(args: argparse.Namespace) -> dict:
    tmp = tempfile.TemporaryDirectory()
    url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    print(f"filling {args.dossiers:,} dossiers …", flush=True)
    cookie, staff = await prepare(url, args.dossiers, args.messages_per_dossier)
    app_port, bare_port = free_port(), free_port()
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    me = str(Path(__file__).resolve())
    procs = [
        subprocess.Popen(
            [sys.executable, me, "--serve-app", url, tmp.name, str(app_port)], env=env
        ),
        subprocess.Popen([sys.executable, me, "--serve-bare", str(bare_port)], env=env),
    ]
    try:
        await wait_up(f"http://127.0.0.1:{app_port}/healthz")
        await wait_up(f"http://127.0.0.1:{bare_port}/")
        app_pid, bare_pid = procs[0].pid, procs[1].pid
        targets = {
            "bare aiohttp handler": (f"http://127.0.0.1:{bare_port}/", None, bare_pid),
            "healthz (SELECT 1)": (f"http://127.0.0.1:{app_port}/healthz", None, app_pid),
            "dossier list": (f"http://127.0.0.1:{app_port}/dossiers", cookie, app_pid),
            "dossier page": (f"http://127.0.0.1:{app_port}/dossiers/B-0000001", cookie, app_pid),
            # Staff: the same list over every dossier, beside the inbox over everything new.
            "staff dossier list": (f"http://127.0.0.1:{app_port}/dossiers", staff, app_pid),
            "staff inbox": (f"http://127.0.0.1:{app_port}/staff/inbox", staff, app_pid),
            "staff inbox, by channel": (
                f"http://127.0.0.1:{app_port}/staff/inbox?channel=email&unread=1",
                staff,
                app_pid,
            ),
            # The search: a dossier number, and a text found nowhere (it reads the most).
            "staff search, number": (
                f"http://127.0.0.1:{app_port}/staff/search?q=B-00050",
                staff,
                app_pid,
            ),
            "staff search, nothing": (
                f"http://127.0.0.1:{app_port}/staff/search?q=zzzz",
                staff,
                app_pid,
            ),
        }
        results = {}
        for name, (target, with_cookie, pid) in targets.items():
            await load(target, with_cookie, 1.0, args.concurrency)  # warm-up
            cpu_before = cpu_seconds(pid)
            results[name] = r = await load(target, with_cookie, args.seconds, args.concurrency)
            # Server CPU per answer is steadier than answers/s on a shared machine. It is all
            # the CPU the server used, over the 200 answers only.
            cpu = cpu_seconds(pid) - cpu_before
            r["server_cpu_ms"] = round(cpu / r["ok"] * 1000, 3) if r["ok"] else None
            others = ", ".join(f"{n} × {status}" for status, n in r["other_statuses"].items())
            print(
                f"{name:<26} {r['rps']:>8} 200s/s  p50 {r['p50_ms']} ms  "
                f"p99 {r['p99_ms']} ms  server CPU {r['server_cpu_ms']} ms/answer  "
                f"({r['ok']} answers 200; not counted: {others or 'none'})"
            )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        tmp.cleanup()
    listing = results["staff dossier list"]["server_cpu_ms"]
    for name in [n for n in results if n.startswith(("staff inbox", "staff search"))]:
        cpu = results[name]["server_cpu_ms"]
        if cpu and listing:
            print(f"{name}: server CPU {cpu / listing:.2f}x the staff dossier list's")
    bare = results["bare aiohttp handler"]["rps"]
    if not bare:
        print("the bare handler gave no 200 answer: no ratios")
        return results
    for name in [n for n in results if n != "bare aiohttp handler"]:
        ratio = results[name]["rps"] / bare
        results[name]["ratio_to_bare"] = round(ratio, 3)
        verdict = (
            ""
            if name != "dossier list"
            else (f"  [target >= 0.25: {'met' if ratio >= 0.25 else 'MISSED'}]")
        )
        print(f"{name} / bare handler: {ratio:.3f}{verdict}")
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-app":
        serve_app(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-bare":
        serve_bare(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dossiers", type=int, default=10_000)
    parser.add_argument("--messages-per-dossier", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
