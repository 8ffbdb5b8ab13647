"""Does the dashboard's memory stay flat while 1,000 tasks end over an hour?

    python bench/soak_bench.py [--tasks 1000] [--minutes 60] [--speed 20] [--every 5]
                               [--trace] [--keep]

Two followers run side by side, each in its own process with its own home and its
own simulator (same seed, ``--speed`` times faster, five generations at a time as
the service runs them, each lasting what makes the tasks end over ``--minutes``
simulated minutes):

* ``dashboard`` — the real app headless (``App.run_test``, 140×40), with its real
  store and the account's poller, exactly as ``pixverse-tui`` runs it;
* ``watch`` — ``pixverse-tui watch`` (the CLI follower): the baseline.

Once both are up, "another terminal" (this process) submits ``--tasks`` tasks into
each home at the product's pace, and the resident memory (VmRSS from /proc) of both
followers is sampled every ``--every`` real seconds until every task has ended.

Printed: a table of RSS by simulated minute, and the verdict: from the 10th
simulated minute to the end the dashboard's RSS must not grow by more than 10 MB.
``--trace`` runs the dashboard under tracemalloc from the 5th simulated minute and
prints what grew between the 10th and the end (top lines, and object counts by
type) — slower, and its RSS then includes tracemalloc's own bookkeeping.

The default run takes 4–9 minutes on 2 cores; ``--speed 1`` is a real hour. On a
loaded machine the creates may run past the warm-up (the bench says so, and prints
the growth after the last create too): ``--speed 10`` or ``3`` then.
Exit status 1 if the target was missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import ROOT
from harness.dashboard import log_troubles
from harness.figures import progress, run_header, until
from harness.processes import (
    CHILDREN,
    KEY,
    child_env,
    cpu_seconds,
    kill,
    kill_all,
    read_line,
    rss_mb,
    start_child,
    tell,
)
from harness.product import put_in_flight, workspace
from harness.simulator import SimChild

from storage import TaskStore
from tui.simulator.world import RUNNING_LIMIT  # five at a time, as the service

GROWTH_LIMIT = 10.0  # MB the dashboard may grow after the warm-up
WARM_UP = 10.0  # simulated minutes before the RSS must stay flat


# -- the dashboard, in its own process -------------------------------------------------------


def dashboard_process(base_url: str, speed: float, trace: str, frames: int) -> int:
    """The real dashboard headless; stdin: ``trace`` (tracemalloc starts), ``mark`` (a
    snapshot), ``stop`` (the growth since the mark is written to ``trace``)."""
    from tui.dashscope import ApiKey
    from tui.engine.workspace import Workspace
    from tui.ui.app import PixverseApp

    async def main() -> None:
        ws = Workspace.load(base_url=base_url, key=ApiKey(KEY), time_scale=speed)
        app = PixverseApp(ws)
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str] = asyncio.Queue()

        def read() -> None:
            for text in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, text.strip())
            loop.call_soon_threadsafe(lines.put_nowait, "stop")

        threading.Thread(target=read, daemon=True).start()
        marked: tuple[tracemalloc.Snapshot, Counter[str]] | None = None
        async with app.run_test(size=(140, 40)) as pilot:
            troubles = log_troubles(app)
            await until(lambda: app.main is not None and app.main._started, 120,
                        "the main screen started")
            await pilot.pause()
            print("ready", flush=True)
            while (command := await lines.get()) != "stop":
                if command == "trace" and trace:
                    tracemalloc.start(frames)
                elif command == "mark" and trace:
                    marked = (snapshot(), object_counts())
                print(f"{command} done", flush=True)
            if trace and marked is not None:
                Path(trace).write_text(growth_report(*marked, snapshot(), object_counts()))
            troubles.cancel()

    asyncio.run(main())
    print("stopped", flush=True)
    return 0


def snapshot() -> tracemalloc.Snapshot:
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)])


def object_counts() -> Counter[str]:
    gc.collect()
    return Counter(type(o).__qualname__ for o in gc.get_objects())


def growth_report(before: tracemalloc.Snapshot, before_counts: Counter[str],
                  after: tracemalloc.Snapshot, after_counts: Counter[str]) -> str:
    out = ["top growth by line (tracemalloc, from the mark to the end):"]
    for stat in after.compare_to(before, "lineno")[:15]:
        frame = stat.traceback[0]
        where = os.path.relpath(frame.filename, ROOT) if frame.filename.startswith(
            str(ROOT)) else frame.filename.split("site-packages/")[-1]
        out.append(f"  {stat.size_diff / 1e6:+8.2f} MB {stat.count_diff:+8d} blocks  "
                   f"{where}:{frame.lineno}")
    paths = after.compare_to(before, "traceback")[:3] if tracemalloc.get_traceback_limit() > 1 \
        else []
    out.append("largest growth by call path:" if paths else "")
    for stat in paths:
        out.append(f"  {stat.size_diff / 1e6:+8.2f} MB {stat.count_diff:+8d} blocks")
        for line in stat.traceback.format(limit=8, most_recent_first=True)[::2]:
            out.append(f"      {line.strip()}")
    out.append("objects gained by type (gc):")
    grown = sorted(((after_counts[k] - before_counts.get(k, 0), k) for k in after_counts),
                   reverse=True)
    for count, name in grown[:12]:
        out.append(f"  {count:+9d}  {name} (now {after_counts[name]})")
    total = sum(after_counts.values()) - sum(before_counts.values())
    out.append(f"  {total:+9d}  objects in all (now {sum(after_counts.values())})")
    return "\n".join(out)


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Sample:
    wall: float  # real seconds since the first create
    minute: float  # simulated minutes since the first create
    dash_rss: float
    dash_ended: int
    dash_cpu: float  # CPU seconds used so far
    watch_rss: float
    watch_ended: int
    watch_cpu: float


class Side:
    """One follower: its home, simulator, store (this process creates its tasks)."""

    def __init__(self, args: argparse.Namespace, work: Path, name: str) -> None:
        self.name = name
        self.home = work / name
        self.home.mkdir()
        self.sim = SimChild.from_args(args, work, name)
        self.ws = workspace(self.home, self.sim.base_url, KEY, args.speed)
        self.env = child_env(self.home, self.sim.base_url)
        self.store: TaskStore | None = None

    async def ended(self) -> int:
        """Tasks this follower has seen end (the store's figures)."""
        if self.store is None:
            self.store = await self.ws.open_store()
        counts = await self.store.history.counts("2000-01-01T00:00:00+00:00")
        return counts.total - counts.in_flight


async def soak(args: argparse.Namespace, work: Path, samples: list[Sample],
               created_at: list[float]) -> str:
    """Run both followers until every task ended; fills ``samples`` (and ``created_at``:
    the simulated minute the last create returned), returns notes and the trace report."""
    dash = Side(args, work, "dashboard")
    watch = Side(args, work, "watch")
    trace = str(work / "trace.txt") if args.trace else ""
    env = dict(dash.env)
    env.pop("NO_COLOR")  # the dashboard draws in colour, as it does in a terminal
    dash_proc = start_child([sys.executable, __file__, "_dashboard", dash.sim.base_url,
                             f"{args.speed:g}", trace, str(args.frames)],
                            work / "dashboard.err", env)
    with (work / "watch.out").open("wb") as out:
        watch_proc = subprocess.Popen(
            [sys.executable, "-m", "tui", "watch", "--signal", "none",
             "--time-scale", f"{args.speed:g}"], cwd=ROOT, env=watch.env,
            start_new_session=True, stdin=subprocess.DEVNULL, stdout=out,
            stderr=(work / "watch.err").open("wb"))
    CHILDREN.append(watch_proc)
    if read_line(dash_proc, 120, "the dashboard") != "ready":
        raise RuntimeError("the dashboard did not start")
    await dash.ended()  # opens the stores
    await watch.ended()
    started = time.monotonic()

    async def create() -> None:
        await asyncio.gather(*(put_in_flight(side.ws, side.store, args.tasks, speed=args.speed)
                               for side in (dash, watch) if side.store is not None))
        created_at.append((time.monotonic() - started) * args.speed / 60)
        progress(f"  all {args.tasks} tasks created on both sides by minute "
                 f"{created_at[0]:.1f}")

    creating = asyncio.ensure_future(create())
    marked = tracing = False
    deadline = started + 3 * args.minutes * 60 / args.speed + 120
    note = ""
    try:
        while True:
            await asyncio.sleep(args.every)
            wall = time.monotonic() - started
            sample = Sample(wall, wall * args.speed / 60,
                            rss_mb(dash_proc.pid) or 0.0, await dash.ended(),
                            cpu_seconds(dash_proc.pid) or 0.0,
                            rss_mb(watch_proc.pid) or 0.0, await watch.ended(),
                            cpu_seconds(watch_proc.pid) or 0.0)
            samples.append(sample)
            progress(f"  minute {sample.minute:5.1f}: dashboard {sample.dash_rss:6.1f} MB, "
                     f"{sample.dash_ended} ended; watch {sample.watch_rss:6.1f} MB, "
                     f"{sample.watch_ended} ended")
            if dash_proc.poll() is not None or watch_proc.poll() is not None:
                note = "a follower stopped before the end (see its .err file)"
                break
            if args.trace and not tracing and sample.minute >= WARM_UP / 2:
                tracing = True  # started late: the warm-up runs at full speed
                tell(dash_proc, "trace")
                read_line(dash_proc, 300, "the dashboard")
            if not marked and sample.minute >= WARM_UP:
                marked = True
                tell(dash_proc, "mark")
                read_line(dash_proc, 300, "the dashboard")
            if creating.done() and min(sample.dash_ended, sample.watch_ended) >= args.tasks:
                break
            if time.monotonic() > deadline:
                note = "stopped at the deadline: not every task ended"
                break
        await creating
    finally:
        if not creating.done():
            creating.cancel()
        with contextlib.suppress(OSError, RuntimeError):
            tell(dash_proc, "stop")
            read_line(dash_proc, 300, "the dashboard")
        kill(dash_proc)
        watch_proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            watch_proc.wait(10)
        kill(watch_proc)
        for side in (dash, watch):
            if side.store is not None:
                await side.store.close()
            side.sim.close()
    report = Path(trace).read_text() if trace and Path(trace).exists() else ""
    troubles = (work / "dashboard.err").read_text(errors="replace").splitlines()
    if troubles:
        report = "\n".join([f"the dashboard's log ({len(troubles)} lines; the last 8):",
                            *(f"  {line}" for line in troubles[-8:]), report])
    if created_at and created_at[0] > WARM_UP:
        note = (f"the creates ran until minute {created_at[0]:.1f}, past the warm-up: the "
                f"machine is too slow for this speed (try --speed 10). {note}").strip()
    return "\n".join(x for x in (note, report) if x)


def table(samples: list[Sample], step: float) -> str:
    """A row every ``step`` simulated minutes; CPU as a share of one core since the row
    before."""
    rows = [f"{'sim min':>7} {'real s':>7} | {'dashboard MB':>12} {'CPU':>5} {'ended':>6} | "
            f"{'watch MB':>9} {'CPU':>5} {'ended':>6}"]
    shown, last = -step, Sample(0.0, 0.0, 0.0, 0, 0.0, 0.0, 0, 0.0)
    for i, s in enumerate(samples):
        if s.minute >= shown + step or i == len(samples) - 1:
            shown = s.minute // step * step
            span = max(s.wall - last.wall, 1e-9)
            rows.append(f"{s.minute:7.1f} {s.wall:7.0f} | {s.dash_rss:12.1f} "
                        f"{100 * (s.dash_cpu - last.dash_cpu) / span:4.0f}% {s.dash_ended:6d} | "
                        f"{s.watch_rss:9.1f} {100 * (s.watch_cpu - last.watch_cpu) / span:4.0f}% "
                        f"{s.watch_ended:6d}")
            last = s
    return "\n".join(rows)


def growth(samples: list[Sample], rss: str, since: float = WARM_UP
           ) -> tuple[float, float, float]:
    """RSS at simulated minute ``since``, the most after it, and the growth between."""
    after = [s for s in samples if s.minute >= since]
    if not after:
        return 0.0, 0.0, 0.0
    base = getattr(after[0], rss)
    most = max(getattr(s, rss) for s in after)
    return base, most, most - base


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_dashboard":
        return dashboard_process(sys.argv[2], float(sys.argv[3]), sys.argv[4],
                                 int(sys.argv[5]))
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=60.0,
                        help="simulated minutes over which the tasks end (default 60)")
    parser.add_argument("--speed", type=float, default=20.0,
                        help="the simulator's clock runs N times faster (default 20)")
    parser.add_argument("--every", type=float, default=5.0,
                        help="real seconds between RSS samples (default 5)")
    parser.add_argument("--seed", type=int, default=7, help="the simulator's random seed")
    parser.add_argument("--trace", action="store_true",
                        help="tracemalloc in the dashboard: what grew after the warm-up")
    parser.add_argument("--frames", type=int, default=1,
                        help="with --trace: frames kept per allocation (more is slower)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--quick", action="store_true",
                        help="a short run that proves the bench works: --tasks 50 --minutes 12 "
                             "--every 3 (about a minute; too short to judge the growth)")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.minutes, args.every = 50, 12.0, 3.0
    # Five at a time, each lasting this long: the last task ends after about --minutes.
    work_s = RUNNING_LIMIT * args.minutes * 60 / args.tasks
    args.min_work, args.max_work, args.failure_rate = 0.9 * work_s, 1.1 * work_s, 0.05

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    work = Path(tempfile.mkdtemp(prefix="pixverse-soak-"))
    print(run_header("soak_bench.py", f"{args.tasks} tasks, generations of {work_s:.0f} "
                     f"simulated s, {RUNNING_LIMIT} at a time, simulator at ×{args.speed:g}"),
          flush=True)
    samples: list[Sample] = []
    created_at: list[float] = []
    try:
        report = asyncio.run(soak(args, work, samples, created_at))
    except KeyboardInterrupt:
        report = "interrupted; every child process was stopped"
    finally:
        kill_all()
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(samples, 5.0))
    print()
    base, most, grew = growth(samples, "dash_rss")
    w_base, w_most, w_grew = growth(samples, "watch_rss")
    print(f"dashboard: {base:.1f} MB at minute {WARM_UP:g}, at most {most:.1f} MB after: "
          f"{grew:+.1f} MB")
    print(f"watch:     {w_base:.1f} MB at minute {WARM_UP:g}, at most {w_most:.1f} MB after: "
          f"{w_grew:+.1f} MB")
    if created_at:
        since = max(WARM_UP, created_at[0])
        _, _, late = growth(samples, "dash_rss", since)
        _, _, w_late = growth(samples, "watch_rss", since)
        print(f"after the last create (minute {created_at[0]:.1f}): dashboard {late:+.1f} MB, "
              f"watch {w_late:+.1f} MB")
    for who, ended in (("dashboard", "dash_ended"), ("watch", "watch_ended")):
        seen = next((s.minute for s in samples if getattr(s, ended) >= args.tasks), None)
        print(f"{who} saw the last end at minute " +
              (f"{seen:.0f}" if seen is not None else "— (not every end)"))
    if report:
        print()
        print(report)
    ok = bool(samples) and samples[-1].dash_ended >= args.tasks and grew <= GROWTH_LIMIT
    print()
    print(f"{'met   ' if ok else 'MISSED'}  after minute {WARM_UP:g} the dashboard's RSS grew "
          f"≤ {GROWTH_LIMIT:g} MB ({grew:+.1f} MB; watch {w_grew:+.1f} MB), every task ended "
          f"({samples[-1].dash_ended if samples else 0} of {args.tasks})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
