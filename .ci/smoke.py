"""Smoke test of an installed pixverse-tui: the dependencies it was installed with work.

Run by ``.ci/run`` in an environment holding the *declared minimum* version of
every dependency (``.ci/floors.py``), so the floors in pyproject.toml are
proven, not guessed.  The dashboard starts headless on the simulator, every
bundled theme is applied, one prompt is typed and submitted and followed until
it succeeds, its video is downloaded (with the provenance remux), previewed
(decoded, drawn as a picture), and the app quits, remembering its state.  It
exercises textual, rich, httpx, aiosqlite, av, Pillow, textual-image, platformdirs and
tomli-w.

    python .ci/smoke.py        # prints the versions it ran with, then "smoke test passed"
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path

DEPENDENCIES = ("textual", "rich", "httpx", "aiosqlite", "tomli-w", "av", "Pillow",
                "textual-image", "platformdirs")
DEADLINE = 90.0  # seconds for each step, on a loaded machine


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"smoke test failed: timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def smoke(home: Path) -> None:
    from textual.widgets import TextArea

    from tui.dashscope import ApiKey
    from tui.engine.media import preview, provenance
    from tui.engine.workspace import Workspace
    from tui.launch import DEMO_KEY
    from tui.simulator import Simulator, SimulatorConfig
    from tui.ui import graphics
    from tui.ui.app import PixverseApp
    from tui.ui.themes import load_themes

    speed = 600.0  # a two-minute task takes a fifth of a second
    with Simulator(SimulatorConfig(port=0, speed=speed, failure_rate=0.0)) as sim:
        ws = Workspace.load(demo=True, base_url=sim.base_url, key=ApiKey(DEMO_KEY),
                            time_scale=speed)
        app = PixverseApp(ws)
        async with app.run_test(size=(120, 40)) as pilot:
            async def opened() -> bool:
                await pilot.pause()
                return app.store is not None and app.downloader is not None
            await until(opened, "the dashboard to open its store")
            problems = load_themes(None).problems  # every bundled theme, as this Textual sees it
            if problems:
                raise SystemExit(f"smoke test failed: {problems[0]}")
            for theme in sorted(n for n in app.available_themes if n.startswith("pixverse-")):
                app.theme = theme
                await pilot.pause()
            app.screen.query_one("#prompt", TextArea).focus()
            await pilot.press(*"lighthouse")
            await pilot.press("ctrl+j")

            async def succeeded() -> bool:
                await pilot.pause()
                assert app.store is not None
                row = await app.store.generations.get(1)
                if row is not None and row.status in ("FAILED", "CANCELED", "UNKNOWN"):
                    raise SystemExit(f"smoke test failed: the task ended {row.status}")
                return row is not None and row.status == "SUCCEEDED"
            await until(succeeded, "the submitted task to succeed")
            assert app.store is not None and app.downloader is not None
            row = await app.store.generations.get(1)
            assert row is not None and row.prompt == "lighthouse", row
            done = await app.downloader.download(row, wait=True)
            video = Path(done.download_path or "")
            if done.download_state != "done" or not video.is_file():
                raise SystemExit(f"smoke test failed: download {done.download_state}")
            told = provenance.read(video)  # the provenance remux (PyAV) worked
            if done.download_error or told is None or told.task_id != row.task_id:
                raise SystemExit(f"smoke test failed: no provenance ({done.download_error})")
            thumbs = preview.extract(video)
            picture = graphics.image_widget(graphics.contact_sheet(thumbs))
            await app.screen.mount(picture)
            await pilot.pause()
            await picture.remove()
            await pilot.press("ctrl+q")
        if not ws.paths.state_file.is_file():
            raise SystemExit("smoke test failed: the state file was not written")


def main() -> int:
    with tempfile.TemporaryDirectory() as home:
        os.environ["PIXVERSE_TUI_HOME"] = home
        for name in [n for n in os.environ if n.startswith("DASHSCOPE_")]:
            del os.environ[name]
        print("with " + ", ".join(f"{name} {version(name)}" for name in DEPENDENCIES))
        asyncio.run(smoke(Path(home)))
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
