"""A search keystroke → the page painted, headless, for the dashboard and for its floor
(``harness.floor_app`` with its search box) by the same method: the box's value is set
as one keystroke sets it, and the time taken is until the first frame composed after
the new rows landed in the table **in which the table itself was drawn** (a frame that
draws other widgets only — the search box's new text, the status bar — has not painted
the page: the rows then go out in a later frame).  An empty table (no match) is drawn
too, so it counts alike.  A keystroke that leaves the table as it was ("f" → "fo" with the
same page) asks for no repaint of it (no ``refresh``): there the page is on screen
already, and the first frame after the rows landed counts.

    python -m harness.search_probe product|floor HOME QUERY...

Prints one line of JSON: the seconds of each query, in order.  (The frame's moment is
read through ``Screen._compositor_refresh``, a private method, and the table's drawing
through its ``render_line`` — a bench may; the product may not.)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness  # noqa: F401  (this tree's code first on sys.path)

if os.environ.get("BENCH_PRODUCT_TREE"):  # ``--tree``: that checkout's product, this bench
    sys.path.insert(0, os.environ["BENCH_PRODUCT_TREE"])

PAUSE = 0.05  # seconds between one query's paint and the next keystroke


async def measure(app: Any, landed_on: Callable[[], tuple[Any, str]], box_id: str,
                  queries: list[str], ready: Callable[[], bool],
                  table_of: Callable[[], Any]) -> list[float]:
    from textual.widgets import Input

    async with app.run_test(size=(140, 40)) as pilot:
        deadline = time.monotonic() + 120
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError("the first page never came")
            await asyncio.sleep(0.005)
        await pilot.pause()
        painted: list[float] = []  # the end of each frame in which the table was drawn
        frames: list[float] = []  # the end of every frame
        drew: list[bool] = [False]  # whether the table drew a line in this frame
        asked: list[float] = [0.0]  # when the table last asked to be repainted
        screen = app.screen
        original = screen._compositor_refresh

        def record() -> None:
            drew[0] = False
            original()
            frames.append(time.perf_counter())
            if drew[0]:
                painted.append(frames[-1])

        screen._compositor_refresh = record
        table = table_of()
        render_line = table.render_line

        def drawn(y: int) -> Any:
            drew[0] = True
            return render_line(y)

        table.render_line = drawn  # the instance's, found before the class's
        refresh = table.refresh

        def repaint(*args: Any, **kwargs: Any) -> Any:
            asked[0] = time.perf_counter()
            return refresh(*args, **kwargs)

        table.refresh = repaint
        landed: list[float] = []
        owner, name = landed_on()
        replace = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            result = replace(*args, **kwargs)
            landed.append(time.perf_counter())
            return result

        setattr(owner, name, timed)
        box = screen.query_one(f"#{box_id}", Input)
        box.focus()
        await pilot.pause()
        took = []
        for query in queries:
            t0 = time.perf_counter()
            box.value = query  # what one keystroke does
            while not landed or landed[-1] < t0:
                await asyncio.sleep(0.001)
            shown = painted if asked[0] >= t0 else frames  # the table changed, or not
            while not shown or shown[-1] < landed[-1]:
                await asyncio.sleep(0.001)
            took.append(shown[-1] - t0)
            await asyncio.sleep(PAUSE)
            await pilot.pause()
    return took


def product(home: Path, queries: list[str]) -> list[float]:
    from tui.dashscope import ApiKey
    from tui.engine.workspace import Workspace
    from tui.ui.app import PixverseApp

    ws = Workspace.load(key=ApiKey("sk-bench-not-used"), base_url="http://127.0.0.1:9/api/v1")
    app = PixverseApp(ws, poll=False)

    def table() -> Any:
        from tui.ui.widgets.task_table import TaskTable

        return app.screen.query_one(TaskTable)

    def ready() -> bool:
        try:
            return bool(table().row_count)
        except Exception:
            return False

    return asyncio.run(measure(app, lambda: (table(), "replace"), "filter", queries, ready,
                               table))


def floor(home: Path, queries: list[str]) -> list[float]:
    from harness.floor_app import FloorApp

    app = FloorApp(str(home / "tasks.db"), search=True)

    def table() -> Any:
        from textual.widgets import DataTable

        return app.screen.query_one(DataTable)

    def ready() -> bool:
        try:
            return bool(table().row_count)
        except Exception:
            return False

    return asyncio.run(measure(app, lambda: (app, "show"), "filter", queries, ready, table))


if __name__ == "__main__":
    which, home, *asked = sys.argv[1:]
    run = product if which == "product" else floor
    print(json.dumps(run(Path(home), asked)))
