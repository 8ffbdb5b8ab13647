"""The store's SQL alone at 100,000 and 1,000,000 generations (issue 15): the status
bar's figures, a search's count and page, beside a bare FTS5 query and a bare COUNT.

    python bench/search_sql_bench.py [--rows 100000] [--runs 7] [--quick]

The history is ``harness.history_db``'s (made straight into the schema, cached by
schema version); each call through the store is timed (median and worst of
``--runs``, alternated with the floors).  No terminal, no Textual: the UI's figures
are ``history_bench``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import time
from datetime import datetime
from pathlib import Path

import harness  # noqa: F401  (this tree's code first on sys.path)
from harness.history_db import cached_home

from storage import open_store
from storage.history import parse_filter
from tui.ui.view.history import SHORT_WINDOW

SEARCHES = ("f", "fo", "z", "qq", "neon rain", "zebra", "月光下", "n", "status:FAILED",
            "tag:keep", "neon status:FAILED tag:keep", "zebra status:FAILED", "fav",
            "since:2026-01-01 neon", "dl:no")
MIDNIGHT = datetime.now().astimezone().replace(  # today, as the status bar asks
    hour=0, minute=0, second=0, microsecond=0).isoformat(timespec="milliseconds")


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} / {max(samples) * 1000:7.1f}"


async def measure(path: Path, runs: int) -> None:
    bare = sqlite3.connect(path)
    fts = ("SELECT rowid FROM generations_fts WHERE generations_fts MATCH ?"
           " ORDER BY rowid DESC LIMIT 50")

    def floor(sql: str, *params: object) -> float:
        start = time.perf_counter()
        bare.execute(sql, params).fetchall()
        return time.perf_counter() - start

    async with await open_store(path) as store:
        async def timed(call: object) -> float:
            start = time.perf_counter()
            await call  # type: ignore[misc]
            return time.perf_counter() - start

        print(f"{'query':<34} {'store median / worst ms':>24}   {'floor median / worst ms':>24}")
        figures, whole = [], []
        for _ in range(runs):
            figures.append(await timed(store.history.counts(MIDNIGHT)))
            whole.append(floor("SELECT COUNT(*) FROM generations"))
        print(f"{'status bar figures':<34} {ms(figures):>24}   {ms(whole):>24}  (bare COUNT)")
        for text in SEARCHES:
            where = parse_filter(text)
            if where.unindexed_text:  # as the dashboard asks (tui.ui.view.history)
                where = where._replace(newest=SHORT_WINDOW)
            counted, paged, bare_times = [], [], []
            for _ in range(runs):
                # what the dashboard asks on a keystroke: a tally (bounded work)
                counted.append(await timed(store.history.tally(where, at_most=1000)))
                paged.append(await timed(store.history.page(where, limit=50)))
                bare_times.append(floor(fts, f'"{text}"') if len(text) >= 3
                                  and where.text.strip() == text else 0.0)
            print(f"{'tally ' + text:<34} {ms(counted):>24}")
            floor_text = ms(bare_times) + "  (bare FTS5)" if any(bare_times) else ""
            print(f"{'page  ' + text:<34} {ms(paged):>24}   {floor_text:>24}")
    bare.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true",
                        help="a short run that proves the bench works: 2,000 rows, 2 runs")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.runs = 2000, 2
    path = cached_home(args.rows) / "tasks.db"
    asyncio.run(measure(path, args.runs))


if __name__ == "__main__":
    main()
