"""A keystroke's page shares most rows with the last one: the table keeps those rows'
cells instead of making them again — and makes them again whenever anything they show
moved on (the row, its mark, the colours, the day, a live row's clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.style import Style
from textual.widgets.data_table import RowKey

from storage import Generation
from tests.ui.helpers import OneTable, bare_row
from tui.ui.widgets.task_table import TaskTable

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def row(i: int, status: str = "SUCCEEDED") -> Generation:
    return bare_row(i, (NOW - timedelta(minutes=i)).isoformat(), i, status)


def cell(table: TaskTable, row_id: int, column: str) -> object:
    return table.get_cell(str(row_id), column)


async def test_a_row_still_on_the_next_page_keeps_its_cells() -> None:
    app = OneTable()
    async with app.run_test(size=(140, 24)):
        table = app.query_one(TaskTable)
        table.now = lambda: NOW
        table.replace([row(i) for i in range(1, 11)])
        before = {i: cell(table, i, "prompt") for i in range(1, 11)}
        table.replace([row(i) for i in range(5, 15)])  # "fox ne" → "fox neo"
        assert all(cell(table, i, "prompt") is before[i] for i in range(5, 11))
        assert [r.id for r in table.rows_in_order] == list(range(5, 15))


async def test_cells_are_made_again_when_what_they_show_moved_on() -> None:
    app = OneTable()
    now = [NOW]
    async with app.run_test(size=(140, 24)):
        table = app.query_one(TaskTable)
        table.now = lambda: now[0]
        rows = [row(1), row(2, "RUNNING")]
        table.replace(rows)
        table.replace([rows[0]._replace(status="FAILED"), rows[1]])  # the store moved on
        assert str(cell(table, 1, "status")) == "✘ FAILED"
        table.marked.add(1)  # marked
        table.replace(rows)
        assert str(cell(table, 1, "mark")) == "●"
        table.style_for = lambda status: Style(color="red")  # another theme
        table.replace(rows)
        assert cell(table, 1, "status").style == Style(color="red")  # type: ignore[attr-defined]
        now[0] += timedelta(seconds=61)  # a live row's clock
        table.replace(rows)
        assert str(cell(table, 2, "status")).endswith("3:01")
        assert ":" in str(cell(table, 1, "submitted"))
        now[0] += timedelta(days=1)  # the next day: yesterday's times show their date
        table.replace(rows)
        assert str(cell(table, 1, "submitted")).startswith("01-01")


async def test_a_page_that_keeps_most_rows_adds_only_the_new_ones() -> None:
    """DataTable measures every cell of a row added: the rows both pages show stay; the
    page still reads as a new one — in order, from its top, the cursor on the row the
    user chose if the page has it, else on the first."""
    app = OneTable()
    async with app.run_test(size=(140, 24)) as pilot:
        table = app.query_one(TaskTable)
        table.now = lambda: NOW
        table.replace([row(i) for i in range(1, 41)])
        table.move_cursor(row=30, animate=False)
        await pilot.pause()
        kept = table.rows[RowKey("31")]
        table.replace([row(i) for i in range(3, 43)])  # "fox ne" → "fox neo"
        await pilot.pause()
        assert table.rows[RowKey("31")] is kept  # not removed and added again
        assert [r.id for r in table.rows_in_order] == list(range(3, 43))
        assert [table.get_row_at(i)[2].plain for i in (0, 39)] == ["a fox, take 3",
                                                                   "a fox, take 42"]
        assert table.highlighted_id == 31
        table.replace([row(i) for i in range(11, 51)])  # the chosen row is still there
        await pilot.pause()
        assert table.highlighted_id == 31
        table.replace([row(i) for i in range(41, 81)])  # it is gone: the first row
        await pilot.pause()
        assert table.highlighted_id == 41 and table.scroll_offset.y == 0
