"""Forgetting, restoring, and deleting for good (``Trash``)."""

from __future__ import annotations

from storage.clock import iso_in, now_iso
from storage.interface import TRASH_DAYS
from storage.records import SUBMISSION_ACCEPTED, SUBMISSION_TRACKED, Generation
from storage.sqlite import rows
from storage.sqlite.db import Database


class SqliteTrash:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def forget(self, generation_id: int) -> Generation | None:
        async with self._db.write():
            row = await rows.get(self._db, generation_id)
            if row is None or row.forgotten_at is not None:
                return row
            await rows.update(self._db, generation_id, forgotten_at=now_iso(),
                              next_poll_at=None, lease_owner=None, lease_until=None)
            await rows.event(self._db, generation_id, "FORGOTTEN")
        return await rows.require(self._db, generation_id)

    async def restore(self, generation_id: int) -> Generation | None:
        async with self._db.write():
            row = await rows.get(self._db, generation_id)
            if row is None or row.forgotten_at is None:
                return row
            follow = row.task_id is not None and not row.terminal and row.poll_error is None \
                and row.submission in (SUBMISSION_ACCEPTED, SUBMISSION_TRACKED)
            await rows.update(self._db, generation_id, forgotten_at=None,
                              next_poll_at=now_iso() if follow else row.next_poll_at)
            await rows.event(self._db, generation_id, "RESTORED")
        return await rows.require(self._db, generation_id)

    async def purge(self, days: float = TRASH_DAYS) -> list[Generation]:
        """Status events and tags go with their rows (ON DELETE CASCADE)."""
        cutoff = iso_in(-days * 86400)
        if not await self._db.scalar(
                "SELECT 1 FROM generations WHERE forgotten_at <= ? LIMIT 1", (cutoff,)):
            return []
        async with self._db.write():
            gone = await self._db.rows("SELECT * FROM generations WHERE forgotten_at <= ?",
                                       (cutoff,))
            await self._db.execute("DELETE FROM generations WHERE forgotten_at <= ?",
                                   (cutoff,))
        return gone
