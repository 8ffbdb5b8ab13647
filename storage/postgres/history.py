"""Browsing, searching, counting, annotating, exporting and importing (``History``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

from storage.clock import iso
from storage.history import HistoryFilter
from storage.postgres import rows
from storage.postgres.bulk import bulk_load
from storage.postgres.db import Database, Tx
from storage.postgres.importing import copy_batch, import_batch
from storage.postgres.rows import Args
from storage.postgres.schema import ENDED, FIGURES
from storage.postgres.search import has_trigram, newest_rows, order_by, where_sql, words
from storage.records import (
    COPIED,
    DOWNLOAD_FIELDS,
    IMPORTABLE,
    CopyMark,
    Counts,
    Generation,
    Tally,
)

SCAN_PAGE = 2000  # rows per query when scanning the whole history
# A tally reads no more than this many rows of the newest kept rows, or of a status, a
# tag or the favourites, and no more index entries to size each of them (SQLite's
# ``plans.TALLY_WALK``): a bounded amount of work at any size.
TALLY_WALK = 10_000
# A search's newest-first page reads the newest kept rows first, as many as this at
# most: a word or token they hold is found there at once (a walk of the index on
# creation that stops at the page's last match — the favourites tagged "keep", one row
# in 100: 5,000 rows, where the planner joined all 20,000 favourites with all 10,000
# "keep" tags and sorted them, 400 ms at 1,000,000 rows).  When they hold less than a
# page, every matching row is found — through the trigram index, or by reading the
# table once for a word without a trigram — and the newest of them sorted out: walking
# the index to the end instead reads every row through the index (8 s at 1,000,000 rows
# for a word found nowhere, 30 s on a loaded machine — past the statement's deadline),
# and the planner cannot know which way is short (it has no estimate for such a word).
WINDOW = 10_000
ANALYZE_AFTER = 1000  # rows imported, at least, after which the statistics are renewed
# The rows the planner's statistics describe (-1: never taken).
_ROWS_KNOWN = "SELECT reltuples FROM pg_class WHERE oid = 'generations'::regclass"
# Only a role that may (the table's owner, a superuser): for others it is autovacuum's job.
_ANALYZE = ("DO $$ BEGIN IF (SELECT pg_has_role(relowner, 'USAGE') FROM pg_class"
            " WHERE oid = 'generations'::regclass) THEN ANALYZE generations; END IF; END $$")


class PostgresHistory:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._me, self._machine = db.who.person, db.who.machine  # by:me, dl:
        self._unanalyzed = 0  # rows this store imported since it last renewed statistics

    # -- browsing --------------------------------------------------------------------

    async def page(self, where: HistoryFilter | None = None, *, sort: str = "submitted",
                   descending: bool = True, limit: int = 200,
                   offset: int = 0) -> list[Generation]:
        """A search's newest-first page — words, or tokens but one with an index alone
        (which its index serves) — is looked for among the newest ``WINDOW`` rows
        first, then among all the rows that match (see ``WINDOW``; for tokens, as the
        planner finds them); one bounded to its ``newest`` rows reads them alone
        (``search.newest_rows``)."""
        args = Args()
        window = newest_rows(where, args)
        clause = where_sql(where, args, me=self._me, machine=self._machine,
                           windowed=window is not None)
        order = order_by(sort, descending, args, self._machine)
        if not (where is not None and not where._replace(folded=()).empty
                and not where.trash and not _indexed_alone(where)
                and not where.newest and sort == "submitted"
                and descending and offset + limit <= WINDOW):
            return await self._db.rows(
                f"SELECT * FROM {window or 'generations'} {clause} {order}"
                f" LIMIT {args.add(limit)} OFFSET {args.add(offset)}", *args.values)
        bounds = f"LIMIT {args.add(limit)} OFFSET {args.add(offset)}"
        newest = (f"(SELECT * FROM generations WHERE forgotten_at IS NULL {order}"
                  f" LIMIT {WINDOW}) AS generations")
        found = await self._db.rows(f"SELECT * FROM {newest} {clause} {order} {bounds}",
                                    *args.values)
        if len(found) == limit:  # the newest rows hold the page: it is the whole answer
            return found
        if not words(where):  # tokens: as the planner finds them (their indexes)
            return await self._db.rows(f"SELECT * FROM generations {clause} {order} {bounds}",
                                       *args.values)
        return await self._db.rows(
            f"WITH matching AS MATERIALIZED (SELECT * FROM generations {clause})"
            f" SELECT * FROM matching {order} {bounds}", *args.values)

    async def count(self, where: HistoryFilter | None = None, *,
                    at_most: int | None = None) -> int:
        found = where or HistoryFilter()
        if found._replace(folded=()).empty:  # everything kept (batches folded or not)
            kept = (await figures(self._db))["kept"]
            return kept - await self._folded_away(found.folded) if found.folded else kept
        args = Args()
        window = newest_rows(found, args)
        clause = where_sql(found, args, me=self._me, machine=self._machine,
                           windowed=window is not None)
        if at_most is None:
            return int(await self._db.scalar(
                f"SELECT count(*) FROM {window or 'generations'} {clause}", *args.values))
        enough = args.add(at_most + 1)
        if words(found) and not found.trash and not found.newest and at_most < WINDOW:
            # As a page: the newest rows first (two common words would have the
            # planner intersect two long lists of the trigram index: 0.75 s).
            newest = (f"(SELECT * FROM generations WHERE forgotten_at IS NULL"
                      f" {order_by('submitted', True)} LIMIT {WINDOW}) AS generations")
            counted = int(await self._db.scalar(
                f"SELECT count(*) FROM (SELECT 1 FROM {newest} {clause} LIMIT {enough})"
                " AS found", *args.values))
            if counted > at_most:
                return counted
        return int(await self._db.scalar(
            f"SELECT count(*) FROM (SELECT 1 FROM {window or 'generations'} {clause}"
            f" LIMIT {enough}) AS found", *args.values))

    async def _folded_away(self, batches: tuple[str, ...]) -> int:
        """Kept rows that folding these batches hides: each batch's kept rows but the one
        that stands for it (its first, when kept) — read through the batch index."""
        inside = await self._db.scalar(
            "SELECT count(*) FROM generations WHERE batch_id = ANY($1::text[])"
            " AND forgotten_at IS NULL", list(batches))
        standing = await self._db.scalar(
            "SELECT count(*) FROM generations WHERE id IN (SELECT min(id) FROM generations"
            " WHERE batch_id = ANY($1::text[]) GROUP BY batch_id) AND forgotten_at IS NULL",
            list(batches))
        return int(inside) - int(standing)

    async def tally(self, where: HistoryFilter | None = None, *, at_most: int) -> Tally:
        """``count`` with a bound on the work as well as on the answer, as SQLite's
        (``storage.sqlite.plans.tally``): everything kept, the trash, a search bounded to
        the newest rows and one token alone are counted as ``count`` counts (up to
        ``at_most + 1``).  Otherwise the newest ``TALLY_WALK`` kept rows (in the
        ``since:``/``until:`` range) are looked at first, and the look stops at
        ``at_most + 1`` matches: a common search says "1,000+" after a few thousand rows.
        Fewer than that: counted exactly through the part of the filter that admits the
        fewest rows — a status, a tag, the favourites (``_fewest``: sized by their
        indexes), or else the words when they look rare (``_rare_words``) — when it has at
        most ``TALLY_WALK``; else what the walk found, "at least" unless it reached the
        oldest.  Every step reads a bounded number of the table's rows.  (Looking
        for the fewest first cost a read of every entry of a common word's trigrams: 100
        ms at 100,000 rows, growing with the history; sizing a common word read 10,001
        rows for nothing — 150 ms for ``status:FAILED fox`` at 1,000,000 rows.)"""
        found = where or HistoryFilter()
        alone = found._replace(folded=())
        if alone.empty:  # the figures (and the batch index): exact, at once
            return Tally(await self.count(found))
        if found.trash or found.newest is not None or _indexed_alone(found):
            counted = await self.count(found, at_most=at_most)
            return Tally(counted, exact=counted <= at_most)
        args = Args()
        walk = _newest_walk(found, args)
        clause = where_sql(found, args, me=self._me, machine=self._machine)
        counted = int(await self._db.scalar(
            f"SELECT count(*) FROM (SELECT 1 FROM ({walk}) AS generations {clause}"
            f" LIMIT {args.add(at_most + 1)}) AS hit", *args.values))
        if counted > at_most:
            return Tally(counted, exact=False)
        source = await self._fewest(found)
        if source is None and any(has_trigram(word) for word in words(found)):
            only_words = found._replace(text="") == HistoryFilter()  # (folded: not compared)
            source = await self._rare_words(found, counted if only_words else None)
        if source is not None:  # at most TALLY_WALK rows to look at: counted exactly
            args = Args()
            rows = source(args)  # (OFFSET 0: the planner reads them first, as written)
            clause = where_sql(found, args, me=self._me, machine=self._machine)
            counted = int(await self._db.scalar(
                f"SELECT count(*) FROM (SELECT 1 FROM ({rows} OFFSET 0) AS generations"
                f" {clause} LIMIT {args.add(at_most + 1)}) AS hit", *args.values))
            return Tally(counted, exact=counted <= at_most)
        if found.since is None and found.until is None:  # every kept row was walked
            walked = (await figures(self._db))["kept"]
        else:  # the rows in the range (the index alone: no row is read)
            args = Args()
            walked = int(await self._db.scalar(
                f"SELECT count(*) FROM ({_newest_walk(found, args, 'created_at')})"
                " AS walked", *args.values))
        return Tally(counted, exact=walked < TALLY_WALK)

    async def _fewest(self, found: HistoryFilter) -> Callable[[Args], str] | None:
        """The rows of the part of ``found`` that admits the fewest — its statuses, a tag,
        the favourites — as a query written with a statement's ``Args``, when it has at
        most ``TALLY_WALK``; None when none has.  Each part is sized by its index's
        entries alone, up to ``TALLY_WALK + 1`` (``_part_size``): no row is read to size
        one (sizing the tag "keep" through its rows, 10,000 look-ups: 90 ms at 1,000,000
        rows).  The words are sized apart, when they look rare (``_rare_words``)."""
        parts: list[tuple[Callable[[Args], str], list[Callable[[Args], str]]]] = []
        if found.statuses:  # (a row not sent yet shows its submission: status NULL)
            wanted = list(found.statuses)
            parts.append((
                lambda a: "SELECT * FROM generations WHERE status ="
                          f" ANY({a.add(wanted)}::text[]) OR status IS NULL",
                [lambda a: "SELECT status FROM generations WHERE status ="
                           f" ANY({a.add(wanted)}::text[]) ORDER BY status",
                 lambda _: "SELECT status FROM generations WHERE status IS NULL"
                           " ORDER BY status"]))
        parts += [(_tagged(tag), [_tag_entries(tag)]) for tag in found.tags]
        if found.favourite:
            parts.append((lambda _: "SELECT * FROM generations WHERE favourite",
                          [lambda _: "SELECT favourite FROM generations WHERE favourite"
                                     " ORDER BY favourite"]))
        fewest: tuple[int, Callable[[Args], str]] | None = None
        for read, entries in parts:
            size = await self._part_size(entries)
            if size <= TALLY_WALK and (fewest is None or size < fewest[0]):
                fewest = size, read
        return fewest[1] if fewest is not None else None

    async def _rare_words(self, found: HistoryFilter, matched: int | None
                          ) -> Callable[[Args], str] | None:
        """The rows with ``found``'s words (through the trigram index), when they have at
        most ``TALLY_WALK`` — looked for only when the newest ``TALLY_WALK`` kept rows
        say the words are that rare: ``matched`` of them have the words (counted among
        them when None — rows the walk just read), so about ``matched * kept /
        TALLY_WALK`` rows in all.  A common word is never sized: the trigram index
        cannot stop early, and its count read 10,001 rows to say "more" (``fox`` at
        1,000,000 rows: 150 ms); a rare one is counted exactly, as SQLite counts it."""
        text = HistoryFilter(text=found.text)
        if matched is None:
            args = Args()
            walk = _newest_walk(found, args)
            matched = int(await self._db.scalar(
                f"SELECT count(*) FROM ({walk}) AS generations {where_sql(text, args)}",
                *args.values))
        if matched * (await figures(self._db))["kept"] > TALLY_WALK * TALLY_WALK:
            return None

        def worded(a: Args) -> str:
            return "SELECT * FROM generations " + where_sql(text, a)

        args = Args()
        size = int(await self._db.scalar(
            f"SELECT count(*) FROM ({worded(args)} LIMIT {args.add(TALLY_WALK + 1)})"
            " AS words", *args.values))
        return worded if size <= TALLY_WALK else None

    async def _part_size(self, entries: list[Callable[[Args], str]]) -> int:
        """How many index entries the queries of ``entries`` find together, counted up to
        ``TALLY_WALK + 1``: each reads its index alone (an index-only scan: a few
        milliseconds for 10,000 entries at 1,000,000 rows) and stops there.  Each is
        ordered by its index's column, so that for several statuses too the index is the
        short way: a read of the table in its own order (which the planner took for a
        common status in a small table) could read any number of rows before the
        ``TALLY_WALK + 1``-th match — all of them when the matches are the newest."""
        size = 0
        for query in entries:
            if size > TALLY_WALK:
                break
            args = Args()
            size += int(await self._db.scalar(
                f"SELECT count(*) FROM ({query(args)} LIMIT {args.add(TALLY_WALK + 1 - size)})"
                " AS part", *args.values))
        return size

    async def ids(self, where: HistoryFilter) -> list[int]:
        args = Args()
        clause = where_sql(where, args, me=self._me, machine=self._machine)
        found = await self._db.fetch(f"SELECT id FROM generations {clause}", *args.values)
        return [row[0] for row in found]

    async def rows(self, where: HistoryFilter | None = None) -> AsyncIterator[Generation]:
        """Pages by id, each fetched whole: no read stays open while the caller works."""
        last = 0
        while True:
            args = Args()
            clause = where_sql(where, args, me=self._me, machine=self._machine)
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
            clause = where_sql(where, args, me=self._me, machine=self._machine)
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
                      failed_today=ended.get("FAILED", 0),
                      not_downloaded=kept["unsaved"] - await self._saved_here(),
                      total=kept["kept"], queued=kept["queued"])

    async def _saved_here(self) -> int:
        """Finished kept rows this machine saved: the ``unsaved`` figure counts every
        finished kept row on a team database (no machine's download is in the row)."""
        return int(await self._db.scalar(
            "SELECT count(*) FROM machine_downloads AS d JOIN generations AS g"
            " ON g.id = d.generation_id WHERE d.machine = $1 AND d.state = 'done'"
            " AND g.status = 'SUCCEEDED' AND g.forgotten_at IS NULL", self._machine))

    # -- moving between machines -----------------------------------------------------

    async def import_many(self, records: Iterable[dict[str, Any]]) -> int:
        """One transaction, a few statements whatever the batch's size (see
        ``storage.postgres.importing``); the planner's statistics renewed when the
        rows imported since they were last taken outnumber those they describe."""
        async with self._db.write() as tx:
            added = await import_batch(tx, records, read_only=self._db.read_only)
            if added:
                self._unanalyzed += added
                known = await tx.scalar(_ROWS_KNOWN)
        if added and self._unanalyzed >= max(ANALYZE_AFTER, float(known)):
            # Until autovacuum gets to it, a table the planner thinks small is read whole
            # for a page (seconds at 100,000 rows, not ms); renewing them after every
            # batch of a long import would cost more than the import (a 1,000,000-row
            # import renews them about ten times).
            await self._db.execute(_ANALYZE)
            self._unanalyzed = 0
        return added

    @contextlib.asynccontextmanager
    async def bulk(self) -> AsyncIterator[None]:
        """Into an empty history, the secondary indexes dropped for the load and built
        once at its end (``storage.postgres.bulk``); otherwise nothing changes."""
        if self._db.read_only:
            yield
            return
        async with bulk_load(self._db.url):
            yield

    # -- copying a whole history (``store copy``) --------------------------------------

    async def copy_out(self, after: int = 0, limit: int = SCAN_PAGE) -> list[dict[str, Any]]:
        """Four reads by id range: the rows, their tags, status events and every
        machine's downloads."""
        found = await self._db.fetch(
            f"SELECT id, {', '.join(COPIED)} FROM generations WHERE id > $1 ORDER BY id"
            " LIMIT $2", after, limit)
        if not found:
            return []
        span = (found[0]["id"], found[-1]["id"])
        records: dict[int, dict[str, Any]] = {}
        for row in found:
            record: dict[str, Any] = {"id": row["id"]}
            record.update({c: row[c] for c in COPIED})
            record.update(tags=[], history=[], downloads={})
            records[row["id"]] = record
        for generation_id, tag in await self._db.fetch(
                "SELECT generation_id, tag FROM generation_tags WHERE generation_id"
                " BETWEEN $1 AND $2 ORDER BY generation_id, tag", *span):
            if generation_id in records:
                records[generation_id]["tags"].append(tag)
        for generation_id, at, status, detail in await self._db.fetch(
                "SELECT generation_id, at, status, detail FROM status_events WHERE"
                " generation_id BETWEEN $1 AND $2 ORDER BY id", *span):
            if generation_id in records:
                records[generation_id]["history"].append(
                    {"at": at, "status": status, "detail": detail})
        for row in await self._db.fetch(
                "SELECT * FROM machine_downloads WHERE generation_id BETWEEN $1 AND $2"
                " ORDER BY generation_id, machine", *span):
            download = {f: row[f] for f in DOWNLOAD_FIELDS}
            plain = download["state"] == "none" and all(
                download[f] is None for f in DOWNLOAD_FIELDS[1:])
            if row["generation_id"] in records and not plain:
                records[row["generation_id"]]["downloads"][row["machine"]] = download
        return list(records.values())

    async def copy_in(self, source: str, records: Sequence[dict[str, Any]]) -> int:
        """One transaction: the batch staged by COPY and moved by one statement
        (``storage.postgres.importing.copy_batch``)."""
        async with self._db.write() as tx:
            return await copy_batch(tx, source, records, read_only=self._db.read_only)

    async def copied_from(self, source: str) -> CopyMark:
        found = await self._db.fetchrow("SELECT up_to, seen FROM copies WHERE source = $1",
                                        source)
        return CopyMark(int(found[0]), int(found[1])) if found else CopyMark()

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


def _indexed_alone(found: HistoryFilter) -> bool:
    """Whether ``found`` is one token alone that an index serves: its statuses, the
    favourites or a tag (batches folded or not)."""
    return found._replace(folded=()) in (
        HistoryFilter(statuses=found.statuses), HistoryFilter(favourite=True),
        *(HistoryFilter(tags=(tag,)) for tag in found.tags[:1]))


def _newest_walk(found: HistoryFilter, args: Args, columns: str = "*") -> str:
    """The newest ``TALLY_WALK`` kept rows in ``found``'s ``since:``/``until:`` range, from
    ``generations_kept`` (``PostgresHistory.tally``)."""
    walk = f"SELECT {columns} FROM generations WHERE forgotten_at IS NULL"
    if found.since is not None:
        walk += f" AND created_at >= {args.add(iso(found.since))}"
    if found.until is not None:
        walk += f" AND created_at < {args.add(iso(found.until))}"
    return walk + f" ORDER BY created_at DESC LIMIT {args.add(TALLY_WALK)}"


def _tag_entries(tag: str) -> Callable[[Args], str]:
    """The tags' index entries of ``tag`` (``PostgresHistory._part_size``)."""
    return lambda a: f"SELECT tag FROM generation_tags WHERE tag = {a.add(tag)} ORDER BY tag"


def _tagged(tag: str) -> Callable[[Args], str]:
    """The rows with ``tag``, from the tags' index out (``PostgresHistory._fewest``)."""
    return lambda a: ("SELECT g.* FROM generation_tags AS t JOIN generations AS g"
                      f" ON g.id = t.generation_id WHERE t.tag = {a.add(tag)}")


async def figures(db: Database | Tx) -> dict[str, int]:
    """The figures the triggers keep (schema v2): the sums of their logged moves."""
    found = await db.fetch(
        f"SELECT {', '.join(f'coalesce(sum({n}), 0)' for n in FIGURES)} FROM figure_moves")
    return {name: int(value) for name, value in zip(FIGURES, found[0], strict=True)}
