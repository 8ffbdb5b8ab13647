"""Idle means idle (issue 15): with nothing changing and no live row on screen, the
dashboard reads nothing from the store — the page is read when the change feed says
something changed, the figures too, and the elapsed-time clocks tick only while a live
row is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, TextArea

from storage import open_store
from tests.ui.helpers import app_for, table, until
from tests.ui.test_first_paint import one_row
from tests.ui.test_live_views import record
from tui.config.paths import app_paths
from tui.dashscope import GenerationRequest
from tui.ui import cursor_rest

QUIET = 2.5  # seconds watched: the old tick recounted the figures every second


async def test_an_idle_dashboard_reads_nothing_until_something_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await one_row(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: table(app).row_count == 1, what="the first page")
        store = app.services.db
        reads: list[str] = []
        for name in ("page", "count", "counts"):
            original = getattr(store.history, name)

            def counting(*args: Any, _name: str = name, _original: Any = original,
                         **kwargs: Any) -> Any:
                reads.append(_name)
                return _original(*args, **kwargs)

            monkeypatch.setattr(store.history, name, counting)
        await pilot.pause(QUIET)  # watching for reads that should not happen
        assert reads == []
        async with await open_store(app_paths(
                {"PIXVERSE_TUI_HOME": str(tmp_path)}).database) as other:  # another process
            await other.history.import_many([record(7, "PENDING", prompt="a new one")])
        await until(pilot, lambda: table(app).row_count == 2, what="the change, read")
        assert "page" in reads


async def test_the_cursor_rests_after_a_while_and_blinks_again_at_a_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor is the only thing an idle dashboard would repaint: it rests
    (shown, steady) after ``BLINK_FOR`` seconds without a key; a key wakes it."""
    monkeypatch.setattr(cursor_rest, "BLINK_FOR", 0.3)
    await one_row(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        prompt = app.screen.query_one("#prompt", TextArea)
        await until(pilot, lambda: app.focused is prompt and not prompt.cursor_blink,
                    what="the cursor resting")
        await pilot.press("a")
        await until(pilot, lambda: prompt.cursor_blink, what="blinking again at a key")
        await until(pilot, lambda: not prompt.cursor_blink, what="resting again")
        filter_box = app.screen.query_one("#filter", Input)
        filter_box.cursor_blink = False  # someone else's choice (a snapshot's): kept
        app.screen.set_focus(filter_box)
        await pilot.press("b")
        await pilot.pause()
        assert not filter_box.cursor_blink


def test_a_rest_that_comes_when_no_screen_is_left_does_nothing() -> None:
    """The rest's timer may fire while the app is closing (its screens gone: late on a
    loaded machine) — it must not raise there."""
    from textual.app import App

    rest = cursor_rest.CursorRest(App())
    rest._rest()  # no screen: nothing focused, nothing to rest


async def test_the_composers_estimate_ticks_only_while_a_queue_waits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """"starts in ~4 min" is kept current by a timer that runs only while anything is
    queued: an idle dashboard runs no timer for it."""
    from tui.engine.submitting import queue
    from tui.ui.screens import main

    monkeypatch.setattr(main, "STARTS_EVERY", 0.1)
    await one_row(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: table(app).row_count == 1, what="the first page")
        assert app.main is not None
        view = app.main.view
        looks: list[str] = []
        starts, due = view.starts, view.forecast_if_due

        def counting() -> str:
            looks.append("starts")
            return starts()

        async def ticking() -> bool:
            looks.append("tick")
            return await due()

        monkeypatch.setattr(view, "starts", counting)
        monkeypatch.setattr(view, "forecast_if_due", ticking)
        await pilot.pause(1.0)  # ten ticks, were the timer running
        assert len(looks) <= 1  # (the figures of the first looks around may move once)
        async with await open_store(app_paths(
                {"PIXVERSE_TUI_HOME": str(tmp_path)}).database) as other:  # another process
            await queue.enqueue_requests(other, "http://127.0.0.1:9/api/v1",
                                         [GenerationRequest("waits in the queue")])
        await until(pilot, lambda: looks.count("tick") >= 3,
                    what="the estimate to be kept current")
