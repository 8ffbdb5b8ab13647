"""Does typing stay smooth while 100 tasks are being polled?

    python bench/typing_bench.py [--tasks 100]

Starts the simulator (ten times faster, tasks that stay busy throughout), puts
N tasks in flight, opens the real dashboard headless with its poller running,
types a prompt key by key and prints how long each keystroke took to reach
the screen (median, p95, worst), and how many polls were answered meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.config import settings
from tui.config.paths import app_paths
from tui.dashscope import ApiKey, GenerationRequest
from tui.engine.submit import submit
from tui.engine.workspace import Workspace
from tui.simulator import Simulator, SimulatorConfig
from tui.ui.app import PixverseApp

SPEED = 10.0
TEXT = "A lighthouse in a storm, waves breaking over the rocks at night"


async def run(tasks: int) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="pixverse-typing-"))
    config = SimulatorConfig(port=0, speed=SPEED, failure_rate=0.0, min_work=3000,
                             max_work=3000, queue_delay=(0.1, 0.1))
    with Simulator(config) as sim:
        paths = app_paths({"PIXVERSE_TUI_HOME": str(home)})
        ws = Workspace(paths, settings.load(paths.config_file), ApiKey("sk-bench"),
                       sim.base_url, time_scale=SPEED)
        store = await ws.open_store()
        async with ws.client() as client:
            for i in range(tasks):
                await submit(store, client, GenerationRequest(f"task {i}"), first_poll_after=0)
        await store.close()
        app = PixverseApp(ws)
        async with app.run_test(size=(140, 40)) as pilot:
            while len(app.main.table.rows_by_id) < min(tasks, 50):
                await asyncio.sleep(0.01)
            screen = app.screen
            prompt = screen.query_one("#prompt")
            painted: list[tuple[float, int]] = []  # (when, characters on screen)
            original = screen._compositor_refresh

            def record() -> None:
                original()
                painted.append((time.perf_counter(), len(prompt.text)))  # type: ignore[attr-defined]

            screen._compositor_refresh = record  # type: ignore[method-assign]
            queries_before = sum(1 for _, p in sim.requests if p.startswith("/api/v1/tasks/"))
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
            elapsed = time.perf_counter() - started
            polls = sum(1 for _, p in sim.requests if p.startswith("/api/v1/tasks/"))
            assert app.screen.query_one("#prompt").text == TEXT  # type: ignore[attr-defined]
    latencies.sort()
    return {"median": statistics.median(latencies),
            "p95": latencies[int(0.95 * (len(latencies) - 1))], "worst": latencies[-1],
            "keys": len(latencies), "polls": polls - queries_before, "seconds": elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    args = parser.parse_args()
    figures = asyncio.run(run(args.tasks))
    print(f"tasks in flight                 {args.tasks}")
    print(f"keystrokes typed                {figures['keys']:.0f} in {figures['seconds']:.1f} s")
    print(f"polls answered meanwhile        {figures['polls']:.0f} "
          f"({figures['polls'] / figures['seconds']:.1f}/s)")
    print(f"keystroke → painted, median     {figures['median'] * 1000:.0f} ms")
    print(f"keystroke → painted, p95        {figures['p95'] * 1000:.0f} ms")
    print(f"keystroke → painted, worst      {figures['worst'] * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
