"""Make docs/dashboard.svg: the real dashboard, live, on the bundled simulator.

    python docs/tools/screenshot.py [--out docs/dashboard.svg] [--size 160x46]

Submits a few prompts and a ×6 batch to the simulator (twenty times faster),
folds the batch, lets the real dashboard follow them with its poller and download what
succeeds, highlights a saved video (its frames in the detail pane) and saves
what the terminal shows as SVG.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tui.config import settings  # noqa: E402
from tui.config.paths import app_paths  # noqa: E402
from tui.dashscope import ApiKey, GenerationRequest  # noqa: E402
from tui.engine.submitting.submit import submit, submit_all  # noqa: E402
from tui.engine.workspace import Workspace  # noqa: E402
from tui.simulator import Simulator, SimulatorConfig  # noqa: E402
from tui.ui.app import PixverseApp  # noqa: E402
from tui.ui.widgets.task_table import TaskTable  # noqa: E402

SPEED = 20.0
PROMPTS = [
    ("A red fox trotting through fresh snow at dawn, cinematic", "1280*720", 5, False),
    ("一只小猫在月光下奔跑", "720*1280", 5, True),
    ("Timelapse of a city skyline from day to night, neon reflections", "1920*1080", 8, False),
    ("Waves crashing on black volcanic sand, slow motion", "1280*720", 5, True),
    ("An astronaut tending a greenhouse on Mars, warm light", "1024*1024", 5, False),
    ("A hummingbird hovering over a red flower, macro", "640*360", 5, False),
    ("Lanterns rising over a river at night, festival crowd", "1280*720", 5, False),
    ("A steam train crossing a stone viaduct in autumn", "1920*1080", 5, True),
    ("Desert dunes at sunrise, drone shot, long shadows", "1280*720", 8, False),
]
BATCH = "A paper boat drifting down a rainy street, reflections, close-up"


async def shoot(out: Path, size: tuple[int, int]) -> None:
    home = Path(tempfile.mkdtemp(prefix="pixverse-shot-"))
    (home / "config.toml").write_text("[downloads]\nauto = true\n", encoding="utf-8")
    config = SimulatorConfig(port=0, speed=SPEED, failure_rate=0.0, seed=11,
                             min_work=40, max_work=160)
    with Simulator(config) as sim:
        paths = app_paths({"PIXVERSE_TUI_HOME": str(home)})
        ws = Workspace(paths, settings.load(paths.config_file), ApiKey("sk-screenshot"),
                       sim.base_url, demo=True, time_scale=SPEED)
        store = await ws.open_store()
        async with ws.client() as client:
            for prompt, shape, seconds, audio in PROMPTS:
                await submit(store, client, GenerationRequest(
                    prompt, size=shape, duration=seconds, audio=audio), first_poll_after=0)
                await asyncio.sleep(0.05)
            batch = [GenerationRequest(BATCH, size="1280*720", seed=4200 + n) for n in range(6)]
            async for _ in submit_all(store, client, batch, first_poll_after=0, pace=0.05):
                pass
        app = PixverseApp(ws)
        async with app.run_test(size=size) as pilot:
            assert app.main is not None
            table = app.main.query_one(TaskTable)

            def saved() -> list[int]:
                return [r.id for r in table.rows_by_id.values() if r.download_state == "done"]

            for _ in range(1200):  # a few finished and saved, the rest still going
                if len(saved()) >= 3:
                    break
                await pilot.pause(0.1)
            prompt = app.main.query_one("#prompt")
            prompt.load_text("A lighthouse in a storm, waves breaking over the rocks")  # type: ignore[attr-defined]
            table.focus()
            rows = table.rows_in_order
            batch_row = next((n for n, r in enumerate(rows) if r.batch_id), None)
            if batch_row is not None:
                table.move_cursor(row=batch_row)
                await pilot.press("z")  # the batch as one row with its progress
                await pilot.pause(0.5)
            rows = table.rows_in_order
            done = [n for n, r in enumerate(rows)
                    if r.download_state == "done" and not r.batch_id]
            if done:
                table.move_cursor(row=done[0])
            await pilot.pause(3.0)  # the frames decode in a thread
            prompt.focus()  # the composer unfolds
            await pilot.pause(0.5)
            app.save_screenshot(filename=out.name, path=str(out.parent))
        await store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.svg")
    parser.add_argument("--size", default="200x50")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    asyncio.run(shoot(args.out, (width, height)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
