"""Memory over a long run: clocks that tick and rows that change repaint the table
without filling its caches with renders that will never be drawn again.

DataTable keys each cached render by a counter every cell update moves on; before
the table dropped stale renders, an hour of elapsed-time ticks with 1,000 tasks in
flight filled those caches to their caps (~15 MB) and the dashboard's RSS climbed.
Counted here: the rendered pieces (``Segment``) kept alive, not time or RSS."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

from rich.segment import Segment
from textual.coordinate import Coordinate
from textual.pilot import Pilot

from storage import Generation
from tests.ui.helpers import OneTable, bare_row
from tui.ui.widgets.task_table import TaskTable

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ROWS = 120  # more than a screenful: rows off screen tick too
TICKS = 20


def live_row(i: int, status: str = "PENDING") -> Generation:
    return bare_row(i + 1, (T0 - timedelta(seconds=7 * i)).isoformat(), i, status)


def segments_alive() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Segment)


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.pause()  # the repaint the update asked for has run


async def test_ticking_clocks_and_changing_rows_keep_no_stale_renders() -> None:
    app = OneTable()
    now = [T0]
    async with app.run_test(size=(140, 24)) as pilot:
        table = app.query_one(TaskTable)
        table.now = lambda: now[0]
        rows = [live_row(i) for i in range(ROWS)]
        table.show_page(rows)
        for _ in range(3):  # a few seconds: the screenful's renders exist
            now[0] += timedelta(seconds=1)
            table.tick()
            await settle(pilot)
        first = segments_alive()

        for _ in range(TICKS):  # the clocks of every live row move on, second by second
            now[0] += timedelta(seconds=1)
            table.tick()
            await settle(pilot)
        assert table.get_cell_at(Coordinate(0, 1)).plain == "◷ PENDING 0:23"  # the clock did move
        after_ticks = segments_alive()

        for step in range(TICKS // 2):  # polls: rows start running, their cells change
            rows = [r._replace(status="RUNNING") if r.id % (TICKS // 2) == step else r
                    for r in rows]
            table.show_page(rows)
            await settle(pilot)
        after_changes = segments_alive()

    # About one screenful of renders, however long it runs (before: 4,238 → 27,758 after
    # the ticks → 39,518 after the changes, and on until the caches' caps).
    assert after_ticks <= 1.5 * first, (first, after_ticks)
    assert after_changes <= 1.5 * first, (first, after_changes)
