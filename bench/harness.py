"""Small helpers the benches share: a process's resident memory, a workspace in a
bench's own home, and tasks put in flight at the product's pace."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storage import TaskStore  # noqa: E402
from tui.config import settings  # noqa: E402
from tui.config.paths import app_paths  # noqa: E402
from tui.dashscope import ApiKey, DashScopeClient, GenerationRequest  # noqa: E402
from tui.engine.submitting.submit import CREATE_PACE, submit  # noqa: E402
from tui.engine.workspace import Workspace  # noqa: E402


def rss_mb(pid: int | str = "self") -> float | None:
    """Resident memory of a process in MB (VmRSS from /proc), None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int | str = "self") -> float | None:
    """User + system CPU time a process has used (/proc/<pid>/stat), None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
