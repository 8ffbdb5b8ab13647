"""Driving the real app against the simulator."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Static

from storage import Generation
from tests.conftest import FAST, KEY
from tui.config import settings
from tui.config.paths import app_paths
from tui.dashscope import ApiKey
from tui.engine.workspace import Workspace
from tui.simulator import Simulator
from tui.ui.app import PixverseApp
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.task_table import TaskTable


def workspace(home: Path, sim: Simulator | None, *, key: str | None = KEY,
              demo: bool = False) -> Workspace:
    """What ``Workspace.load`` gives, with the home, endpoint and key of a test."""
    paths = app_paths({"PIXVERSE_TUI_HOME": str(home)})
    config = settings.load(paths.config_file)
    base = sim.base_url if sim is not None else "http://127.0.0.1:9/api/v1"
    return Workspace(paths.demo() if demo else paths, config,
                     ApiKey(key) if key else None, base, demo, time_scale=FAST)


def app_for(home: Path, sim: Simulator | None, **kwargs: object) -> PixverseApp:
    return PixverseApp(workspace(home, sim), **kwargs)  # type: ignore[arg-type]


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 15.0,
                what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def table(app: PixverseApp) -> TaskTable:
    assert app.main is not None
    return app.main.query_one(TaskTable)


def composer(app: PixverseApp) -> Composer:
    assert app.main is not None
    return app.main.query_one(Composer)


def statuses(app: PixverseApp) -> list[str]:
    t = table(app)
    return [t.rows_by_id[int(k.value)].display_status for k in t.rows if k.value is not None]


def cell(app: PixverseApp, row_index: int, column: str) -> str:
    t = table(app)
    return t.get_cell_at((row_index, [c.value for c in t.columns].index(column))).plain


async def composer_ready(pilot: Pilot, app: PixverseApp) -> None:
    """The composer's options (tier, ratio, … seed, variations) are mounted just after the
    first page is painted: wait for them, as a user's eyes do."""
    await until(pilot, lambda: app.main is not None and composer(app).complete,
                what="the composer's options")


async def type_prompt(pilot: Pilot, app: PixverseApp, text: str) -> None:
    await composer_ready(pilot, app)
    composer(app).prompt.load_text(text)
    await pilot.pause()


def static_lines(widget: Static) -> list[str]:
    """A Static's content as the lines it shows at its width (tables and groups too)."""
    console = Console(width=max(1, widget.content_region.width), file=io.StringIO(),
                      record=True)
    console.print(widget.content)
    return console.export_text().splitlines()


def bare_row(row_id: int, made: str, take: int, status: str) -> Generation:
    """A generation with only what the table shows (made at ``made``, "a fox, take N")."""
    base: dict[str, object] = {f: None for f in Generation._fields}
    base.update(id=row_id, created_at=made, endpoint="", model="", prompt=f"a fox, take {take}",
                size="1280*720", duration=5, audio=False, watermark=False,
                submission="accepted", task_id=f"task-{take:05d}", polls=0, poll_failures=0,
                download_state="none", updated_at=made, status=status, submit_time=made)
    return Generation(**base)  # type: ignore[arg-type]


class OneTable(App[None]):
    """The task table alone, for what it draws and keeps."""

    def compose(self) -> ComposeResult:
        yield TaskTable(id="tasks")


def options_held(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The composer's options are mounted only once the returned event is set."""
    gate = asyncio.Event()
    add_options = Composer.add_options

    async def held(composer: Composer) -> None:
        await gate.wait()
        await add_options(composer)

    monkeypatch.setattr(Composer, "add_options", held)
    return gate
