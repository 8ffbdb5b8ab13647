"""The history on screen: the task table beside the detail pane, kept live.

It shows the page the view model (``HistoryView``, passed down) reads, and keeps
it current: the one route by which what any process wrote reaches the screen
is here — a worker listens to the store's change feed (``HistoryView.changes``
notes what arrived, touching no widget, and posts ``ChangesArrived``), and the page
is read again soon after, at most once per ``REFRESH_EVERY``: a burst of writes is
a few repaints a second.  Nothing runs while nothing changes: no timer looks for
changes, the elapsed-time clocks tick only while a live row is shown, and the
day's figures are read again at midnight.  While the database does not answer
(``view.reach``), the tick counts down to the next try and makes it; the first
answer reads the page again.
The table's own requests — another sort, another page, Home/End — are answered
here too; the keys that act on rows are the screen's.  The status bar's figures
are drawn from here, since they follow the page.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Container
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable
from textual.worker import Worker

from storage import Generation
from tui.engine.following.signals import Signals
from tui.ui.cells import TICKING
from tui.ui.messages import report_failure
from tui.ui.services import Services
from tui.ui.themes import status_style
from tui.ui.tolerant import tolerant
from tui.ui.view.history import HistoryView
from tui.ui.widgets.detail import DetailPane
from tui.ui.widgets.status_bar import StatusBar
from tui.ui.widgets.task_table import TaskTable

REFRESH_EVERY = 0.25  # seconds at least between two reads of the page after changes
TICK_EVERY = 1.0  # seconds: the elapsed-time clocks of live rows
SOON = 0.01  # seconds: the shortest wait a timer takes (a zero-second Timer cannot stop)


class HistoryPanel(Container):
    class ChangesArrived(Message):
        """The store's change feed said something changed (from the listening worker)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, HistoryPanel.ChangesArrived)

    def __init__(self, services: Services, view: HistoryView, signals: Signals,
                 status: StatusBar, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services
        self.view = view
        self.signals = signals  # the follower's: the terminal's title follows the figures
        self.status = status
        self._refresh: Timer | None = None  # the one read of the page that is scheduled
        self._refreshed = -REFRESH_EVERY  # when the page was last read for a change
        self._ticker: Timer | None = None
        self._queue_line: str | None = None  # what the detail pane says of the row's place
        self._detailed: Generation | None = None  # the row the detail pane was last given

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failure(self, event)  # (the App shows it: none of its workers fails silently)

    def compose(self) -> ComposeResult:
        yield TaskTable(id="tasks")
        yield DetailPane(id="detail")

    @property
    def table(self) -> TaskTable:
        return self.query_one(TaskTable)

    def on_mount(self) -> None:
        services, table, pane = self.services, self.table, self.query_one(DetailPane)
        style_for = lambda status: status_style(self.app.current_theme, status)  # noqa: E731
        table.style_for, table.now, table.marked = style_for, services.now, self.view.marks
        pane.style_for, pane.now, pane.details = style_for, services.now, self.view.details
        pane.graphics, pane.cache = services.graphics, services.ws.paths.previews_dir
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        self.show_figures()

    async def start(self) -> None:
        """Show the history, and keep it live."""
        self.view.changes.listen()  # first: what is written while the page is read counts
        await self.load_page(recount=True)
        self.run_worker(self._listen(), group="changes", exclusive=True, exit_on_error=False)
        self._ticker = self.set_interval(TICK_EVERY, self._tick, name="tick",
                                         pause=not self._ticking())
        self._at_midnight()

    async def _listen(self) -> None:
        """The store's change feed, noted for the next refresh (a burst merges)."""
        while await self.view.changes.arrival():
            self.post_message(self.ChangesArrived())

    def on_history_panel_changes_arrived(self, _: ChangesArrived) -> None:
        self.refresh_soon()

    def refresh_soon(self, *, at_least: float = 0.0) -> None:
        """Read the page again soon: now if the last read was ``REFRESH_EVERY`` ago, else
        when it will be (one read scheduled at a time)."""
        if self._refresh is not None:
            return
        wait = max(at_least, self._refreshed + REFRESH_EVERY - time.monotonic(), SOON)
        self._refresh = self.set_timer(wait, self._refresh_now, name="refresh")

    async def _refresh_now(self) -> None:
        self._refresh = None
        self._refreshed = time.monotonic()
        await self.refresh_page()
        view = self.view
        if self.services.open and not view.reach.down and (view.changes.changed()
                                                           or view.recount_due):
            self.refresh_soon(at_least=REFRESH_EVERY)  # held back (a slow sort, the lock)

    def _ticking(self) -> bool:
        """Whether a clock runs on screen: a live row on the page — or the countdown to
        the next try of a database that does not answer."""
        return self.view.reach.down or any(row.display_status in TICKING
                                           for row in self.table.rows_by_id.values())

    def _tick_when_live(self) -> None:
        if self._ticker is not None:
            if self._ticking():
                self._ticker.resume()
            else:
                self._ticker.pause()

    def _at_midnight(self) -> None:
        """The day's figures ("finished today") start again at local midnight."""
        now = self.services.now().astimezone()
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0,
                                                      microsecond=0)
        self.set_timer((midnight - now).total_seconds() + 1, self._new_day, name="midnight")

    async def _new_day(self) -> None:
        self._at_midnight()
        await self._recount()

    def highlighted(self) -> Generation | None:
        return self.table.rows_by_id.get(self.table.highlighted_id or -1)

    def show_figures(self) -> None:
        self.status.figures = self.view.figures(self.table.row_count)
        self.signals.show_counts(self.view.counts)  # the terminal's title (when it changes)
        row = self.highlighted()
        if row is not None and row.queued and self.view.queue_line(row) != self._queue_line:
            self.show_detail()  # its place, a pause, its start moved: the row did not

    def show_detail(self) -> None:
        if self.services.open:
            row = self.highlighted()
            self._queue_line = self.view.queue_line(row) if row is not None else None
            self._detailed = row
            self.query_one(DetailPane).show_row(row)

    @tolerant
    async def load_page(self, page: int | None = None, *, recount: bool = False) -> None:
        """Another page altogether (a filter, a sort, paging) — never the whole history.
        The figures are the store's and do not move with the view: read at the start
        (``recount``) and when the store says they moved, not on each keystroke."""
        async with self.view.lock:
            if page is not None:
                self.view.go_to(page)
            shown = await self.view.read_page()
            self.table.replace(shown.rows, shown.batches, shown.positions)
            self.view.new_above = 0
            if recount:
                await self.view.recount(force=True)
        self.answered()
        self._tick_when_live()
        self.show_detail()
        self.show_figures()
        # The rows go out in the next frame: a widget asks the screen for its repaint when
        # it next goes idle (the table after measuring its new rows), while the screen
        # paints as soon as this handler ends — the search box's new text had asked
        # already.  Yielding once lets the table and the status bar, woken by the changes
        # above, ask first; else the frame holds the box alone and the rows wait a frame.
        await asyncio.sleep(0)

    # -- the one route changes take to the screen ------------------------------------------

    def touched(self) -> None:
        """The view changed where the store does not see it (marks): the next refresh
        draws it."""
        self.view.changes.touched()
        self.refresh_soon()

    def answered(self) -> None:
        """The store answered a read: if it had not been answering, everything shown is
        read again (what was written meanwhile was not all heard of)."""
        if self.view.reach.answered():
            self.view.recount_due = True
            self.show_figures()
            self.touched()
            self._tick_when_live()

    def store_failed(self, reason: str) -> bool:
        """The database did not answer (``StoreUnavailable``): the status bar says so and
        counts down to the next try, which the tick makes; True when it is news."""
        news = self.view.reach.failed(reason)
        self.show_figures()
        self._tick_when_live()
        return news

    @tolerant
    async def refresh_page(self) -> None:
        """Apply whatever any process wrote: the page as the store has it now."""
        view, table = self.view, self.table
        if not self.services.open or view.lock.locked() or not view.reach.due():
            return
        if not view.changes.changed():
            if view.recount_due and await view.recount():  # the last change's figures
                self.show_figures()
            return
        if not view.reload_due():
            return
        async with view.lock:
            chosen = table.highlighted_id
            before = table.rows_by_id.get(chosen or -1)
            shown = await view.reread(chosen, set(table.rows_by_id))
            diff = table.show_page(shown.rows, shown.batches, shown.positions)
            view.arrived(diff.added_before(table.top_row()), at_top=table.top_row() == 0)
            await view.recount(force=bool(diff.added or diff.removed))
            view.last_update = self.services.now()
        self.answered()
        if table.rows_by_id.get(chosen or -1) not in (None, before):
            self.show_detail()
        self._tick_when_live()
        self.show_figures()

    def _tick(self) -> None:
        """Elapsed clocks of live rows, and the highlighted row's details, move on (the
        figures move when the store says so, not with the clock)."""
        self.table.tick()
        row = self.highlighted()
        if row is not None and row.display_status in TICKING:
            self.show_detail()
        if self.view.reach.down:
            self.show_figures()  # "retrying in 3 s" counts down
            if self.services.open and self.view.reach.due():
                self.run_worker(self._recount(), group="recount", exclusive=True,
                                exit_on_error=False)

    @tolerant
    async def _recount(self) -> None:
        """The figures — and, while the database does not answer, the try that finds it
        back (``view.reach``)."""
        if self.services.open and await self.view.recount(force=True):
            self.show_figures()
        self.answered()

    # -- the table's own requests ---------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        """The cursor came to a row: its details — unless the pane was given this very row
        already (a new page shows its details itself, and the table then tells of the
        cursor it placed: the details are read once per keystroke, not twice)."""
        row = self.highlighted()
        if row is None or row != self._detailed:
            self.show_detail()
        if self.view.new_above:
            self.call_after_refresh(self._new_rows_seen)  # once the table has scrolled

    def _new_rows_seen(self) -> None:
        """Scrolled up to the top of the page: the rows "N new ↑" pointed at are in sight."""
        if self.view.new_above and self.table.top_row() == 0:
            self.view.new_above = 0
            self.show_figures()

    def _restyle(self, _theme: object) -> None:
        """The theme changed: re-colour every row and the details."""
        if self.is_attached:
            self.table.refresh_rows()
            self.show_detail()

    @on(TaskTable.SortChanged)
    @tolerant
    async def _sort_changed(self) -> None:
        self.view.sort_by(self.table.sort_column, self.table.sort_reverse)
        await self.load_page(page=0)

    @on(TaskTable.PageRequested)
    @tolerant
    async def _page_requested(self, message: TaskTable.PageRequested) -> None:
        wanted = self.view.page_step(message.step, self.table.row_count)
        if wanted is not None:
            await self.load_page(page=wanted)
            self.table.move_cursor(row=0 if message.step > 0 else self.table.row_count - 1)

    @on(TaskTable.JumpRequested)
    @tolerant
    async def _jump(self, message: TaskTable.JumpRequested) -> None:
        """Home: the very first row; End: the very last (of every page)."""
        if message.end == 0:
            if self.view.offset != 0:
                await self.load_page(page=0)
        else:
            async with self.view.lock:
                self.view.go_to_end()
            await self.load_page()
        self.table.move_cursor(row=0 if message.end == 0 else self.table.row_count - 1)
        if message.end == 0:
            self.view.new_above = 0
            self.show_figures()

    # -- marks and folds (the screen's keys) ----------------------------------------------------

    def toggle_mark(self) -> None:
        row = self.highlighted()
        if row is not None:
            self.view.toggle_mark(row.id)
            self.table.refresh_rows({row.id})
            self.marks_moved()

    async def mark_all(self) -> int:
        """Mark everything the filter matches, on every page; how many."""
        ids = await self.view.mark_all()
        self.table.refresh_rows(set(ids) & set(self.table.rows_by_id))
        self.marks_moved()
        return len(ids)

    def clear_marks(self) -> None:
        if self.view.marks:
            self.table.refresh_rows(self.view.clear_marks() & set(self.table.rows_by_id))
            self.marks_moved()

    def marks_moved(self) -> None:
        """Figures now, the page on the next refresh."""
        self.touched()
        self.show_figures()

    async def fold(self, batch_id: str) -> None:
        """Fold a batch into one row (with its progress), or unfold it."""
        first = await self.view.fold(batch_id)
        await self.load_page()
        if first in self.table.rows_by_id:
            self.table.move_cursor(row=self.table.get_row_index(str(first)))
