"""Forgetting, restoring, and deleting for good (``Trash``)."""

from __future__ import annotations

from storage.clock import iso_in, now_iso
from storage.interface import TRASH_DAYS
from storage.postgres import rows
from storage.postgres.db import Database
from storage.records import SUBMISSION_ACCEPTED, SUBMISSION_TRACKED, Generation


class PostgresTrash:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def forget(self, generation_id: int) -> Generation | None:
        async with self._db.write() as tx:
            found = await tx.rows("SELECT * FROM generations WHERE id = $1 FOR UPDATE",
                                  generation_id)
            if not found or found[0].forgotten_at is not None:
                return found[0] if found else None
            await rows.update(tx, generation_id, forgotten_at=now_iso(), next_poll_at=None,
                              lease_owner=None, lease_until=None)
            await rows.event(tx, generation_id, "FORGOTTEN")
            return await rows.require(tx, generation_id)

    async def restore(self, generation_id: int) -> Generation | None:
        async with self._db.write() as tx:
            found = await tx.rows("SELECT * FROM generations WHERE id = $1 FOR UPDATE",
                                  generation_id)
            if not found or found[0].forgotten_at is None:
                return found[0] if found else None
            row = found[0]
            follow = row.task_id is not None and not row.terminal and row.poll_error is None \
                and row.submission in (SUBMISSION_ACCEPTED, SUBMISSION_TRACKED)
            await rows.update(tx, generation_id, forgotten_at=None,
                              next_poll_at=now_iso() if follow else row.next_poll_at)
            await rows.event(tx, generation_id, "RESTORED")
            return await rows.require(tx, generation_id)

    async def purge(self, days: float = TRASH_DAYS) -> list[Generation]:
        """Status events and tags go with their rows (ON DELETE CASCADE); a read first,
        so a store opened every day writes nothing when nothing is old enough."""
        cutoff = iso_in(-days * 86400)
        if not await self._db.scalar(
                "SELECT 1 FROM generations WHERE forgotten_at <= $1 LIMIT 1", cutoff):
            return []
        async with self._db.write() as tx:
            gone = await tx.rows("DELETE FROM generations WHERE forgotten_at <= $1"
                                 " RETURNING *", cutoff)
        return sorted(gone, key=lambda row: row.id)
