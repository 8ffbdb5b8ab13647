"""PostgreSQL's plans for what reaches the screen at every refresh: the newest page walks
the index of kept rows newest first and stops (with or without words to find), the
total comes from the figures' log, the day's ends from the index on when each ended.
The queries are the ones the store really runs, caught on their way to the driver and
given to ``EXPLAIN`` — after an import, whose statistics the store renews itself."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from storage import TaskStore, open_store
from storage.history import parse_filter
from storage.postgres import db as team_db
from storage.postgres import history as team_history
from storage.records import Tally

ROWS = 3000


def record(n: int) -> dict[str, Any]:
    stamp = f"2026-01-{1 + n // 1440:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00.000+00:00"
    prompt = "一只小猫在月光下奔跑" if n % 7 == 0 else f"neon rain fox {n}"
    return {"created_at": stamp, "updated_at": stamp, "endpoint": "e", "model": "m",
            "prompt": prompt, "size": "1280*720", "duration": 5, "submission": "accepted",
            "task_id": f"t{n}", "status": "FAILED" if n % 10 == 0 else "SUCCEEDED",
            "end_time": stamp, "video_url": "http://v", "tags": ["keep"] if n % 3 else []}


@pytest.fixture
async def store(pg_dsn: str) -> AsyncIterator[TaskStore]:
    opened = await open_store(pg_dsn)
    assert await opened.history.import_many(record(n) for n in range(ROWS)) == ROWS
    yield opened
    await opened.close()


async def plans(store: TaskStore, pg_dsn: str, monkeypatch: pytest.MonkeyPatch,
                call: Any, settings: tuple[str, ...] = (), *,
                downloads: bool = False) -> list[str]:
    """The plan of every query ``call`` makes the store run (under ``settings``) — but
    the look-up of the rows' downloads that follows every read of rows (``Tx.rows``)
    unless ``downloads``."""
    caught: list[tuple[str, tuple[Any, ...]]] = []
    fetch = team_db.Tx.fetch

    async def catching(self: team_db.Tx, sql: str, *params: Any) -> list[Any]:
        if downloads or sql != team_db._DOWNLOADS:
            caught.append((sql, params))
        return await fetch(self, sql, *params)

    async def catching_one(self: team_db.Tx, sql: str, *params: Any) -> Any:
        caught.append((sql, params))
        return await scalar(self, sql, *params)

    scalar = team_db.Tx.scalar
    monkeypatch.setattr(team_db.Tx, "fetch", catching)
    monkeypatch.setattr(team_db.Tx, "scalar", catching_one)
    await call()
    monkeypatch.undo()
    conn = await asyncpg.connect(pg_dsn)
    try:
        for setting in settings:
            await conn.execute(setting)
        return ["\n".join(row[0] for row in await conn.fetch(f"EXPLAIN {sql}", *params))
                for sql, params in caught]
    finally:
        await conn.close()


@pytest.mark.parametrize("words", ["", "neon", "fox rain", "小猫"])
async def test_the_newest_page_walks_the_kept_rows_newest_first(
        store: TaskStore, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, words: str) -> None:
    [plan] = await plans(store, pg_dsn, monkeypatch,
                         lambda: store.history.page(parse_filter(words)))
    assert "Index Scan using generations_kept" in plan, plan
    assert "Seq Scan" not in plan and "Bitmap" not in plan, plan


async def test_the_status_bar_reads_a_few_rows(store: TaskStore, pg_dsn: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    async def figures() -> None:
        assert await store.history.count() == ROWS
        await store.history.counts("2026-01-03T00:00:00.000+00:00")

    total, moves, ended, saved = await plans(store, pg_dsn, monkeypatch, figures)
    assert "figure_moves" in total and "generations" not in total, total
    assert "generations_ended" in ended and "Seq Scan" not in ended, ended
    assert moves == total
    # This machine's saved videos: its downloads, not the whole history.
    assert "Seq Scan on generations" not in saved, saved


async def test_the_downloads_of_a_page_are_read_by_their_key(
        store: TaskStore, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read of rows reads this machine's downloads of them (and who else saved
    them) by the rows' ids: the primary key of machine_downloads, never the table."""
    found = await plans(store, pg_dsn, monkeypatch, lambda: store.history.page(),
                        ("SET enable_seqscan = off",), downloads=True)
    assert len(found) == 2 and "machine_downloads_pkey" in found[1], found


@pytest.mark.parametrize("words", ["n", "fo", "月", "fo tag:keep", "rain ti", "neon fo",
                                   "fox 1 status:FAILED"])
async def test_a_short_search_reads_only_the_newest_kept_rows(
        store: TaskStore, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, words: str) -> None:
    """Words too short for trigrams, alone or beside longer ones, bounded as the
    dashboard bounds them (``newest``): the page, its count and its tally read the kept
    rows' index, never the whole table — nor every row with the longer word (the
    trigram index: "rain" in 400,000 rows of 1,000,000 read to find "ti" in none)."""
    where = parse_filter(words)._replace(newest=1000)
    assert where.unindexed_text

    async def page_and_count() -> None:
        await store.history.page(where, limit=50)
        await store.history.count(where, at_most=1000)
        await store.history.tally(where, at_most=1000)

    for plan in await plans(store, pg_dsn, monkeypatch, page_and_count):
        assert "generations_kept" in plan, plan
        assert "Seq Scan on generations" not in plan, plan
        assert "generations_prompt_trgm" not in plan, plan


@pytest.mark.parametrize("words", ["z", "月", "小猫", "#1", "neon 9"])
async def test_a_word_without_a_trigram_is_never_looked_up_in_the_trigram_index(
        store: TaskStore, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, words: str) -> None:
    """pg_trgm finds no trigram in ``%z%`` or ``%小猫%``, so the index would be read
    whole — seconds at 1,000,000 rows, where the newest rows hold a common word at once
    (the planner chose it for ``月``, ``f`` and ``st`` there: 3 s a keystroke).  Even
    with every other way barred, no plan may look such a word up in the index."""
    where = parse_filter(words)
    barred = ("SET enable_seqscan = off", "SET enable_indexscan = off")
    found = await plans(store, pg_dsn, monkeypatch, lambda: store.history.count(
        where, at_most=1000), settings=barred)
    found += await plans(store, pg_dsn, monkeypatch, lambda: store.history.page(where),
                         settings=barred)
    for plan in found:
        looked_up = [line for line in plan.splitlines() if "Index Cond" in line
                     and "prompt" in line]
        assert all("neon" in line for line in looked_up), plan


LOPSIDED = 12_000


@pytest.fixture
async def lopsided(pg_dsn: str) -> AsyncIterator[TaskStore]:
    """12,000 generations that all say "neon"; half FAILED, a sixth tagged "common" (never
    both), the three oldest tagged "rare"; all 720P, 5 s (as tests/test_sqlite_plans.py's);
    a quarter favourites (a third of them tagged "common")."""
    opened = await open_store(pg_dsn)
    assert await opened.history.import_many(
        {**record(n), "prompt": f"neon rain {n}",
         "status": "FAILED" if n % 2 == 0 else "SUCCEEDED", "favourite": n % 4 == 1,
         "tags": ["rare"] if n < 3 else ["common"] if n % 6 == 1 else []}
        for n in range(LOPSIDED)) == LOPSIDED
    yield opened
    await opened.close()


async def explained(pg_dsn: str, monkeypatch: pytest.MonkeyPatch, call: Any
                    ) -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
    """What ``call`` answers, and each query it made the store run with its plan, the
    query run again under ``EXPLAIN ANALYZE``."""
    caught: list[tuple[str, tuple[Any, ...]]] = []
    for name in ("fetch", "fetchrow", "scalar"):
        def catching(original: Any) -> Any:
            async def run(self: team_db.Tx, sql: str, *params: Any) -> Any:
                if sql != team_db._DOWNLOADS:
                    caught.append((sql, params))
                return await original(self, sql, *params)
            return run
        monkeypatch.setattr(team_db.Tx, name, catching(getattr(team_db.Tx, name)))
    answer = await call()
    monkeypatch.undo()
    conn = await asyncpg.connect(pg_dsn)
    try:
        return answer, [
            (sql, json.loads(await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}",
                                                 *params))[0]["Plan"])
            for sql, params in caught]
    finally:
        await conn.close()


async def rows_read(pg_dsn: str, monkeypatch: pytest.MonkeyPatch, call: Any) -> tuple[Any, int]:
    """What ``call`` answers, and how many rows of ``generations`` the queries it made the
    store run read (each run again under ``EXPLAIN ANALYZE``: the rows its scans of the
    table returned or filtered out, in every loop)."""
    answer, plans_seen = await explained(pg_dsn, monkeypatch, call)

    def read(node: dict[str, Any]) -> int:
        here = 0
        if node.get("Relation Name") == "generations":
            here = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
                    + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
        return here + sum(read(child) for child in node.get("Plans", []))

    return answer, sum(read(plan) for _, plan in plans_seen)


@pytest.mark.parametrize("text", ["neon status:FAILED tag:common", "status:FAILED tag:common",
                                  "tier:720P dur:8", "neon dur:8", "neon status:FAILED",
                                  "neon tag:rare", "neon status:FAILED tag:rare"])
async def test_a_tally_reads_a_bounded_number_of_rows(
        lopsided: TaskStore, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Issue 15 on PostgreSQL: a tally counts through the part of the filter with the
    fewest rows when it has at most ``TALLY_WALK``, else looks at the newest
    ``TALLY_WALK`` kept rows — it reads no more than a few times ``TALLY_WALK`` rows of
    the table (here 50 of 12,000), where the unbounded count reads thousands; and it
    says "at least", never more rows than match."""
    from storage.postgres import history

    monkeypatch.setattr(history, "TALLY_WALK", 50)
    where = parse_filter(text)
    exact, unbounded = await rows_read(pg_dsn, monkeypatch,
                                       lambda: lopsided.history.count(where))
    monkeypatch.setattr(history, "TALLY_WALK", 50)
    tally, bounded = await rows_read(pg_dsn, monkeypatch,
                                     lambda: lopsided.history.tally(where, at_most=1000))
    assert tally.matches <= exact and (not tally.exact or tally.matches == exact), (
        text, tally, exact)
    assert bounded <= 5 * 51, (text, bounded)  # each part's count, then one walk or count
    if "rare" in text:  # three rows to look at: counted exactly
        assert tally.exact, (text, tally)
    else:
        assert unbounded > 5 * bounded, (text, bounded, unbounded)


@pytest.mark.parametrize("words", ["fox 100", "fox 12", "一只 小猫"])
async def test_a_word_the_newest_rows_lack_is_found_among_the_matches_not_by_a_walk(
        store: TaskStore, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, words: str) -> None:
    """The newest rows hold less than a page: the page is sorted out of the rows that
    match (found through the trigram index, or one read of the table), never by walking
    the index on creation to its end — every row read through the index, 8 s at
    1,000,000 rows for a word found nowhere, past the statement's deadline on a loaded
    machine.  The page is the one the whole history gives."""
    where = parse_filter(words)
    whole = await store.history.page(where, limit=50)
    monkeypatch.setattr(team_history, "WINDOW", 100)  # the newest 100: few or none like it
    assert await store.history.page(where, limit=50) == whole and whole
    assert await store.history.count(where, at_most=10) == min(11, len(whole))
    first, last = await plans(store, pg_dsn, monkeypatch,
                              lambda: store.history.page(where, limit=50))
    assert "Index Scan using generations_kept" in first, first  # the newest, then
    assert "CTE" in last and "generations_kept" not in last, last


async def work_done(pg_dsn: str, monkeypatch: pytest.MonkeyPatch, call: Any
                    ) -> tuple[Any, list[tuple[str, int, int]]]:
    """What ``call`` answers, and for each query it made the store run: its SQL, the rows
    of ``generations`` it read (as ``rows_read``, an index-only scan aside) and the index
    entries it read in index-only and bitmap index scans (of any table, those a filter
    removed too) — each query run again under ``EXPLAIN ANALYZE``.  (An index-only scan
    also fetches the rows of pages changed since the table was last vacuumed.)"""
    answer, plans_seen = await explained(pg_dsn, monkeypatch, call)

    def read(node: dict[str, Any]) -> tuple[int, int]:
        rows = entries = 0
        seen = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) \
            * node.get("Actual Loops", 1)
        if node["Node Type"] in ("Index Only Scan", "Bitmap Index Scan"):
            entries = seen
        elif node.get("Relation Name") == "generations":
            rows = seen + node.get("Rows Removed by Index Recheck", 0) * node["Actual Loops"]
        for child in node.get("Plans", []):
            more = read(child)
            rows, entries = rows + more[0], entries + more[1]
        return rows, entries

    return answer, [(sql, *read(plan)) for sql, plan in plans_seen]


@pytest.mark.parametrize("text", ["neon status:FAILED", "neon status:SUCCEEDED tag:common",
                                  "fav tag:common", "fav status:SUCCEEDED", "neon fav",
                                  "neon fav status:SUCCEEDED tag:common"])
async def test_a_tally_sizes_its_parts_by_their_index_alone(
        lopsided: TaskStore, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Issue 16 (1,000,000 generations: 575 ms a keystroke for ``fav tag:keep``, 178 ms
    for ``status:FAILED fox``): when the newest rows hold fewer matches than the cap and
    every part of the filter has more than ``TALLY_WALK`` rows, the tally reads the newest
    ``TALLY_WALK`` rows (twice at most: the words among them) and nothing more of the
    table — a status, a tag or the favourites
    sized by their index's entries alone, each up to ``TALLY_WALK + 1``, and common words
    not at all (sizing them read rows to check the prompt: 10,001 of 32,000 for "fox");
    it says "at least" what it found."""
    from storage.postgres import history

    monkeypatch.setattr(history, "TALLY_WALK", 50)
    where = parse_filter(text)
    exact = await lopsided.history.count(where)
    tally, queries = await work_done(
        pg_dsn, monkeypatch, lambda: lopsided.history.tally(where, at_most=1000))
    assert tally.matches <= exact and not tally.exact, (text, tally, exact)
    rows = sum(read for _, read, _ in queries)
    assert rows <= 2 * 51, (text, rows, queries)  # the newest rows (the words among them)
    for sql, read, entries in queries:
        if " AS part" in sql or " AS words" in sql:  # sizing: its index's entries alone
            assert read == 0, (text, sql, read)
            # (a tag's: the planner may read all 2,000 of a small table's tag at once)
            assert entries <= 51 or "generation_tags" in sql, (text, sql, entries)


@pytest.mark.parametrize("text", ["neon 123", "neon 123 status:FAILED", "123 fav"])
async def test_a_rare_word_is_counted_exactly(
        lopsided: TaskStore, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """A word the newest rows hardly hold ("123": 22 rows of 12,000, none of the newest
    50) beside common tokens is still counted exactly — through its own rows, as SQLite
    counts it through its text index (which rows are read is the planner's choice: in a
    table this small, all of them)."""
    from storage.postgres import history

    monkeypatch.setattr(history, "TALLY_WALK", 50)
    where = parse_filter(text)
    exact = await lopsided.history.count(where)
    tally = await lopsided.history.tally(where, at_most=1000)
    assert tally == Tally(exact) and exact, (text, tally, exact)


@pytest.mark.parametrize("text", ["fav tag:rare", "fav tag:common", "fav status:SUCCEEDED",
                                  "neon fav tag:common", "status:SUCCEEDED tag:common"])
async def test_a_full_page_of_tokens_walks_the_newest_rows(
        lopsided: TaskStore, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """A newest-first page of tokens (but one token alone, which its index serves) is
    looked for among the newest rows as a search's is: the favourites tagged "keep" (one
    row in 100 of 1,000,000) were every favourite joined with every "keep" and sorted —
    20,000 rows read, 400 ms a keystroke.
    Where the newest ``WINDOW`` rows hold the page it reads no more than them; the page
    is the one the whole history gives."""
    where = parse_filter(text)
    every = [row async for row in lopsided.history.rows(where)]
    whole = sorted(every, key=lambda row: (row.created_at, row.id), reverse=True)[:50]
    monkeypatch.setattr(team_history, "WINDOW", 1000)
    found, queries = await work_done(pg_dsn, monkeypatch,
                                     lambda: lopsided.history.page(where, limit=50))
    assert [row.id for row in found] == [row.id for row in whole], text
    if "rare" in text:  # three rows, the oldest: the newest rows hold none of them
        return
    rows = sum(read for _, read, _ in queries)
    assert rows <= 1000 + 1, (text, rows, queries)  # the newest rows at most
