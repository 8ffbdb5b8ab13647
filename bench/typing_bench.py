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
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from harness.figures import percentile, side_by_side, until
from harness.history_db import write_jsonl as history  # the same synthetic history
from harness.product import import_history, workspace
from textual.widgets import TextArea

from tui.dashscope import GenerationRequest
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator, SimulatorConfig
from tui.ui.app import PixverseApp
from tui.ui.screens.main import MainScreen
from tui.ui.widgets.status_bar import StatusBar

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


async def run(tasks: int, rows: int) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="pixverse-typing-"))
    try:
        return await measure(home, tasks, rows)
    finally:
        shutil.rmtree(home, ignore_errors=True)  # a 100,000-row history is 140 MB


async def measure(home: Path, tasks: int, rows: int) -> dict[str, float]:
    config = SimulatorConfig(port=0, speed=SPEED, failure_rate=0.05, min_work=15,
                             max_work=40, queue_delay=(0.1, 0.1), seed=7)
    out: dict[str, float] = {}
    with Simulator(config) as sim:
        ws = workspace(home, sim.base_url, "sk-bench", SPEED)
        store = await ws.open_store()
        if rows:
            history(rows, home / "history.jsonl")
            out["import"] = await import_history(store, home / "history.jsonl")
        async with ws.client() as client:
            for i in range(tasks):
                await submit(store, client, GenerationRequest(f"task {i}"), first_poll_after=0)
                await asyncio.sleep(CREATE_PACE)
        app = PixverseApp(ws)

        def main() -> MainScreen:
            assert app.main is not None, "the main screen is not up"
            return app.main

        agreement = Agreement()
        stop = asyncio.Event()

        async def watch_figures() -> None:
            day_start = datetime.now().astimezone().replace(
                hour=0, minute=0, second=0, microsecond=0).isoformat()
            while not stop.is_set():
                counts = await store.history.counts(day_start)
                shown = main().query_one(StatusBar).figures.counts.in_flight
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
            await until(lambda: app.main is not None and
                        len(app.main.table.rows_by_id) >= min(tasks + rows, 50), 300,
                        "the first page shown", every=0.01)
            await pilot.pause(1.0)
            watchers = [asyncio.create_task(watch_figures()),
                        asyncio.create_task(another_terminal())]
            screen = app.screen
            prompt = screen.query_one("#prompt", TextArea)
            prompt.focus()
            await pilot.pause()
            painted: list[tuple[float, int]] = []  # (when, characters on screen)
            original = screen._compositor_refresh

            def record() -> None:
                original()
                painted.append((time.perf_counter(), len(prompt.text)))

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
            assert app.screen.query_one("#prompt", TextArea).text == TEXT
            final = await store.history.counts("2000-01-01T00:00:00+00:00")
        await store.close()
    latencies.sort()
    out.update({
        "median": statistics.median(latencies),
        "p95": percentile(latencies, 0.95), "worst": latencies[-1],
        "keys": len(latencies), "polls": polls - queries_before, "seconds": elapsed,
        "samples": agreement.samples, "disagreeing": agreement.disagreeing,
        "changes": agreement.changes, "longest": max(agreement.spans, default=0.0),
        "in_flight_end": final.in_flight, "total": final.total})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true",
                        help="a short run that proves the bench works: --tasks 50 --history 2000")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.history = 50, 2000
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
    print(side_by_side(rows, widths=(31, 35)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
