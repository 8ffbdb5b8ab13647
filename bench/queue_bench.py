"""The local queue on the simulator (issue 17): how long a prompt typed during a large
batch waits to run, with the queue and as it was before (everything sent at once); what
feeding the queue costs; that a feeder killed with -9 again and again loses and doubles
nothing; how good the finish estimate is.

usage: python bench/queue_bench.py [--quick] [--lines 2000] [--speed 240] [--kills 10]
                                   [--kill-lines 300] [--seed 7] [--keep]

Three runs, each on a simulator of its own (its own process, counting every answer):

1. **before** — the batch is sent at once, paced under the create limit, as
   ``submit --from`` did before the queue; ten simulated minutes later one prompt is
   sent the same way: it waits behind every task of the batch at the service.
2. **queue** — ``submit --from`` queues the batch and ``pixverse-tui watch`` (a
   process of its own) feeds it; ten simulated minutes later ``pixverse-tui submit``
   sends one prompt, which goes ahead of the batch.  The bench reads the estimate of
   the batch's finish when 25, 50 and 75 % of it has ended, and compares it with the
   real finish.
3. **kills** — a smaller batch fed by ``watch``, killed with -9 ``--kills`` times at
   spread moments (each time started again); then ``resolve`` settles what was in
   doubt and ``submit --from FILE --wait`` sends what is left.  Every line must be
   created exactly once.

Waits are said in the service's (simulated) minutes: real seconds × speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
from harness.figures import percentile, progress, run_header, side_by_side, wait_until
from harness.processes import KEY, child_env, kill, kill_all, start_child
from harness.product import workspace
from harness.simulator import SimChild

from storage import Generation, TaskStore, open_store
from storage.clock import parse_iso
from tui.dashscope import GenerationRequest
from tui.engine.submitting import batch, eta
from tui.engine.submitting.submit import send_intent

PROMPT = "typed during the batch: a heron lifting off a misty lake"
LINE = "Scene {n:05d}: a lantern drifting down a long river at dusk, slow pan"
BATCH_SIZE, DURATION = "1280*720", 5


@dataclass
class Run:
    name: str
    lines: int
    waited: float = float("nan")  # simulated seconds: the prompt, submitted → RUNNING
    generation_p95: float = float("nan")  # simulated seconds: one task, RUNNING → ended
    busy: float = float("nan")  # how full the service's five slots were over the batch
    creates: int = 0  # create requests answered 200
    sim_tasks: int = 0
    finished: int = 0
    other_requests: int = 0  # queries, lists, cancels
    real_seconds: float = 0.0
    estimates: list[tuple[int, float, float, float, float]] = field(default_factory=list)
    # (percent ended, when asked, predicted p50 finish, p90 finish, real finish): wall time
    began: float = 0.0  # wall time the batch began to be fed
    items: int = 1  # what was asked for: the lines, and the prompt typed during them
    notes: list[str] = field(default_factory=list)


def write_batch(folder: Path, lines: int) -> Path:
    source = folder / f"batch-{lines}.txt"
    source.write_text("".join(LINE.format(n=n) + "\n" for n in range(lines)))
    return source


def cli(home: Path, base_url: str, *args: str,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui", *args], env=child_env(home, base_url),
                          capture_output=True, text=True, timeout=timeout, cwd=harness.ROOT)


def generation_p95(report: dict[str, Any]) -> float:
    took = [t["ended"] - t["started"] for t in report["tasks"]
            if t["started"] is not None and t["ended"] is not None and t["status"] == "SUCCEEDED"]
    return percentile(took, 0.95)


def slots_busy(report: dict[str, Any], slots: int = 5) -> float:
    """The share of the service's slot time spent generating, first start to last end."""
    runs = [(t["started"], t["ended"]) for t in report["tasks"]
            if t["started"] is not None and t["ended"] is not None]
    if not runs:
        return float("nan")
    span = max(end for _, end in runs) - min(start for start, _ in runs)
    return sum(end - start for start, end in runs) / (slots * span) if span > 0 else 1.0


def started_at(report: dict[str, Any], task_id: str) -> float | None:
    """When a task started running, in the simulator's own (simulated) seconds."""
    task = next((t for t in report["tasks"] if t["task_id"] == task_id), None)
    return None if task is None else task["started"]


def requests_of(report: dict[str, Any]) -> tuple[int, int]:
    """(creates answered 200, queries + lists + cancels of any answer)."""
    kinds: dict[str, int] = report["kinds"]
    creates = sum(n for k, n in kinds.items() if k.startswith("create ") and k.endswith(" 200"))
    other = sum(n for k, n in kinds.items() if not k.startswith("create "))
    return creates, other


# -- 1. before: everything sent at once ------------------------------------------------------


async def before(args: argparse.Namespace, work: Path) -> Run:
    run = Run("before (sent at once)", args.lines, items=args.lines + 1)
    sim = SimChild.from_args(args, work, "before")
    started = time.monotonic()
    try:
        ws = workspace(work / "before-home", sim.base_url, KEY, args.speed)
        plan = batch.read_batch(write_batch(work, args.lines).read_text(), "batch.txt",
                                GenerationRequest("", size=BATCH_SIZE, duration=DURATION))
        async with await ws.open_store() as store, ws.client() as client:
            first = time.monotonic()
            async for step in batch.send_batch(store, client, plan, first_poll_after=3600,
                                               pace=0.25 / args.speed):
                if step.error is not None and step.stops:
                    raise RuntimeError(f"the batch stopped: {step.error}")
            progress(f"before: {args.lines} sent in {time.monotonic() - first:.1f} s real")
            await asyncio.sleep(max(0.0, first + 600 / args.speed - time.monotonic()))
            row = await store.intents.add(endpoint=client.base_url, model=plan.items[0]
                                          .request.model, prompt=PROMPT, size=BATCH_SIZE,
                                          duration=DURATION)
            typed = time.time()
            sent = await send_intent(store, client, row, GenerationRequest(PROMPT))
            task_id = sent.generation.task_id
            assert task_id is not None
            while (await client.query(task_id)).status == "PENDING":
                await asyncio.sleep(0.5)
        report = sim.report()
    finally:
        sim.close()
    begun = started_at(report, task_id)
    assert begun is not None
    run.waited = begun - sim_moment(report, typed)
    run.generation_p95 = generation_p95(report)
    run.busy = slots_busy(report)
    run.creates, run.other_requests = requests_of(report)
    run.sim_tasks = len(report["tasks"])
    run.real_seconds = time.monotonic() - started
    return run


def sim_moment(report: dict[str, Any], wall: float) -> float:
    """A wall-clock moment as the simulator's own (simulated) time."""
    start, speed = float(report["start_wall"]), float(report["speed"])
    return start + (wall - start) * speed + float(report.get("drift", 0.0))


# -- 2. the queue --------------------------------------------------------------------------


def start_watch(home: Path, base_url: str, speed: float, log: Path) -> subprocess.Popen[bytes]:
    """``pixverse-tui watch`` feeding the queue; its lines (one per task ended) are read
    and dropped, so a full pipe never stops it."""
    proc = start_child([sys.executable, "-m", "tui", "watch", "--no-download", "--signal",
                        "none", "--time-scale", f"{speed:g}"], log,
                       child_env(home, base_url), stdin=False)
    stream = proc.stdout
    assert stream is not None
    threading.Thread(target=stream.read, daemon=True).start()
    return proc


async def ended_share(store: TaskStore, ids: list[int]) -> tuple[int, list[Generation]]:
    rows = await store.generations.get_many(ids)
    return sum(1 for r in rows if r.terminal or r.display_status in (
        "REJECTED", "UNCONFIRMED", "ABANDONED")), rows


async def with_queue(args: argparse.Namespace, work: Path) -> Run:
    run = Run("queue (fed by watch)", args.lines, items=args.lines + 1)
    sim = SimChild.from_args(args, work, "queue")
    home = work / "queue-home"
    scale = ["--time-scale", f"{args.speed:g}"]
    started = time.monotonic()
    watch: subprocess.Popen[bytes] | None = None
    try:
        source = write_batch(work, args.lines)
        queued = cli(home, sim.base_url, "submit", "--from", str(source), "--yes", "--json",
                     *scale)
        if queued.returncode != 0:
            raise RuntimeError(f"submit --from failed: {queued.stderr[-500:]}")
        ids = [row["id"] for row in json.loads(queued.stdout)]
        run.notes.append(f"submit --from {args.lines} lines: queued and returned in "
                         f"{time.monotonic() - started:.1f} s real (--json, every row printed)")
        watch = start_watch(home, sim.base_url, args.speed, work / "queue-watch.err")
        first = time.monotonic()
        run.began = time.time()
        typed_at: float | None = None
        prompt_id: int | None = None
        marks = [25, 50, 75]
        async with await open_store(home / "tasks.db") as store:
            times: eta.Times | None = None
            while True:
                done, rows = await ended_share(store, ids)
                if typed_at is None and time.monotonic() >= first + 600 / args.speed:
                    typed_at = time.time()
                    sent = cli(home, sim.base_url, "submit", PROMPT, "--json", *scale)
                    if sent.returncode != 0:
                        raise RuntimeError(f"submit failed: {sent.stderr[-500:]}")
                    prompt_id = json.loads(sent.stdout)[0]["id"]
                while marks and done * 100 >= marks[0] * len(ids):
                    if times is None or len(times.samples) < 2:
                        times = await eta.account_times(store)
                    forecast = await eta.forecast(store, times=times)
                    finish = forecast.finish_of(ids)
                    asked = forecast.now.timestamp()
                    if finish is not None:
                        run.estimates.append((marks[0], asked, asked + finish.p50,
                                              asked + finish.p90, 0.0))
                    marks.pop(0)
                if done == len(ids) and prompt_id is not None:
                    prompt = await store.generations.get(prompt_id)
                    if prompt is not None and (prompt.terminal or prompt.display_status in (
                            "REJECTED", "UNCONFIRMED")):
                        break
                await asyncio.sleep(0.2)
            finish_wall = max(_ended_wall(r) or 0.0 for r in rows)
            run.estimates = [(m, asked, p50, p90, finish_wall)
                             for m, asked, p50, p90, _ in run.estimates]
            prompt = await store.generations.get(prompt_id)
            run.finished = sum(1 for r in rows if r.status == "SUCCEEDED")
            unconfirmed = sum(1 for r in rows if r.display_status == "UNCONFIRMED")
            if unconfirmed:
                run.notes.append(f"{unconfirmed} UNCONFIRMED (a create with no clear answer)")
        kill(watch)
        report = sim.report()
    finally:
        if watch is not None:
            kill(watch)
        sim.close()
    assert prompt is not None and prompt.task_id is not None and typed_at is not None
    begun = started_at(report, prompt.task_id)
    queued_at = _wall(prompt.created_at)  # queued: the command's own start-up not counted
    assert begun is not None and queued_at is not None
    run.waited = begun - sim_moment(report, queued_at)
    run.notes.append(f"`submit PROMPT` took {queued_at - typed_at:.1f} s real to queue it "
                     "(a process starting on a loaded machine), not counted in its wait")
    run.generation_p95 = generation_p95(report)
    run.busy = slots_busy(report)
    run.creates, run.other_requests = requests_of(report)
    run.sim_tasks = len(report["tasks"])
    run.real_seconds = time.monotonic() - started
    return run


def _ended_wall(row: Generation) -> float | None:
    return _wall(row.end_time)


def _wall(stamp: str | None) -> float | None:
    moment = parse_iso(stamp)
    return None if moment is None else moment.timestamp()


# -- 3. kill -9 --------------------------------------------------------------------------


async def kills(args: argparse.Namespace, work: Path) -> Run:
    run = Run(f"kills (watch killed ×{args.kills})", args.kill_lines, items=args.kill_lines)
    sim = SimChild.from_args(args, work, "kills")
    home = work / "kills-home"
    scale = ["--time-scale", f"{args.speed:g}"]
    started = time.monotonic()
    try:
        source = write_batch(work, args.kill_lines)
        queued = cli(home, sim.base_url, "submit", "--from", str(source), "--yes", *scale)
        if queued.returncode != 0:
            raise RuntimeError(f"submit --from failed: {queued.stderr[-500:]}")
        step = max(1, args.kill_lines // (args.kills + 2))
        made = 0
        for n in range(args.kills):
            watch = start_watch(home, sim.base_url, args.speed, work / f"kills-watch-{n}.err")
            target = made + step

            def far_enough(t: int = target, w: subprocess.Popen[bytes] = watch) -> bool:
                return _created(sim) >= t or w.poll() is not None

            wait_until(far_enough, 300, f"kill {n + 1}: {step} more creates", every=0.25)
            watch.send_signal(signal.SIGKILL)  # kill -9: nothing closed, nothing said
            kill(watch)
            made = _created(sim)
            progress(f"kills: {n + 1}/{args.kills}, {made} created")
        settled = cli(home, sim.base_url, "resolve", "--json")
        if settled.returncode != 0:
            raise RuntimeError(f"resolve failed: {settled.stderr[-500:]}")
        verdicts = json.loads(settled.stdout)
        for verdict in verdicts:  # nothing was created: abandon, and the next run queues it
            if verdict.get("outcome") == "none":
                cli(home, sim.base_url, "resolve", str(verdict["id"]), "--abandon")
        rest = cli(home, sim.base_url, "submit", "--from", str(source), "--yes", "--wait",
                   *scale, timeout=1800)
        run.notes.append(f"resolve settled {len(verdicts)} in doubt after the kills; "
                         f"the last `submit --from --wait` exit status {rest.returncode}")
        async with await open_store(home / "tasks.db") as store:
            rows = [r async for r in store.history.rows()]
        report = sim.report()
    finally:
        sim.close()
    run.creates, run.other_requests = requests_of(report)
    run.sim_tasks = len(report["tasks"])
    held = {r.task_id for r in rows if r.task_id}
    orphans = [t["task_id"] for t in report["tasks"] if t["task_id"] not in held]
    lines = {r.prompt for r in rows if r.task_id}
    run.finished = sum(1 for r in rows if r.status == "SUCCEEDED")
    run.notes.append(f"lost (a line with no task): {args.kill_lines - len(lines)}; "
                     f"created twice (a task no row holds): {len(orphans)}")
    run.real_seconds = time.monotonic() - started
    return run


def _created(sim: SimChild) -> int:
    return requests_of(sim.report())[0]


# -- the table -------------------------------------------------------------------------------


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds == seconds else "-"


def table(runs: list[Run]) -> str:
    rows = [["", *(r.name for r in runs)],
            ["batch lines", *(f"{r.lines:,}" for r in runs)],
            ["prompt: submitted → RUNNING", *(minutes(r.waited) for r in runs)],
            ["one generation, p95", *(minutes(r.generation_p95) for r in runs)],
            ["service slots busy", *(f"{r.busy:.0%}" if r.busy == r.busy else "-"
                                     for r in runs)],
            ["creates per item", *(f"{r.creates / r.items:.2f}" for r in runs)],
            ["tasks at the service", *(f"{r.sim_tasks:,}" for r in runs)],
            ["requests per finished task", *(f"{r.other_requests / r.finished:.2f}"
                                             if r.finished else "-" for r in runs)],
            ["real seconds", *(f"{r.real_seconds:.0f}" for r in runs)]]
    return side_by_side(rows)


def estimates(run: Run) -> str:
    """How far the p50 estimate of the batch's finish was from the real finish, as a
    share of the time that was left when it was asked (and of the whole batch's run)."""
    lines = ["the batch's finish as estimated (p50, p90) against the real finish:"]
    for mark, asked, p50, p90, real in run.estimates:
        left, whole = real - asked, real - run.began
        lines.append(f"  at {mark}% ended: p50 off by {p50 - real:+.1f} s real = "
                     f"{(p50 - real) / left * 100:+.1f}% of the time left "
                     f"({(p50 - real) / whole * 100:+.1f}% of the whole run); the real "
                     f"finish is {'within' if real <= p90 else 'after'} p90")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=2000, help="batch lines (runs 1, 2)")
    parser.add_argument("--speed", type=float, default=240.0,
                        help="simulated seconds per real second")
    parser.add_argument("--kills", type=int, default=10, help="kill -9 of the feeder (run 3)")
    parser.add_argument("--kill-lines", type=int, default=300, help="batch lines (run 3)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--min-work", type=float, default=60.0)
    parser.add_argument("--max-work", type=float, default=300.0)
    parser.add_argument("--only", choices=("before", "queue", "kills"), action="append",
                        help="run only these (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--quick", action="store_true",
                        help="a short run that proves the bench works: --lines 300 "
                             "--kill-lines 100 --kills 4 --speed 120")
    args = parser.parse_args()
    if args.quick:
        args.lines, args.kill_lines, args.kills, args.speed = 300, 100, 4, 120.0
    work = Path(tempfile.mkdtemp(prefix="pixverse-queue-"))
    print(run_header("queue_bench.py", f"simulator at ×{args.speed:g}, work folder {work}"),
          flush=True)
    runs: list[Run] = []
    wanted = args.only or ["before", "queue", "kills"]
    try:
        for name, job in (("before", before), ("queue", with_queue), ("kills", kills)):
            if name in wanted:
                progress(f"run: {name}")
                runs.append(asyncio.run(job(args, work)))
    except KeyboardInterrupt:
        print("interrupted; every child process was stopped", file=sys.stderr)
        return 130
    finally:
        kill_all()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(runs))
    for run in runs:
        print()
        print(f"{run.name}:")
        for note in run.notes:
            print(f"  {note}")
        if run.estimates:
            print("  " + estimates(run).replace("\n", "\n  "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
