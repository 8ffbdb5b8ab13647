"""Starting the product: the demo's background simulator, then the front end."""

from __future__ import annotations

import asyncio
import sys

from tui.dashscope import ApiKey, GenerationRequest
from tui.simulator import Simulator, SimulatorConfig

DEMO_SPEED = 10.0  # a typical 1–5 minute task takes 6–30 s
DEMO_KEY = "sk-demo-pixverse-tui"


def start_demo_simulator() -> Simulator:
    """A simulator on a free loopback port, in a background thread."""
    return Simulator(SimulatorConfig(port=0, speed=DEMO_SPEED, failure_rate=0.08)).start()


def launch(*, demo: bool) -> int:
    if demo:
        return run_scripted_demo()
    print("pixverse-tui: run `pixverse-tui --demo` to try it, or `pixverse-tui --help`.",
          file=sys.stderr)
    return 2


DEMO_PROMPTS = [
    GenerationRequest("A red fox trotting through fresh snow at dawn, cinematic",
                      size="1280*720", duration=5, seed=7),
    GenerationRequest("一只小猫在月光下奔跑", size="720*1280", duration=5, audio=True),
    GenerationRequest("Timelapse of a city skyline from day to night", size="1024*1024",
                      duration=8),
]


def run_scripted_demo() -> int:
    """Submit, follow and download three tasks against the simulator, printing as it goes."""
    from tui.cli import render
    from tui.engine.poller import PollScheduler
    from tui.engine.submit import submit
    from tui.engine.workspace import Workspace

    async def go(sim: Simulator) -> int:
        ws = Workspace.load(demo=True, base_url=sim.base_url, key=ApiKey(DEMO_KEY))
        store = await ws.open_store()
        print(f"Demo: simulator at {sim.base_url}; data in {ws.paths.data_dir}")
        try:
            async with ws.client() as client:
                ids = set()
                for req in DEMO_PROMPTS:
                    outcome = await submit(store, client, req)
                    row = outcome.generation
                    ids.add(row.id)
                    print(f"  submitted #{row.id} {row.task_id}  {req.size}  {req.prompt[:40]}")

                def shout(row: object, changed: bool) -> None:
                    if changed:
                        r = row  # type: ignore[assignment]
                        print(f"  #{r.id} → {r.status}")  # type: ignore[attr-defined]

                poller = PollScheduler(store, client, ws.poll_settings(DEMO_SPEED),
                                       on_update=shout)
                rows = await poller.wait_for(ids)
                downloader = ws.downloader(store)
                try:
                    for row in rows:
                        if row.status == "SUCCEEDED":
                            row = await downloader.download(row)
                            print(f"  downloaded #{row.id} → {row.download_path}")
                finally:
                    await downloader.aclose()
            print()
            print(render.table(await store.list(limit=10)))
        finally:
            await store.close()
        return 0

    with start_demo_simulator() as sim:
        return asyncio.run(go(sim))
