"""Browsing, searching, counting, annotating, exporting and importing (``History``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from storage.history import HistoryFilter
from storage.records import (
    COPIED,
    DOWNLOAD_FIELDS,
    IMPORTABLE,
    CopyMark,
    Counts,
    Generation,
    Tally,
)
from storage.redact import SCRUBBED, scrub_optional
from storage.sqlite import plans, rows
from storage.sqlite.db import Database
from storage.sqlite.schema import BUCKET
from storage.sqlite.search import where_sql

SCAN_PAGE = 2000  # rows per query when scanning the whole history


class SqliteHistory:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._me = db.who.person  # who ``by:me`` is

    # -- browsing --------------------------------------------------------------------

    async def page(self, where: HistoryFilter | None = None, *, sort: str = "submitted",
                   descending: bool = True, limit: int = 200,
                   offset: int = 0) -> list[Generation]:
        return await self._db.run(plans.page(where, who=self._db.who, sort=sort,
                                             descending=descending, limit=limit,
                                             offset=offset))

    async def count(self, where: HistoryFilter | None = None, *,
                    at_most: int | None = None) -> int:
        return await self._db.run(plans.count(where, me=self._me, at_most=at_most))

    async def tally(self, where: HistoryFilter | None = None, *, at_most: int) -> Tally:
        return await self._db.run(plans.tally(where, me=self._me, at_most=at_most))

    async def ids(self, where: HistoryFilter) -> list[int]:
        clause, params = where_sql(where, me=self._me)
        found = await self._db.fetch(f"SELECT id FROM generations {clause}", params)
        return [row[0] for row in found]

    async def rows(self, where: HistoryFilter | None = None) -> AsyncIterator[Generation]:
        """Pages by id, each fetched whole, so no read stays open while anyone writes."""
        clause, params = where_sql(where, me=self._me)
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
        clause, params = where_sql(where, me=self._me)
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
                      total=kept["kept"], queued=kept.get("queued", 0))

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

    # -- copying a whole history (``store copy``) --------------------------------------

    async def copy_out(self, after: int = 0, limit: int = SCAN_PAGE) -> list[dict[str, Any]]:
        """Four reads by id range: the rows, their tags, status events and downloads."""
        found = await self._db.fetch(
            "SELECT * FROM generations WHERE id > ? ORDER BY id LIMIT ?", (after, limit))
        if not found:
            return []
        span = (found[0]["id"], found[-1]["id"])
        records: dict[int, dict[str, Any]] = {}
        for row in found:
            record: dict[str, Any] = {"id": row["id"]}
            record.update({c: _from_db(c, row[c]) for c in COPIED})
            record.update(tags=[], history=[], downloads={})
            local = {f: row[f"download_{f}"] for f in DOWNLOAD_FIELDS}
            if local["state"] != "none" or any(local[f] is not None
                                               for f in DOWNLOAD_FIELDS[1:]):
                record["downloads"][self._db.who.machine] = local
            records[row["id"]] = record
        for generation_id, tag in await self._db.fetch(
                "SELECT generation_id, tag FROM generation_tags WHERE generation_id"
                " BETWEEN ? AND ? ORDER BY generation_id, tag", span):
            if generation_id in records:
                records[generation_id]["tags"].append(tag)
        for generation_id, at, status, detail in await self._db.fetch(
                "SELECT generation_id, at, status, detail FROM status_events WHERE"
                " generation_id BETWEEN ? AND ? ORDER BY id", span):
            if generation_id in records:
                records[generation_id]["history"].append(
                    {"at": at, "status": status, "detail": detail})
        for row in await self._db.fetch(
                "SELECT * FROM machine_downloads WHERE generation_id BETWEEN ? AND ?"
                " ORDER BY generation_id, machine", span):
            if row["generation_id"] in records and row["machine"] != self._db.who.machine:
                records[row["generation_id"]]["downloads"][row["machine"]] = {
                    f: row[f] for f in DOWNLOAD_FIELDS}
        return list(records.values())

    @contextlib.asynccontextmanager
    async def bulk(self) -> AsyncIterator[None]:
        """Nothing: a SQLite history keeps its indexes through a load (dropping them
        would need the recovery after a crash that PostgreSQL's bulk load has)."""
        yield

    async def copy_in(self, source: str, records: Sequence[dict[str, Any]]) -> int:
        """One transaction of a few ``executemany``: what is already here is found with
        a query per 500 keys, then rows, tags, events and other machines' downloads go
        in — near SQLite's own speed, as ``import_many``."""
        async with self._db.write():
            mark = await self._db.fetch("SELECT base, up_to FROM copies WHERE source = ?",
                                        (source,))
            if mark:
                base, up_to = int(mark[0][0]), int(mark[0][1])
            else:
                base = int(await self._db.scalar("SELECT COALESCE(MAX(id), 0) FROM generations"))
                up_to = 0
            batch = [r for r in records if int(r["id"]) > up_to]
            if not batch:
                return 0
            fresh = await self._not_copied_yet(batch, base)
            added = await self._insert_copies(fresh, keep_ids=base == 0)
            await self._db.execute(
                "INSERT INTO copies (source, base, up_to, seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (source) DO UPDATE SET up_to = excluded.up_to,"
                " seen = seen + excluded.seen",
                (source, base, max(int(r["id"]) for r in batch), len(batch)))
        return added

    async def copied_from(self, source: str) -> CopyMark:
        found = await self._db.fetch("SELECT up_to, seen FROM copies WHERE source = ?",
                                     (source,))
        return CopyMark(int(found[0][0]), int(found[0][1])) if found else CopyMark()

    async def _not_copied_yet(self, batch: list[dict[str, Any]], base: int
                              ) -> list[dict[str, Any]]:
        """The records no row here stands for: none holds their task id or intent key and,
        for one never sent, none that was here before this source's first copy has its
        creation time and prompt."""
        async def known(column: str, values: list[Any], extra: str = "",
                        args: tuple[Any, ...] = ()) -> set[Any]:
            out: set[Any] = set()
            for start in range(0, len(values), 500):
                chunk = values[start:start + 500]
                out |= {tuple(row) if len(row) > 1 else row[0] for row in await self._db.fetch(
                    f"SELECT {column} FROM generations WHERE {column.split(',')[0]} IN"
                    f" ({', '.join('?' for _ in chunk)}){extra}", (*chunk, *args))}
            return out

        tasks = await known("task_id", [r["task_id"] for r in batch if r.get("task_id")])
        keys = await known("intent_key", [r["intent_key"] for r in batch
                                          if r.get("intent_key")])
        unsent = [r for r in batch if not r.get("task_id") and not r.get("intent_key")]
        pairs = await known("created_at, prompt", [r["created_at"] for r in unsent],
                            " AND task_id IS NULL AND id <= ?", (base,)) if unsent else set()
        fresh = []
        for record in batch:
            task, key = record.get("task_id"), record.get("intent_key")
            if (task and task in tasks) or (key and key in keys) or (
                    not task and not key and (record["created_at"], record["prompt"]) in pairs):
                continue
            if task:
                tasks.add(task)
            if key:
                keys.add(key)
            fresh.append(record)
        return fresh

    async def _insert_copies(self, fresh: list[dict[str, Any]], *, keep_ids: bool) -> int:
        """Insert copied records with their tags, events and downloads: each keeps its id
        when ``keep_ids`` and no row here has it, else takes the next free one."""
        if not fresh:
            return 0
        wanted = [int(r["id"]) for r in fresh] if keep_ids else []
        taken: set[int] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            taken |= {row[0] for row in await self._db.fetch(
                f"SELECT id FROM generations WHERE id IN ({', '.join('?' for _ in chunk)})",
                chunk)}
        next_id = max(int(await self._db.scalar("SELECT COALESCE(MAX(id), 0) FROM generations")),
                      max(wanted, default=0))
        me = self._db.who.machine
        local = tuple(f"download_{f}" for f in DOWNLOAD_FIELDS)
        values, tags, events, machines = [], [], [], []
        for record in fresh:
            if keep_ids and int(record["id"]) not in taken:
                new_id = int(record["id"])
            else:
                next_id += 1
                new_id = next_id
            downloads = record.get("downloads") or {}
            here = downloads.get(me) or {"state": "none"}
            values.append([new_id, *(_to_db(scrub_optional(record.get(c)) if c in SCRUBBED
                                            else record.get(c)) for c in COPIED),
                           *(scrub_optional(here.get(f)) if f == "error" else here.get(f)
                             for f in DOWNLOAD_FIELDS)])
            tags += [(new_id, t) for t in record.get("tags") or []]
            events += [(new_id, e.get("at"), e.get("status"), scrub_optional(e.get("detail")))
                       for e in record.get("history") or []]
            machines += [(new_id, machine, d.get("state") or "none", d.get("path"),
                          d.get("bytes"), d.get("total"), d.get("sha256"),
                          scrub_optional(d.get("error")))
                         for machine, d in downloads.items() if machine != me]
        columns = ", ".join((*COPIED, *local))
        await self._db.executemany(
            f"INSERT INTO generations (id, {columns}) VALUES"
            f" (?, {', '.join('?' for _ in (*COPIED, *local))})", values)
        await self._db.executemany(
            "INSERT OR IGNORE INTO generation_tags (generation_id, tag) VALUES (?, ?)", tags)
        await self._db.executemany(
            "INSERT INTO status_events (generation_id, at, status, detail) VALUES (?, ?, ?, ?)",
            events)
        await self._db.executemany(
            "INSERT INTO machine_downloads (generation_id, machine, state, path, bytes, total,"
            " sha256, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", machines)
        return len(fresh)

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


_FLAGS = frozenset({"audio", "watermark", "usage_audio", "favourite"})


def _from_db(column: str, value: Any) -> Any:
    return bool(value) if column in _FLAGS and value is not None else value
