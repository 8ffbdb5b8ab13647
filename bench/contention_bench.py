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
(this bench measures the SQLite backend's locks, so it names that backend):
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
import fcntl
import json
import math
import os
import resource
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

T = TypeVar("T")

KEY = "sk-bench-contention-0123456789"
# A stderr line that mentions any of these is a lock error (case-insensitive).
LOCK_WORDS = ("locked", "database is busy", "database busy", "stayed locked", "traceback",
              "operationalerror")
WAITS_AT_ONCE = 3
MIN_SUBMIT_GAP = 0.25  # seconds between submit starts: under the service's 5 creates/s
POLL_LATENCY = 0.004  # the baseline's stand-in for one query to the service on loopback
GRACE = 20.0  # seconds a process gets to stop before it is killed


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")  # storage.clock's format


def _iso_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


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


def start_simulator(speed: float, logs: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``pixverse-tui simulate --port 0`` in its own process; its base URL from line one."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "simulate", "--port", "0", "--speed", f"{speed:g}"],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=(logs / "simulator.err").open("wb"), start_new_session=True)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline().decode() if ready else ""
    if "listening on http://" not in line:
        proc.kill()
        raise SystemExit(f"the simulator did not start: {line!r}")
    stream = proc.stdout
    threading.Thread(target=lambda: stream.read(), daemon=True).start()  # never let it block
    return proc, line.split(" on ", 1)[1].split()[0]


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] if ordered else math.nan


# -- phase 1: this project ------------------------------------------------------------------


def run_project(args: argparse.Namespace, work: Path) -> Tally:
    tally = Tally("this project", seconds=args.seconds)
    home, logs, reports = work / "home", work / "logs", work / "reports"
    for folder in (home, logs, reports / "cli"):
        folder.mkdir(parents=True)
    cpu_before = _children_cpu()
    sim, base_url = start_simulator(args.speed, logs)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "PIXVERSE_"))}
    env.update(PIXVERSE_TUI_HOME=str(home), DASHSCOPE_HTTP_BASE_URL=base_url,
               DASHSCOPE_API_KEY=KEY, PYTHONPATH=str(ROOT), NO_COLOR="1")
    fleet = Fleet(logs, env)
    try:
        queue = seed(env, args.seed_tasks, args.speed)
        print(f"  seeded {len(queue)} tasks in flight; starting 2 dashboards", flush=True)
        script = str(Path(__file__).resolve())
        for n in (1, 2):
            fleet.start("dashboard", [sys.executable, script, "_dashboard", str(reports),
                                      f"dashboard-{n}", f"{args.speed:g}"])
        deadline = time.monotonic() + 90
        while not all((reports / f"dashboard-{n}.ready").exists() for n in (1, 2)):
            if time.monotonic() > deadline or fleet.reap():
                raise SystemExit("the dashboards did not start:\n"
                                 + "\n".join(c.text()[-2000:] for c in fleet.children))
            time.sleep(0.05)
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
        stop_process(sim)
    tally.children_cpu = _children_cpu() - cpu_before
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
            f"dashboard-{n}: {report['polls']} polls answered; {report['refreshes']} refreshes "
            f"from the store, each took p95 {report['refresh_p95'] * 1000:.0f} ms, max "
            f"{report['refresh_max'] * 1000:.0f} ms; longest gap between two "
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


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _task_ids(stdout: str) -> list[str]:
    try:
        return [row["task_id"] for row in json.loads(stdout) if row.get("task_id")]
    except (ValueError, TypeError, AttributeError):
        return []


def _finished(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM generations WHERE status IN"
                                " ('SUCCEEDED','FAILED','CANCELED','UNKNOWN')").fetchone()[0])


def seed(env: dict[str, str], tasks: int, speed: float) -> list[str]:
    """Put tasks in flight through the engine (3 creates per simulated second)."""
    from tui.dashscope import ApiKey, GenerationRequest
    from tui.engine.submitting.submit import submit
    from tui.engine.workspace import Workspace

    async def run() -> list[str]:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            ws = Workspace.load(key=ApiKey(KEY), time_scale=speed)
        finally:
            os.environ.clear()
            os.environ.update(saved)
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


def dashboard_process(reports: Path, name: str, speed: float) -> int:
    """A real ``PixverseApp``, headless, until the ``stop`` file appears."""
    from storage.sqlite.db import Contention
    from tui.engine.workspace import Workspace
    from tui.ui.app import PixverseApp

    time_lock_holds()

    class BenchApp(PixverseApp):
        """The dashboard, plus counters; notifications and poller trouble go to stderr."""

        CSS_PATH = str(Path(sys.modules[PixverseApp.__module__].__file__ or "").parent
                       / str(PixverseApp.CSS_PATH))
        polls = 0
        refreshes = 0
        max_gap = 0.0
        last_refresh: float | None = None
        took: ClassVar[list[float]] = []  # seconds each refresh from the store took

        def notify(self, message: str, *args: Any, **kwargs: Any) -> None:
            severity = kwargs.get("severity", "information")
            if severity in ("warning", "error"):
                print(f"{name} notification ({severity}): {kwargs.get('title', '')}: "
                      f"{message}", file=sys.stderr, flush=True)
            super().notify(message, *args, **kwargs)

        def on_poller_health_changed(self, message: Any) -> None:
            if message.health != "ok":
                print(f"{name} poller health: {message.health} — {message.detail}",
                      file=sys.stderr, flush=True)
            super().on_poller_health_changed(message)

        def _polled(self, row: Any, changed: bool) -> None:
            self.polls += 1
            super()._polled(row, changed)

        async def _refresh_from_store(self) -> None:
            now = time.monotonic()
            if self.last_refresh is not None:
                self.max_gap = max(self.max_gap, now - self.last_refresh)
            self.last_refresh = now
            self.refreshes += 1
            await super()._refresh_from_store()
            self.took.append(time.monotonic() - now)

    async def main() -> int:
        app = BenchApp(Workspace.load(time_scale=speed))

        async def control() -> None:
            while app.store is None or not app.is_running:
                await asyncio.sleep(0.05)
            (reports / f"{name}.ready").touch()
            while not (reports / "go").exists():
                await asyncio.sleep(0.02)
            app.store.contention = Contention()  # count from the start of the run
            HOLDS.clear()
            app.polls = app.refreshes = 0
            app.max_gap, app.last_refresh = 0.0, None
            app.took.clear()
            cpu, wall = time.process_time(), time.monotonic()
            stalls: list[tuple[float, float]] = []
            watch = asyncio.create_task(_watch_loop(stalls))
            while not (reports / "stop").exists():
                await asyncio.sleep(0.05)
            watch.cancel()
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            c = app.store.contention
            poller = app.poller
            (reports / f"{name}.json").write_text(json.dumps({
                "writes": c.writes, "busy_retries": c.busy_retries, "waits": list(c.waits),
                "polls": app.polls, "refreshes": app.refreshes, "max_gap": app.max_gap,
                "refresh_p95": percentile(app.took, 0.95), "refresh_max": max(app.took),
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


# -- phase 2: the baseline ----------------------------------------------------------------------


class OldStore:
    """The store's access pattern before the fix, on one plain ``sqlite3`` connection.

    Like the old aiosqlite store: one thread owns the connection and every call is a
    hop to it; WAL, ``busy_timeout`` 15000 ms, ``BEGIN IMMEDIATE`` for each
    read-modify-write, and reads iterated one row per hop (aiosqlite's ``async for``
    over a cursor, arraysize 1), so a read stays open while the process's other
    coroutines write on the same connection.  Opening took the write lock (the old
    migration check) and swept interrupted sends.
    """

    def __init__(self, path: str, stats: dict[str, Any]) -> None:
        self.path = path
        self.stats = stats
        self._thread = ThreadPoolExecutor(1)
        self._lock = asyncio.Lock()
        self.db: sqlite3.Connection | None = None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def open(self) -> OldStore:
        self.db = await self._call(lambda: sqlite3.connect(
            self.path, timeout=15.0, isolation_level=None, check_same_thread=False))
        self.db.row_factory = sqlite3.Row
        for pragma in ("PRAGMA busy_timeout = 15000", "PRAGMA journal_mode = WAL",
                       "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"):
            await self._exec(pragma)
        async with self.write():
            await self.rows("PRAGMA user_version")
        await self.rows("SELECT * FROM generations WHERE submission = 'sending'")
        return self

    async def close(self) -> None:
        if self.db is not None:
            await self._call(self.db.close)
        self._thread.shutdown(wait=False)

    async def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        assert self.db is not None
        return await self._call(self.db.execute, sql, params)

    async def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        cursor = await self._exec(sql, params)
        found = []
        try:
            while (row := await self._call(cursor.fetchone)) is not None:
                found.append(row)
        finally:
            await self._call(cursor.close)
        return found

    async def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        cursor = await self._exec(sql, params)
        try:
            row = await self._call(cursor.fetchone)
        finally:
            await self._call(cursor.close)
        return None if row is None else row[0]

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        async with self._lock:
            asked = time.monotonic()
            try:
                await self._exec("BEGIN IMMEDIATE")
                granted = time.monotonic()
                self.stats["waits"].append(granted - asked)
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.OperationalError):
                    await self._exec("ROLLBACK")
                raise
            await self._exec("COMMIT")
            self.stats["holds"].append(time.monotonic() - granted)
            self.stats["writes"] += 1

    # the statements the old store ran, in the same shape

    async def get(self, row_id: int) -> sqlite3.Row | None:
        found = await self.rows("SELECT * FROM generations WHERE id = ?", (row_id,))
        return found[0] if found else None

    async def get_many(self, ids: list[int]) -> list[sqlite3.Row]:
        marks = ", ".join("?" for _ in ids)
        return await self.rows(f"SELECT * FROM generations WHERE id IN ({marks}) ORDER BY id",
                               tuple(ids))

    async def claim_due(self, owner: str, limit: int) -> list[sqlite3.Row]:
        now = _now_iso()
        async with self.write():
            due = await self.rows(
                "SELECT * FROM generations WHERE next_poll_at IS NOT NULL"
                " AND task_id IS NOT NULL AND forgotten_at IS NULL"
                " AND (status IS NULL OR status NOT IN ('SUCCEEDED','FAILED','CANCELED','UNKNOWN'))"
                " AND next_poll_at <= ? AND (lease_until IS NULL OR lease_until < ?"
                " OR lease_owner = ?) ORDER BY next_poll_at LIMIT ?", (now, now, owner, limit))
            until = _iso_in(30)
            for row in due:
                await self._exec("UPDATE generations SET lease_owner = ?, lease_until = ?"
                                 " WHERE id = ?", (owner, until, row["id"]))
        return due

    async def apply(self, row_id: int, status: str, next_in: float) -> sqlite3.Row | None:
        async with self.write():
            current = await self.get(row_id)
            assert current is not None
            old = current["status"]
            rank = {"PENDING": 1, "RUNNING": 2}
            changed = old is None or (old not in ("SUCCEEDED", "FAILED") and
                                      rank.get(status, 3) > rank.get(old, 3))
            final = (status if changed else old) in ("SUCCEEDED", "FAILED")
            now = _now_iso()
            await self._exec(
                "UPDATE generations SET polls = ?, poll_failures = 0, last_polled_at = ?,"
                " lease_owner = NULL, lease_until = NULL, status = ?, next_poll_at = ?,"
                " updated_at = ? WHERE id = ?",
                (current["polls"] + 1, now, status if changed else old,
                 None if final else _iso_in(next_in), now, row_id))
            if changed:
                await self._exec("INSERT INTO status_events (generation_id, at, status)"
                                 " VALUES (?, ?, ?)", (row_id, now, status))
        return await self.get(row_id)

    async def add_intent(self, prompt: str) -> int:
        now = _now_iso()
        async with self.write():
            cursor = await self._exec(
                "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
                " audio, watermark, submission, sending_since, lease_owner, updated_at)"
                " VALUES (?, 'bench', 'pixverse/pixverse-v5.6-t2v', ?, '1280*720', 5, 0, 0,"
                " 'sending', ?, ?, ?)", (now, prompt, now, f"bench:{os.getpid()}", now))
            row_id = int(cursor.lastrowid or 0)
            await self._exec("INSERT INTO status_events (generation_id, at, status)"
                             " VALUES (?, ?, 'SUBMITTING')", (row_id, now))
        await self.get(row_id)
        return row_id

    async def mark_accepted(self, row_id: int, task_id: str, first_poll: float) -> None:
        now = _now_iso()
        async with self.write():
            await self._exec(
                "UPDATE generations SET submission = 'accepted', task_id = ?,"
                " status = 'PENDING', lease_owner = NULL, sending_since = NULL,"
                " next_poll_at = ?, updated_at = ? WHERE id = ?",
                (task_id, _iso_in(first_poll), now, row_id))
            await self._exec("INSERT INTO status_events (generation_id, at, status, detail)"
                             " VALUES (?, ?, 'PENDING', ?)", (row_id, now, task_id))
        await self.get(row_id)


class FakeService:
    """The baseline's stand-in for the simulator: first in, first out, at the rate at
    which tasks ended in phase 1, each spending ``work`` seconds RUNNING."""

    def __init__(self, start: float, rate: float, work: float) -> None:
        self.start, self.rate, self.work = start, max(rate, 0.05), work

    def status(self, row: sqlite3.Row) -> tuple[str, float]:
        """The task's status now, and when it is worth asking again."""
        created = datetime.fromisoformat(row["created_at"]).timestamp()
        done = max(self.start + row["id"] / self.rate, created + self.work)
        now = time.time()
        if now >= done:
            return ("FAILED" if zlib.crc32(str(row["id"]).encode()) % 20 == 0
                    else "SUCCEEDED"), 0.0
        if now >= done - self.work:
            return "RUNNING", (done - now) / 2
        return "PENDING", 0.0


class Bucket:
    def __init__(self, rate: float) -> None:
        self.rate, self.tokens, self.stamp = rate, rate, time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class OldPoller:
    """The poll scheduler's database work: claim due rows, ask, store each answer."""

    def __init__(self, store: OldStore, service: FakeService, speed: float) -> None:
        self.store, self.service = store, service
        self.lo, self.hi = 3.0 / speed, 30.0 / speed
        self.owner = f"bench:{os.getpid()}:{id(self):x}"
        self.bucket = Bucket(10.0)

    async def round(self) -> None:
        rows = await self.store.claim_due(self.owner, 32)
        gate = asyncio.Semaphore(8)

        async def one(row: sqlite3.Row) -> None:
            async with gate:
                await self.bucket.take()
                await asyncio.sleep(POLL_LATENCY)
                status, later = self.service.status(row)
                await self.store.apply(row["id"], status, max(self.lo, min(self.hi, later)))

        await asyncio.gather(*(one(row) for row in rows))

    async def sleep_until_due(self) -> None:
        due = await self.store.scalar(
            "SELECT MIN(next_poll_at) FROM generations WHERE next_poll_at IS NOT NULL"
            " AND task_id IS NOT NULL AND forgotten_at IS NULL"
            " AND (status IS NULL OR status NOT IN ('SUCCEEDED','FAILED','CANCELED','UNKNOWN'))")
        wait = self.hi
        if due is not None:
            wait = min(wait, (datetime.fromisoformat(due) - datetime.now(UTC)).total_seconds())
        await asyncio.sleep(max(0.05, wait))

    async def run(self) -> None:
        while True:
            await self.round()
            await self.sleep_until_due()


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


async def _replay(stalls: list[list[float]], share: float) -> None:
    """Stall this event loop as often and as long as a phase-1 dashboard's stalled (the same
    gaps between stalls): ``share`` of each stall on the CPU, the rest asleep (the real one
    was partly waiting for a core)."""
    while stalls:
        ended = 0.0
        for at, length in stalls:
            await asyncio.sleep(max(0.0, at - ended))
            _spin(length * share)
            time.sleep(length * (1 - share))
            ended = at + length


async def _busy(duty: float) -> None:
    """Keep this event loop as busy as its counterpart's was in phase 1 (a dashboard's
    screen updates, a wait's HTTP and JSON work): CPU in 5 ms slices, blocking the loop."""
    while duty > 0:
        _spin(0.005)
        await asyncio.sleep(0.005 * (1 - duty) / duty)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _bug(exc: BaseException) -> None:
    """What the old CLI printed for a driver error it did not expect."""
    _say(f"pixverse-tui: unexpected {type(exc).__name__}: {exc} — this is a bug; "
         "PIXVERSE_TUI_DEBUG=1 shows where it happened")


@contextlib.contextmanager
def _claim(counter: Path) -> Iterator[Any]:
    with counter.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield handle


def _next_ids(counter: Path, n: int) -> list[int]:
    with _claim(counter) as handle:
        handle.seek(0)
        first = int(handle.read() or "1")
        handle.seek(0)
        handle.truncate()
        handle.write(str(first + n))
    return list(range(first, first + n))


async def baseline_role(role: str, name: str, p: dict[str, Any],
                        stats: dict[str, Any]) -> None:
    """One of the 7 baseline processes, doing what that process did, until cancelled."""
    service = FakeService(p["start"], p["rate"], p["work"])
    db, speed = p["db"], p["speed"]
    if role == "dashboard" and p["stalls"].get(name):
        stats["burner"] = asyncio.create_task(_replay(p["stalls"][name], p["stall_cpu"]))
    elif role in p["duty"]:
        stats["burner"] = asyncio.create_task(_busy(p["duty"][role]))
    if role == "dashboard":
        while True:  # a dashboard whose refresh failed died; the user starts it again
            store = OldStore(db, stats)
            try:
                await store.open()
                await old_dashboard(store, service, speed, stats)
            except sqlite3.OperationalError as exc:
                _say(f"Traceback (most recent call last): … sqlite3.OperationalError: {exc} "
                     "(the dashboard's refresh from the store; the dashboard exits)")
                stats["crashes"] += 1
            finally:
                await store.close()
            await asyncio.sleep(1.0)
    while True:  # wait, submit, list: one CLI process after another
        started = time.monotonic()
        _spin(p["run_cpu"].get(role, 0.0))  # the CPU the real command used (start-up mostly)
        store = OldStore(db, stats)
        try:
            await store.open()
            if role == "wait":
                await old_wait(store, service, speed, Path(p["counter"]), p["wait_tasks"])
            elif role == "submit":
                stats["prompts"] += 1
                row_id = await store.add_intent(f"baseline prompt {stats['prompts']}")
                await asyncio.sleep(POLL_LATENCY * 3)  # the create request
                await store.mark_accepted(row_id, f"base-{os.getpid()}-{row_id}", 3.0 / speed)
            else:
                await store.rows("SELECT * FROM generations INDEXED BY generations_created"
                                 " ORDER BY created_at DESC LIMIT 50")
        except sqlite3.OperationalError as exc:
            _bug(exc)
        finally:
            await store.close()
        stats["runs"] += 1
        gap = p["gaps"].get(role, 0.0)  # the pace the real CLI kept in phase 1
        await asyncio.sleep(max(0.0, gap - (time.monotonic() - started)))


async def old_dashboard(store: OldStore, service: FakeService, speed: float,
                        stats: dict[str, Any]) -> None:
    stamp = _now_iso()
    await store.scalar("SELECT COUNT(*) FROM generations WHERE forgotten_at IS NULL")
    await store.rows("SELECT * FROM generations INDEXED BY generations_created"
                     " WHERE forgotten_at IS NULL ORDER BY created_at DESC LIMIT 50")

    async def poller_forever() -> None:
        while True:
            try:
                await OldPoller(store, service, speed).run()
            except sqlite3.OperationalError as exc:  # the old app: notify, restart in 2 s
                _say(f"notification (error): Background work: poller failed: {exc}")
                await asyncio.sleep(2.0)

    poller = asyncio.create_task(poller_forever())
    try:
        while True:
            await asyncio.sleep(0.25)
            rows = await store.rows("SELECT * FROM generations WHERE updated_at >= ?"
                                    " ORDER BY updated_at", (stamp,))
            await store.rows("SELECT id FROM generations WHERE forgotten_at >= ?", (stamp,))
            if rows:
                stamp = max(r["updated_at"] for r in rows)
                ids = [r["id"] for r in rows]
                await store.rows("SELECT id FROM generations WHERE forgotten_at IS NULL AND id"
                                 f" IN ({', '.join('?' for _ in ids)})", tuple(ids))
            stats["refreshes"] += 1
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError, sqlite3.Error):
            await poller


async def old_wait(store: OldStore, service: FakeService, speed: float, counter: Path,
                   n: int) -> None:
    ids = _next_ids(counter, n)
    while None in [await store.get(i) for i in ids]:  # `find_one` for each; not submitted yet
        await asyncio.sleep(0.2)
    poller = OldPoller(store, service, speed)
    while True:
        rows = await store.get_many(ids)
        if all(r["next_poll_at"] is None or r["status"] in ("SUCCEEDED", "FAILED")
               for r in rows):
            return
        await poller.round()
        await poller.sleep_until_due()


def baseline_process(role: str, reports: Path, name: str) -> int:
    p = json.loads((reports / "params.json").read_text())
    stats: dict[str, Any] = {"writes": 0, "waits": [], "holds": [], "runs": 0, "crashes": 0,
                             "refreshes": 0, "prompts": 0}

    async def main() -> None:
        def quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            if not isinstance(context.get("exception"), sqlite3.Error):
                loop.default_exception_handler(context)  # the failure was reported already

        asyncio.get_running_loop().set_exception_handler(quiet)
        while not (reports / "go").exists():
            await asyncio.sleep(0.01)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(baseline_role(role, name, p, stats),
                                   timeout=p["deadline"] - time.time())

    asyncio.run(main())
    stats.pop("burner", None)
    (reports / f"{name}.json").write_text(json.dumps(stats))
    sys.stderr.flush()
    os._exit(0)  # a connection thread may still sit in a busy wait; it goes with us


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
    cpu_before = _children_cpu()
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
    tally.children_cpu = _children_cpu() - cpu_before
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


def _ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    ms = seconds * 1000
    return f"{ms:.1f}" if ms < 10 else f"{ms:.0f}"


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
            f"{_ms(percentile(waits, 0.5))} / {_ms(percentile(waits, 0.95))} / "
            f"{_ms(max(waits) if waits else math.nan)} ms",
            f"{_ms(percentile(t.holds, 0.5))} / {_ms(percentile(t.holds, 0.95))} / "
            f"{_ms(max(t.holds) if t.holds else math.nan)} ms",
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
    width0 = max(len(n) for n in names) + 2
    width1 = max(len(v) for v in [*left, head[1]]) + 3
    lines = [f"{head[0]:<{width0}}{head[1]:<{width1}}{head[2]}"]
    lines += [f"{n:<{width0}}{a:<{width1}}{b}" for n, a, b in zip(names, left, right, strict=True)]
    return "\n".join(lines)


def breakdown(t: Tally) -> str:
    """Writes, write waits and lock holds per kind of process."""
    lines = [f"{t.label + ', by process':<31}{'writes/s':<15}{'write wait p50/p95/max':<25}"
             "lock held p50/p95/max"]
    for role in ("dashboard", "wait", "submit", "list"):
        part = t.by_role.get(role)
        if part is not None:
            spread = [f"{_ms(percentile(v, 0.5))} / {_ms(percentile(v, 0.95))} / "
                      f"{_ms(max(v) if v else math.nan)} ms" for v in (part.waits, part.holds)]
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
    args = parser.parse_args()

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with `&`
    work = Path(tempfile.mkdtemp(prefix="pixverse-contention-"))
    command = "python bench/contention_bench.py " + " ".join(sys.argv[1:])
    print(f"{command}\n{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {os.cpu_count()} cores,"
          f" simulator at ×{args.speed:g}, work folder {work}", flush=True)
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
