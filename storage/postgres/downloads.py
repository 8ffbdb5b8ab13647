"""Where each finished video is (``Downloads``)."""

from __future__ import annotations

from storage.history import HistoryFilter
from storage.postgres import rows
from storage.postgres.db import Database
from storage.postgres.rows import Args
from storage.postgres.search import where_sql
from storage.records import Generation


class PostgresDownloads:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, generation_id: int, *, state: str, path: str | None = None,
                  done: int | None = None, total: int | None = None,
                  sha256: str | None = None, error: str | None = None) -> Generation:
        async with self._db.write() as tx:
            await rows.update(tx, generation_id, download_state=state, download_path=path,
                              download_bytes=done, download_total=total,
                              download_sha256=sha256, download_error=error)
            return await rows.require(tx, generation_id)

    async def progress(self, generation_id: int, done: int, total: int | None) -> None:
        async with self._db.write() as tx:
            await rows.update(tx, generation_id, download_bytes=done, download_total=total)

    async def unsaved(self, where: HistoryFilter | None = None, *,
                      ended_after: str | None = None, ended_before: str | None = None,
                      limit: int | None = None) -> list[Generation]:
        args = Args()
        clause = where_sql(where, args)
        # The terms of the partial index ``generations_unsaved``, literally.
        terms = ["status = 'SUCCEEDED'", "download_state <> 'done'", "video_url IS NOT NULL",
                 "download_state NOT IN ('expired', 'refused', 'trashed')"]
        if ended_after is not None:
            terms.append(f"end_time > {args.add(ended_after)}")
        if ended_before is not None:
            terms.append(f"end_time <= {args.add(ended_before)}")
        bound = f" LIMIT {args.add(limit)}" if limit is not None else ""
        return await self._db.rows(
            f"SELECT * FROM generations {clause} AND {' AND '.join(terms)}"
            f" ORDER BY end_time NULLS FIRST, id{bound}", *args.values)
