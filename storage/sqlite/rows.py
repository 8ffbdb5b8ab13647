"""What every part does to a generation row: read it, update it, log a status event."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from storage.clock import now_iso
from storage.records import Generation
from storage.redact import SCRUBBED, scrub_optional
from storage.sql import FOLLOWED
from storage.sqlite.db import Database

__all__ = ["FOLLOWED", "event", "get", "insert_tags", "require", "update"]


async def get(db: Database, generation_id: int) -> Generation | None:
    rows = await db.rows("SELECT * FROM generations WHERE id = ?", (generation_id,))
    return rows[0] if rows else None


async def require(db: Database, generation_id: int) -> Generation:
    found = await get(db, generation_id)
    if found is None:
        raise KeyError(f"no generation #{generation_id} in {db.path}")
    return found


async def event(db: Database, generation_id: int, status: str,
                detail: str | None = None) -> None:
    """Append to a row's status history (inside a write); the detail scrubbed of keys."""
    await db.execute(
        "INSERT INTO status_events (generation_id, at, status, detail) VALUES (?, ?, ?, ?)",
        (generation_id, now_iso(), status, scrub_optional(detail)))


async def update(db: Database, generation_id: int, **values: Any) -> None:
    """Set these columns and ``updated_at`` (inside a write; the change feed sees it);
    error and note texts (``SCRUBBED``) are scrubbed of keys."""
    for name in SCRUBBED.intersection(values):
        values[name] = scrub_optional(values[name])
    values["updated_at"] = now_iso()
    columns = ", ".join(f"{name} = ?" for name in values)
    await db.execute(f"UPDATE generations SET {columns} WHERE id = ?",
                     (*values.values(), generation_id))


async def insert_tags(db: Database, generation_id: int, tags: Iterable[str]) -> None:
    """Give a row these tags (trimmed, each once), inside a write."""
    clean = sorted({t.strip() for t in tags if t.strip()})
    await db.executemany("INSERT INTO generation_tags (generation_id, tag) VALUES (?, ?)",
                         [(generation_id, tag) for tag in clean])
