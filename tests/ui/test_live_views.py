"""Honest and live in every view: figures from the store, changes under any sort,
filter and page, the cursor left where the user put it, marks across pages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from textual.widgets import Static

from storage import Observation, open_store
from storage.clock import iso, utc_now
from tests.ui.helpers import app_for, cell, static_lines, table, until
from tui.ui.dialogs.choice import ChoiceScreen
from tui.ui.dialogs.keys import KeysScreen
from tui.ui.page_diff import diff_page
from tui.ui.view.history import PAGE_SIZE
from tui.ui.widgets.status_bar import StatusBar

SIZE = (140, 40)


def record(n: int, status: str, *, prompt: str | None = None, minutes_ago: float = 0,
           video: bool = False) -> dict[str, Any]:
    made = iso(utc_now() - timedelta(minutes=minutes_ago))
    return {"created_at": made, "updated_at": made, "prompt": prompt or f"prompt {n:03d}",
            "size": "1280*720", "duration": 5, "task_id": f"task-{n:05d}", "status": status,
            "submission": "accepted", "endpoint": "http://127.0.0.1:9/api/v1",
            "model": "pixverse/pixverse-v5.6-t2v", "next_poll_at": made,
            "end_time": made if status in ("SUCCEEDED", "FAILED") else None,
            "video_url": "https://media.example.com/v.mp4" if video else None}


async def seed(home: Path, records: list[dict[str, Any]]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    async with await open_store(home / "tasks.db") as store:
        await store.history.import_many(records)


def status_text(app: Any) -> str:
    return str(app.main.query_one(StatusBar).render())


# -- the diff (pure) ------------------------------------------------------------------------


def test_the_page_diff_tells_removed_added_changed_and_order() -> None:
    from storage import Generation

    def row(i: int, status: str = "PENDING") -> Generation:
        base = {f: None for f in Generation._fields}
        base.update(id=i, created_at="", endpoint="", model="", prompt=f"p{i}", size="",
                    duration=5, audio=False, watermark=False, submission="accepted",
                    polls=0, poll_failures=0, download_state="none", updated_at="",
                    status=status)
        return Generation(**base)

    shown = [row(1), row(2), row(3)]
    fresh = [row(4), row(1), row(3)._replace(status="RUNNING")]
    diff = diff_page(shown, fresh)
    assert diff.removed == [2] and [r.id for r in diff.added] == [4]
    assert [r.id for r in diff.changed] == [3] and diff.order == [4, 1, 3]
    assert not diff.reordered and diff.added_before(1) == 1
    assert diff_page(shown, shown).empty
    assert diff_page(shown, list(reversed(shown))).reordered


# -- over the real app ----------------------------------------------------------------------


async def test_figures_come_from_the_store_not_the_page(tmp_path: Path) -> None:
    """104 in flight: not "50 in flight", nor "0" under a filter or another sort."""
    records = [record(n, "RUNNING" if n < 5 else "PENDING", minutes_ago=200 - n)
               for n in range(104)]
    records += [record(200 + n, "SUCCEEDED", minutes_ago=1) for n in range(7)]
    records += [record(300, "FAILED", minutes_ago=1)]
    await seed(tmp_path, records)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "▶5 ◷99 in flight" in status_text(app), what="counts")
        assert "✔7 ✘1 today" in status_text(app) and "⇣7 not saved" in status_text(app)
        assert "1–50 of 112" in status_text(app)
        table(app).focus()
        await pilot.press("slash", *"status:SUCCEEDED", "enter")
        await until(pilot, lambda: "7 of 112 match" in status_text(app), what="the filter")
        assert "▶5 ◷99 in flight" in status_text(app)
        await pilot.press("o")  # another sort
        await pilot.pause()
        assert "▶5 ◷99 in flight" in status_text(app)


async def test_the_in_flight_figure_follows_the_last_of_quick_changes(tmp_path: Path) -> None:
    """Two tasks end a moment apart and then all is quiet: the status bar shows both
    ends within a second (the second once came while recounts were held back, and the
    figure stayed one too high until something else changed)."""
    await seed(tmp_path, [record(n, "PENDING", minutes_ago=60 - n) for n in range(60)])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "◷60 in flight" in status_text(app), what="the counts")
        async with await open_store(tmp_path / "tasks.db") as other:
            first = await other.generations.by_task_id("task-00059")
            second = await other.generations.by_task_id("task-00058")
            assert first is not None and second is not None
            ended = iso(utc_now())
            await other.following.apply(first.id, Observation(status="SUCCEEDED",
                                                              end_time=ended), None)
            await until(pilot, lambda: "◷59 in flight" in status_text(app), timeout=2,
                        what="the first end")
            await other.following.apply(second.id, Observation(status="FAILED",
                                                               end_time=ended), None)
        await until(pilot, lambda: "◷58 in flight" in status_text(app), timeout=1.5,
                    what="the second end, with nothing after it")


async def test_changes_reach_every_view_and_the_cursor_stays(tmp_path: Path) -> None:
    """Sorted by prompt, on page 2, a task another terminal makes and one that finishes
    show up within a refresh; the highlighted row stays highlighted."""
    await seed(tmp_path, [record(n, "PENDING", minutes_ago=200 - n) for n in range(120)])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == PAGE_SIZE)
        table(app).sort_by("prompt")
        await until(pilot, lambda: table(app).rows_in_order[0].prompt == "prompt 000")
        table(app).focus()
        await pilot.press("right_square_bracket")  # page 2: prompts 050 … 099
        await until(pilot, lambda: table(app).rows_in_order[0].prompt == "prompt 050")
        table(app).move_cursor(row=10)
        await pilot.pause()
        chosen = table(app).highlighted_id
        async with await open_store(tmp_path / "tasks.db") as other:  # another process
            await other.history.import_many([record(999, "PENDING", prompt="prompt 060x")])
            row = await other.generations.by_task_id("task-00070")
            assert row is not None
            await other.history.set_favourite(row.id, True)
        await until(pilot, lambda: any(r.prompt == "prompt 060x"
                                       for r in table(app).rows_by_id.values()),
                    timeout=3, what="the new row on page 2 of a prompt sort")
        await until(pilot, lambda: table(app).rows_by_id[row.id].favourite, timeout=3,
                    what="the changed row")
        assert table(app).highlighted_id == chosen


async def _new_rows_while_scrolled(pilot: Any, app: Any, home: Path,
                                   count: int) -> tuple[int | None, int]:
    """Twenty rows down the first page, then ``count`` rows from another process; returns
    the highlighted row and its line of the screen from before they came."""
    await until(pilot, lambda: len(table(app).rows_by_id) == PAGE_SIZE)
    table(app).focus()
    for _ in range(20):
        await pilot.press("down")
    chosen = table(app).highlighted_id
    line = table(app).cursor_row - table(app).top_row()
    async with await open_store(home / "tasks.db") as other:
        await other.history.import_many([record(500 + n, "PENDING") for n in range(count)])
    await until(pilot, lambda: f"{count} new ↑" in status_text(app), timeout=3,
                what=f"{count} new ↑")
    return chosen, line


async def test_new_rows_above_are_counted_not_jumped_to(tmp_path: Path) -> None:
    await seed(tmp_path, [record(n, "SUCCEEDED", minutes_ago=200 - n) for n in range(60)])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(140, 20)) as pilot:
        chosen, line = await _new_rows_while_scrolled(pilot, app, tmp_path, 3)
        assert table(app).highlighted_id == chosen
        assert table(app).cursor_row - table(app).top_row() == line  # same line of screen
        await pilot.press("home")
        await until(pilot, lambda: table(app).cursor_row == 0)
        assert table(app).rows_in_order[0].task_id == "task-00502"
        await until(pilot, lambda: "new ↑" not in status_text(app))


async def test_scrolling_up_to_the_new_rows_clears_their_count(tmp_path: Path) -> None:
    await seed(tmp_path, [record(n, "SUCCEEDED", minutes_ago=200 - n) for n in range(60)])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(140, 20)) as pilot:
        await _new_rows_while_scrolled(pilot, app, tmp_path, 2)
        for _ in range(30):  # k, k, k… up to the top, where the new rows are in sight
            await pilot.press("k")
        await until(pilot, lambda: table(app).top_row() == 0)
        await until(pilot, lambda: "new ↑" not in status_text(app), timeout=2,
                    what="the count gone once the new rows are on screen")


async def test_home_and_end_go_to_the_first_and_last_row_of_all(tmp_path: Path) -> None:
    await seed(tmp_path, [record(n, "SUCCEEDED", minutes_ago=200 - n) for n in range(120)])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == PAGE_SIZE)
        table(app).focus()
        await pilot.press("G")
        await until(pilot, lambda: table(app).highlighted_id is not None and
                    table(app).rows_by_id[table(app).highlighted_id].task_id == "task-00000")
        await pilot.press("g")
        await until(pilot, lambda: table(app).rows_by_id[table(app).highlighted_id].task_id
                    == "task-00119")
        assert "Submitted ▼" in str(table(app).columns[next(
            k for k in table(app).columns if k.value == "submitted")].label)


async def test_marks_cross_pages_and_every_action_says_its_scope(tmp_path: Path) -> None:
    records = [record(n, "SUCCEEDED", minutes_ago=200 - n, video=True) for n in range(74)]
    records += [record(100 + n, "FAILED", minutes_ago=300 - n) for n in range(30)]
    await seed(tmp_path, records)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == PAGE_SIZE)
        table(app).focus()
        await pilot.press("D")  # every finished one in the filter, not the page
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        assert "Download 74 finished videos (24 not on this page)?" in app.screen.question
        await pilot.press("enter")  # "Cancel" has the focus
        await until(pilot, lambda: not isinstance(app.screen, ChoiceScreen))
        assert not app.main.downloads.busy

        await pilot.press("slash", *"status:FAILED", "enter", "asterisk")
        await until(pilot, lambda: len(app.main.view.marks) == 30, what="30 marks")
        await until(pilot, lambda: "● 30 marked" in status_text(app), timeout=3,
                    what=f"the marks in {status_text(app)!r}")
        await pilot.press("slash", "escape")  # the filter off: marks stay, on every page
        await until(pilot, lambda: len(table(app).rows_by_id) == PAGE_SIZE)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        assert "Star 30 generations" in app.screen.question
        assert "not on this page" in app.screen.question
        await pilot.press("tab", "enter")
        await until(pilot, lambda: sum(r.favourite for r in table(app).rows_by_id.values())
                    == sum(1 for r in table(app).rows_by_id.values() if r.status == "FAILED"),
                    what="the marked rows starred")
        table(app).focus()
        await pilot.press("escape")
        await until(pilot, lambda: not app.main.view.marks, what="marks cleared")
        await until(pilot, lambda: "marked" not in status_text(app), what="no marks shown")


async def test_marks_and_the_cursor_stay_when_new_rows_push_them_off_the_page(
        tmp_path: Path) -> None:
    """Rows marked at the bottom of page 1 keep their marks when ten new tasks arrive,
    and the highlighted task stays highlighted (the page makes room) — a row key never
    lands on a task the user did not choose."""
    await seed(tmp_path, [record(n, "SUCCEEDED", minutes_ago=200 - n) for n in range(60)])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == PAGE_SIZE)
        table(app).focus()
        table(app).move_cursor(row=47)
        await pilot.press("space", "down", "space", "down")  # 47 and 48 marked; cursor 49
        await until(pilot, lambda: len(app.main.view.marks) == 2)
        marked = set(app.main.view.marks)
        chosen = table(app).highlighted_id
        async with await open_store(tmp_path / "tasks.db") as other:
            await other.history.import_many([record(500 + n, "PENDING") for n in range(10)])
        await until(pilot, lambda: "10 new ↑" in status_text(app) or
                    len(table(app).rows_by_id) == PAGE_SIZE + 10, timeout=3, what="new rows")
        assert table(app).highlighted_id == chosen
        assert app.main.view.marks == marked and "● 2 marked" in status_text(app)
        await pilot.press("right_square_bracket")  # page 2 holds the two marked rows now
        await until(pilot, lambda: marked <= set(table(app).rows_by_id), what="page 2")
        for row_id in marked:
            index = [r.id for r in table(app).rows_in_order].index(row_id)
            assert cell(app, index, "mark") == "●"


async def test_the_full_screen_details_act_on_the_task_they_show(tmp_path: Path) -> None:
    """f in the full-screen details stars the task shown, not the table's highlighted
    row (which may have moved meanwhile)."""
    from tui.ui.screens.detail import DetailScreen

    await seed(tmp_path, [record(n, "SUCCEEDED", minutes_ago=20 - n) for n in range(5)])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 5)
        table(app).focus()
        table(app).move_cursor(row=1)
        await pilot.pause()
        shown = table(app).highlighted_id
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        table(app).move_cursor(row=3)  # the table moves underneath (a refresh, a click)
        await pilot.pause()
        other = table(app).highlighted_id
        await pilot.press("f")
        async with await open_store(tmp_path / "tasks.db") as store:
            await until(pilot, lambda: True)
            for _ in range(40):
                starred = await store.generations.get(shown or -1)
                if starred is not None and starred.favourite:
                    break
                await pilot.pause(0.05)
            assert starred is not None and starred.favourite
            untouched = await store.generations.get(other or -1)
            assert untouched is not None and not untouched.favourite


async def test_a_dialog_opens_clear_of_toasts(tmp_path: Path) -> None:
    """A toast from just before (a task ended) would cover the right of the keys list."""
    await seed(tmp_path, [record(n, "SUCCEEDED") for n in range(3)])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 3)
        table(app).focus()
        app.screen.notify("✔ SUCCEEDED: walk shot 30", title="3 finished", timeout=30)
        await pilot.pause()
        assert len(app._notifications) == 1
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, KeysScreen))
        assert len(app._notifications) == 0


async def test_the_keys_screen_keeps_one_line_per_key_at_80_columns(tmp_path: Path) -> None:
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, KeysScreen))
        await pilot.pause()
        lines = static_lines(app.screen.query_one("#keys-box Static", Static))
        for binding_id in ("reload-config", "main.full-table", "composer.leave"):
            assert any(binding_id in line and len(line.split()) >= 3 for line in lines), (
                f"{binding_id} is not on its key's line")


async def test_i_goes_back_to_the_composer_from_the_table(tmp_path: Path) -> None:
    await seed(tmp_path, [record(n, "SUCCEEDED") for n in range(3)])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 3)
        await pilot.press("escape")  # composer → table
        await until(pilot, lambda: app.focused is table(app))
        await pilot.press("m")  # the full-height table
        await pilot.press("i")
        await until(pilot, lambda: app.focused is not None and app.focused.id == "prompt")
        assert not app.screen.has_class("-full-table")
        await pilot.press("i", "n")  # typed into the prompt, not a command
        assert app.focused is not None and app.focused.id == "prompt"


async def test_at_the_top_a_new_task_comes_into_sight(tmp_path: Path) -> None:
    """The user just submitted (or another terminal did) while looking at the top of the
    list: the new row shows above the highlighted one — which keeps the highlight."""
    await seed(tmp_path, [record(n, "SUCCEEDED", minutes_ago=200 - n) for n in range(20)])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 20)
        chosen = table(app).highlighted_id
        async with await open_store(tmp_path / "tasks.db") as other:
            await other.history.import_many([record(700, "PENDING",
                                                    prompt="a lighthouse in a storm")])
        await until(pilot, lambda: len(table(app).rows_by_id) == 21, timeout=3)
        await pilot.pause()
        assert table(app).highlighted_id == chosen
        assert table(app).top_row() == 0
        assert table(app).rows_in_order[0].prompt == "a lighthouse in a storm"
        assert "new ↑" not in status_text(app)
