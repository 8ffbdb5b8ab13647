"""The live task table: rows keyed by generation id, updated cell by cell.

The screen hands it each new page as the store has it (``show_page``); the
table works out what changed (``page_diff``) and touches only that: rows that
left are removed, rows that joined are added, changed cells are updated, the
order is fixed — never cleared and re-added.  The cursor stays on the row the
user chose, on the same line of the screen; rows that arrive above it are
counted ("3 new ↑"), not scrolled into view.

Columns have fixed widths (never re-measured); when the terminal is narrow they
drop in a set order (Task, Size, Submitted, …) before the prompt is squeezed.

Memory stays flat while clocks tick: DataTable keys every render it caches (cells,
lines, rows) by a counter that each cell update moves on, so after an update every
cached render is one that will never be drawn again.  Left there, such renders fill
the caches to their caps (10,000 cells, 1,000 lines and rows: ~15 MB at 140 columns)
within a minute of elapsed-time ticks.  So after each batch of updates the table
drops them (``_drop_stale_renders``), and the caches hold about one screenful.

A keystroke in the filter brings a page that shares most of its rows with the last one
("fox ne" → "fox neo"): a row's cells are made once and kept while the page shows it
(``_made``), keyed by everything they show — the row as the store has it, its mark, its
folded batch's summary, its place in the queue, its status colour (the theme) and the
day (a time of today shows without its date).  The cells of a live row carry a clock,
so they are made afresh each time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar, NamedTuple

from rich.style import Style
from textual import events
from textual.binding import BindingType
from textual.geometry import Size
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowDoesNotExist

from storage import Generation
from storage.records import BatchSummary
from tui.ui.actions import Where
from tui.ui.bindings import bindings
from tui.ui.cells import COLUMNS, DROP_ORDER, TICKING, SortText, row_cells, status_cell
from tui.ui.page_diff import PageDiff, diff_page

MIN_PROMPT = 22  # below this the prompt is unreadable: drop a column first
_WIDTHS = {key: width for key, _, width in COLUMNS}
_LABELS = {key: label for key, label, _ in COLUMNS}


class _Made(NamedTuple):
    """A row's cells, what they were made from, and what each shows (text and style)."""

    shows: tuple[object, ...]
    cells: dict[str, SortText]
    shown: dict[str, str]


class TaskTable(DataTable[SortText]):
    PLACE = Where.TABLE
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)

    class SortChanged(Message):
        """The user chose another order: the screen reloads from the store."""

    class PageRequested(Message):
        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    class JumpRequested(Message):
        """Home/End: the first row of everything (0) or the last (-1)."""

        def __init__(self, end: int) -> None:
            super().__init__()
            self.end = end

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.rows_by_id: dict[int, Generation] = {}
        self._shown: dict[int, dict[str, str]] = {}
        self._made: dict[int, _Made] = {}  # the cells of the rows shown (see the docstring)
        self._order: list[int] = []
        self.marked: set[int] = set()
        self.batches: dict[int, BatchSummary] = {}  # a row standing for a folded batch
        self.positions: dict[int, int] = {}  # a queued row's place in the queue (1: next)
        self.sort_column = "submitted"
        self.sort_reverse = True
        self.hidden: tuple[str, ...] = ()
        self.style_for: Callable[[str], Style] = lambda status: Style()
        self.now: Callable[[], datetime] = datetime.now

    def on_mount(self) -> None:
        self._add_columns()

    # -- columns -----------------------------------------------------------------

    @property
    def visible_columns(self) -> list[str]:
        return [key for key, _, _ in COLUMNS if key not in self.hidden]

    def _add_columns(self) -> None:
        for key in self.visible_columns:
            self.add_column(self._label(key), key=key, width=_WIDTHS[key])

    def _label(self, key: str) -> str:
        if key != self.sort_column:
            return _LABELS[key]
        arrow = "▼" if self.sort_reverse else "▲"
        label = _LABELS[key]  # the arrow must show, even in a narrow column
        return f"{label} {arrow}" if len(label) + 2 <= _WIDTHS[key] else f"{label}{arrow}"

    def relabel(self) -> None:
        """Show which column sorts, and which way (▲/▼)."""
        for key in self.visible_columns:
            column = self.columns.get(ColumnKey(key))
            if column is not None:
                column.label = self._label(key)  # type: ignore[assignment]
        self._drop_stale_renders()

    def on_resize(self, event: events.Resize) -> None:
        """Drop columns in a set order until the prompt keeps a useful width; give the
        prompt whatever the other (fixed) columns leave."""
        width = event.size.width
        hidden: list[str] = []
        for candidate in (None, *DROP_ORDER):
            if candidate is not None:
                hidden.append(candidate)
            fixed = sum(w + 2 * self.cell_padding for k, w in _WIDTHS.items()
                        if k != "prompt" and k not in hidden)
            if width - fixed - 2 * self.cell_padding - 1 >= MIN_PROMPT:
                break
        if tuple(hidden) != self.hidden:
            self.hidden = tuple(hidden)
            self._rebuild()
        fixed = sum(w + 2 * self.cell_padding for k, w in _WIDTHS.items()
                    if k != "prompt" and k not in self.hidden)
        prompt_width = max(MIN_PROMPT, width - fixed - 2 * self.cell_padding - 1)
        column = self.columns.get(ColumnKey("prompt"))
        if column is not None and column.width != prompt_width:
            column.width = prompt_width
            # DataTable measures its scrollable width only when rows or columns come and
            # go; a column made wider or narrower is told to it here, as DataTable itself
            # computes it (every column has a fixed width, and no row has a label).
            width = sum(c.get_render_width(self) for c in self.columns.values())
            self.virtual_size = Size(width, self.virtual_size.height)
            self._drop_stale_renders()

    def _rebuild(self) -> None:
        """Other columns (the terminal was resized): a user's doing, never a poll's."""
        chosen = self.highlighted_id
        rows = [self.rows_by_id[i] for i in self._order if i in self.rows_by_id]
        self.clear(columns=True)
        self._add_columns()
        self._shown.clear()
        self._order = []
        self.rows_by_id.clear()
        self._add(rows)
        self._cursor_to(chosen)

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

    @property
    def rows_in_order(self) -> list[Generation]:
        return [self.rows_by_id[i] for i in self._order]

    def _cells(self, row: Generation) -> _Made:
        """The row's cells and what each shows — made again only when something they
        show may have changed (see the module's docstring)."""
        now = self.now()
        style = self.style_for(row.display_status)
        marked, batch, position = (row.id in self.marked, self.batches.get(row.id),
                                   self.positions.get(row.id))
        shows = (row, marked, batch, position, style, now.astimezone().date())
        made = self._made.get(row.id)
        if made is not None and made.shows == shows:
            return made
        cells = row_cells(row, now, style, marked=marked, batch=batch, position=position)
        for cell in cells.values():
            cell.row_id = row.id
        made = _Made(shows, cells, {k: c.plain + str(c.style) for k, c in cells.items()})
        if row.display_status not in TICKING:  # a clock's cells are never made again
            self._made[row.id] = made
        return made

    def _forget_made(self) -> None:
        """Keep the cells of the rows on the page only."""
        self._made = {i: made for i, made in self._made.items() if i in self.rows_by_id}

    def _add(self, rows: list[Generation]) -> None:
        for row in rows:
            made = self._cells(row)
            cells = made.cells
            self.add_row(*(cells[key] for key in self.visible_columns), key=str(row.id))
            self._remember(row, made)
            self._order.append(row.id)

    def _remember(self, row: Generation, made: _Made) -> None:
        self.rows_by_id[row.id] = row
        self._shown[row.id] = dict(made.shown)

    def _drop_stale_renders(self) -> None:
        """Forget the renders DataTable cached before the last update (none of them can be
        drawn again: see the module's docstring) and repaint.  ``notify_style_update`` is
        DataTable's public way to drop its render caches."""
        self.notify_style_update()

    def _update(self, row: Generation) -> bool:
        """Update the cells of a row that changed; whether any cell did."""
        made = self._cells(row)
        before = self._shown.get(row.id, {})
        changed = [key for key in self.visible_columns if before.get(key) != made.shown[key]]
        for key in changed:
            self.update_cell(str(row.id), key, made.cells[key])
        self._remember(row, made)
        return bool(changed)

    def show_page(self, rows: list[Generation],
                  batches: dict[int, BatchSummary] | None = None,
                  positions: dict[int, int] | None = None) -> PageDiff:
        """Make the table show this page (in this order), touching only what changed.
        The cursor stays on its row and on its line of the screen."""
        diff = diff_page(self.rows_in_order, rows)
        before, self.batches = self.batches, dict(batches or {})
        places, self.positions = self.positions, dict(positions or {})
        updated = False
        for row_id, summary in self.batches.items():  # a folded batch moved on
            if row_id in self.rows_by_id and before.get(row_id) != summary:
                self._shown[row_id] = {}
                updated = self._update(self.rows_by_id[row_id]) or updated
        for row_id in set(places) | set(self.positions):  # moved in the queue (the row
            if (row_id in self.rows_by_id  # itself may be unchanged: another one moved)
                    and places.get(row_id) != self.positions.get(row_id)):
                updated = self._update(self.rows_by_id[row_id]) or updated
        if diff.empty:
            for row in rows:  # same ids, same order: maybe fresher poll bookkeeping
                self.rows_by_id[row.id] = row
            if updated:
                self._drop_stale_renders()
            return diff
        chosen = self.highlighted_id
        line = (self.get_row_index(str(chosen)) - self.scroll_offset.y
                if chosen is not None else None)
        at_top = self.scroll_offset.y == 0
        for row_id in diff.removed:
            self.remove_row(str(row_id))
            self._shown.pop(row_id, None)
            self.rows_by_id.pop(row_id, None)  # a mark stays: marks span every page
        for row in diff.changed:
            self._update(row)
        self._order = [i for i in self._order if i not in diff.removed]
        self._add(diff.added)
        if diff.reordered or diff.added:
            position = {row_id: index for index, row_id in enumerate(diff.order)}
            self.sort(self.visible_columns[0],
                      key=lambda cell: position.get(cell.row_id, len(position)))
            self._order = list(diff.order)
        if chosen is not None and chosen in self.rows_by_id:
            index = self.get_row_index(str(chosen))
            self.move_cursor(row=index, animate=False, scroll=False)
            if line is not None:
                # At the top, new rows come into sight above the cursor's row (a task just
                # submitted is seen); elsewhere, or if that would push the cursor's row
                # off the screen, the row keeps its line and the new ones are counted.
                on_screen = self.size.height - self.header_height
                keep = 0 if at_top and index < on_screen else max(0, index - line)
                self.scroll_to(y=keep, animate=False, immediate=True)
        self._forget_made()
        self._drop_stale_renders()
        return diff

    def replace(self, rows: list[Generation],
                batches: dict[int, BatchSummary] | None = None,
                positions: dict[int, int] | None = None) -> None:
        """Another page altogether (a filter, a sort, paging): rows arrive in order, the
        page is seen from its top, the cursor on the row the user chose if the page has
        it.  Only for a user's action — a poll never rebuilds the table.

        The rows the last page showed too stay in the table (a keystroke's pages share
        most of theirs: "fox ne" → "fox neo"), and only the others are added — DataTable
        measures every cell of each row added.  A page that keeps fewer than half of them
        is built afresh: removing rows one by one costs more than that saves."""
        chosen = self.highlighted_id
        kept = sum(1 for row in rows if row.id in self.rows_by_id)
        if rows and kept * 2 >= len(rows):
            self.show_page(rows, batches, positions)
            if any([self._update(row) for row in rows]):  # as made afresh: marks, colours,
                self._drop_stale_renders()  # the day, clocks (unchanged: cells compared)
            self.scroll_to(x=0, y=0, animate=False, immediate=True)
            index = self.get_row_index(str(chosen)) if chosen in self.rows_by_id else 0
            self.move_cursor(row=index, column=0, animate=False)
            return
        self.batches = dict(batches or {})
        self.positions = dict(positions or {})
        self.clear(columns=False)
        self._shown.clear()
        self.rows_by_id.clear()
        self._order = []
        self._add(rows)
        self._forget_made()
        self._cursor_to(chosen)

    def _cursor_to(self, chosen: int | None) -> None:
        if chosen is not None and chosen in self.rows_by_id:
            self.move_cursor(row=self.get_row_index(str(chosen)), animate=False)

    def refresh_rows(self, ids: set[int] | None = None) -> None:
        """Redraw these rows' cells (a mark toggled, the theme changed)."""
        if ids is None:
            self._shown = {i: {} for i in self._shown}
        updated = False
        for row_id in ids if ids is not None else list(self.rows_by_id):
            if row_id in self.rows_by_id:
                if ids is not None:
                    self._shown[row_id] = {}
                updated = self._update(self.rows_by_id[row_id]) or updated
        if updated:
            self._drop_stale_renders()

    def tick(self) -> None:
        """Advance the elapsed clocks of live rows: only their status cell changes, so
        only that cell is made again, and only when its text moved on."""
        now = self.now()
        updated = False
        for row in self.rows_by_id.values():
            if row.display_status not in TICKING:
                continue
            cell = status_cell(row, now, self.style_for(row.display_status),
                               self.batches.get(row.id), self.positions.get(row.id))
            shown = self._shown.setdefault(row.id, {})
            if shown.get("status") != cell.plain + str(cell.style):
                cell.row_id = row.id
                self.update_cell(str(row.id), "status", cell)
                shown["status"] = cell.plain + str(cell.style)
                updated = True
        if updated:
            self._drop_stale_renders()

    def top_row(self) -> int:
        """The index of the first row on screen."""
        return int(self.scroll_offset.y)

    # -- order ------------------------------------------------------------------

    def sort_by(self, column: str) -> None:
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, column in ("submitted", "took")
        self.relabel()
        self.post_message(self.SortChanged())

    def action_cycle_sort(self) -> None:
        keys = [key for key in self.visible_columns if key != "mark"]
        current = keys.index(self.sort_column) if self.sort_column in keys else -1
        self.sort_column = keys[(current + 1) % len(keys)]
        self.sort_reverse = self.sort_column in ("submitted", "took")
        self.relabel()
        self.post_message(self.SortChanged())

    def action_page(self, step: int) -> None:
        self.post_message(self.PageRequested(step))

    def action_jump(self, end: int) -> None:
        self.post_message(self.JumpRequested(end))

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
        if str(event.column_key.value) != "mark":
            self.sort_by(str(event.column_key.value))
