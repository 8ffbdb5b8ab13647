"""What every part does to a generation row: read it, update it, log a status event."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from storage.clock import now_iso
from storage.postgres.db import Database, Tx
from storage.records import Generation
from storage.redact import SCRUBBED, scrub_optional
from storage.sql import FOLLOWED

__all__ = ["FOLLOWED", "Args", "event", "get", "insert_tags", "require", "update"]


class Args:
    """Parameters of one statement as it is written: ``args.add(value)`` is its ``$n``."""

    def __init__(self, *initial: Any) -> None:
        self.values: list[Any] = list(initial)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"

    def many(self, values: Iterable[Any]) -> str:
        """``$n, $n+1, …`` for each value (``NULL`` for none: ``x IN (NULL)`` is false)."""
        return ", ".join(self.add(v) for v in values) or "NULL"


async def get(db: Database | Tx, generation_id: int) -> Generation | None:
    found = await db.rows("SELECT * FROM generations WHERE id = $1", generation_id)
    return found[0] if found else None


async def require(db: Database | Tx, generation_id: int) -> Generation:
    found = await get(db, generation_id)
    if found is None:
        where = db.where if isinstance(db, Database) else "the team database"
        raise KeyError(f"no generation #{generation_id} in {where}")
    return found


async def locked(tx: Tx, generation_id: int) -> Generation:
    """The row, locked until the transaction ends (read, then written: no one between)."""
    found = await tx.rows("SELECT * FROM generations WHERE id = $1 FOR UPDATE", generation_id)
    if not found:
        raise KeyError(f"no generation #{generation_id} in the team database")
    return found[0]


async def event(tx: Tx, generation_id: int, status: str, detail: str | None = None) -> None:
    """Append to a row's status history (inside a write); the detail scrubbed of keys."""
    await tx.execute(
        "INSERT INTO status_events (generation_id, at, status, detail) VALUES ($1, $2, $3, $4)",
        generation_id, now_iso(), status, scrub_optional(detail))


async def update(tx: Tx, generation_id: int, **values: Any) -> None:
    """Set these columns and ``updated_at`` (inside a write; the change feed sees it);
    error and note texts (``SCRUBBED``) are scrubbed of keys."""
    for name in SCRUBBED.intersection(values):
        values[name] = scrub_optional(values[name])
    values["updated_at"] = now_iso()
    args = Args()
    columns = ", ".join(f"{name} = {args.add(value)}" for name, value in values.items())
    await tx.execute(f"UPDATE generations SET {columns} WHERE id = {args.add(generation_id)}",
                     *args.values)


async def insert_tags(tx: Tx, generation_id: int, tags: Iterable[str]) -> None:
    """Give a row these tags (trimmed, each once), inside a write."""
    clean = sorted({t.strip() for t in tags if t.strip()})
    if clean:
        await tx.execute("INSERT INTO generation_tags (generation_id, tag)"
                         " SELECT $1, unnest($2::text[])", generation_id, clean)
