"""The product's own objects, made as a user's process makes them: a workspace in a
bench's own home, tasks put in flight at the product's pace, a history imported."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import harness  # noqa: F401  (this tree's code first on sys.path)
from storage import TaskStore
from tui.config import settings
from tui.config.paths import app_paths
from tui.dashscope import ApiKey, DashScopeClient, GenerationRequest
from tui.engine.history.transfer import import_jsonl
from tui.engine.submitting.submit import CREATE_PACE, submit
from tui.engine.workspace import Workspace


def workspace(home: Path, base_url: str, key: str, speed: float) -> Workspace:
    """The workspace a process with ``PIXVERSE_TUI_HOME=home`` would load, against a
    simulator running ``speed`` times faster."""
    paths = app_paths({"PIXVERSE_TUI_HOME": str(home)})
    return Workspace(paths, settings.load(paths.config_file), ApiKey(key), base_url,
                     time_scale=speed)


async def put_in_flight(ws: Workspace, store: TaskStore, n: int, *, speed: float,
                        prompt: str = "bench task {i}") -> int:
    """Create ``n`` separate tasks (not one batch), one every ``CREATE_PACE`` simulated
    seconds (creates overlap when one takes longer than that), each due for a poll at
    once, as ``pixverse-tui submit`` makes them in another terminal (the process that
    polls is nudged); returns how many were created."""
    loop = asyncio.get_running_loop()
    start, gap = loop.time(), CREATE_PACE / speed

    async def create(client: DashScopeClient, i: int) -> None:
        await asyncio.sleep(max(0.0, start + i * gap - loop.time()))
        outcome = await submit(store, client, GenerationRequest(prompt.format(i=i)),
                               first_poll_after=0)
        if not outcome.ok:
            raise RuntimeError(f"create {i} failed: {outcome.error}")
        await store.leases.nudge(ws.account or "")

    async with ws.client() as client:
        await asyncio.gather(*(create(client, i) for i in range(n)))
    return n


class Pacer:
    """Creates spaced by ``CREATE_PACE`` simulated seconds — the product's pace, under the
    service's five a second — never catching up in a burst."""

    def __init__(self, speed: float) -> None:
        self.gap = CREATE_PACE / speed
        self.last = -math.inf

    async def wait(self) -> None:
        delay = self.last + self.gap - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self.last = time.monotonic()


async def import_history(store: TaskStore, source: Path) -> float:
    """Import a JSON Lines history as ``pixverse-tui import`` does; returns the seconds."""
    started = time.perf_counter()
    with source.open("rb") as handle:
        await import_jsonl(store, handle, source.name)
    return time.perf_counter() - started
