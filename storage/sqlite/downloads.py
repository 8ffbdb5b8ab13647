"""Where each finished video is on this machine (``Downloads``)."""

from __future__ import annotations

from typing import Any

from storage.history import HistoryFilter
from storage.records import Generation
from storage.sqlite import rows
from storage.sqlite.db import Database
from storage.sqlite.search import where_sql


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
        clause, params = where_sql(where, me=self._me)
        # The partial index ``generations_unsaved`` is used only when SQLite sees the
        # query imply its condition: its terms, literally.
        clauses = ["status = 'SUCCEEDED'", "download_state != 'done'", "video_url IS NOT NULL",
                   "download_state NOT IN ('expired', 'refused', 'trashed')"]
        values: list[Any] = []
        if ended_after is not None:
            clauses.append("end_time > ?")
            values.append(ended_after)
        if ended_before is not None:
            clauses.append("end_time <= ?")
            values.append(ended_before)
        # Named too: the planner would rather take the index on status.
        source = "generations" if where is not None and where.trash \
            else "generations INDEXED BY generations_unsaved"
        return await self._db.rows(
            f"SELECT * FROM {source} {clause} AND {' AND '.join(clauses)}"
            " ORDER BY end_time, id" + (" LIMIT ?" if limit is not None else ""),
            (*params, *values, *(() if limit is None else (limit,))))
