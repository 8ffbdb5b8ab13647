"""The dashboard and ``list`` on a big history, each figure beside its floor (issue 15).

    python bench/history_bench.py [--rows 10000,100000,1000000] [--runs 5] [--idle 60]
                                  [--tree DIR] [--quick]

For each size, a history made straight into the store's schema (``harness.history_db``,
cached under the temp folder by schema version: a million rows take a minute or two
once), then, alternating the product and its floor run by run (medians):

* cold start → first painted row: ``pixverse-tui`` in a real pseudo-terminal
  (140×40, answering as a plain xterm does), from the spawn to the moment the newest
  row's prompt reached the terminal; floor: a minimal Textual app
  (``harness.floor_app``) showing the same file's 50 newest rows in a DataTable;
* search keystroke → painted page, median and worst over words typed letter by
  letter, a phrase, Chinese, tokens, a one-letter and a no-match search: headless,
  by one method for both (``harness.search_probe``); floor: the minimal app whose
  search box runs a bare FTS5 ``MATCH … ORDER BY rowid DESC LIMIT 50``;
* ``pixverse-tui list`` (50 rows, wall time); floor: Python + sqlite3 printing the
  same 50 rows;
* idle: CPU (share of one core, /proc) over ``--idle`` seconds after the first paint
  and a settling pause, and RSS, of the dashboard and of the floor app, side by side.

The dashboard polls a ``pixverse-tui simulate`` of its own (nothing in flight).
``--tree DIR`` runs the product from another checkout (a "before"), with this
bench.  ``--quick``: 2,000 rows, one run, 5 s idle — proves the bench works.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness.figures import progress, run_header, side_by_side
from harness.history_db import NEWEST_MARK, cached_home
from harness.processes import KEY, bench_path, cpu_seconds, kill_all, rss_mb
from harness.simulator import plain_simulator
from harness.terminal import PtyChild

QUERIES = ("f", "fo", "fox", "fox n", "fox ne", "fox neo", "neon rain", '"rain fox"', "月光",
           "一只小猫", "rain tier:720P", "status:FAILED", "dragon storm", "fav tag:keep",
           "since:2026-01-01 neon", "zebra", "z", "")
FLOOR_LIST = ("import sqlite3, sys\n"
              "db = sqlite3.connect(sys.argv[1])\n"
              "for row in db.execute('SELECT status, prompt, task_id, size, duration,"
              " created_at FROM generations ORDER BY created_at DESC LIMIT 50'):\n"
              "    print(*row, sep='  ')\n")
SETTLE = 10.0  # seconds after the first paint before idle is measured


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, base_url: str) -> None:
        self.args = args
        self.work = work
        self.tree = Path(args.tree).resolve() if args.tree else harness.ROOT
        self.base_url = base_url

    def env(self, home: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DASHSCOPE_", "PIXVERSE_"))}
        env.update(PIXVERSE_TUI_HOME=str(home), DASHSCOPE_API_KEY=KEY,
                   DASHSCOPE_HTTP_BASE_URL=self.base_url,
                   PYTHONPATH=os.pathsep.join((str(self.tree), bench_path())),
                   BENCH_PRODUCT_TREE=str(self.tree))
        return env

    def dashboard(self, home: Path) -> PtyChild:
        return PtyChild([sys.executable, "-m", "tui"], self.env(home),
                        self.work / "dashboard.err", cwd=self.tree)

    def floor_app(self, home: Path) -> PtyChild:
        return PtyChild([sys.executable, "-m", "harness.floor_app", str(home / "tasks.db")],
                        self.env(home), self.work / "floor.err", cwd=harness.BENCH)

    def cold(self, start: PtyChild) -> float:
        return start.seen_at(NEWEST_MARK, 120)

    def list_once(self, home: Path, floor: bool) -> float:
        argv = ([sys.executable, "-c", FLOOR_LIST, str(home / "tasks.db")] if floor
                else [sys.executable, "-m", "tui", "list"])
        t0 = time.perf_counter()
        done = subprocess.run(argv, env=self.env(home), cwd=self.tree, capture_output=True)
        took = time.perf_counter() - t0
        if done.returncode != 0 or NEWEST_MARK.encode() not in done.stdout:
            raise RuntimeError(f"list failed: {done.stderr.decode()[-2000:]}")
        return took

    def searches(self, home: Path, floor: bool) -> list[float]:
        argv = [sys.executable, "-m", "harness.search_probe", "floor" if floor else "product",
                str(home), *QUERIES]
        done = subprocess.run(argv, env=self.env(home), cwd=harness.BENCH,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"search probe failed: {done.stderr[-3000:]}")
        took: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
        return took

    def size(self, rows: int) -> dict[str, object]:
        progress(f"{rows:,} rows: making (or finding) the history")
        home = cached_home(rows)
        runs = self.args.runs
        out: dict[str, list[float]] = {k: [] for k in (
            "cold", "cold_floor", "list", "list_floor", "search", "search_floor")}
        idle: dict[str, float] = {}
        load = os.getloadavg()[0]
        for run in range(runs):
            progress(f"{rows:,} rows: run {run + 1} of {runs}")
            order = (False, True) if run % 2 == 0 else (True, False)
            last = run == runs - 1
            alive: list[tuple[str, PtyChild]] = []
            for floor in order:
                child = self.floor_app(home) if floor else self.dashboard(home)
                try:
                    out["cold_floor" if floor else "cold"].append(self.cold(child))
                finally:
                    if last:
                        alive.append(("floor" if floor else "product", child))
                    else:
                        child.stop()
            if last:
                idle = self.idle(alive)
            for floor in order:
                for _ in range(2):
                    out["list_floor" if floor else "list"].append(self.list_once(home, floor))
            for floor in order:
                out["search_floor" if floor else "search"] += self.searches(home, floor)
        return {"rows": rows, "load": load, "load_end": os.getloadavg()[0], **out, **idle}

    def idle(self, alive: list[tuple[str, PtyChild]]) -> dict[str, float]:
        try:
            time.sleep(self.args.settle)
            before = {name: cpu_seconds(child.pid) or 0.0 for name, child in alive}
            t0 = time.monotonic()
            time.sleep(self.args.idle)
            took = time.monotonic() - t0
            found: dict[str, float] = {}
            for name, child in alive:
                used = (cpu_seconds(child.pid) or 0.0) - before[name]
                found[f"idle_cpu_{name}"] = used / took * 100
                found[f"rss_{name}"] = rss_mb(child.pid) or 0.0
            return found
        finally:
            for _, child in alive:
                child.stop()


def ms(value: float) -> str:
    return f"{value * 1000:,.0f} ms"


def report(figures: list[dict[str, object]]) -> str:
    def med(fig: dict[str, object], key: str) -> float:
        values = fig[key]
        assert isinstance(values, list)
        return float(statistics.median(values))

    def worst(fig: dict[str, object], key: str) -> float:
        values = fig[key]
        assert isinstance(values, list)
        return float(max(values))

    head = ["", *(f"{f['rows']:,} rows" for f in figures), "goal (at 1,000,000)"]
    rows = [head,
            ["load average (start → end)",
             *(f"{f['load']:.1f} → {f['load_end']:.1f}" for f in figures), ""]]

    def line(label: str, cell: object, goal: str = "") -> None:
        rows.append([label, *(str(cell(f)) for f in figures), goal])  # type: ignore[operator]

    line("cold start → first painted row", lambda f: ms(med(f, "cold")),
         "≤ 1.5× floor, flat ±10 %")
    line("  floor: minimal Textual app, 50 rows", lambda f: ms(med(f, "cold_floor")))
    line("  ratio", lambda f: f"{med(f, 'cold') / med(f, 'cold_floor'):.2f}×")
    line("search keystroke → painted, median", lambda f: ms(med(f, "search")),
         "≤ 1.3× floor")
    line("  floor: bare FTS5, median", lambda f: ms(med(f, "search_floor")))
    line("  ratio", lambda f: f"{med(f, 'search') / med(f, 'search_floor'):.2f}×")
    line("search keystroke → painted, worst", lambda f: ms(worst(f, "search")), "≤ 150 ms")
    line("  floor: worst", lambda f: ms(worst(f, "search_floor")))
    line("pixverse-tui list (50 rows)", lambda f: ms(med(f, "list")), "≤ 2× floor")
    line("  floor: python + sqlite3, 50 rows", lambda f: ms(med(f, "list_floor")))
    line("  ratio", lambda f: f"{med(f, 'list') / med(f, 'list_floor'):.2f}×")
    line("idle CPU, dashboard", lambda f: f"{f.get('idle_cpu_product', float('nan')):.2f} %",
         "≤ 0.5 % of a core")
    line("  floor: minimal app", lambda f: f"{f.get('idle_cpu_floor', float('nan')):.2f} %")
    line("RSS, dashboard (idle)", lambda f: f"{f.get('rss_product', float('nan')):.0f} MB")
    line("  floor: minimal app", lambda f: f"{f.get('rss_floor', float('nan')):.0f} MB")
    return side_by_side(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000",
                        help="history sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (medians)")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle measured")
    parser.add_argument("--settle", type=float, default=SETTLE,
                        help="seconds after the first paint before idle is measured")
    parser.add_argument("--tree", help="run the product from this checkout (a 'before')")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--quick", action="store_true",
                        help="a short run that proves the bench works: 2,000 rows, 1 run")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.runs, args.idle, args.settle = "2000", 1, 5.0, 2.0
    sizes = [int(n.replace("_", "")) for n in args.rows.split(",")]
    work = Path(tempfile.mkdtemp(prefix="pixverse-history-bench-"))
    print(run_header("history_bench.py", f"product from {args.tree or 'this tree'}"),
          flush=True)
    try:
        _, base_url = plain_simulator(1.0, work / "simulator.err")
        bench = Bench(args, work, base_url)
        figures = [bench.size(rows) for rows in sizes]
        print(report(figures))
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=1))
    finally:
        kill_all()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
