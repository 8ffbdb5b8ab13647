"""The dashboard screen: it owns the view — the page query (filter, sort, page), the
marks, the status bar's figures, the live refresh — and the row keys
(``RowActions``).

Data flows one way: pollers and actions write the store; a short timer here
asks the store whether anything changed (one index lookup), and if so reads the
page the view shows, as the store has it now, and lets the table apply the
difference.  So a task made by another terminal appears under any sort, filter
or page, and the figures are the store's, never the page's.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.widgets import DataTable, Input, TextArea

from storage import Generation, TaskStore
from storage.clock import iso, utc_now
from storage.history import HistoryFilter, parse_filter
from storage.records import BatchSummary, Counts
from tui.config.credentials import region_of
from tui.engine import preview, rescue
from tui.engine.prices import BudgetState
from tui.ui import graphics
from tui.ui.halfblock import sheet
from tui.ui.messages import (
    PollerHealthChanged,
    PreviewReady,
    StoreChanged,
    TaskUpdated,
)
from tui.ui.screens.detail import DetailScreen
from tui.ui.screens.submitting import Submitting
from tui.ui.signals import NotifySettings, Signals
from tui.ui.themes import status_style
from tui.ui.tolerant import tolerant
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.detail import DetailPane, describe, describe_batch
from tui.ui.widgets.footer import Footer
from tui.ui.widgets.status_bar import StatusBar, StatusFigures
from tui.ui.widgets.task_table import TaskTable

if TYPE_CHECKING:
    pass

MAX_GROWN = 450  # the first page holds at most PAGE_SIZE + this many rows
REFRESH_EVERY = 0.25  # seconds: bursts of writes become a few repaints a second
SLOW_SORT_EVERY = 1.0  # seconds between reloads of a page whose sort has no index
COUNTS_EVERY = 0.5  # seconds between recounts: the figures lag the store by < 1 s
ACCOUNT_CHECK_EVERY = 30.0  # seconds between looks for expiring videos, foreign tasks
PAGE_SIZE = 50  # rows in the table at once; the rest of the history stays in SQLite
COUNT_CAP = 1000  # a text search says "1,000+" rather than count every match
NARROW = 160  # columns below which the detail pane moves under the table
LIVE = ("PENDING", "RUNNING", "SUSPENDED", "SUBMITTING")


class MainScreen(Submitting):
    """Status bar, composer, filter line, and the task table beside its detail pane."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+j,f5", "submit", "Submit", id="submit", priority=True),
        # A priority binding: the screen acts on "/" before later keys reach the table,
        # so a burst like "/fox" lands in the filter box (check_action lets "/" be typed).
        Binding("slash", "filter", "Filter", id="filter", priority=True),
        Binding("s", "stats", "Stats", id="stats", show=False),
        Binding("ctrl+z", "undo_forget", "Undo forget", id="undo", show=False),
        Binding("q", "app.quit", "Quit", id="main.quit", show=False),
        Binding("m", "toggle_full", "Full table", id="main.full-table", show=False),
        Binding("i", "compose", "Write a prompt", id="main.compose", show=False),
        Binding("ctrl+o", "open_batch", "Open a batch file", id="open-batch", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.where = HistoryFilter()
        self.page_no = 0
        self._grown = 0  # rows the first page holds beyond PAGE_SIZE (see _make_room)
        self._shift = 0  # rows a later page moved down by (see _make_room)
        self.matching = 0  # rows the filter matches (capped for text searches)
        self.marks: set[int] = set()
        self.folded: set[str] = set()  # batches shown as one row
        self._counts = Counts()
        self._health = ("ok", "")
        self._expiring = 0
        self._foreign = 0
        self._new_above = 0
        self._last_update: datetime | None = None
        self._seen_change: str | None = None
        self._dirty = False
        self._last_reload = 0.0
        self._last_count = 0.0
        self._recount_due = False  # a change came while recounts were held back
        self._view_lock = asyncio.Lock()  # one page load or refresh at a time
        self._filter_pending = False
        self._submitting = False
        self._budget: BudgetState | None = None
        self._last_batch_file = ""
        self._downloading: set[int] = set()
        self._saved_in_burst = 0
        self._forgotten: list[int] = []  # this session's, newest last: ctrl+z restores
        self._previews: dict[tuple[int, str | None], Any] = {}  # Text, or a Pillow image
        self._signal_stamp = iso(utc_now())  # ends before this are history, not news
        self._batches: dict[int, BatchSummary] = {}  # rows standing for folded batches
        self._frames: dict[int, Text] = {}  # a first frame per saved variation
        self.signals = Signals(NotifySettings(), toast=self._toast, write=lambda _s: None,
                               bell=lambda: None)

    # -- what the screen stands on -------------------------------------------------

    @property
    def store(self) -> TaskStore:
        store = self.pixverse.store
        assert store is not None
        return store

    @property
    def table(self) -> TaskTable:
        return self.query_one(TaskTable)

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Composer(id="composer")
        yield Input(placeholder="filter: words in the prompt, status:RUNNING …  (enter: keep, "
                                "escape: clear)", id="filter", compact=True)
        with Container(id="work"):
            yield TaskTable(id="tasks")
            yield DetailPane(id="detail")
        yield Footer()

    def settings_changed(self) -> None:
        """config.toml was read again: notifications and the submit keys follow it."""
        app = self.pixverse
        self.signals.settings = NotifySettings(**app.ws.settings.section("notify"))
        self.query_one(Composer).show_submit_keys(app.keys_for("submit"))
        self.call_later(self.refresh_budget)

    def _toast(self, title: str, message: str) -> None:
        """A task or batch ended.  Not over a dialog (it would hide the question); the
        title, the bell and the status bar still tell."""
        if self.app.screen is not self:
            return
        self.notify(message, title=title, timeout=4)

    def on_mount(self) -> None:
        app = self.pixverse
        notify = app.ws.settings.section("notify")
        self.signals = Signals(NotifySettings(**notify), toast=self._toast,
                               write=app.write_terminal, bell=app.bell)
        if self.signals.settings.title:
            app.write_terminal("\x1b[22;0t")  # keep the terminal's own title, to give back
        composer = self.query_one(Composer)
        composer.apply_settings(app.composer_defaults())
        composer.show_submit_keys(app.keys_for("submit"))
        composer.prompt.focus()
        table = self.table
        table.style_for = lambda status: status_style(app.current_theme, status)
        table.now = app.now
        table.marked = self.marks
        self._show_figures()
        self._mounted_once = True
        if self._services_waiting:  # the store opened before this screen was ready
            self.call_later(self.services_opened)

    _mounted_once = False
    _services_waiting = False
    _services_started = False

    async def services_opened(self) -> None:
        """The app has opened the store and the client: show the history, keep it live.
        On a loaded machine the store can open before this screen has mounted: then the
        screen starts them itself when it has."""
        if not self._mounted_once:
            self._services_waiting = True
            return
        if self._services_started:
            return
        self._services_started = True
        await self.load_page()
        self.set_interval(REFRESH_EVERY, self._refresh, name="refresh")
        self.set_interval(1.0, self._tick, name="tick")
        self.set_interval(ACCOUNT_CHECK_EVERY, self._account_check, name="account")
        self.call_later(self._account_check)
        self.call_later(self.refresh_budget)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")

    # -- the page --------------------------------------------------------------------

    @tolerant
    async def load_page(self, page: int | None = None) -> None:
        """Show one page of the filtered, sorted history — never the whole of it."""
        async with self._view_lock:
            if page is not None:
                self.page_no = max(0, page)
                self._grown = self._shift = 0
            rows = await self._read_page()
            self.table.replace(rows, self._batches)
            self._new_above = 0
            await self._recount(force=True)
        self._show_detail()

    @property
    def _query(self) -> HistoryFilter:
        """The filter as typed, with the folded batches shown as one row each."""
        return replace(self.where, folded=tuple(sorted(self.folded)))

    async def _read_page(self) -> list[Generation]:
        table = self.table
        self._seen_change = await self.store.generations.last_change()
        self.matching = await self._count()
        if not self._count_capped:
            self.page_no = min(self.page_no, max(0, (self.matching - 1) // PAGE_SIZE))
        rows = await self.store.history.page(self._query, sort=table.sort_column,
                                             descending=table.sort_reverse,
                                             limit=PAGE_SIZE + self._grown, offset=self._offset)
        if not rows and self.page_no > 0:  # past the end of an uncounted search
            self.page_no -= 1
            self._grown = self._shift = 0
            rows = await self.store.history.page(self._query, sort=table.sort_column,
                                                 descending=table.sort_reverse, limit=PAGE_SIZE,
                                                 offset=self._offset)
        self._last_reload = time.monotonic()
        self._batches = {row.id: summary for row in rows if row.batch_id in self.folded
                         if (summary := await self.store.intents.batch(row.batch_id)) is not None}
        return rows

    @property
    def _offset(self) -> int:
        return self.page_no * PAGE_SIZE + self._shift

    def _make_room(self, added: int) -> bool:
        """Rows arrived above and pushed the highlighted one off the page: the first page
        grows to keep it, a later page moves down with it (until the user moves on)."""
        if self.page_no == 0:
            grown = min(self._grown + added, MAX_GROWN)
            changed, self._grown = grown != self._grown, grown
        else:
            changed, self._shift = True, self._shift + added
        return changed

    async def _count(self) -> int:
        """Rows matching the filter; a text search stops counting past ``COUNT_CAP``."""
        if not self.where.text:
            return await self.store.history.count(self._query)
        return await self.store.history.count(self._query, at_most=COUNT_CAP)

    @property
    def _count_capped(self) -> bool:
        return bool(self.where.text) and self.matching > COUNT_CAP

    def refresh_soon(self) -> None:
        """Something changed by the user's hand: figures now, the page on the next tick."""
        self._dirty = True
        self._show_figures()

    @tolerant
    async def _refresh(self) -> None:
        """Apply whatever any process wrote: the page as the store has it now."""
        if self.pixverse.store is None or self._view_lock.locked():
            return
        changed = await self.store.generations.last_change()
        if changed == self._seen_change and not self._dirty:
            if self._recount_due:  # the last change's figures, once the hold-back ends
                await self._recount()
            return
        indexed = self.table.sort_column == "submitted"
        if not indexed and time.monotonic() - self._last_reload < SLOW_SORT_EVERY:
            return  # a sort without an index: at most one reload a second
        async with self._view_lock:
            self._dirty = False
            highlighted = self.table.highlighted_id
            before = self.table.rows_by_id.get(highlighted or -1)
            rows = await self._read_page()
            if before is not None and all(row.id != highlighted for row in rows):
                added = len({row.id for row in rows} - set(self.table.rows_by_id))
                if added and self._make_room(added):
                    rows = await self._read_page()
            diff = self.table.show_page(rows, self._batches)
            self._new_above += diff.added_before(self.table.top_row())
            if self.table.top_row() == 0:
                self._new_above = 0
            await self._recount(force=bool(diff.added or diff.removed))
            self._last_update = self.pixverse.now()
        after = self.table.rows_by_id.get(highlighted or -1)
        if after is not None and after != before:
            self._show_detail()
        self._show_figures()

    @tolerant
    async def _recount(self, *, force: bool = False) -> None:
        """The status bar's figures, from the store (at most once a second)."""
        now = time.monotonic()
        if not force and now - self._last_count < COUNTS_EVERY:
            self._recount_due = True
            return
        self._last_count = now
        self._recount_due = False
        midnight = self.pixverse.now().astimezone().replace(hour=0, minute=0, second=0,
                                                             microsecond=0)
        self._counts = await self.store.history.counts(iso(midnight))
        self._show_figures()

    def _show_figures(self) -> None:
        app = self.pixverse
        self.query_one(StatusBar).figures = StatusFigures(
            counts=self._counts, window=self._window(), marks=len(self.marks),
            new_above=self._new_above, expiring=self._expiring, foreign=self._foreign,
            budget=self._budget.summary() if self._budget is not None else "",
            budget_low=self._budget is not None and self._budget.low,
            health=self._health[0], detail=self._health[1], updated=self._last_update,
            demo=app.ws.demo, region=region_of(app.ws.base_url), endpoint=app.ws.base_url)

    def _window(self) -> str:
        shown = self.table.row_count
        if self.matching <= PAGE_SIZE + self._grown and self._offset == 0:
            return f"{self.matching} shown" if self.where.empty else (
                f"{self.matching} of {self._counts.total:,} match")
        first = self._offset + 1
        of = f"{COUNT_CAP:,}+" if self._count_capped else f"{self.matching:,}"
        return f"{first:,}–{first + shown - 1:,} of {of}" + (
            "" if self.where.empty else " matching")

    def _tick(self) -> None:
        """Elapsed clocks of live rows, and the highlighted row's details, move on."""
        table = self.table
        table.tick()
        highlighted = table.rows_by_id.get(table.highlighted_id or -1)
        if highlighted is not None and highlighted.display_status in LIVE:
            self._show_detail()
        if self.pixverse.store is not None:
            self.run_worker(self._recount(), group="recount", exclusive=True,
                            exit_on_error=False)
            self.run_worker(self._signal(), group="signals", exclusive=True,
                            exit_on_error=False)

    @tolerant
    async def _signal(self) -> None:
        """What ended since the last look — told at most once a second."""
        stamp = iso(utc_now())
        ended = await self.store.generations.ended_since(self._signal_stamp)
        self._signal_stamp = stamp
        batches = [summary for batch_id in {r.batch_id for r in ended if r.batch_id}
                   if (summary := await self.store.intents.batch(batch_id)) is not None]
        self.signals.ended(ended, batches)
        self.signals.flush()
        self.signals.show_counts(self._counts)

    @tolerant
    async def _account_check(self) -> None:
        """Videos about to be lost (saved now when this process polls and auto is on),
        and tasks other clients made with the key."""
        app = self.pixverse
        if app.store is None:
            return
        if app.polling and app.ws.settings.get("downloads", "auto"):
            for row in await rescue.to_rescue(self.store):
                self.download(row.id, quiet=True)
        self._expiring = len(await rescue.expiring(self.store))
        account = app.ws.account
        self._foreign = len(await self.store.foreign.recent(account)) if account else 0
        await self.refresh_budget()
        app.foreign = self._foreign
        self._show_figures()

    # -- messages from the app's poller -------------------------------------------------

    def on_store_changed(self, _: StoreChanged) -> None:
        """Coalesced: the refresh timer applies every change a few times a second."""
        self._dirty = True

    def on_task_updated(self, message: TaskUpdated) -> None:
        self._dirty = True
        if message.finished and self.pixverse.ws.settings.get("downloads", "auto"):
            self.download(message.generation_id, quiet=True)

    def on_poller_health_changed(self, message: PollerHealthChanged) -> None:
        self._health = (message.health, message.detail)
        self._show_figures()

    # -- the detail pane -------------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_detail()
        if self._new_above:
            self.call_after_refresh(self._new_rows_seen)  # once the table has scrolled

    def _new_rows_seen(self) -> None:
        """Scrolled up to the top of the page: the rows "N new ↑" pointed at are in sight."""
        if self._new_above and self.table.top_row() == 0:
            self._new_above = 0
            self._show_figures()

    def _show_detail(self) -> None:
        self.call_later(self._update_detail)

    @tolerant
    async def _update_detail(self) -> None:
        if self.pixverse.store is None or not self.is_attached:
            return
        row = self.highlighted()
        pane = self.query_one(DetailPane)
        if row is None:
            pane.show(Text("Select a task to see its details.", style="dim"))
            pane.show_preview(None)
            return
        app = self.pixverse
        summary = self._batches.get(row.id)
        if summary is not None:  # a folded batch: its variations side by side
            variations = await self.store.intents.batch_rows(summary.batch_id)
            pane.show(describe_batch(summary, variations, app.now(), self._frames,
                                     lambda s: status_style(app.current_theme, s),
                                     width=pane.size.width or 48), row_id=row.id)
            pane.show_preview(None)
            self._decode_frames(variations)
            return
        events_ = await self.store.generations.events(row.id)
        tags = await self.store.history.tags_of(row.id)
        pane.show(describe(row, events_, app.now(),
                           status_style(app.current_theme, row.display_status), tags),
                  row_id=row.id)
        self._show_preview(row)

    def _decode_frames(self, rows: list[Generation]) -> None:
        """A first frame of each saved variation (in a thread, once each)."""
        wanted = [r for r in rows if r.download_state == "done" and r.download_path
                  and r.id not in self._frames]
        if wanted:
            self.run_worker(partial(self._frames_in_thread, wanted), thread=True,
                            group="frames", exclusive=True, exit_on_error=False)

    def _frames_in_thread(self, rows: list[Generation]) -> None:
        cache = self.pixverse.ws.paths.data_dir / "previews"
        for row in rows:
            try:
                thumbs = preview.cached(Path(row.download_path or ""), row.download_sha256,
                                        cache)
            except preview.PreviewError:
                continue
            self.post_message(PreviewReady(row.id, list[object](thumbs[:1]), frame_only=True))

    def _show_preview(self, row: Generation) -> None:
        pane = self.query_one(DetailPane)
        if row.download_state != "done" or not row.download_path:
            pane.show_preview(None)
            return
        key = (row.id, row.download_sha256)
        if key in self._previews:
            pane.show_preview(self._previews[key])
            return
        pane.show_preview(Text("decoding preview…", style="dim"))
        self.run_worker(partial(self._decode_preview, row), thread=True, group="preview",
                        exclusive=True, exit_on_error=False, name="preview")

    def _decode_preview(self, row: Generation) -> None:
        """Runs in a thread: PyAV blocks.  Reports back by message only."""
        path = Path(row.download_path or "")
        cache = self.pixverse.ws.paths.data_dir / "previews"
        try:
            thumbs = preview.cached(path, row.download_sha256, cache)
            picture = None
            if self.pixverse.graphics is not None:
                big = preview.cached(path, row.download_sha256, cache, max_w=160, max_h=120)
                picture = graphics.contact_sheet(big)
        except preview.PreviewError as exc:
            self.post_message(PreviewReady(row.id, None, str(exc)))
            return
        self.post_message(PreviewReady(row.id, list(thumbs), picture=picture))

    def on_preview_ready(self, message: PreviewReady) -> None:
        if message.frame_only:  # a variation's frame for the batch view
            if message.thumbs:
                self._frames[message.generation_id] = sheet(message.thumbs)  # type: ignore[arg-type]
                self._show_detail()
            return
        row = self.table.rows_by_id.get(message.generation_id)
        if row is None:
            return
        content: Any = (sheet(message.thumbs) if message.thumbs  # type: ignore[arg-type]
                        else Text(f"No preview: {message.error}", style="dim"))
        if message.picture is not None:
            content = message.picture
        self._previews[(row.id, row.download_sha256)] = content
        if len(self._previews) > 64:
            self._previews.pop(next(iter(self._previews)))
        if self.table.highlighted_id == row.id:
            self.query_one(DetailPane).show_preview(content)

    @tolerant
    @tolerant
    async def action_fold(self) -> None:
        """Fold a batch into one row (with its progress), or unfold it."""
        row = self.highlighted()
        if row is None or row.batch_id is None:
            self.notify("This generation is not part of a batch (a ×N submission).",
                        timeout=3)
            return
        self.folded.symmetric_difference_update({row.batch_id})
        first = min(r.id for r in await self.store.intents.batch_rows(row.batch_id))
        await self.load_page()
        if first in self.table.rows_by_id:
            self.table.move_cursor(row=self.table.get_row_index(str(first)))

    @tolerant
    async def action_open_detail(self) -> None:
        row = self.highlighted()
        if row is None:
            return
        app = self.pixverse
        events_ = await self.store.generations.events(row.id)
        tags = await self.store.history.tags_of(row.id)
        app.push_screen(DetailScreen(row.id, describe(
            row, events_, app.now(), status_style(app.current_theme, row.display_status),
            tags)))

    def restyle(self) -> None:
        """The theme changed: re-colour every row and the details."""
        self.table.refresh_rows()
        self._show_detail()

    # -- the composer ------------------------------------------------------------------

    def action_focus_tasks(self) -> None:
        self.table.focus()

    def action_toggle_full(self) -> None:
        """The table alone, full height (again: the composer and details come back)."""
        self.toggle_class("-full-table")
        if self.has_class("-full-table"):
            self.table.focus()

    def action_compose(self) -> None:
        """From the table to the composer (the full-height table gives way to it)."""
        self.remove_class("-full-table")
        self.query_one(Composer).prompt.focus()

    # -- filter, sort, pages -------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            return not isinstance(self.focused, Input | TextArea)
        return True

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        # Focus now, not later (``focus()`` waits for the queue): keys typed right after
        # "/" are already queued, and must reach the box, not run table commands.
        self.set_focus(box)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        """Coalesced: keys already queued are handled before the query runs, and the
        query then uses the latest text — one query for a burst, none of it delayed."""
        self.where = parse_filter(event.value)
        if not self._filter_pending:
            self._filter_pending = True
            self.call_later(self._apply_filter)

    @tolerant
    async def _apply_filter(self) -> None:
        self._filter_pending = False
        await self.load_page(page=0)

    @on(Input.Submitted, "#filter")
    def _filter_kept(self) -> None:
        for problem in self.where.problems:
            self.notify(problem, title="Filter", severity="warning")
        self.table.focus()

    def on_key(self, event: events.Key) -> None:
        focused = self.focused
        if event.key == "escape" and isinstance(focused, Input) and focused.id == "filter":
            focused.value = ""
            focused.remove_class("-shown")
            self.table.focus()
            event.stop()
        elif event.key == "escape" and focused is self.table and self.marks:
            self.action_clear_marks()
            event.stop()

    @on(TaskTable.SortChanged)
    @tolerant
    async def _sort_changed(self) -> None:
        await self.load_page(page=0)

    @on(TaskTable.PageRequested)
    @tolerant
    async def _page_requested(self, message: TaskTable.PageRequested) -> None:
        last = max(0, (self.matching - 1) // PAGE_SIZE)
        wanted = self.page_no + message.step
        more = self._count_capped and self.table.row_count == PAGE_SIZE
        if 0 <= wanted <= last or (wanted > self.page_no and more):
            await self.load_page(page=wanted)
            table = self.table
            table.move_cursor(row=0 if message.step > 0 else table.row_count - 1)

    @on(TaskTable.JumpRequested)
    @tolerant
    async def _jump(self, message: TaskTable.JumpRequested) -> None:
        """Home: the very first row; End: the very last (of every page)."""
        last = max(0, (self.matching - 1) // PAGE_SIZE)
        wanted = 0 if message.end == 0 else last
        if wanted != self.page_no:
            await self.load_page(page=wanted)
        table = self.table
        table.move_cursor(row=0 if message.end == 0 else table.row_count - 1)
        if message.end == 0:
            self._new_above = 0
            self._show_figures()
