"""Where each finished video is, machine by machine (``Downloads``).

A team database is every machine's: each machine's download of a row is a row of
``machine_downloads`` (schema v4), and a read shows the reading machine's
(``storage.postgres.db.Tx.rows``).  Its triggers tell every machine's change feed.
"""

from __future__ import annotations

from storage.history import HistoryFilter
from storage.postgres import rows
from storage.postgres.db import Database
from storage.postgres.rows import Args
from storage.postgres.search import download_state, where_sql
from storage.records import Generation
from storage.redact import scrub_optional

_SET = ("INSERT INTO machine_downloads (generation_id, machine, state, path, bytes, total,"
        " sha256, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (generation_id, machine) DO UPDATE SET state = excluded.state,"
        " path = excluded.path, bytes = excluded.bytes, total = excluded.total,"
        " sha256 = excluded.sha256, error = excluded.error")


class PostgresDownloads:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, generation_id: int, *, state: str, path: str | None = None,
                  done: int | None = None, total: int | None = None,
                  sha256: str | None = None, error: str | None = None) -> Generation:
        async with self._db.write() as tx:
            await rows.locked(tx, generation_id)  # (a KeyError for a row that is gone)
            await tx.execute(_SET, generation_id, self._db.who.machine, state, path, done,
                             total, sha256, scrub_optional(error))
            await rows.update(tx, generation_id)  # updated_at, as SQLite's
            return await rows.require(tx, generation_id)

    async def progress(self, generation_id: int, done: int, total: int | None) -> None:
        """Bytes so far: this machine's row only (a download in progress has one)."""
        await self._db.execute(
            "UPDATE machine_downloads SET bytes = $3, total = $4 WHERE generation_id = $1"
            " AND machine = $2", generation_id, self._db.who.machine, done, total)

    async def unsaved(self, where: HistoryFilter | None = None, *,
                      ended_after: str | None = None, ended_before: str | None = None,
                      limit: int | None = None) -> list[Generation]:
        args = Args()
        machine = self._db.who.machine
        clause = where_sql(where, args, me=self._db.who.person, machine=machine)
        # The terms of the partial index ``generations_unsaved`` (every finished kept row
        # on a team database: no machine's download is in ``generations``), then this
        # machine's download.
        state = download_state(args, machine)
        terms = ["status = 'SUCCEEDED'", "download_state <> 'done'", "video_url IS NOT NULL",
                 f"{state} NOT IN ('done', 'expired', 'refused', 'trashed')"]
        if ended_after is not None:
            terms.append(f"end_time > {args.add(ended_after)}")
        if ended_before is not None:
            terms.append(f"end_time <= {args.add(ended_before)}")
        bound = f" LIMIT {args.add(limit)}" if limit is not None else ""
        return await self._db.rows(
            f"SELECT * FROM generations {clause} AND {' AND '.join(terms)}"
            f" ORDER BY end_time NULLS FIRST, id{bound}", *args.values)
