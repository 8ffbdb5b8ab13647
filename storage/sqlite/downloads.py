"""Where each finished video is on this machine (``Downloads``)."""

from __future__ import annotations

from storage.history import HistoryFilter
from storage.records import Generation
from storage.sqlite import plans, rows
from storage.sqlite.db import Database


class SqliteDownloads:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._me = db.who.person  # who ``by:me`` is

    async def set(self, generation_id: int, *, state: str, path: str | None = None,
                  done: int | None = None, total: int | None = None,
                  sha256: str | None = None, error: str | None = None) -> Generation:
        async with self._db.write():
            await rows.update(self._db, generation_id, download_state=state,
                              download_path=path, download_bytes=done, download_total=total,
                              download_sha256=sha256, download_error=error)
        return await rows.require(self._db, generation_id)

    async def progress(self, generation_id: int, done: int, total: int | None) -> None:
        async with self._db.write():
            await rows.update(self._db, generation_id, download_bytes=done,
                              download_total=total)

    async def unsaved(self, where: HistoryFilter | None = None, *,
                      ended_after: str | None = None, ended_before: str | None = None,
                      limit: int | None = None) -> list[Generation]:
        return await self._db.run(plans.unsaved(where, who=self._db.who,
                                                ended_after=ended_after,
                                                ended_before=ended_before, limit=limit))
