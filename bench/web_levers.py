"""One lever's worth: the same pages served by two checkouts, measured in turns.

A shared 2-core machine moves a single figure by half its size from one minute to the next;
two servers measured alternately, in short turns over the same data, see the same weather.
Fills one SQLite database (or the PostgreSQL database given), serves it from this checkout
and from ``--before`` (another checkout, e.g. a ``git worktree`` of the commit before the
lever), and drives the four pages of bench/web_load.py on each in turn. Prints the server
CPU per answer of each, and the change.

    python bench/web_levers.py --before /tmp/before [--dossiers 2000] [--rounds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.web_load import cpu_seconds, free_port, load, prepare, wait_up  # noqa: E402


def serve(tree: Path, url: str, data_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = os.environ | {"PYTHONPATH": str(tree)}
    script = str(tree / "bench" / "web_load.py")
    proc = subprocess.Popen(
        [sys.executable, script, "--serve-app", url, data_dir, str(port)], env=env, cwd=tree
    )
    return proc, f"http://127.0.0.1:{port}"


async def main_async(args: argparse.Namespace) -> None:
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    print(f"filling {args.dossiers:,} dossiers …", flush=True)
    cookie, staff, checklist_id = await prepare(url, args.dossiers, args.messages_per_dossier)
    servers = {
        "before": serve(Path(args.before).resolve(), url, tmp.name),
        "after": serve(Path(args.after).resolve(), url, tmp.name),
    }
    pages = {
        "dossier list": ("/dossiers", cookie),
        "dossier page": ("/dossiers/B-0000001", cookie),
        "staff dossier list": ("/dossiers", staff),
        "checklist page": (f"/checklists/{checklist_id}", cookie),
    }
    try:
        for _, base in servers.values():
            await wait_up(f"{base}/healthz")
        print(f"{'page':<20} {'before':>8} {'after':>8} {'change':>7}  (server CPU ms/answer)")
        for name, (path, with_cookie) in pages.items():
            cpu = dict.fromkeys(servers, 0.0)
            answers = dict.fromkeys(servers, 0)
            for _, base in servers.values():
                await load(base + path, with_cookie, 0.5, args.concurrency)  # warm-up
            for _ in range(args.rounds):
                for side, (proc, base) in servers.items():
                    before = cpu_seconds(proc.pid)
                    r = await load(base + path, with_cookie, args.seconds, args.concurrency)
                    cpu[side] += cpu_seconds(proc.pid) - before
                    answers[side] += r["ok"]
            ms = {side: cpu[side] / max(answers[side], 1) * 1000 for side in servers}
            change = ms["after"] / ms["before"] - 1
            print(f"{name:<20} {ms['before']:>8.3f} {ms['after']:>8.3f} {change:>+7.0%}")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=10)
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", required=True, help="the checkout before the lever")
    parser.add_argument("--after", default=str(ROOT), help="default: this checkout")
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--messages-per-dossier", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", help="postgresql+asyncpg://… (its schema is emptied)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
