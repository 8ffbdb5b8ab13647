"""Many processes on one database: does a lock error ever reach anyone?

    python bench/contention_bench.py [--seconds 120] [--speed 10] [--seed-tasks 100]

Phase 1, this project: the simulator in its own process and a fresh home; 100
tasks submitted to seed it; then, all at once on that one database for
--seconds: two real dashboards (``PixverseApp`` headless, each in its own
process, with its poller and its 0.25 s refresh from the store), three
``pixverse-tui wait`` processes (each on the next few tasks; when one ends
another starts on newer ones), a loop of ``pixverse-tui submit`` and a loop of
``pixverse-tui list --limit 50``.  A lock error is any stderr line of any of
them that mentions a lock (or a traceback), or a non-zero exit that names the
database.  Writes and lock waits are every process's ``SqliteStore.contention``
(this bench measures the SQLite backend's locks, so it names that backend — on
purpose, the one script outside ``storage/`` that does):
the dashboards report theirs; each command runs ``tui.cli.main.main`` (what
``python -m tui`` runs) through a small wrapper that reports the contention of
the stores it opened (``--plain-cli`` runs ``python -m tui`` itself, and then
only the dashboards are measured).  The product code is not changed.

Phase 2, the baseline: the same seven roles on a fresh database, emulated with
plain ``sqlite3`` connections used the way the store was before the fix (see
``OldStore``), at the pace and CPU load phase 1 measured, for
--baseline-seconds (default: --seconds).  The phases run one after the other,
so the whole run takes about twice --seconds, plus start-up.

Exit status 1 if this project had any lock error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contention_baseline import POLL_LATENCY, baseline_process
from harness import ROOT
from harness.figures import ms, percentile, run_header, side_by_side, wait_until
from harness.processes import child_env, children_cpu, kill
from harness.simulator import plain_simulator

if TYPE_CHECKING:
    from storage import TaskStore
    from storage.sqlite import SqliteStore


KEY = "sk-bench-contention-0123456789"
# A stderr line that mentions any of these is a lock error (case-insensitive).
LOCK_WORDS = ("locked", "database is busy", "database busy", "stayed locked", "traceback",
              "operationalerror")
WAITS_AT_ONCE = 3
MIN_SUBMIT_GAP = 0.25  # seconds between submit starts: under the service's 5 creates/s
GRACE = 20.0  # seconds a process gets to stop before it is killed


# -- children ------------------------------------------------------------------------------


@dataclass
class Child:
    role: str
    name: str
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    asked_to_stop: bool = False
    rc: int | None = None

    def text(self, which: str = "stderr") -> str:
        path = self.stderr if which == "stderr" else self.stdout
        try:
            return path.read_text(errors="replace")
        except OSError:
            return ""


class Fleet:
    """Every process this benchmark starts; ``close`` ends each one (by its id) for sure."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs = logs
        self.env = env
        self.children: list[Child] = []
        self.count = 0

    def start(self, role: str, argv: list[str]) -> Child:
        self.count += 1
        name = f"{role}-{self.count}"
        out, err = self.logs / f"{name}.out", self.logs / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=stdout, stderr=stderr, start_new_session=True)
        child = Child(role, name, proc, out, err)
        self.children.append(child)
        return child

    def running(self, role: str | None = None) -> list[Child]:
        return [c for c in self.children if c.rc is None and (role is None or c.role == role)]

    def reap(self) -> list[Child]:
        ended = []
        for child in self.running():
            rc = child.proc.poll()
            if rc is not None:
                child.rc = rc
                ended.append(child)
        return ended

    def interrupt(self, role: str) -> None:
        for child in self.running(role):
            child.asked_to_stop = True
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signal.SIGINT)

    def wait_all(self, timeout: float) -> list[Child]:
        deadline = time.monotonic() + timeout
        ended = []
        while self.running() and time.monotonic() < deadline:
            ended += self.reap()
            time.sleep(0.05)
        return ended + self.reap()

    def close(self) -> None:
        for child in self.running():
            child.asked_to_stop = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.proc.pid, signal.SIGKILL)  # its own group: start_new_session
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.rc = child.proc.wait(5)


# -- counting ------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one phase measured."""

    label: str
    seconds: float = 0.0
    at_once: int = 0
    started: int = 0
    lock_errors: list[str] = field(default_factory=list)
    other_failures: list[str] = field(default_factory=list)
    writes: int = 0
    waits: list[float] = field(default_factory=list)
    holds: list[float] = field(default_factory=list)
    busy_retries: int | None = None
    runs: dict[str, int] = field(default_factory=dict)  # finished runs per role
    notes: list[str] = field(default_factory=list)
    finished_tasks: int = 0
    cpu: dict[str, list[float]] = field(default_factory=dict)  # role: [cpu s, wall s, runs]
    children_cpu: float = 0.0  # CPU seconds used by every child process of the phase
    stalls: dict[str, list[list[float]]] = field(default_factory=dict)  # dashboard: stalls
    by_role: dict[str, Tally] = field(default_factory=dict)

    def add_contention(self, report: dict[str, Any], role: str) -> None:
        if "cpu" in report:
            used = self.cpu.setdefault(role, [0.0, 0.0, 0])
            used[0] += report["cpu"]
            used[1] += report["wall"]
            used[2] += 1
        for tally in (self, self.by_role.setdefault(role, Tally(role))):
            tally.writes += int(report["writes"])
            tally.waits += [float(w) for w in report["waits"]]
            tally.holds += [float(h) for h in report.get("holds", [])]
        if "busy_retries" in report:
            self.busy_retries = (self.busy_retries or 0) + int(report["busy_retries"])


def lock_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(w in line.lower() for w in LOCK_WORDS)]


def judge(child: Child, tally: Tally, db_name: str) -> None:
    """Count one ended process: lock errors, and failures that are not the normal kind."""
    text = child.text()
    if child.asked_to_stop and text.rstrip().endswith("KeyboardInterrupt"):
        text = text[:text.rfind("Traceback")]  # our SIGINT met it still starting up
    found = lock_lines(text)
    tally.lock_errors += [f"[{child.name}] {line}" for line in found]
    rc = child.rc or 0
    if rc == 0 or found:
        return
    lines = [line for line in text.splitlines() if line.strip()]
    if child.asked_to_stop and rc in (130, -signal.SIGINT, -signal.SIGKILL):
        return  # stopped by us at the end
    if child.role == "wait" and rc == 1 and lines and all(" FAILED: " in line for line in lines):
        return  # a task it waited for FAILED on the service: the normal outcome
    summary = f"[{child.name}] exit {rc}: {lines[-1] if lines else '(no message)'}"
    if "database" in text.lower() or db_name in text:
        tally.lock_errors.append(summary)  # a database failure that used other words
    else:
        tally.other_failures.append(summary)


# -- phase 1: this project ------------------------------------------------------------------


def run_project(args: argparse.Namespace, work: Path) -> Tally:
    tally = Tally("this project", seconds=args.seconds)
    home, logs, reports = work / "home", work / "logs", work / "reports"
    for folder in (home, logs, reports / "cli"):
        folder.mkdir(parents=True)
    cpu_before = children_cpu()
    sim, base_url = plain_simulator(args.speed, logs / "simulator.err")
    env = child_env(home, base_url, KEY)
    fleet = Fleet(logs, env)
    try:
        queue = seed(home, base_url, args.seed_tasks, args.speed)
        print(f"  seeded {len(queue)} tasks in flight; starting 2 dashboards", flush=True)
        script = str(Path(__file__).resolve())
        for n in (1, 2):
            fleet.start("dashboard", [sys.executable, script, "_dashboard", str(reports),
                                      f"dashboard-{n}", f"{args.speed:g}"])
        try:
            wait_until(lambda: bool(fleet.reap()) or all(
                (reports / f"dashboard-{n}.ready").exists() for n in (1, 2)), 90,
                "the dashboards started")
            if any(c.rc is not None for c in fleet.children):
                raise RuntimeError("a dashboard stopped")
        except RuntimeError as exc:
            raise SystemExit(f"the dashboards did not start ({exc}):\n"
                             + "\n".join(c.text()[-2000:] for c in fleet.children)) from None
        cli = [sys.executable, "-m", "tui"] if args.plain_cli else \
            [sys.executable, script, "_cli", str(reports / "cli"), "--"]
        scale = ["--time-scale", f"{args.speed:g}"]
        (reports / "go").touch()
        print(f"  running everything for {args.seconds:g} s", flush=True)
        go = time.monotonic()
        end = go + args.seconds
        prompts = 0
        last_submit = 0.0
        while time.monotonic() < end:
            for child in fleet.reap():
                judge(child, tally, "tasks.db")
                if child.role == "submit":
                    queue += _task_ids(child.text("stdout"))
                if child.role != "dashboard":
                    tally.runs[child.role] = tally.runs.get(child.role, 0) + 1
                else:
                    tally.other_failures.append(f"[{child.name}] stopped before the end "
                                                f"(exit {child.rc})")
            if sim.poll() is not None:
                raise SystemExit("the simulator stopped: " + (logs / "simulator.err").read_text())
            while len(fleet.running("wait")) < WAITS_AT_ONCE and queue:
                tasks, queue = queue[:args.wait_tasks], queue[args.wait_tasks:]
                fleet.start("wait", [*cli, "wait", *tasks, *scale])
            if not fleet.running("submit") and time.monotonic() - last_submit >= MIN_SUBMIT_GAP:
                prompts += 1
                last_submit = time.monotonic()
                fleet.start("submit", [*cli, "submit", f"contention bench prompt {prompts}",
                                       "--json", *scale])
            if not fleet.running("list"):
                fleet.start("list", [*cli, "list", "--limit", "50"])
            time.sleep(0.02)
        tally.seconds = time.monotonic() - go
        (reports / "stop").touch()
        fleet.interrupt("wait")  # submits and lists end by themselves in a moment
        for child in fleet.wait_all(GRACE):
            judge(child, tally, "tasks.db")
            if child.role in ("submit", "list") or (child.role == "wait" and
                                                    not child.asked_to_stop):
                tally.runs[child.role] = tally.runs.get(child.role, 0) + 1
        for child in fleet.running():
            tally.other_failures.append(f"[{child.name}] did not stop within {GRACE:.0f} s")
    finally:
        fleet.close()
        kill(sim)
    tally.children_cpu = children_cpu() - cpu_before
    tally.at_once = 2 + WAITS_AT_ONCE + 2
    tally.started = len(fleet.children)
    for n in (1, 2):
        path = reports / f"dashboard-{n}.json"
        if not path.exists():
            tally.other_failures.append(f"[dashboard-{n}] wrote no report (it did not end "
                                        "cleanly)")
            continue
        report = json.loads(path.read_text())
        tally.add_contention(report, "dashboard")
        tally.stalls[f"dashboard-{n}"] = report["stalls"]
        tally.notes.append(
            f"dashboard-{n}: {report['requests']} requests from its poller; "
            f"{report['refreshes']} page rereads from the store, each took p95 "
            f"{report['refresh_p95'] * 1000:.0f} ms, max {report['refresh_max'] * 1000:.0f} ms; "
            f"longest gap between two "
            f"{report['max_gap'] * 1000:.0f} ms; poller health at the end: {report['health']}")
    cli_reports = sorted((reports / "cli").glob("*.json"))
    for path in cli_reports:
        report = json.loads(path.read_text())
        tally.add_contention(report, report["command"])
    if args.plain_cli:
        tally.notes.append("--plain-cli: writes and waits are the dashboards' only")
    else:
        tally.notes.append(f"{len(cli_reports)} CLI processes reported their store.contention")
    tally.finished_tasks = _finished(home / "tasks.db")
    return tally


def _task_ids(stdout: str) -> list[str]:
    try:
        return [row["task_id"] for row in json.loads(stdout) if row.get("task_id")]
    except (ValueError, TypeError, AttributeError):
        return []


def _finished(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM generations WHERE status IN"
                                " ('SUCCEEDED','FAILED','CANCELED','UNKNOWN')").fetchone()[0])


def seed(home: Path, base_url: str, tasks: int, speed: float) -> list[str]:
    """Put tasks in flight through the engine (3 creates per simulated second)."""
    from harness.product import workspace

    from tui.dashscope import GenerationRequest
    from tui.engine.submitting.submit import submit

    async def run() -> list[str]:
        ws = workspace(home, base_url, KEY, speed)
        ids = []
        async with await ws.open_store() as store, ws.client() as client:
            for i in range(tasks):
                outcome = await submit(store, client, GenerationRequest(f"seed task {i}"),
                                       first_poll_after=ws.poll_settings().first_poll)
                if outcome.generation.task_id:
                    ids.append(outcome.generation.task_id)
                await asyncio.sleep(1 / (3 * speed))
        return ids

    return asyncio.run(run())


# -- inside a dashboard process --------------------------------------------------------------


HOLDS: list[float] = []  # this process: seconds from each BEGIN IMMEDIATE granted to COMMIT done


def time_lock_holds() -> None:
    """Also note how long each write transaction held the lock (bench-side wrapper around
    ``Database.write`` of the SQLite backend; the store's own code is unchanged)."""
    from storage.sqlite.db import Database

    original = Database.__dict__.get("write")
    if original is None:
        return

    @contextlib.asynccontextmanager
    async def timed(self: Database) -> AsyncIterator[None]:
        async with original(self):
            granted = time.monotonic()
            yield
        HOLDS.append(time.monotonic() - granted)

    Database.write = timed  # type: ignore[method-assign]



async def _watch_loop(stalls: list[tuple[float, float]]) -> None:
    """Note when and for how long this event loop could not run anything (over 2 ms)."""
    began = time.monotonic()
    while True:
        asked = time.monotonic()
        await asyncio.sleep(0.005)
        late = time.monotonic() - asked - 0.005
        if late > 0.002:
            stalls.append((round(asked + 0.005 - began, 4), round(late, 4)))


def sqlite_store(store: TaskStore | None) -> SqliteStore:
    """The store as the SQLite backend, for its ``contention`` (this process's lock waits,
    which only that backend has; documented there for this bench, which measures SQLite)."""
    from storage.sqlite import SqliteStore

    if not isinstance(store, SqliteStore):
        raise SystemExit("contention_bench measures the SQLite store; this one is "
                         f"{type(store).__name__}")
    return store


def dashboard_process(reports: Path, name: str, speed: float) -> int:
    """A real ``PixverseApp``, headless, until the ``stop`` file appears.  Counted from
    outside, by public ways in only: the requests its poller sent (``poller.requests``),
    each reread of the page from the store (``HistoryView.reread``, the Textual-free view
    model, timed), the event loop's stalls; its troubles go to stderr."""
    from harness.dashboard import log_troubles

    from storage.sqlite.db import Contention
    from tui.engine.workspace import Workspace
    from tui.ui.app import PixverseApp
    from tui.ui.view.history import HistoryView

    time_lock_holds()
    took: list[float] = []  # seconds each reread of the page took
    starts: list[float] = []  # when each began
    reread = HistoryView.reread

    async def timed(self: HistoryView, *args: Any, **kwargs: Any) -> Any:
        began = time.monotonic()
        starts.append(began)
        try:
            return await reread(self, *args, **kwargs)
        finally:
            took.append(time.monotonic() - began)

    HistoryView.reread = timed  # type: ignore[method-assign]

    async def main() -> int:
        app = PixverseApp(Workspace.load(time_scale=speed))

        async def control() -> None:
            troubles = log_troubles(app, name, clock=False)
            while app.store is None or app.poller is None or not app.is_running:
                await asyncio.sleep(0.05)
            (reports / f"{name}.ready").touch()
            while not (reports / "go").exists():
                await asyncio.sleep(0.02)
            store = sqlite_store(app.store)
            store.contention = Contention()  # count from the start of the run
            HOLDS.clear()
            took.clear()
            starts.clear()
            requests = app.poller.requests if app.poller is not None else 0
            cpu, wall = time.process_time(), time.monotonic()
            stalls: list[tuple[float, float]] = []
            watch = asyncio.create_task(_watch_loop(stalls))
            while not (reports / "stop").exists():
                await asyncio.sleep(0.05)
            watch.cancel()
            troubles.cancel()
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            c = store.contention
            poller = app.poller
            gaps = [b - a for a, b in itertools.pairwise(starts)]
            (reports / f"{name}.json").write_text(json.dumps({
                "writes": c.writes, "busy_retries": c.busy_retries, "waits": list(c.waits),
                "requests": (poller.requests - requests) if poller is not None else 0,
                "refreshes": len(took), "max_gap": max(gaps, default=0.0),
                "refresh_p95": percentile(took, 0.95), "refresh_max": max(took, default=0.0),
                "cpu": cpu, "wall": wall, "holds": HOLDS, "stalls": stalls,
                "health": poller.health.value if poller is not None else "no poller"}))
            app.exit()

        controller = asyncio.create_task(control())
        await app.run_async(headless=True, size=(160, 48))
        controller.cancel()
        return app.return_code or 0

    return asyncio.run(main())


# -- inside a CLI process ----------------------------------------------------------------------


def cli_process(reports: Path, argv: list[str]) -> int:
    """``tui.cli.main.main(argv)`` — what ``python -m tui`` runs — noting, at exit, the
    ``contention`` of every store it opened.  The product code is not changed: the
    wrapper only records which stores ``SqliteStore.open`` returned."""
    import atexit

    began = time.monotonic()
    from storage.sqlite import SqliteStore
    from tui.cli.main import main

    time_lock_holds()

    opened: list[SqliteStore] = []
    original = SqliteStore.open.__func__  # type: ignore[attr-defined]

    async def recording_open(cls: type[SqliteStore], path: Path | str) -> SqliteStore:
        store: SqliteStore = await original(cls, path)
        opened.append(store)
        return store

    SqliteStore.open = classmethod(recording_open)  # type: ignore[method-assign,assignment]

    def report() -> None:
        waits = [w for s in opened for w in s.contention.waits]
        (reports / f"{os.getpid()}.json").write_text(json.dumps({
            "command": argv[0], "writes": sum(s.contention.writes for s in opened),
            "busy_retries": sum(s.contention.busy_retries for s in opened), "waits": waits,
            "cpu": time.process_time(), "wall": time.monotonic() - began, "holds": HOLDS}))

    atexit.register(report)
    return main(argv)


# -- phase 2: the baseline (its processes run contention_baseline.py) ------------------------


def run_baseline(args: argparse.Namespace, work: Path, project: Tally) -> Tally:
    seconds = args.baseline_seconds or args.seconds
    tally = Tally("baseline", seconds=seconds)
    logs, reports = work / "baseline-logs", work / "baseline-reports"
    for folder in (logs, reports):
        folder.mkdir(parents=True)
    db = work / "baseline" / "tasks.db"
    seed_baseline(db, args.seed_tasks, args.speed)
    runs = project.runs
    gaps = {role: project.seconds / runs[role] for role in ("submit", "list") if runs.get(role)}
    cpu = project.cpu
    duty = {role: min(0.9, cpu[role][0] / cpu[role][1]) for role in ("dashboard", "wait")
            if cpu.get(role) and cpu[role][1] > 0}
    run_cpu = {role: cpu[role][0] / cpu[role][2] for role in ("submit", "list")
               if cpu.get(role)}
    stalled = sum(length for stalls in project.stalls.values() for _, length in stalls)
    stall_cpu = min(1.0, cpu["dashboard"][0] / stalled) if stalled and cpu.get("dashboard") \
        else 1.0
    params = {"db": str(db), "speed": args.speed, "counter": str(work / "baseline-next-id"),
              "wait_tasks": args.wait_tasks, "gaps": gaps, "duty": duty, "run_cpu": run_cpu,
              "stalls": project.stalls, "stall_cpu": stall_cpu,
              "rate": project.finished_tasks / max(project.seconds, 1.0),
              "work": 125.0 / args.speed}
    cpu_before = children_cpu()
    fleet = Fleet(logs, dict(os.environ))
    roles = ["dashboard", "dashboard", *["wait"] * WAITS_AT_ONCE, "submit", "list"]
    try:
        start = time.time() + 2.0
        params.update(start=start, deadline=start + seconds)
        (reports / "params.json").write_text(json.dumps(params))
        script = str(Path(__file__).resolve())
        for role in roles:
            name = f"{role}-{fleet.count + 1}"  # the name Fleet.start gives it
            fleet.start(role, [sys.executable, script, "_baseline", role, str(reports), name])
        while time.time() < start:
            time.sleep(0.01)
        (reports / "go").touch()
        print(f"  running the baseline for {seconds:g} s", flush=True)
        for child in fleet.wait_all(seconds + GRACE):
            judge(child, tally, "tasks.db")
        for child in fleet.running():
            tally.other_failures.append(f"[{child.name}] did not stop within {GRACE:.0f} s")
    finally:
        fleet.close()
    tally.children_cpu = children_cpu() - cpu_before
    tally.at_once = tally.started = len(roles)
    tally.seconds = seconds
    crashes = 0
    for child in fleet.children:
        path = reports / f"{child.name}.json"
        if not path.exists():
            tally.other_failures.append(f"[{child.name}] wrote no report")
            continue
        stats = json.loads(path.read_text())
        tally.add_contention(stats, child.role)
        crashes += stats["crashes"]
        if child.role != "dashboard":
            tally.runs[child.role] = tally.runs.get(child.role, 0) + stats["runs"]
    tally.notes.append(
        f"submits and lists paced as in phase 1; waits, dashboards: {POLL_LATENCY * 1000:.0f} ms "
        "per query, 10 queries/s per process; dashboards stall their event loop as phase 1's "
        f"did ({sum(len(v) for v in project.stalls.values())} stalls over 2 ms replayed), "
        "waits and commands burn the CPU phase 1's used")
    if crashes:
        tally.notes.append(f"the emulated dashboards died {crashes} times (a refresh met a "
                           "lock error) and were started again after 1 s")
    tally.finished_tasks = _finished(db)
    return tally


def seed_baseline(db: Path, tasks: int, speed: float) -> None:
    """Today's schema (made by the store itself) and the same number of tasks in flight."""
    from storage import open_store

    async def run() -> None:
        async with await open_store(db) as store:
            for i in range(tasks):
                row = await store.intents.add(endpoint="bench", model="pixverse/pixverse-v5.6-t2v",
                                              prompt=f"seed task {i}", size="1280*720",
                                              duration=5)
                await store.intents.mark_accepted(row.id, task_id=f"base-seed-{i}",
                                                  status="PENDING", request_id=None,
                                                  next_poll_in=3.0 / speed)

    asyncio.run(run())


# -- the report -----------------------------------------------------------------------------------


def _ms_(seconds: float) -> str:
    return ms(seconds, tenths_below=10)


def table(project: Tally, baseline: Tally | None) -> str:
    cores = os.cpu_count() or 1

    def column(t: Tally) -> list[str]:
        waits = t.waits
        runs = ", ".join(f"{t.runs.get(r, 0)} {r}" for r in ("submit", "list", "wait"))
        return [
            f"{t.seconds:.0f} s",
            f"{t.at_once} at once, {t.started} in all",
            runs,
            str(len(t.lock_errors)),
            str(len(t.other_failures)),
            f"{t.writes / t.seconds:.1f}  ({t.writes} in all)",
            f"{_ms_(percentile(waits, 0.5))} / {_ms_(percentile(waits, 0.95))} / "
            f"{_ms_(max(waits) if waits else math.nan)} ms",
            f"{_ms_(percentile(t.holds, 0.5))} / {_ms_(percentile(t.holds, 0.95))} / "
            f"{_ms_(max(t.holds) if t.holds else math.nan)} ms",
            "-" if t.busy_retries is None else str(t.busy_retries),
            str(t.finished_tasks),
            f"{t.children_cpu:.0f} s ({100 * t.children_cpu / (t.seconds * cores):.0f}% of "
            f"{cores} cores)",
        ]

    names = ["duration", "processes", "runs ended (submit/list/wait)", "lock errors",
             "other failures", "writes/s", "write wait p50/p95/max",
             "lock held p50/p95/max", "busy retries (back-off)",
             "tasks ended (in the db)", "CPU used by the processes"]
    left = column(project)
    right = column(baseline) if baseline is not None else ["(skipped)"] * len(names)
    head = ["", "this project", "baseline (raw sqlite3, old pattern)"]
    return side_by_side([head, *zip(names, left, right, strict=True)])


def breakdown(t: Tally) -> str:
    """Writes, write waits and lock holds per kind of process."""
    lines = [f"{t.label + ', by process':<31}{'writes/s':<15}{'write wait p50/p95/max':<25}"
             "lock held p50/p95/max"]
    for role in ("dashboard", "wait", "submit", "list"):
        part = t.by_role.get(role)
        if part is not None:
            spread = [f"{_ms_(percentile(v, 0.5))} / {_ms_(percentile(v, 0.95))} / "
                      f"{_ms_(max(v) if v else math.nan)} ms" for v in (part.waits, part.holds)]
            lines.append(f"  {role:<29}{part.writes / t.seconds:<15.1f}{spread[0]:<25}"
                         f"{spread[1]}")
    return "\n".join(lines)


def say(text: str, indent: str = "") -> None:
    import textwrap

    print(textwrap.fill(text, 100, initial_indent=indent, subsequent_indent=indent + "  "))


def show_problems(t: Tally) -> None:
    """Each kind of problem once, with its count and one line verbatim."""
    for title, items in (("lock errors", t.lock_errors), ("other failures", t.other_failures)):
        if not items:
            continue
        print(f"\n{t.label}: {len(items)} {title}:")
        kinds: dict[str, list[str]] = {}
        for line in items:
            name, _, text = line.partition("] ")
            role = name.strip("[").rsplit("-", 1)[0]
            kinds.setdefault(f"[{role}] {text[:60]}", []).append(f"[{role}] {text}")
        for found in sorted(kinds.values(), key=len, reverse=True)[:8]:
            print(f"  {len(found):>4} × {found[0][:300]}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_dashboard":
        return dashboard_process(Path(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
    if len(sys.argv) > 1 and sys.argv[1] == "_cli":
        return cli_process(Path(sys.argv[2]), sys.argv[4:])
    if len(sys.argv) > 1 and sys.argv[1] == "_baseline":
        return baseline_process(sys.argv[2], Path(sys.argv[3]), sys.argv[4])
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each phase")
    parser.add_argument("--speed", type=float, default=10.0,
                        help="the simulator's clock runs N times faster (the demo's 10)")
    parser.add_argument("--seed-tasks", type=int, default=100, help="tasks in flight at start")
    parser.add_argument("--wait-tasks", type=int, default=3, help="tasks per `wait`")
    parser.add_argument("--baseline-seconds", type=float, default=None,
                        help="length of the baseline phase (default: --seconds)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--plain-cli", action="store_true",
                        help="run `python -m tui` itself (then CLI writes are not measured)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--quick", action="store_true",
                        help="a short run that proves the bench works: --seconds 20 "
                             "--seed-tasks 20 (about a minute)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.seed_tasks = 20.0, 20

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with `&`
    work = Path(tempfile.mkdtemp(prefix="pixverse-contention-"))
    print(run_header("contention_bench.py", f"simulator at ×{args.speed:g}, work folder {work}"),
          flush=True)
    try:
        print("phase 1: this project", flush=True)
        project = run_project(args, work)
        baseline = None
        if not args.no_baseline:
            print("phase 2: baseline", flush=True)
            baseline = run_baseline(args, work, project)
    except KeyboardInterrupt:
        print("interrupted; every child process was stopped", file=sys.stderr)
        return 130
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(project, baseline))
    print()
    for t in (project, baseline):
        if t is not None:
            print(breakdown(t))
    print()
    say("this project: 2 real dashboards (PixverseApp, headless) + 3 `pixverse-tui wait` + a "
        "`submit` loop + a `list --limit 50` loop, on the simulator. writes/s: commits of "
        "every process (SqliteStore.contention); write wait: BEGIN IMMEDIATE asked → granted; "
        "lock held: granted → COMMIT done.")
    for note in project.notes:
        say(note, "  ")
    if baseline is not None:
        say("baseline: the same 7 roles as plain sqlite3 processes using the store's old "
            "pattern (WAL, busy_timeout 15000 ms, BEGIN IMMEDIATE for writes, reads iterated "
            "row by row on the connection the process also writes on, no retry), against a "
            "stand-in service, at the pace and CPU load phase 1 measured; timed the same way.")
        for note in baseline.notes:
            say(note, "  ")
    show_problems(project)
    if baseline is not None:
        show_problems(baseline)
    return 1 if project.lock_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
