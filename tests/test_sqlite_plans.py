"""SQLite's plans for what reaches the screen: no query on a keystroke, a tick or at
start-up reads the whole ``generations`` table (issue 15).  The queries are the ones
the store really runs, caught on their way to the driver and given to ``EXPLAIN QUERY
PLAN``."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage import TaskStore, open_store
from storage.history import HistoryFilter, parse_filter
from storage.sqlite.db import Database
from tui.engine.following import rescue

ROWS = 2500  # more than a status or tag needs before a page walks the newest rows
FILTERS = ("", "neon", "neon rain", '"rain fox"', "月光下", "z", "n", "zz", "status:FAILED",
           "status:SUCCEEDED", "status:RUNNING,SUBMITTING", "since:2026-01-01", "tag:keep",
           "zebra", "neon status:FAILED tag:keep", "in:trash")


def record(n: int) -> dict[str, Any]:
    stamp = f"2026-01-{1 + n // 1440:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00.000+00:00"
    prompt = "一只小猫在月光下奔跑" if n % 7 == 0 else f"neon rain fox {n}"
    return {"created_at": stamp, "updated_at": stamp, "endpoint": "e", "model": "m",
            "prompt": prompt, "size": "1280*720", "duration": 5, "submission": "accepted",
            "task_id": f"t{n}", "status": "FAILED" if n % 10 == 0 else "SUCCEEDED",
            "end_time": stamp, "video_url": "http://v", "tags": ["keep"] if n % 3 else []}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plans") / "tasks.db"

    async def build() -> None:
        async with await open_store(path) as store:
            await store.history.import_many(record(n) for n in range(ROWS))
            await store.trash.forget(1)

    asyncio.run(build())
    return path


@pytest.fixture
async def store(history: Path) -> AsyncIterator[TaskStore]:
    opened = await open_store(history)
    yield opened
    await opened.close()


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    seen: list[tuple[str, tuple[Any, ...]]] = []
    fetch = Database.fetch

    async def caught(self: Database, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        seen.append((sql, tuple(params)))
        return await fetch(self, sql, params)

    monkeypatch.setattr(Database, "fetch", caught)
    return seen


def plans(store: TaskStore, seen: list[tuple[str, tuple[Any, ...]]]) -> list[list[str]]:
    db = sqlite3.connect(store.location)
    try:
        return [[row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params)]
                for sql, params in seen]
    finally:
        db.close()


def whole_table(plan: list[str]) -> bool:
    return any(step == "SCAN generations" or (step.startswith("SCAN generations USING")
                                              and "generations_kept" not in step)
               for step in plan)


@pytest.mark.parametrize("text", FILTERS)
async def test_a_page_and_its_count_never_read_the_whole_table(
        store: TaskStore, queries: list[tuple[str, tuple[Any, ...]]], text: str) -> None:
    where = parse_filter(text)
    page = await store.history.page(where, limit=50)
    await store.history.count(where, at_most=1000)
    await store.history.tally(where, at_most=1000)
    for sql, plan in zip([q[0] for q in queries], plans(store, queries), strict=True):
        assert not whole_table(plan), (text, sql, plan)
    if len(text.split()[0] if text else "") >= 3 and not text.startswith(("status", "since",
                                                                          "tag", "in:")):
        walk = plans(store, [q for q in queries
                             if q[0].startswith("SELECT generations.* FROM generations_fts")])[-1]
        # The text index, newest first, stops at the page: nothing sorted, nothing built.
        assert walk[0].startswith("SCAN generations_fts VIRTUAL TABLE"), walk
        assert not any("TEMP B-TREE" in step for step in walk), walk
        assert [r.id for r in page] == sorted((r.id for r in page), reverse=True)


async def test_the_status_bar_figures_read_no_generation(
        store: TaskStore, queries: list[tuple[str, tuple[Any, ...]]]) -> None:
    counts = await store.history.counts("2026-01-02T00:00:00.000+00:00")
    assert counts.total == ROWS - 1 and counts.not_downloaded == ROWS - ROWS // 10  # #1 failed
    assert counts.finished_today + counts.failed_today == ROWS - 1440  # the 2nd of January
    assert await store.history.count() == ROWS - 1
    for plan in plans(store, queries):
        assert not any("generations" in step.split("USING")[0].split()
                       for step in plan if step.startswith(("SCAN", "SEARCH"))), plan


async def test_the_expiry_check_uses_the_unsaved_index(
        store: TaskStore, queries: list[tuple[str, tuple[Any, ...]]]) -> None:
    await rescue.expiring(store)
    await rescue.to_rescue(store)
    for plan in plans(store, queries):
        assert any("generations_unsaved" in step for step in plan), plan


async def test_start_up_housekeeping_reads_its_indexes(
        store: TaskStore, queries: list[tuple[str, tuple[Any, ...]]]) -> None:
    """What every command and the dashboard do when they open the store: interrupted
    sends are looked for through ``generations_sending``, old trash through
    ``generations_forgotten`` — never the whole table."""
    await store.intents.sweep_interrupted()
    await store.trash.purge()
    assert queries
    for sql, plan in zip([q[0] for q in queries], plans(store, queries), strict=True):
        # (Scanning a partial index reads only its rows: the few being sent, the trash.)
        assert plan and all("INDEX generations_sending" in step
                            or "INDEX generations_forgotten" in step for step in plan), (sql, plan)


async def test_following_reads_only_the_followed_rows(
        store: TaskStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the follower and the poller read when they start and what the poller gives
    back when it stops — the tasks still followed, their endpoints, the leases — go
    through the index of followed rows (``generations_due``): at 1,000,000 finished
    rows each of these read the whole table (0.4–0.5 s of CPU each, right after the
    first paint and again on quitting)."""
    seen: list[tuple[str, tuple[Any, ...]]] = []
    for name in ("fetch", "rows", "execute"):
        method = getattr(Database, name)

        def caught(self: Database, sql: str, params: Any = (), *, _method: Any = method
                   ) -> Any:
            seen.append((sql, tuple(params)))
            return _method(self, sql, params)

        monkeypatch.setattr(Database, name, caught)
    await store.following.unfinished()
    await store.following.live()
    await store.following.live(["e"])
    await store.following.endpoints()
    await store.following.claim_due("me", limit=10, lease_seconds=30)
    await store.following.release_all("me")
    followed = [(sql, params) for sql, params in seen if "generations" in sql
                and not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT"))]
    assert len(followed) >= 6, seen
    for (sql, _), plan in zip(followed, plans(store, followed), strict=True):
        assert any("generations_due" in step for step in plan), (sql, plan)
        assert not whole_table(plan), (sql, plan)


@pytest.mark.parametrize("text", ["z", "zz", "n", "月", "n status:FAILED", "fo tag:keep",
                                  "neon r", "rain fo"])
async def test_a_short_search_walks_only_the_newest_rows(
        store: TaskStore, queries: list[tuple[str, tuple[Any, ...]]], text: str) -> None:
    """Words too short for the text index (1–2 characters), alone or beside longer words,
    are looked for in the newest ``newest`` rows only, as the dashboard asks (``rain fo``
    read every "rain" before): each query reads a range of the
    creation index (or the index alone, to find where the range starts)."""
    where = parse_filter(text)._replace(newest=1000)
    assert where.unindexed_text
    everything = await store.history.page(parse_filter(text), limit=ROWS)
    newest = sorted((r.id for r in everything if r.id > ROWS - 1000), reverse=True)
    queries.clear()
    page = await store.history.page(where, limit=50)
    counted = await store.history.count(where, at_most=1000)
    assert [r.id for r in page] == newest[:50] and counted == len(newest)
    for sql, plan in zip([q[0] for q in queries], plans(store, queries), strict=True):
        if "generations_fts" in sql or "FROM figures" in sql:
            continue
        if "FROM machine_downloads" in sql:  # the page's rows on other machines, by key
            assert any("USING PRIMARY KEY" in step for step in plan), (sql, plan)
            continue
        bounded = any("generations_kept (created_at>?)" in step for step in plan)
        finding_the_bound = plan == ["SCAN generations USING INDEX generations_kept"] \
            and "LIMIT 1 OFFSET" in sql
        assert bounded or finding_the_bound, (sql, plan)


async def test_folded_batches_are_counted_without_reading_the_history(
        tmp_path: Path, queries: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Batches folded and nothing typed: the count is the kept figure less what the folds
    hide — exact (never "1,000+"), and read through the batch index."""
    async with await open_store(tmp_path / "tasks.db") as opened:
        await opened.history.import_many(
            {**record(n), "batch_id": f"b{n % 3}" if n < 30 else None} for n in range(300))
        await opened.trash.forget(1)  # b1's first row: its batch has no kept stand-in... yet
        folded = HistoryFilter()._replace(folded=("b0", "b1"))
        exact = len(await opened.history.page(folded, limit=1000))
        queries.clear()
        assert await opened.history.count(folded) == exact == 300 - 1 - 19 + 1
        for plan in plans(opened, queries):
            assert not any(step.startswith("SCAN generations") and "generations_batch" not in step
                           for step in plan), plan


async def test_a_bound_beyond_the_history_bounds_nothing(store: TaskStore) -> None:
    where = parse_filter("月")
    everything = await store.history.page(where, limit=ROWS)
    bounded = where._replace(newest=ROWS * 10)
    assert await store.history.page(bounded, limit=ROWS) == everything
    assert await store.history.count(bounded) == len(everything) > 0
    assert len(await store.history.ids(bounded)) == len(everything)


def test_the_list_commands_look_for_what_to_tidy_reads_its_indexes(history: Path) -> None:
    """``list`` reads without the store unless there is something to tidy (a send still
    marked as being sent, old trash): that question is answered through
    ``generations_sending`` and ``generations_forgotten``, at any size."""
    from storage.sqlite import plans

    plan = plans.untidy("2026-01-01T00:00:00.000+00:00")
    db = sqlite3.connect(history)
    try:
        sql, params = next(plan)
        steps = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params)]
        with pytest.raises(StopIteration):
            plan.send(db.execute(sql, params).fetchall())
    finally:
        db.close()
    scans = [step for step in steps if step.startswith(("SCAN", "SEARCH"))
             and step != "SCAN CONSTANT ROW"]
    assert scans and all("generations_sending" in step or "generations_forgotten" in step
                         for step in scans), steps


def vm_steps(path: Path, plan: Any) -> tuple[Any, int]:
    """A plan's answer, run on its own connection, and how many thousand SQLite virtual
    machine steps it took: the work, whatever the machine's speed."""
    from storage.sqlite.reader import run_now

    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    db.set_progress_handler(step, 1000)
    try:
        return run_now(db, plan), steps[0]
    finally:
        db.close()


@pytest.fixture(scope="module")
def lopsided(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 generations that all say "neon"; half FAILED, a sixth tagged "common" (never
    both), the three oldest tagged "rare"; all 720P, 5 s."""
    path = tmp_path_factory.mktemp("lopsided") / "tasks.db"

    async def build() -> None:
        async with await open_store(path) as store:
            await store.history.import_many(
                {**record(n), "prompt": f"neon rain {n}",
                 "status": "FAILED" if n % 2 == 0 else "SUCCEEDED",
                 "tags": ["rare"] if n < 3 else ["common"] if n % 6 == 1 else []}
                for n in range(3000))

    asyncio.run(build())
    return path


@pytest.mark.parametrize("text", ["neon tag:rare", "neon status:FAILED tag:rare",
                                  "neon status:FAILED tag:common", "status:FAILED tag:common",
                                  "tier:720P dur:8", "neon dur:8"])
def test_a_tally_stops_after_a_bounded_walk(lopsided: Path, monkeypatch: pytest.MonkeyPatch,
                                            text: str) -> None:
    """Issue 15: a common word with rare tokens (``neon status:FAILED tag:keep``) counted
    through every match of the word to learn whether there were 1,000; common tokens
    that never meet, or a no-match of columns without an index, read every row.  A tally
    looks at no more than ``TALLY_WALK`` entries of the text index or of the newest rows
    (here 100 of 3,000): a fraction of the old count's work, whatever the history's size
    — and it says "at least", never more rows than match."""
    from storage.sqlite import plans

    monkeypatch.setattr(plans, "TALLY_WALK", 100)
    where = parse_filter(text)
    exact, _ = vm_steps(lopsided, plans.count(where, me=""))
    _, unbounded = vm_steps(lopsided, plans.count(where, me="", at_most=1000))
    tally, bounded = vm_steps(lopsided, plans.tally(where, me="", at_most=1000))
    assert not tally.exact and tally.matches <= exact < 1000, (text, tally, exact)
    assert bounded * 5 < unbounded, (text, bounded, unbounded)


@pytest.mark.parametrize("text", ["neon tag:keep", "neon status:FAILED tag:keep"])
async def test_a_text_walk_checks_tags_before_it_reads_a_row(
        store: TaskStore, queries: list[tuple[str, tuple[Any, ...]]], text: str) -> None:
    """A common word with a rare tag: the walk of the text index checks each entry's id
    against the tag's ids first and reads only the rows that have it (at a million rows,
    ``neon status:FAILED tag:keep``'s page fell from 290 to 60 ms)."""
    where = parse_filter(text)
    await store.history.page(where, limit=50)
    await store.history.tally(where, at_most=1000)
    walks = [(sql, plan) for sql, plan in zip([q[0] for q in queries], plans(store, queries),
                                              strict=True) if "generations_fts" in sql
             and "generation_tags" in sql]
    assert len(walks) == 2
    for sql, plan in walks:
        tags = next(i for i, step in enumerate(plan) if "generation_tags" in step)
        rows = next(i for i, step in enumerate(plan)
                    if step.startswith("SEARCH generations USING INTEGER PRIMARY KEY"))
        assert plan[0].startswith(("SCAN generations_fts", "CO-ROUTINE")), (sql, plan)
        assert tags < rows, (sql, plan)
