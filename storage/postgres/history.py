"""Browsing, searching, counting, annotating, exporting and importing (``History``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from storage.errors import StoreError
from storage.history import HistoryFilter
from storage.postgres import rows
from storage.postgres.db import Database, Tx
from storage.postgres.rows import Args
from storage.postgres.schema import ENDED, FIGURES
from storage.postgres.search import order_by, where_sql
from storage.records import IMPORTABLE, Counts, Generation
from storage.redact import SCRUBBED, scrub_optional

SCAN_PAGE = 2000  # rows per query when scanning the whole history
# pg_advisory_xact_lock's key for "importing" ('piximpt'): two machines importing one
# file at once take turns, so the second finds the first's rows and adds nothing.
IMPORT_LOCK = 0x706978696D7074
ANALYZE_AFTER = 1000  # rows imported at once after which the statistics are renewed
# Only a role that may (the table's owner, a superuser): for others it is autovacuum's job.
_ANALYZE = ("DO $$ BEGIN IF (SELECT pg_has_role(relowner, 'USAGE') FROM pg_class"
            " WHERE oid = 'generations'::regclass) THEN ANALYZE generations; END IF; END $$")
# Column types an import's values are made to fit (the rest are text).
BOOLEANS = frozenset({"audio", "watermark", "usage_audio", "favourite"})
INTEGERS = frozenset({"duration", "seed", "usage_fps", "usage_video_count", "polls",
                      "poll_failures", "download_bytes", "download_total"})
FLOATS = frozenset({"usage_duration"})


class PostgresHistory:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- browsing --------------------------------------------------------------------

    async def page(self, where: HistoryFilter | None = None, *, sort: str = "submitted",
                   descending: bool = True, limit: int = 200,
                   offset: int = 0) -> list[Generation]:
        args = Args()
        clause = where_sql(where, args)
        return await self._db.rows(
            f"SELECT * FROM generations {clause} {order_by(sort, descending)}"
            f" LIMIT {args.add(limit)} OFFSET {args.add(offset)}", *args.values)

    async def count(self, where: HistoryFilter | None = None, *,
                    at_most: int | None = None) -> int:
        found = where or HistoryFilter()
        if found.empty and not found.folded:
            return (await figures(self._db))["kept"]
        args = Args()
        clause = where_sql(found, args)
        if at_most is None:
            return int(await self._db.scalar(f"SELECT count(*) FROM generations {clause}",
                                             *args.values))
        return int(await self._db.scalar(
            f"SELECT count(*) FROM (SELECT 1 FROM generations {clause}"
            f" LIMIT {args.add(at_most + 1)}) AS found", *args.values))

    async def ids(self, where: HistoryFilter) -> list[int]:
        args = Args()
        found = await self._db.fetch(f"SELECT id FROM generations {where_sql(where, args)}",
                                     *args.values)
        return [row[0] for row in found]

    async def rows(self, where: HistoryFilter | None = None) -> AsyncIterator[Generation]:
        """Pages by id, each fetched whole: no read stays open while the caller works."""
        last = 0
        while True:
            args = Args()
            clause = where_sql(where, args)
            found = await self._db.rows(
                f"SELECT * FROM generations {clause} AND id > {args.add(last)} ORDER BY id"
                f" LIMIT {args.add(SCAN_PAGE)}", *args.values)
            for row in found:
                yield row
            if len(found) < SCAN_PAGE:
                return
            last = found[-1].id

    async def columns(self, names: tuple[str, ...], where: HistoryFilter | None = None
                      ) -> AsyncIterator[tuple[Any, ...]]:
        for name in names:
            if name not in IMPORTABLE:
                raise ValueError(f"{name} is not a column")
        last = 0
        while True:
            args = Args()
            clause = where_sql(where, args)
            found = await self._db.fetch(
                f"SELECT id, {', '.join(names)} FROM generations {clause} AND id >"
                f" {args.add(last)} ORDER BY id LIMIT {args.add(SCAN_PAGE)}", *args.values)
            for row in found:
                yield tuple(row)[1:]
            if len(found) < SCAN_PAGE:
                return
            last = found[-1][0]

    async def counts(self, day_start: str) -> Counts:
        """The figures from the moves the triggers log (schema v2), the day's ends from
        the index on when each ended: a few rows, at any size."""
        kept = await figures(self._db)
        today = await self._db.fetch(
            f"SELECT status, count(*) FROM generations WHERE {ENDED}"
            " AND pixverse_moment(end_time) >= pixverse_moment($1) GROUP BY status",
            day_start)
        ended = {row[0]: int(row[1]) for row in today}
        return Counts(pending=kept["pending"], running=kept["running"],
                      submitting=kept["submitting"], finished_today=ended.get("SUCCEEDED", 0),
                      failed_today=ended.get("FAILED", 0), not_downloaded=kept["unsaved"],
                      total=kept["kept"])

    # -- moving between machines -----------------------------------------------------

    async def import_many(self, records: Iterable[dict[str, Any]]) -> int:
        """One transaction: what is here already is found by two queries, the new rows
        go in through COPY with ids taken from the table's sequence (so their tags and
        status history follow in two more COPYs)."""
        batch = list(records)
        async with self._db.write() as tx:
            await tx.execute("SELECT pg_advisory_xact_lock($1)", IMPORT_LOCK)
            fresh = await _not_yet_here(tx, batch)
            if not fresh:
                return 0
            ids = [row[0] for row in await tx.fetch(
                "SELECT nextval(pg_get_serial_sequence('generations', 'id'))"
                " FROM generate_series(1, $1)", len(fresh))]
            try:
                by_columns, tags, events = _as_rows(ids, fresh)
                for columns, values in by_columns.items():
                    await tx.copy("generations", ("id", *columns), values)
                if tags:
                    await tx.copy("generation_tags", ("generation_id", "tag"), tags)
                if events:
                    await tx.copy("status_events", ("generation_id", "at", "status", "detail"),
                                  events)
            except (TypeError, ValueError) as exc:
                raise StoreError(f"an imported record does not fit the team database "
                                 f"({exc})") from None
        if len(fresh) >= ANALYZE_AFTER:
            # The planner's statistics, now: until autovacuum gets to it, a table it
            # thinks small is read whole for a page (seconds at 100,000 rows, not ms).
            await self._db.execute(_ANALYZE)
        return len(fresh)

    # -- favourites, notes, tags --------------------------------------------------------

    async def set_favourite(self, generation_id: int, favourite: bool) -> Generation:
        async with self._db.write() as tx:
            await rows.update(tx, generation_id, favourite=favourite)
            return await rows.require(tx, generation_id)

    async def set_note(self, generation_id: int, note: str | None) -> Generation:
        async with self._db.write() as tx:
            await rows.update(tx, generation_id, note=(note or "").strip() or None)
            return await rows.require(tx, generation_id)

    async def set_tags(self, generation_id: int, tags: Iterable[str]) -> Generation:
        async with self._db.write() as tx:
            await rows.locked(tx, generation_id)
            await tx.execute("DELETE FROM generation_tags WHERE generation_id = $1",
                             generation_id)
            await rows.insert_tags(tx, generation_id, tags)
            await rows.update(tx, generation_id)
            return await rows.require(tx, generation_id)

    async def tags_of(self, generation_id: int) -> list[str]:
        found = await self._db.fetch(
            "SELECT tag FROM generation_tags WHERE generation_id = $1 ORDER BY tag",
            generation_id)
        return [row[0] for row in found]

    async def all_tags(self) -> list[tuple[str, int]]:
        found = await self._db.fetch(
            "SELECT tag, count(*) FROM generation_tags JOIN generations ON id = generation_id"
            " WHERE forgotten_at IS NULL GROUP BY tag ORDER BY tag")
        return [(row[0], int(row[1])) for row in found]


def _as_rows(ids: list[int], fresh: list[dict[str, Any]]) -> tuple[
        dict[tuple[str, ...], list[list[Any]]], list[tuple[int, str]],
        list[tuple[int, Any, Any, Any]]]:
    """The new records as rows of generations (grouped by the columns they carry), of
    tags and of status events, each value of its column's type."""
    by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
    tags: list[tuple[int, str]] = []
    events: list[tuple[int, Any, Any, Any]] = []
    for generation_id, record in zip(ids, fresh, strict=True):
        columns = tuple(c for c in IMPORTABLE if c in record)
        by_columns.setdefault(columns, []).append(
            [generation_id, *(_to_column(c, scrub_optional(record[c]) if c in SCRUBBED
                                         else record[c]) for c in columns)])
        tags += sorted({(generation_id, str(t)) for t in record.get("tags") or []})
        events += [(generation_id, _text(e.get("at")), _text(e.get("status")),
                    scrub_optional(_text(e.get("detail"))))
                   for e in record.get("history") or []]
    return by_columns, tags, events


async def figures(db: Database | Tx) -> dict[str, int]:
    """The figures the triggers keep (schema v2): the sums of their logged moves."""
    found = await db.fetch(
        f"SELECT {', '.join(f'coalesce(sum({n}), 0)' for n in FIGURES)} FROM figure_moves")
    return {name: int(value) for name, value in zip(FIGURES, found[0], strict=True)}


async def _not_yet_here(tx: Tx, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of a batch this history does not hold yet (by task id, or for a
    submission that never got one, by creation time and prompt) — once each."""
    ids = sorted({str(r["task_id"]) for r in batch if r.get("task_id")})
    stamps = sorted({str(r.get("created_at")) for r in batch if not r.get("task_id")})
    known_ids = {row[0] for row in await tx.fetch(
        "SELECT task_id FROM generations WHERE task_id = ANY($1::text[])", ids)} if ids else set()
    known_pairs = {(row[0], row[1]) for row in await tx.fetch(
        "SELECT created_at, prompt FROM generations WHERE task_id IS NULL AND"
        " created_at = ANY($1::text[])", stamps)} if stamps else set()
    fresh = []
    for record in batch:
        task_id = record.get("task_id")
        key = (_text(record.get("created_at")), _text(record.get("prompt")))
        if (str(task_id) in known_ids) if task_id else (key in known_pairs):
            continue
        if task_id:
            known_ids.add(str(task_id))
        else:
            known_pairs.add(key)
        fresh.append(record)
    return fresh


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _to_column(column: str, value: Any) -> Any:
    """An exported value as the column's type (an export from SQLite holds 0 and 1 for
    booleans, and any value where a record was hand-made)."""
    if value is None:
        return None
    if column in BOOLEANS:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "t", "y", "on")
        return bool(value)
    if column in INTEGERS:
        return int(value)
    if column in FLOATS:
        return float(value)
    return str(value)
