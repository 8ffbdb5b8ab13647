"""Start-up paints first (issue 15): before the first page is on screen the dashboard
reads that page and the figures the store keeps, nothing else — the store's
housekeeping (interrupted sends, old trash) and the look for expiring videos come
after, so a slow one never holds the first paint back."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Select, TextArea

from storage import open_store
from tests.ui.helpers import app_for, options_held, table, until, workspace
from tui.config.paths import app_paths
from tui.engine.following import rescue
from tui.engine.history import trash
from tui.ui.messages import MOUNTING
from tui.ui.widgets.composer import Composer

STAMP = "2026-01-01T00:00:00.000+00:00"


async def one_row(home: Path) -> None:
    async with await open_store(app_paths({"PIXVERSE_TUI_HOME": str(home)}).database) as store:
        await store.history.import_many([{
            "created_at": STAMP, "updated_at": STAMP, "endpoint": "e", "model": "m",
            "prompt": "a lighthouse at dawn", "size": "1280*720", "duration": 5,
            "submission": "accepted", "task_id": "t-1", "status": "SUCCEEDED",
            "end_time": STAMP, "video_url": "http://v"}])


async def test_the_first_page_is_painted_while_housekeeping_is_still_slow(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await one_row(tmp_path)
    gate = asyncio.Event()
    asked: list[str] = []

    def held(what: str, answer: Any) -> Any:
        async def slow(*_: object, **__: object) -> Any:
            asked.append(what)
            await gate.wait()
            return answer
        return slow

    monkeypatch.setattr(trash, "empty", held("trash", 0))
    monkeypatch.setattr(rescue, "expiring", held("expiring", []))
    monkeypatch.setattr(rescue, "to_rescue", held("expiring", []))
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        try:
            await until(pilot, lambda: table(app).row_count == 1, what="the first page")
            await until(pilot, lambda: {"trash", "expiring"} <= set(asked),
                        what="the housekeeping and the expiry check, after it")
            # The housekeeping runs in a worker: the App's own queue goes on meanwhile
            # (it used to be awaited by the App's handler, and every App message waited).
            await asyncio.wait_for(pilot.press("f1"), 10)
            await asyncio.wait_for(pilot.pause(), 10)
            assert app.screen is not app.main, "the help opens while the housekeeping is slow"
        finally:
            gate.set()


async def test_the_composers_options_come_right_after_the_first_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The composer's options (three Selects with their overlays, toggles, seed,
    variations) cost more to style and draw than the table: the first page is painted
    without waiting for them, and they are mounted right after — nobody asks — in the
    row kept for them, the prompt keeping the focus, the remembered settings applied."""
    await one_row(tmp_path)
    (tmp_path / "state.toml").write_text('[composer]\ntier = "1080P"\nduration = 8\n')
    gate = options_held(monkeypatch)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        main = app.main
        assert main is not None
        await until(pilot, lambda: table(app).row_count == 1, what="the first page")
        prompt = main.query_one("#prompt", TextArea)
        assert not main.query(Select) and app.focused is prompt
        gate.set()
        composer = main.query_one(Composer)
        await until(pilot, lambda: composer.complete, what="the options")
        assert len(main.query(Select)) == 3
        assert app.focused is prompt
        assert main.query_one("#tier", Select).value == "1080P"
        assert main.query_one("#duration", Select).value == 8
        await pilot.pause()
        options, problems = main.query_one("#options"), main.query_one("#problems")
        assert options.region.y == prompt.region.bottom  # the row kept for them
        assert problems.region.y == options.region.bottom and "1920*1080" in str(
            problems.render())  # the summary came with them

async def test_what_start_up_made_stays_out_of_later_garbage_collections(
        tmp_path: Path) -> None:
    """Textual leaves a cleared render cache as a reference cycle, so full collections
    come every few keystrokes: once started, the dashboard keeps the objects start-up
    made (modules, classes, widgets) out of them — tens of milliseconds a keystroke
    otherwise (``tui.ui.heap``) — and gives them back when it ends."""
    await one_row(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    assert gc.get_freeze_count() == 0
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: table(app).row_count == 1, what="the first page")
        await until(pilot, lambda: gc.get_freeze_count() > 0,
                    what="start-up's objects left out of collections")
        assert gc.is_tracked(table(app))  # a widget, tracked: in none of the generations
        assert not any(o is table(app) for o in gc.get_objects())
    assert gc.get_freeze_count() == 0


async def test_start_up_runs_without_collections_until_the_first_page(tmp_path: Path) -> None:
    """Start-up's objects all live on: collecting while they are made only walks them
    (a tenth of start-up's CPU).  ``launch`` pauses collections; they resume once the
    first page is shown."""
    from tui.ui import heap

    await one_row(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    heap.pause_for_startup()
    try:
        assert not gc.isenabled()
        async with app.run_test(size=(140, 40)) as pilot:
            await until(pilot, lambda: table(app).row_count == 1, what="the first page")
            await until(pilot, gc.isenabled, what="collections resumed")
    finally:
        gc.enable()


async def test_collections_resume_even_if_no_page_is_shown(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """No key yet (the welcome screen): collections come back after a grace period."""
    from tui.ui import heap
    from tui.ui.app import PixverseApp
    from tui.ui.screens.welcome import WelcomeScreen

    monkeypatch.setattr(heap, "STARTUP_GRACE", 0.2)
    app = PixverseApp(workspace(tmp_path, None, key=None))
    heap.pause_for_startup()
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, WelcomeScreen), what="welcome")
            await until(pilot, gc.isenabled, timeout=5, what="collections resumed")
    finally:
        gc.enable()


async def test_the_footer_composes_its_keys_again_only_when_they_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual's footer mounts and styles all its keys anew whenever the screen's bindings
    may have changed (20–40 ms of CPU each time): at start — the prompt taking the focus,
    the first page coming — it did so three times with the same keys.  Now once; and
    again when the focus goes where other keys apply."""
    from tui.ui.widgets.footer import Footer

    await one_row(tmp_path)
    composed: list[list[str]] = []
    compose = Footer.compose

    def counted(footer: Footer) -> Any:
        keys = list(compose(footer))
        if keys:
            composed.append([str(getattr(key, "action", "")) for key in keys])
        yield from keys

    monkeypatch.setattr(Footer, "compose", counted)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: table(app).row_count == 1, what="the first page")
        await until(pilot, lambda: bool(composed), what="the footer's keys")
        await until(pilot, lambda: gc.get_freeze_count() > 0, what="start-up's end")
        for _ in range(5):
            await pilot.pause()
        assert len(composed) == 1, composed
        assert app.main is not None
        app.main.table.focus()
        await until(pilot, lambda: len(composed) == 2, what="the table's keys")
        assert composed[1] != composed[0]


async def test_quitting_while_the_options_are_mounted_waits_for_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ctrl+q right after the first page, while the composer's options are still being
    mounted: the dashboard ends once they are, cleanly — Textual's Select, torn down in
    the middle of its own mounting, raised NoMatches and a traceback was printed."""
    await one_row(tmp_path)
    gate = options_held(monkeypatch)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: any(w.group == MOUNTING for w in app.workers),
                    what="the options being mounted")
        assert app.main is not None
        composer = app.main.query_one(Composer)
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        assert app.return_code is None, "it waits for the options being mounted"
        gate.set()
        await until(pilot, lambda: app.return_code is not None, what="the dashboard ended")
    assert app.return_code == 0
    assert composer.complete
