"""Does typing stay smooth, and the status bar honest, with 1,000 tasks in flight?

    python bench/typing_bench.py [--tasks 1000] [--history 100000]

Builds a history of N finished generations (imported, as a user moving machines
would), starts the simulator (ten times faster), puts T tasks in flight — most
wait in the queue, a few run and finish every second — and opens the real
dashboard headless with its poller following them all. Meanwhile "another
terminal" submits a task every half second into the same database.

Then it types a prompt key by key and prints how long each keystroke took to
reach the screen (median, p95, worst; target p95 < 50 ms), and — sampled every
100 ms the whole time — whether the in-flight figure on the status bar equals
the store's: the longest stretch they disagreed (target ≤ 1 s) and how often.

The baseline beside the keystroke figures is the same run with an empty
history and no tasks at all: what typing costs in this app on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from history_bench import history  # noqa: E402  (the same synthetic history)

from storage import TaskStore  # noqa: E402
from tui.config import settings  # noqa: E402
from tui.config.paths import app_paths  # noqa: E402
from tui.dashscope import ApiKey, GenerationRequest  # noqa: E402
from tui.engine.history.transfer import import_jsonl  # noqa: E402
from tui.engine.submitting.submit import submit  # noqa: E402
from tui.engine.workspace import Workspace  # noqa: E402
from tui.simulator import Simulator, SimulatorConfig  # noqa: E402
from tui.ui.app import PixverseApp  # noqa: E402
from tui.ui.widgets.status_bar import StatusBar  # noqa: E402

SPEED = 10.0
CREATE_PACE = 0.025  # real seconds between creates: under the simulator's 5/s × speed
TEXT = "A lighthouse in a storm, waves breaking over the rocks at night, cinematic, slow"
SAMPLE_EVERY = 0.1


@dataclass
class Agreement:
    """The status bar's in-flight figure against the store's, sampled in time."""

    samples: int = 0
    disagreeing: int = 0
    changes: int = 0  # times the store's figure moved while we watched
    spans: list[float] = field(default_factory=list)  # seconds each disagreement lasted
    _since: float | None = None
    _last: int | None = None

    def note(self, when: float, store: int, screen: int) -> None:
        self.samples += 1
        if self._last is not None and store != self._last:
            self.changes += 1
        self._last = store
        if store != screen:
            self.disagreeing += 1
            if self._since is None:
                self._since = when
        elif self._since is not None:
            self.spans.append(when - self._since)
            self._since = None

    def close(self, when: float) -> None:
        if self._since is not None:
            self.spans.append(when - self._since)
            self._since = None


async def _history(home: Path, rows: int, store: TaskStore) -> float:
    source = home / "history.jsonl"
    history(rows, source)
    started = time.perf_counter()
    with source.open("rb") as handle:
        await import_jsonl(store, handle, source.name)
    return time.perf_counter() - started


async def run(tasks: int, rows: int) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="pixverse-typing-"))
    config = SimulatorConfig(port=0, speed=SPEED, failure_rate=0.05, min_work=15,
                             max_work=40, queue_delay=(0.1, 0.1), seed=7)
    out: dict[str, float] = {}
    with Simulator(config) as sim:
        paths = app_paths({"PIXVERSE_TUI_HOME": str(home)})
        ws = Workspace(paths, settings.load(paths.config_file), ApiKey("sk-bench"),
                       sim.base_url, time_scale=SPEED)
        store = await ws.open_store()
        if rows:
            out["import"] = await _history(home, rows, store)
        async with ws.client() as client:
            for i in range(tasks):
                await submit(store, client, GenerationRequest(f"task {i}"), first_poll_after=0)
                await asyncio.sleep(CREATE_PACE)
        app = PixverseApp(ws)
        agreement = Agreement()
        stop = asyncio.Event()

        async def watch_figures() -> None:
            day_start = datetime.now().astimezone().replace(
                hour=0, minute=0, second=0, microsecond=0).isoformat()
            while not stop.is_set():
                counts = await store.history.counts(day_start)
                shown = app.main.query_one(StatusBar).figures.counts.in_flight
                agreement.note(time.perf_counter(), counts.in_flight, shown)
                await asyncio.sleep(SAMPLE_EVERY)
            agreement.close(time.perf_counter())

        async def another_terminal() -> None:
            other = await ws.open_store()
            async with ws.client() as other_client:
                n = 0
                while not stop.is_set() and tasks:
                    n += 1
                    await submit(other, other_client, GenerationRequest(f"from elsewhere {n}"),
                                 first_poll_after=0)
                    await asyncio.sleep(0.5)
            await other.close()

        async with app.run_test(size=(140, 40)) as pilot:
            while len(app.main.table.rows_by_id) < min(tasks + rows, 50):
                await asyncio.sleep(0.01)
            await pilot.pause(1.0)
            watchers = [asyncio.create_task(watch_figures()),
                        asyncio.create_task(another_terminal())]
            screen = app.screen
            prompt = screen.query_one("#prompt")
            prompt.focus()
            await pilot.pause()
            painted: list[tuple[float, int]] = []  # (when, characters on screen)
            original = screen._compositor_refresh

            def record() -> None:
                original()
                painted.append((time.perf_counter(), len(prompt.text)))  # type: ignore[attr-defined]

            screen._compositor_refresh = record  # type: ignore[method-assign]
            queries_before = sum(1 for _, p in sim.requests if p.startswith("/api/v1/tasks"))
            started = time.perf_counter()
            latencies = []
            for typed, char in enumerate(TEXT, 1):
                t0 = time.perf_counter()
                await pilot.press(char if char != " " else "space")
                while True:  # the first frame that shows this key
                    shown = [when for when, length in painted if when >= t0 and length >= typed]
                    if shown:
                        break
                    await asyncio.sleep(0.0005)
                latencies.append(shown[0] - t0)
                await asyncio.sleep(0.05)  # a brisk typist: 20 keys a second
            await asyncio.sleep(5.0)  # the figures keep being compared a little longer
            elapsed = time.perf_counter() - started
            stop.set()
            await asyncio.gather(*watchers)
            polls = sum(1 for _, p in sim.requests if p.startswith("/api/v1/tasks"))
            assert app.screen.query_one("#prompt").text == TEXT  # type: ignore[attr-defined]
            final = await store.history.counts("2000-01-01T00:00:00+00:00")
        await store.close()
    latencies.sort()
    out.update({
        "median": statistics.median(latencies),
        "p95": latencies[int(0.95 * (len(latencies) - 1))], "worst": latencies[-1],
        "keys": len(latencies), "polls": polls - queries_before, "seconds": elapsed,
        "samples": agreement.samples, "disagreeing": agreement.disagreeing,
        "changes": agreement.changes, "longest": max(agreement.spans, default=0.0),
        "in_flight_end": final.in_flight, "total": final.total})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--history", type=int, default=100_000)
    args = parser.parse_args()
    loaded = asyncio.run(run(args.tasks, args.history))
    print("baseline: the same typing with no history and nothing in flight…", flush=True)
    empty = asyncio.run(run(0, 0))

    def ms(figures: dict[str, float], key: str) -> str:
        return f"{figures[key] * 1000:.0f} ms"

    rows = [
        ("", f"{args.tasks:,} in flight, {args.history:,} rows", "baseline: empty"),
        ("history imported in", f"{loaded.get('import', 0):.1f} s", "—"),
        ("keystrokes typed", f"{loaded['keys']:.0f} in {loaded['seconds']:.1f} s",
         f"{empty['keys']:.0f}"),
        ("polls answered meanwhile",
         f"{loaded['polls']:.0f} ({loaded['polls'] / loaded['seconds']:.1f}/s)", "0"),
        ("keystroke → painted, median", ms(loaded, "median"), ms(empty, "median")),
        ("keystroke → painted, p95", ms(loaded, "p95"), ms(empty, "p95")),
        ("keystroke → painted, worst", ms(loaded, "worst"), ms(empty, "worst")),
        ("in-flight figure moved", f"{loaded['changes']:.0f} times", "—"),
        ("status bar ≠ store, samples",
         f"{loaded['disagreeing']:.0f} of {loaded['samples']:.0f}", "—"),
        ("status bar ≠ store, longest", f"{loaded['longest']:.2f} s", "—"),
        ("rows in the store at the end",
         f"{loaded['total']:,.0f} ({loaded['in_flight_end']:,.0f} in flight)", "—"),
    ]
    for label, here, base in rows:
        print(f"{label:<30} {here:<34} {base}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
