"""The backends the contract suite runs against, and what each must do for it that the
store interface does not (make a store of an older or newer schema).

A new backend plugs in here: one class with these three methods, added to BACKENDS.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

OLD_PROMPT = "a row written by the previous version"
OLD_TASK = "old-task-1"


class Backend(Protocol):
    name: str

    def fresh(self, tmp_path: Path) -> str:
        """Where a new, empty store may be made (``storage.open_store`` takes it)."""
        ...

    def create_previous(self, location: str) -> None:
        """A store as the previous schema version left it, holding one finished generation
        (``OLD_PROMPT``, task ``OLD_TASK``, one status event)."""
        ...

    def make_newer(self, location: str) -> None:
        """Mark an existing store as written by a newer pixverse-tui."""
        ...


class SqliteBackend:
    name = "sqlite"

    def fresh(self, tmp_path: Path) -> str:
        return str(tmp_path / "store" / "tasks.db")

    def create_previous(self, location: str) -> None:
        from storage.sqlite.db import statements
        from storage.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

        Path(location).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(location, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            for script in MIGRATIONS[:SCHEMA_VERSION - 1]:
                for statement in statements(script):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
            db.execute(
                "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
                " submission, task_id, status, end_time, video_url, updated_at) VALUES"
                " ('2026-01-02T03:04:05.000+00:00', 'http://127.0.0.1:1/api/v1', 'm', ?,"
                " '1280*720', 5, 'accepted', ?, 'SUCCEEDED', '2026-01-02T03:06:05.000+00:00',"
                " 'http://127.0.0.1:1/v.mp4', '2026-01-02T03:06:05.000+00:00')",
                (OLD_PROMPT, OLD_TASK))
            db.execute("INSERT INTO status_events (generation_id, at, status) VALUES"
                       " (1, '2026-01-02T03:06:05.000+00:00', 'SUCCEEDED')")
        finally:
            db.close()

    def make_newer(self, location: str) -> None:
        from storage.sqlite.schema import SCHEMA_VERSION

        db = sqlite3.connect(location, isolation_level=None)
        try:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        finally:
            db.close()


def _on(url: str, work: Callable[[Any], Awaitable[None]]) -> None:
    """Run ``work(connection)`` on the database at ``url`` from synchronous code."""
    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=30)
        try:
            await work(conn)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the caller may run a loop
        pool.submit(asyncio.run, run()).result(timeout=120)


class PostgresBackend:
    """One database per test process on the session's server (``tests/pg_server.py``),
    emptied between tests by TRUNCATE (a few milliseconds, where a new database per test
    would copy files); made anew only after a test gave it another schema."""

    name = "postgres"
    TABLES = ("generations", "status_events", "generation_tags", "poller_leases",
              "request_budgets", "foreign_tasks", "figure_moves", "machine_downloads",
              "copies", "queue_pauses")

    def __init__(self) -> None:
        self._url: str | None = None
        self._reshaped = True  # the schema is not (known to be) the newest: drop it

    def fresh(self, tmp_path: Path) -> str:
        from tests.pg_server import shared_server

        server = shared_server()  # skips (or fails, in CI) without a server
        if self._url is None:
            self._url = server.dsn(server.create_database())
        reshaped, self._reshaped = self._reshaped, False
        # Whatever a test left behind (a killed process's session, a store never closed)
        # lets go of the tables first.
        leftover = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname ="
                    " current_database() AND pid <> pg_backend_pid()")
        if reshaped:  # the next store to open creates the newest schema
            server.admin(leftover, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public",
                         database=database_name(self._url))
        else:
            server.admin(leftover, f"TRUNCATE {', '.join(self.TABLES)} RESTART IDENTITY",
                         database=database_name(self._url))
        return self._url

    def create_previous(self, location: str) -> None:
        from storage.postgres.schema import MIGRATIONS, migrate

        self._reshaped = True

        async def previous(conn: Any) -> None:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            await migrate(conn, "the test database", MIGRATIONS[:-1])
            await conn.execute(
                "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
                " submission, task_id, status, end_time, video_url, updated_at) VALUES"
                " ('2026-01-02T03:04:05.000+00:00', 'http://127.0.0.1:1/api/v1', 'm', $1,"
                " '1280*720', 5, 'accepted', $2, 'SUCCEEDED', '2026-01-02T03:06:05.000+00:00',"
                " 'http://127.0.0.1:1/v.mp4', '2026-01-02T03:06:05.000+00:00')",
                OLD_PROMPT, OLD_TASK)
            await conn.execute("INSERT INTO status_events (generation_id, at, status) VALUES"
                               " (1, '2026-01-02T03:06:05.000+00:00', 'SUCCEEDED')")

        _on(location, previous)

    def make_newer(self, location: str) -> None:
        from storage.postgres.schema import SCHEMA_VERSION

        self._reshaped = True

        async def newer(conn: Any) -> None:
            await conn.execute("INSERT INTO schema_version (version, applied_by) VALUES"
                               " ($1, 'pixverse-tui 99.0 on elsewhere')", SCHEMA_VERSION + 1)

        _on(location, newer)


def database_name(url: str) -> str:
    from tests.pg_server import database_name as name

    return name(url)


BACKENDS: list[Backend] = [SqliteBackend(), PostgresBackend()]
