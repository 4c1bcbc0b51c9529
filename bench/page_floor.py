"""A page's floor, measured inside the served process (bench/web_load.py installs it there).

The floor is the least the same page could cost: the SQL statements it ran, executed with the
database's own driver (sqlite3, or asyncpg), plus rendering its template with the same
context. The statements and the context are captured from a real request: one sent with the
``X-Bench-Capture`` header while nothing else is served. Over a load run the probe also adds
up the CPU spent rendering templates (the event loop's thread) and, on SQLite, inside sqlite3
(aiosqlite's thread), which is the time split the bench prints.

Bench-only routes: ``GET /__bench/floor?n=200`` (the floor of the last captured request) and
``GET /__bench/split`` (the sums since the last call, then reset).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import event
from sqlalchemy.engine import make_url

from core import sqlite_driver
from core.db import Database

HEADER = "X-Bench-Capture"
BEGIN = object()  # a transaction starts here


@dataclass
class Captured:
    steps: list[Any] = field(default_factory=list)  # BEGIN, or (statement, parameters, many)
    template: str | None = None
    context: dict[str, Any] | None = None

    @property
    def statements(self) -> int:
        return sum(1 for step in self.steps if step is not BEGIN)

    @property
    def transactions(self) -> int:
        return sum(1 for step in self.steps if step is BEGIN)


@dataclass
class Probe:
    url: str
    capturing: Captured | None = None
    last: Captured | None = None
    render_cpu: float = 0.0
    sqlite_cpu: float = 0.0
    renders: int = 0

    def install(self, app: web.Application, db: Database) -> None:
        sync_engine = db.engine.sync_engine
        event.listen(sync_engine, "begin", self._on_begin)
        event.listen(sync_engine, "before_cursor_execute", self._on_statement)
        app.middlewares.insert(0, self._middleware)
        app.router.add_get("/__bench/floor", self._floor)
        app.router.add_get("/__bench/split", self._split)
        self._wrap_render()
        self._wrap_sqlite()

    # Capture

    def _on_begin(self, conn: Any) -> None:
        if self.capturing is not None:
            self.capturing.steps.append(BEGIN)

    def _on_statement(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        # SQLite's BEGIN is our own hook's statement: the "begin" event stands for it.
        if self.capturing is not None and not statement.startswith("BEGIN"):
            self.capturing.steps.append((statement, parameters, many))

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if HEADER not in request.headers:
            return await handler(request)
        self.capturing = Captured()
        try:
            return await handler(request)
        finally:
            self.last, self.capturing = self.capturing, None

    def _wrap_render(self) -> None:
        original = aiohttp_jinja2.render_template
        probe = self

        def render_template(template: str, request: Any, context: Any, **kw: Any) -> Any:
            if probe.capturing is not None:
                probe.capturing.template, probe.capturing.context = template, dict(context)
            started = time.thread_time()
            try:
                return original(template, request, context, **kw)
            finally:
                probe.render_cpu += time.thread_time() - started
                probe.renders += 1

        aiohttp_jinja2.render_template = render_template

    def _wrap_sqlite(self) -> None:
        original = sqlite_driver._run_statement
        probe = self

        def run_statement(*args: Any) -> Any:
            started = time.thread_time()
            try:
                return original(*args)
            finally:
                probe.sqlite_cpu += time.thread_time() - started

        sqlite_driver._run_statement = run_statement

    # Routes

    async def _split(self, request: web.Request) -> web.Response:
        out = {"render_cpu": self.render_cpu, "sqlite_cpu": self.sqlite_cpu}
        self.render_cpu = self.sqlite_cpu = 0.0
        self.renders = 0
        return web.json_response(out)

    async def _floor(self, request: web.Request) -> web.Response:
        captured = self.last
        if captured is None or captured.template is None:
            return web.json_response({"error": "nothing captured"}, status=409)
        n = int(request.query.get("n", "200"))
        if make_url(self.url).get_backend_name() == "sqlite":
            sql = _sqlite_floor(make_url(self.url).database or "", captured, n)
        else:
            sql = await _asyncpg_floor(self.url, captured, n)
        env = aiohttp_jinja2.get_env(request.app)
        template = env.get_template(captured.template)
        template.render(captured.context)  # warm-up
        started = time.process_time()
        for _ in range(n):
            template.render(captured.context)
        render = (time.process_time() - started) / n
        return web.json_response(
            {
                "sql_cpu": sql,
                "render_cpu": render,
                "statements": captured.statements,
                "transactions": captured.transactions,
                "template": captured.template,
                "sql": [step[0] for step in captured.steps if step is not BEGIN],
            }
        )


def _sqlite_floor(path: str, captured: Captured, n: int) -> float:
    """CPU per replay of the captured statements with sqlite3, transactions as they were."""
    conn = sqlite3.connect(path, isolation_level=None)

    def replay() -> None:
        for step in captured.steps:
            if step is BEGIN:
                if conn.in_transaction:
                    conn.execute("COMMIT")
                conn.execute("BEGIN DEFERRED")
                continue
            statement, parameters, many = step
            if many:
                conn.executemany(statement, parameters)
            else:
                conn.execute(statement, parameters).fetchall()
        if conn.in_transaction:
            conn.execute("COMMIT")

    try:
        replay()  # warm-up: sqlite3's statement cache and the page cache
        started = time.process_time()
        for _ in range(n):
            replay()
        return (time.process_time() - started) / n
    finally:
        conn.close()


async def _asyncpg_floor(url: str, captured: Captured, n: int) -> float:
    """CPU (this process's: asyncpg's side) per replay of the captured statements."""
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, database=u.database
    )

    async def replay() -> None:
        transaction = None
        for step in captured.steps:
            if step is BEGIN:
                if transaction is not None:
                    await transaction.commit()
                transaction = conn.transaction()
                await transaction.start()
                continue
            statement, parameters, many = step
            if many:
                await conn.executemany(statement, parameters)
            else:
                await conn.fetch(statement, *parameters)
        if transaction is not None:
            await transaction.commit()

    try:
        await replay()
        started = time.process_time()
        for _ in range(n):
            await replay()
        return (time.process_time() - started) / n
    finally:
        await conn.close()
