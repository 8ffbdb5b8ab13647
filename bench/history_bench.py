"""Measure the dashboard on a 100,000-generation history.

    python bench/history_bench.py [--rows 100000] [--keep DIR]

Builds a history through ``pixverse-tui import`` (JSON Lines, as a user would
move one between machines) — beside the floor for that work, a plain
``sqlite3`` ``executemany`` of the same rows into the same schema (FTS5 trigram
index and all) — then, in a fresh process for a cold start, drives
the real app headless and prints: import time, cold start to first painted
table, a search keystroke to repainted results (median of several queries,
Chinese included), scrolling a page, loading the next page, and peak memory.
Targets: start < 1 s, search < 100 ms, memory < 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("fox", "whale", "city", "forest", "neon", "rain", "ocean", "desert", "robot", "dragon",
         "sunset", "snow", "mountain", "river", "lantern", "train", "garden", "storm")
CHINESE = ("一只小猫在月光下奔跑", "夜晚的城市霓虹灯", "山间的瀑布与薄雾", "海边的日落",
           "古老的寺庙")
SIZES = ("640*360", "1024*576", "1280*720", "720*1280", "1920*1080", "1808*1808")


def history(rows: int, path: Path) -> None:
    rng = random.Random(7)
    start = time.time() - rows * 60
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + i * 60))
            prompt = (rng.choice(CHINESE) if i % 7 == 0 else
                      " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))))
            status = rng.choices(("SUCCEEDED", "FAILED", "CANCELED"), (90, 8, 2))[0]
            size = rng.choice(SIZES)
            out.write(json.dumps({
                "created_at": when + ".000+00:00", "updated_at": when + ".000+00:00",
                "prompt": f"{prompt} #{i}", "size": size, "duration": rng.choice((5, 8)),
                "audio": rng.random() < 0.3, "task_id": f"bench-{i:08d}", "status": status,
                "submission": "accepted", "endpoint": "https://dashscope.aliyuncs.com/api/v1",
                "model": "pixverse/pixverse-v5.6-t2v",
                "submit_time": when + ".000+00:00", "scheduled_time": when + ".500+00:00",
                "end_time": when[:-2] + "59.000+00:00",
                "usage_size": size if status == "SUCCEEDED" else None,
                "usage_duration": 5.0 if status == "SUCCEEDED" else None,
                "error_code": "InternalError" if status == "FAILED" else None,
                "favourite": i % 50 == 0, "tags": ["keep"] if i % 100 == 0 else [],
            }, ensure_ascii=False) + "\n")


PROBE = r'''
import asyncio, json, resource, statistics, sys, time
t_spawn = float(sys.argv[1])
from tui.engine.workspace import Workspace
from tui.dashscope import ApiKey
from tui.ui.app import PixverseApp
from tui.ui.widgets.task_table import TaskTable
from textual.widgets import Input

async def main():
    ws = Workspace.load(key=ApiKey("sk-bench-not-used"), base_url="http://127.0.0.1:9/api/v1")
    app = PixverseApp(ws, poll=False)
    out = {}
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.screen.query_one(TaskTable)
        while table.row_count == 0:
            await asyncio.sleep(0.005)
        await pilot.pause()
        out["start"] = time.time() - t_spawn
        screen = app.screen
        painted = []
        original = screen._compositor_refresh

        def record():
            original()
            painted.append(time.perf_counter())

        screen._compositor_refresh = record  # note when each frame reaches the terminal

        reloads = []
        replace = table.replace

        def timed_replace(*args, **kwargs):
            replace(*args, **kwargs)
            reloads.append(time.perf_counter())

        table.replace = timed_replace  # note when a new page lands in the table

        async def until_painted(t0, landed=reloads):
            """Seconds from t0 to the first frame painted after the new rows landed."""
            while not landed or landed[-1] < t0:
                await asyncio.sleep(0.001)
            while not painted or painted[-1] < landed[-1]:
                await asyncio.sleep(0.001)
            return painted[-1] - t0

        box = app.screen.query_one("#filter", Input)
        box.focus()
        await pilot.pause()
        timings = []
        for query in ["fox", "fox n", "fox ne", "fox neo", "月光", "一只小猫", "rain tier:720P",
                      "status:FAILED", "dragon storm", "fav tag:keep", ""]:
            t0 = time.perf_counter()
            box.value = query  # what one keystroke does
            timings.append(await until_painted(t0))
            await pilot.pause()
        out["search"] = statistics.median(timings)
        out["search_max"] = max(timings)
        table.focus()
        await pilot.pause()
        t0 = time.perf_counter()
        await pilot.press("pagedown")
        out["scroll"] = await until_painted(t0, [t0])  # the first frame after the key
        await pilot.pause()
        t0 = time.perf_counter()
        await pilot.press("right_square_bracket")
        out["next_page"] = await until_painted(t0)
        out["rows_in_table"] = table.row_count
        out["total"] = app.main.view.matching
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))

asyncio.run(main())
'''


def import_floor(source: Path, database: Path) -> float:
    """Seconds for plain sqlite3 to load the same lines into the same schema: the most
    any import could hope for (parse JSON, executemany, one transaction per batch)."""
    import sqlite3

    from storage.records import IMPORTABLE
    from storage.sqlite.db import statements
    from storage.sqlite.schema import MIGRATIONS

    db = sqlite3.connect(database, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    for script in MIGRATIONS:
        for statement in statements(script):
            db.execute(statement)
    t0 = time.perf_counter()
    next_id = 0
    batch: list[tuple[dict[str, Any], int]] = []

    def flush() -> None:
        db.execute("BEGIN IMMEDIATE")
        for columns in {tuple(c for c in IMPORTABLE if c in r) for r, _ in batch}:
            db.executemany(
                f"INSERT INTO generations (id, {', '.join(columns)}) VALUES "
                f"(?, {', '.join('?' for _ in columns)})",
                [[i, *(int(r[c]) if isinstance(r[c], bool) else r[c] for c in columns)]
                 for r, i in batch if tuple(c for c in IMPORTABLE if c in r) == columns])
        db.executemany("INSERT INTO generation_tags (generation_id, tag) VALUES (?, ?)",
                       [(i, t) for r, i in batch for t in r.get("tags") or []])
        db.execute("COMMIT")
        batch.clear()

    with source.open(encoding="utf-8") as lines:
        for line in lines:
            next_id += 1
            batch.append((json.loads(line), next_id))
            if len(batch) >= 2000:
                flush()
    if batch:
        flush()
    took = time.perf_counter() - t0
    db.close()
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", help="reuse/keep the benchmark home in this folder")
    parser.add_argument("--quick", action="store_true",
                        help="a short run that proves the bench works: --rows 5000")
    args = parser.parse_args()
    if args.quick:
        args.rows = 5000
    home = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="pixverse-bench-"))
    env = {**os.environ, "PIXVERSE_TUI_HOME": str(home)}
    env.pop("DASHSCOPE_API_KEY", None)
    figures: dict[str, float] = {}
    if not (home / "tasks.db").exists():
        source = home / "history.jsonl"
        home.mkdir(parents=True, exist_ok=True)
        history(args.rows, source)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tui", "import", str(source)], env=env,
                       check=True, capture_output=True)
        figures["import"] = time.perf_counter() - t0
        figures["import_floor"] = import_floor(source, home / "floor.db")
    done = subprocess.run([sys.executable, "-c", PROBE, str(time.time())], env=env,
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 1
    figures.update(json.loads(done.stdout.strip().splitlines()[-1]))
    rows = [
        ("history", f"{figures['total']:,} generations", ""),
        ("import (pixverse-tui import)", f"{figures['import']:.1f} s" if "import" in figures
         else "(reused)", "≤ 1.5× the floor"),
        ("  floor: sqlite3 executemany, same schema", f"{figures['import_floor']:.1f} s"
         if "import_floor" in figures else "(reused)",
         f"ratio {figures['import'] / figures['import_floor']:.2f}×"
         if "import_floor" in figures else ""),
        ("cold start → first painted table", f"{figures['start'] * 1000:.0f} ms", "< 1000 ms"),
        ("search keystroke → repainted (median)", f"{figures['search'] * 1000:.0f} ms",
         "< 100 ms"),
        ("search keystroke → repainted (worst)", f"{figures['search_max'] * 1000:.0f} ms", ""),
        ("scroll a page (pagedown)", f"{figures['scroll'] * 1000:.0f} ms", ""),
        ("next page from SQLite (])", f"{figures['next_page'] * 1000:.0f} ms", ""),
        ("rows held by the table", f"{figures['rows_in_table']:,}", ""),
        ("peak memory (RSS)", f"{figures['peak_mb']:.0f} MB", "< 200 MB"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>22}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>22}  {target}")
    if not args.keep:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
