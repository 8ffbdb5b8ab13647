"""The backends the contract suite runs against, and what each must do for it that the
store interface does not (make a store of an older or newer schema).

A new backend plugs in here: one class with these three methods, added to BACKENDS.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Protocol

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


BACKENDS: list[Backend] = [SqliteBackend()]
