"""The store's SQL alone at 100,000 and 1,000,000 generations (issue 15): the status
bar's figures, a search's count and page, beside a bare FTS5 query and a bare COUNT.

    python bench/search_sql_bench.py [--rows 100000] [--keep DIR] [--runs 7]

Builds the history with ``History.import_many`` (the rows of ``history_bench``), then
times each call through the store (median and worst of ``--runs``, alternated with
the floors).  No terminal, no Textual: the UI's figures are ``history_bench``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from history_bench import history  # noqa: E402  (beside this script, as typing_bench has it)

from storage import open_store  # noqa: E402
from storage.history import parse_filter  # noqa: E402

SEARCHES = ("z", "neon rain", "zebra", "月光下", "n", "status:FAILED", "tag:keep")
MIDNIGHT = "2026-01-01T00:00:00.000+00:00"


async def build(path: Path, rows: int, work: Path) -> None:
    source = work / "history.jsonl"
    history(rows, source)
    async with await open_store(path) as store:
        batch: list[dict[str, object]] = []
        with source.open(encoding="utf-8") as lines:
            for line in lines:
                batch.append(json.loads(line))
                if len(batch) == 10_000:
                    await store.history.import_many(batch)
                    batch = []
        await store.history.import_many(batch)


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

        print(f"{'query':<28} {'store median / worst ms':>24}   {'floor median / worst ms':>24}")
        figures, whole = [], []
        for _ in range(runs):
            figures.append(await timed(store.history.counts(MIDNIGHT)))
            whole.append(floor("SELECT COUNT(*) FROM generations"))
        print(f"{'status bar figures':<28} {ms(figures):>24}   {ms(whole):>24}  (bare COUNT)")
        for text in SEARCHES:
            where = parse_filter(text)
            counted, paged, bare_times = [], [], []
            for _ in range(runs):
                counted.append(await timed(store.history.count(where, at_most=1000)))
                paged.append(await timed(store.history.page(where, limit=50)))
                bare_times.append(floor(fts, f'"{text}"') if len(text) >= 3
                                  and ":" not in text else 0.0)
            print(f"{'count ' + text:<28} {ms(counted):>24}")
            floor_text = ms(bare_times) + "  (bare FTS5)" if any(bare_times) else ""
            print(f"{'page  ' + text:<28} {ms(paged):>24}   {floor_text:>24}")
    bare.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the history here")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        path = work / f"tasks-{args.rows}.db"
        if not path.exists():
            start = time.perf_counter()
            asyncio.run(build(path, args.rows, work))
            print(f"built {args.rows:,} rows in {time.perf_counter() - start:.0f} s")
        asyncio.run(measure(path, args.runs))


if __name__ == "__main__":
    main()
