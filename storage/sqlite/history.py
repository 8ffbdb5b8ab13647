"""Browsing, searching, counting, annotating, exporting and importing (``History``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from storage.history import HistoryFilter
from storage.records import IMPORTABLE, Counts, Generation, Tally
from storage.redact import SCRUBBED, scrub_optional
from storage.sqlite import plans, rows
from storage.sqlite.db import Database
from storage.sqlite.schema import BUCKET
from storage.sqlite.search import where_sql

SCAN_PAGE = 2000  # rows per query when scanning the whole history


class SqliteHistory:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- browsing --------------------------------------------------------------------

    async def page(self, where: HistoryFilter | None = None, *, sort: str = "submitted",
                   descending: bool = True, limit: int = 200,
                   offset: int = 0) -> list[Generation]:
        return await self._db.run(plans.page(where, sort=sort, descending=descending,
                                             limit=limit, offset=offset))

    async def count(self, where: HistoryFilter | None = None, *,
                    at_most: int | None = None) -> int:
        return await self._db.run(plans.count(where, at_most=at_most))

    async def tally(self, where: HistoryFilter | None = None, *, at_most: int) -> Tally:
        return await self._db.run(plans.tally(where, at_most=at_most))

    async def ids(self, where: HistoryFilter) -> list[int]:
        clause, params = where_sql(where)
        found = await self._db.fetch(f"SELECT id FROM generations {clause}", params)
        return [row[0] for row in found]

    async def rows(self, where: HistoryFilter | None = None) -> AsyncIterator[Generation]:
        """Pages by id, each fetched whole, so no read stays open while anyone writes."""
        clause, params = where_sql(where)
        last = 0
        while True:
            found = await self._db.rows(
                f"SELECT * FROM generations {clause} AND id > ? ORDER BY id LIMIT ?",
                (*params, last, SCAN_PAGE))
            for row in found:
                yield row
            if len(found) < SCAN_PAGE:
                return
            last = found[-1].id

    async def columns(self, names: tuple[str, ...], where: HistoryFilter | None = None
                      ) -> AsyncIterator[tuple[Any, ...]]:
        """Pages by id, each fetched whole, so no read stays open while the caller (or
        anyone else on this connection) writes."""
        for name in names:
            if name not in IMPORTABLE:
                raise ValueError(f"{name} is not a column")
        clause, params = where_sql(where)
        last = 0
        while True:
            found = await self._db.fetch(
                f"SELECT id, {', '.join(names)} FROM generations {clause} AND id > ?"
                " ORDER BY id LIMIT ?", (*params, last, SCAN_PAGE))
            for row in found:
                yield tuple(row)[1:]
            if len(found) < SCAN_PAGE:
                return
            last = found[-1][0]

    async def counts(self, day_start: str) -> Counts:
        """From the counters the triggers keep (schema v9): a few rows, at any size."""
        kept = await self._db.run(plans.figures())
        today = await self._db.fetch(
            f"SELECT status, SUM(n) FROM ended_figures WHERE bucket >= {BUCKET}"
            " GROUP BY status", (day_start,))
        ended = {row[0]: int(row[1]) for row in today}
        return Counts(pending=kept["pending"], running=kept["running"],
                      submitting=kept["submitting"], finished_today=ended.get("SUCCEEDED", 0),
                      failed_today=ended.get("FAILED", 0), not_downloaded=kept["unsaved"],
                      total=kept["kept"])

    # -- moving between machines -----------------------------------------------------

    async def import_many(self, records: Iterable[dict[str, Any]]) -> int:
        """A few statements per batch, not per record: one query finds what is already
        here, rows go in with ``executemany`` (ids assigned here, so tags and status
        history can follow in two more) — import runs near SQLite's own speed."""
        batch = list(records)
        async with self._db.write():
            fresh = await self._not_yet_here(batch)
            if not fresh:
                return 0
            next_id = int(await self._db.scalar(
                "SELECT COALESCE(MAX(id), 0) FROM generations"))
            by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
            tags: list[tuple[int, str]] = []
            events: list[tuple[int, Any, Any, Any]] = []
            for record in fresh:
                next_id += 1
                columns = tuple(c for c in IMPORTABLE if c in record)
                by_columns.setdefault(columns, []).append(
                    [next_id, *(_to_db(scrub_optional(record[c]) if c in SCRUBBED
                                       else record[c]) for c in columns)])
                tags += [(next_id, t) for t in record.get("tags") or []]
                events += [(next_id, e.get("at"), e.get("status"),
                            scrub_optional(e.get("detail")))
                           for e in record.get("history") or []]
            for columns, values in by_columns.items():
                await self._db.executemany(
                    f"INSERT INTO generations (id, {', '.join(columns)}) VALUES "
                    f"(?, {', '.join('?' for _ in columns)})", values)
            await self._db.executemany(
                "INSERT OR IGNORE INTO generation_tags (generation_id, tag) VALUES (?, ?)", tags)
            await self._db.executemany(
                "INSERT INTO status_events (generation_id, at, status, detail)"
                " VALUES (?, ?, ?, ?)", events)
        return len(fresh)

    async def _not_yet_here(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records of a batch this history does not hold yet (by task id, or for a
        submission that never got one, by creation time and prompt) — once each."""
        ids = [r["task_id"] for r in batch if r.get("task_id")]
        stamps = [r.get("created_at") for r in batch if not r.get("task_id")]
        known_ids: set[Any] = set()
        known_pairs: set[tuple[Any, Any]] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            found = await self._db.fetch(
                f"SELECT task_id FROM generations WHERE task_id IN "
                f"({', '.join('?' for _ in chunk)})", chunk)
            known_ids |= {row[0] for row in found}
        for start in range(0, len(stamps), 500):
            chunk = stamps[start:start + 500]
            found = await self._db.fetch(
                f"SELECT created_at, prompt FROM generations WHERE task_id IS NULL AND "
                f"created_at IN ({', '.join('?' for _ in chunk)})", chunk)
            known_pairs |= {(row[0], row[1]) for row in found}
        fresh = []
        for record in batch:
            task_id = record.get("task_id")
            key = (record.get("created_at"), record.get("prompt"))
            if (task_id in known_ids) if task_id else (key in known_pairs):
                continue
            if task_id:
                known_ids.add(task_id)
            else:
                known_pairs.add(key)
            fresh.append(record)
        return fresh

    # -- favourites, notes, tags --------------------------------------------------------

    async def set_favourite(self, generation_id: int, favourite: bool) -> Generation:
        async with self._db.write():
            await rows.update(self._db, generation_id, favourite=int(favourite))
        return await rows.require(self._db, generation_id)

    async def set_note(self, generation_id: int, note: str | None) -> Generation:
        async with self._db.write():
            await rows.update(self._db, generation_id, note=(note or "").strip() or None)
        return await rows.require(self._db, generation_id)

    async def set_tags(self, generation_id: int, tags: Iterable[str]) -> Generation:
        async with self._db.write():
            await self._db.execute("DELETE FROM generation_tags WHERE generation_id = ?",
                                   (generation_id,))
            await rows.insert_tags(self._db, generation_id, tags)
            await rows.update(self._db, generation_id)
        return await rows.require(self._db, generation_id)

    async def tags_of(self, generation_id: int) -> list[str]:
        found = await self._db.fetch(
            "SELECT tag FROM generation_tags WHERE generation_id = ? ORDER BY tag",
            (generation_id,))
        return [row[0] for row in found]

    async def all_tags(self) -> list[tuple[str, int]]:
        found = await self._db.fetch(
            "SELECT tag, COUNT(*) FROM generation_tags JOIN generations ON id = generation_id"
            " WHERE forgotten_at IS NULL GROUP BY tag ORDER BY tag")
        return [(row[0], row[1]) for row in found]


def _to_db(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value
