"""The live task table: rows keyed by generation id, updated cell by cell.

A poll that changes one task touches only that row's changed cells; rows are
never cleared and re-added; column widths are fixed (never re-measured); the
cursor stays on the row the user chose, even when new rows arrive or the
order changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import ClassVar

from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowDoesNotExist

from storage import Generation
from tui.ui.cells import COLUMNS, SortText, row_cells

MIN_PROMPT = 16
_WIDTHS = {key: width for key, _, width in COLUMNS}


class TaskTable(DataTable[SortText]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("o", "cycle_sort", "Sort", id="table.sort"),
        Binding("right_square_bracket", "page(1)", "Next page", id="table.next-page",
                show=False),
        Binding("left_square_bracket", "page(-1)", "Previous page", id="table.prev-page",
                show=False),
        Binding("enter", "app.open_detail", "Details", id="table.open"),
        Binding("d", "app.download", "Download", id="table.download"),
        Binding("D", "app.download_all", "Download all", id="table.download-all"),
        Binding("c", "app.cancel_task", "Cancel", id="table.cancel"),
        Binding("r", "app.reuse", "Re-use", id="table.reuse"),
        Binding("R", "app.rerun", "Re-run", id="table.rerun"),
        Binding("y", "app.copy_url", "Copy URL", id="table.copy-url"),
        Binding("u", "app.resolve", "Resolve", id="table.resolve"),
        Binding("f", "app.favourite", "Favourite", id="table.favourite"),
        Binding("t", "app.tags", "Tags", id="table.tags"),
        Binding("n", "app.note", "Note", id="table.note"),
        Binding("x", "app.forget", "Forget", id="table.forget"),
        Binding("A", "app.adopt_foreign", "Adopt foreign", id="table.adopt-foreign",
                show=False),
    ]

    class SortChanged(Message):
        """The user chose another order: the app reloads from SQLite."""

    class PageRequested(Message):
        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.rows_by_id: dict[int, Generation] = {}
        self._shown: dict[int, dict[str, str]] = {}
        self.sort_column = "submitted"
        self.sort_reverse = True
        self.style_for: Callable[[str], Style] = lambda status: Style()

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def on_resize(self, event: events.Resize) -> None:
        """Give the prompt column whatever the other (fixed) columns leave."""
        fixed = sum(w + 2 * self.cell_padding for k, w in _WIDTHS.items() if k != "prompt")
        width = max(MIN_PROMPT, event.size.width - fixed - 2 * self.cell_padding - 1)
        column = self.columns.get(ColumnKey("prompt"))
        if column is not None and column.width != width:
            column.width = width
            # DataTable has no public call for "a column's width changed".
            self._clear_caches()
            self._require_update_dimensions = True
            self.refresh()

    # -- rows -----------------------------------------------------------------

    @property
    def highlighted_id(self) -> int | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except RowDoesNotExist:
            return None
        return int(key.value) if key.value is not None else None

    def apply(self, rows: Iterable[Generation], now: datetime) -> int:
        """Add new rows and update changed cells; nothing else is touched.

        Returns how many rows were added or changed.
        """
        added = False
        touched = 0
        for row in rows:
            cells = row_cells(row, now, self.style_for(row.display_status))
            plain = {k: c.plain + str(c.style) for k, c in cells.items()}
            self.rows_by_id[row.id] = row
            if row.id not in self._shown:
                self.add_row(*(cells[key] for key, _, _ in COLUMNS), key=str(row.id))
                added = True
                touched += 1
            else:
                before = self._shown[row.id]
                changed = [key for key in cells if before.get(key) != plain[key]]
                for key in changed:
                    self.update_cell(str(row.id), key, cells[key])
                touched += bool(changed)
            self._shown[row.id] = plain
        if added:
            self.resort()
        return touched

    def replace(self, rows: list[Generation], now: datetime) -> None:
        """Show a different page (filter, sort or page changed): rows arrive in order.

        Only for a user's action — a poll never rebuilds the table.
        """
        chosen = self.highlighted_id
        self.clear(columns=False)
        self._shown.clear()
        self.rows_by_id.clear()
        for row in rows:
            cells = row_cells(row, now, self.style_for(row.display_status))
            self.add_row(*(cells[key] for key, _, _ in COLUMNS), key=str(row.id))
            self._shown[row.id] = {k: c.plain + str(c.style) for k, c in cells.items()}
            self.rows_by_id[row.id] = row
        if chosen in self.rows_by_id:
            self.move_cursor(row=self.get_row_index(str(chosen)), animate=False)

    def keep_only(self, ids: set[int]) -> None:
        """Drop rows that a new filter excludes."""
        for gone in [i for i in self._shown if i not in ids]:
            self.remove_row(str(gone))
            del self._shown[gone]
            self.rows_by_id.pop(gone, None)

    def tick(self, now: datetime) -> None:
        """Advance the elapsed clocks of live rows (only their status cell changes)."""
        live = [r for r in self.rows_by_id.values()
                if r.display_status in ("PENDING", "RUNNING", "SUSPENDED", "SUBMITTING")]
        self.apply(live, now)

    def restyle(self, now: datetime) -> None:
        """Re-colour every row (the theme changed)."""
        self._shown = {i: {} for i in self._shown}
        self.apply(list(self.rows_by_id.values()), now)

    # -- order ------------------------------------------------------------------

    def resort(self) -> None:
        chosen = self.highlighted_id
        self.sort(self.sort_column, key=lambda cell: cell.order, reverse=self.sort_reverse)
        if chosen is not None:
            self.move_cursor(row=self.get_row_index(str(chosen)), animate=False)

    def sort_by(self, column: str) -> None:
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, column in ("submitted", "took")
        self.post_message(self.SortChanged())

    def action_cycle_sort(self) -> None:
        keys = [key for key, _, _ in COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self.sort_reverse = self.sort_column in ("submitted", "took")
        self.post_message(self.SortChanged())
        label = dict((k, lbl) for k, lbl, _ in COLUMNS)[self.sort_column]
        self.notify(f"Sorted by {label}", timeout=1.5)

    def action_page(self, step: int) -> None:
        self.post_message(self.PageRequested(step))

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.PageRequested(1))  # past the last row: the next page
            return
        super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.row_count and self.cursor_row == 0:
            self.post_message(self.PageRequested(-1))
            return
        super().action_cursor_up()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))
