"""Single generations by key, and their status history (``Generations``)."""

from __future__ import annotations

from collections.abc import Iterable

from storage.postgres import rows
from storage.postgres.db import Database
from storage.records import Generation, StatusEvent
from storage.sql import like_escaped


class PostgresGenerations:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, generation_id: int) -> Generation | None:
        return await rows.get(self._db, generation_id)

    async def get_many(self, generation_ids: Iterable[int]) -> list[Generation]:
        """One query, whatever the number of ids (an array parameter)."""
        wanted = sorted(set(generation_ids))
        if not wanted:
            return []
        return await self._db.rows(
            "SELECT * FROM generations WHERE id = ANY($1::bigint[]) ORDER BY id", wanted)

    async def by_task_id(self, task_id: str) -> Generation | None:
        found = await self._db.rows("SELECT * FROM generations WHERE task_id = $1", task_id)
        return found[0] if found else None

    async def by_sha256(self, sha256: str) -> list[Generation]:
        """This machine's downloads (the index ``machine_downloads_sha256``, v4)."""
        return await self._db.rows(
            "SELECT * FROM generations WHERE id IN (SELECT generation_id FROM"
            " machine_downloads WHERE machine = $1 AND sha256 = $2) ORDER BY id",
            self._db.who.machine, sha256.lower())

    async def by_download_path(self, path: str) -> list[Generation]:
        """This machine's downloads (the index ``machine_downloads_path``, v4)."""
        return await self._db.rows(
            "SELECT * FROM generations WHERE id IN (SELECT generation_id FROM"
            " machine_downloads WHERE machine = $1 AND path = $2 AND path IS NOT NULL)"
            " ORDER BY id", self._db.who.machine, path)

    async def find(self, ref: str) -> list[Generation]:
        ref = ref.strip()
        if ref.lstrip("#").isdigit() and len(ref.lstrip("#")) < 19:  # a bigint
            found = await self.get(int(ref.lstrip("#")))
            if found is not None:
                return [found]
        exact = await self.by_task_id(ref)
        if exact is not None:
            return [exact]
        if len(ref) < 4:
            return []
        return await self._db.rows(  # task_id is COLLATE "C": the prefix uses its index
            "SELECT * FROM generations WHERE task_id LIKE $1 ORDER BY id LIMIT 5",
            like_escaped(ref) + "%")

    async def events(self, generation_id: int) -> list[StatusEvent]:
        found = await self._db.fetch(
            "SELECT at, status, detail FROM status_events WHERE generation_id = $1"
            " ORDER BY id", generation_id)
        return [StatusEvent(row[0], row[1], row[2]) for row in found]

    async def known_task_ids(self, task_ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(task_ids))
        if not wanted:
            return set()
        found = await self._db.fetch(
            "SELECT task_id FROM generations WHERE task_id = ANY($1::text[])", wanted)
        return {row[0] for row in found}
