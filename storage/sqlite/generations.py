"""Single generations by key, and their status history (``Generations``)."""

from __future__ import annotations

from collections.abc import Iterable

from storage.records import Generation, StatusEvent
from storage.sql import like_escaped
from storage.sqlite import rows
from storage.sqlite.db import Database


class SqliteGenerations:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, generation_id: int) -> Generation | None:
        return await rows.get(self._db, generation_id)

    async def get_many(self, generation_ids: Iterable[int]) -> list[Generation]:
        """A query per 500 ids."""
        wanted = sorted(set(generation_ids))
        found: list[Generation] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            found += await self._db.rows(
                f"SELECT * FROM generations WHERE id IN ({', '.join('?' for _ in chunk)})"
                " ORDER BY id", chunk)
        return found

    async def by_task_id(self, task_id: str) -> Generation | None:
        found = await self._db.rows("SELECT * FROM generations WHERE task_id = ?", (task_id,))
        return found[0] if found else None

    async def by_sha256(self, sha256: str) -> list[Generation]:
        return await self._db.rows("SELECT * FROM generations WHERE download_sha256 = ?",
                                   (sha256.lower(),))

    async def by_download_path(self, path: str) -> list[Generation]:
        """The partial index ``generations_download_path`` (schema v7) answers it."""
        return await self._db.rows("SELECT * FROM generations WHERE download_path = ?",
                                   (path,))

    async def find(self, ref: str) -> list[Generation]:
        ref = ref.strip()
        if ref.lstrip("#").isdigit():
            found = await self.get(int(ref.lstrip("#")))
            if found is not None:
                return [found]
        exact = await self.by_task_id(ref)
        if exact is not None:
            return [exact]
        if len(ref) < 4:
            return []
        return await self._db.rows(
            "SELECT * FROM generations WHERE task_id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 5",
            (like_escaped(ref) + "%",))

    async def events(self, generation_id: int) -> list[StatusEvent]:
        found = await self._db.fetch(
            "SELECT at, status, detail FROM status_events WHERE generation_id = ? ORDER BY id",
            (generation_id,))
        return [StatusEvent(row[0], row[1], row[2]) for row in found]

    async def known_task_ids(self, task_ids: Iterable[str]) -> set[str]:
        """A query per 500 ids."""
        wanted = sorted(set(task_ids))
        known: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            found = await self._db.fetch(
                f"SELECT task_id FROM generations WHERE task_id IN"
                f" ({', '.join('?' for _ in chunk)})", chunk)
            known |= {row[0] for row in found}
        return known
