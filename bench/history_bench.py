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
* ``pixverse-tui list`` (50 rows, wall time; the script pip writes for the command, run
  with this tree first on the path); floor: Python + sqlite3 printing the
  same 50 rows;
* idle: CPU (share of one core, /proc) over ``--idle`` seconds after the first paint
  and a settling pause, and RSS, of the dashboard and of the floor app, side by side.

Every product process runs with its bytecode cached (``compileall`` first;
``PYTHONDONTWRITEBYTECODE`` is dropped), as an installed program runs.

The dashboard polls a ``pixverse-tui simulate`` of its own (nothing in flight).

``--inflight N`` measures something else instead: memory while N tasks stay in flight
(their elapsed-time cells tick every second) — the real dashboard in a pseudo-terminal
over a fresh home, a counting simulator at ×20 whose tasks never end, RSS sampled
every 10 s for ``--minutes`` (3: the issue's window is minutes 2 to 10; the curve is
flat by minute 2 or not at all, see bench/RESULTS.md).
``--tree DIR`` also runs the product of another checkout (a "before"), alternated
with this tree's and the floor in the same runs.  ``--quick``: 2,000 rows, one run, 5 s
idle — proves the bench works.  ``--list-only``: ``list`` and its floor alone (two of
each per run), for the start-up work of the command line.
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
from typing import Any

import harness
from harness.figures import progress, run_header, side_by_side
from harness.history_db import NEWEST_MARK, cached_home
from harness.processes import KEY, bench_path, children_cpu, cpu_seconds, kill_all, rss_mb
from harness.simulator import plain_simulator
from harness.terminal import PtyChild

QUERIES = ("f", "fo", "fox", "fox n", "fox ne", "fox neo", "neon rain", '"rain fox"', "月光",
           "一只小猫", "rain tier:720P", "status:FAILED", "dragon storm", "fav tag:keep",
           "since:2026-01-01 neon", "neon status:FAILED tag:keep", "zebra", "z", "")
FLOOR_LIST = ("import sqlite3, sys\n"
              "db = sqlite3.connect(sys.argv[1])\n"
              "for row in db.execute('SELECT status, prompt, task_id, size, duration,"
              " created_at FROM generations ORDER BY created_at DESC LIMIT 50'):\n"
              "    print(*row, sep='  ')\n")
# ``pixverse-tui`` as pip and pipx install it: the script pip writes for the entry point
# (it imports ``re`` itself), not ``python -m tui`` (whose ``runpy`` no user pays for).
CONSOLE_SCRIPT = ("import re\nimport sys\nfrom tui.cli.main import main\n"
                  "sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
                  "sys.exit(main())\n")
SETTLE = 10.0  # seconds after the first paint before idle is measured


class Bench:
    """The runs: ``kinds`` are "this tree", "before" (``--tree``) and "floor"."""

    def __init__(self, args: argparse.Namespace, work: Path, base_url: str) -> None:
        self.args = args
        self.work = work
        self.trees = {"this tree": harness.ROOT}
        if args.tree:
            self.trees["before"] = Path(args.tree).resolve()
        self.kinds = [*self.trees, "floor"]
        self.base_url = base_url
        self.list_cpu: dict[str, list[float]] = {}  # the size's, reset by ``size``

    def env(self, home: Path, tree: Path = harness.ROOT) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()  # bytecode cached, as a user's install has it
               if not k.startswith(("DASHSCOPE_", "PIXVERSE_")) and k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PIXVERSE_TUI_HOME=str(home), DASHSCOPE_API_KEY=KEY,
                   DASHSCOPE_HTTP_BASE_URL=self.base_url,
                   PYTHONPATH=os.pathsep.join((str(tree), bench_path())),
                   BENCH_PRODUCT_TREE=str(tree))
        return env

    def compile(self) -> None:
        """Every module's bytecode cached first (as pip leaves an install): no run pays for
        compiling, whichever comes first."""
        folders = [str(t / p) for t in self.trees.values() for p in ("tui", "storage")]
        subprocess.run([sys.executable, "-m", "compileall", "-q", *folders, str(harness.BENCH)],
                       check=True, env=self.env(self.work), stdout=subprocess.DEVNULL)

    def start(self, kind: str, home: Path) -> PtyChild:
        """The dashboard of a tree, or the floor app, in a pseudo-terminal."""
        if kind == "floor":
            return PtyChild([sys.executable, "-m", "harness.floor_app", str(home / "tasks.db")],
                            self.env(home), self.work / "floor.err", cwd=harness.BENCH)
        tree = self.trees[kind]
        return PtyChild([sys.executable, "-m", "tui"], self.env(home, tree),
                        self.work / "dashboard.err", cwd=tree)

    def list_once(self, kind: str, home: Path) -> float:
        tree = self.trees.get(kind, harness.ROOT)
        argv = ([sys.executable, "-c", FLOOR_LIST, str(home / "tasks.db")] if kind == "floor"
                else [sys.executable, "-c", CONSOLE_SCRIPT, "list"])
        cpu = children_cpu()
        t0 = time.perf_counter()
        done = subprocess.run(argv, env=self.env(home, tree), cwd=tree, capture_output=True)
        took = time.perf_counter() - t0
        self.list_cpu.setdefault(kind, []).append(children_cpu() - cpu)
        if done.returncode != 0 or NEWEST_MARK.encode() not in done.stdout:
            raise RuntimeError(f"list failed: {done.stderr.decode()[-2000:]}")
        return took

    def searches(self, kind: str, home: Path) -> list[float]:
        tree = self.trees.get(kind, harness.ROOT)
        argv = [sys.executable, "-m", "harness.search_probe",
                "floor" if kind == "floor" else "product", str(home), *QUERIES]
        done = subprocess.run(argv, env=self.env(home, tree), cwd=harness.BENCH,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"search probe failed: {done.stderr[-3000:]}")
        took: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
        return took

    def size(self, rows: int) -> dict[str, Any]:
        progress(f"{rows:,} rows: making (or finding) the history")
        home = cached_home(rows)
        runs = self.args.runs
        out: dict[str, Any] = {"rows": rows, "load": os.getloadavg()[0], "idle_cpu": {},
                               "rss": {}, **{m: {k: [] for k in self.kinds}
                                             for m in ("cold", "cold_cpu", "list", "search")}}
        self.list_cpu = out["list_cpu"] = {}
        for run in range(runs):
            progress(f"{rows:,} rows: run {run + 1} of {runs}")
            order = self.kinds[run % len(self.kinds):] + self.kinds[:run % len(self.kinds)]
            if self.args.list_only:
                for kind in order:
                    for _ in range(2):
                        out["list"][kind].append(self.list_once(kind, home))
                continue
            last = run == runs - 1
            alive: list[tuple[str, PtyChild]] = []
            for kind in order:
                child = self.start(kind, home)
                try:
                    out["cold"][kind].append(child.seen_at(NEWEST_MARK, 120))
                    out["cold_cpu"][kind].append(child.cpu_then)
                finally:
                    if last:  # kept, for idle: all of them idle side by side
                        alive.append((kind, child))
                    else:
                        child.stop()
            if last:
                self.idle(alive, out)
            for kind in order:
                for _ in range(2):
                    out["list"][kind].append(self.list_once(kind, home))
            for kind in order:
                out["search"][kind] += self.searches(kind, home)
        out["load_end"] = os.getloadavg()[0]
        return out

    def idle(self, alive: list[tuple[str, PtyChild]], out: dict[str, Any]) -> None:
        try:
            time.sleep(self.args.settle)
            before = {kind: cpu_seconds(child.pid) or 0.0 for kind, child in alive}
            t0 = time.monotonic()
            time.sleep(self.args.idle)
            took = time.monotonic() - t0
            for kind, child in alive:
                used = (cpu_seconds(child.pid) or 0.0) - before[kind]
                out["idle_cpu"][kind] = used / took * 100
                out["rss"][kind] = rss_mb(child.pid) or 0.0
        finally:
            for _, child in alive:
                child.stop()


def ms(value: float) -> str:
    return f"{value * 1000:,.0f} ms"


def report(figure: dict[str, Any], kinds: list[str]) -> str:
    """One size: each measure for each kind side by side, and this tree's ratio to the
    floor beside the goal."""
    def med(measure: str, kind: str) -> float:
        return float(statistics.median(figure[measure][kind]))

    def worst(measure: str, kind: str) -> float:
        return float(max(figure[measure][kind]))

    rows = [[f"{figure['rows']:,} rows (load {figure['load']:.1f} → {figure['load_end']:.1f})",
             *kinds, "ratio to floor", "goal"]]

    def line(label: str, cell: Any, ratio: str = "", goal: str = "") -> None:
        rows.append([label, *(cell(kind) for kind in kinds), ratio, goal])

    this = kinds[0]
    if not figure["cold"][this]:  # --list-only
        line("list (50 rows; floor: python + sqlite3)", lambda k: ms(med("list", k)),
             f"{med('list', this) / med('list', 'floor'):.2f}×", "≤ 2×")
        line("  its CPU time", lambda k: ms(med("list_cpu", k)),
             f"{med('list_cpu', this) / med('list_cpu', 'floor'):.2f}×")
        return side_by_side(rows)
    line("cold start → first painted row", lambda k: ms(med("cold", k)),
         f"{med('cold', this) / med('cold', 'floor'):.2f}×", "≤ 1.5×, flat ±10 %")
    line("  its CPU time (steadier under load)", lambda k: ms(med("cold_cpu", k)),
         f"{med('cold_cpu', this) / med('cold_cpu', 'floor'):.2f}×")
    line("search keystroke → painted, median", lambda k: ms(med("search", k)),
         f"{med('search', this) / med('search', 'floor'):.2f}×", "≤ 1.3×")
    line("search keystroke → painted, worst", lambda k: ms(worst("search", k)), "",
         "≤ 150 ms")
    line("list (50 rows; floor: python + sqlite3)", lambda k: ms(med("list", k)),
         f"{med('list', this) / med('list', 'floor'):.2f}×", "≤ 2×")
    line("  its CPU time", lambda k: ms(med("list_cpu", k)),
         f"{med('list_cpu', this) / med('list_cpu', 'floor'):.2f}×")
    line("idle CPU (share of a core)",
         lambda k: f"{figure['idle_cpu'].get(k, float('nan')):.2f} %", "", "≤ 0.5 %")
    line("RSS at idle", lambda k: f"{figure['rss'].get(k, float('nan')):.0f} MB")
    return side_by_side(rows)


def inflight_rss(args: argparse.Namespace, work: Path) -> None:
    """RSS of the dashboard while ``--inflight`` tasks stay in flight, every 10 s."""
    import asyncio

    from harness.product import put_in_flight, workspace
    from harness.simulator import SimChild

    from storage import open_store

    speed = 20.0
    sim = SimChild(work, "inflight", speed=speed, failure_rate=0.0, seed=7,
                   min_work=1e7, max_work=1e7)  # nothing ends while the bench runs
    home = work / "inflight-home"
    home.mkdir()
    ws = workspace(home, sim.base_url, KEY, speed)

    async def create() -> None:
        async with await open_store(ws.paths.database) as store:
            await put_in_flight(ws, store, args.inflight, speed=speed)

    progress(f"putting {args.inflight:,} tasks in flight")
    asyncio.run(create())
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DASHSCOPE_", "PIXVERSE_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PIXVERSE_TUI_HOME=str(home), DASHSCOPE_API_KEY=KEY,
               DASHSCOPE_HTTP_BASE_URL=sim.base_url, PYTHONPATH=bench_path())
    child = PtyChild([sys.executable, "-m", "tui"], env, work / "inflight.err",
                     cwd=harness.ROOT)
    try:
        child.seen_at("bench task", 120)
        started = time.monotonic()
        samples: list[tuple[float, float]] = []
        while (elapsed := time.monotonic() - started) < args.minutes * 60:
            samples.append((elapsed / 60, rss_mb(child.pid) or float("nan")))
            progress(f"  minute {elapsed / 60:4.1f}: {samples[-1][1]:.1f} MB")
            time.sleep(10)
        samples.append(((time.monotonic() - started) / 60, rss_mb(child.pid) or float("nan")))
    finally:
        child.stop()
        sim.close()
    rows = [["minute", "RSS"], *([f"{m:.1f}", f"{mb:.1f} MB"] for m, mb in samples)]
    print(side_by_side(rows))
    warm = [mb for m, mb in samples if m >= 1.0]
    if len(warm) >= 2:
        print(f"from minute 1 to {samples[-1][0]:.1f}: {warm[-1] - warm[0]:+.1f} MB "
              f"(at most {max(warm) - warm[0]:+.1f}); goal: flat within ±5 MB")


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
    parser.add_argument("--inflight", type=int, default=0, metavar="N",
                        help="instead: RSS while N tasks stay in flight (e.g. 1000)")
    parser.add_argument("--minutes", type=float, default=3.0,
                        help="with --inflight: how long RSS is sampled")
    parser.add_argument("--list-only", action="store_true",
                        help="only `list` and its floor (2 per run; no dashboard, search "
                        "or idle)")
    parser.add_argument("--quick", action="store_true",
                        help="a short run that proves the bench works: 2,000 rows, 1 run "
                        "(with --inflight: 50 tasks, 1 minute)")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.runs, args.idle, args.settle = "2000", 1, 5.0, 2.0
        args.inflight, args.minutes = min(args.inflight, 50), 1.2
    sizes = [int(n.replace("_", "")) for n in args.rows.split(",")]
    work = Path(tempfile.mkdtemp(prefix="pixverse-history-bench-"))
    print(run_header("history_bench.py", f"product from {args.tree or 'this tree'}"),
          flush=True)
    try:
        if args.inflight:
            inflight_rss(args, work)
            return 0
        _, base_url = plain_simulator(1.0, work / "simulator.err")
        bench = Bench(args, work, base_url)
        bench.compile()
        figures = []
        for rows in sizes:
            figures.append(bench.size(rows))
            print(report(figures[-1], bench.kinds) + "\n", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=1))
    finally:
        kill_all()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
