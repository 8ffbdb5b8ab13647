"""The dashboard app: owns the store, the client, the poller and every piece of UI state.

Data flows one way: pollers and actions write SQLite; a short refresh timer
reads what changed (from this process or any other) and updates the rows it
touches.  Workers never touch widgets: they post messages or notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import functools
import inspect
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.css.query import NoMatches
from textual.filter import LineFilter
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, TextArea
from textual.worker import Worker, WorkerState

from storage import Generation, StoreError, TaskStore
from storage.clock import iso, utc_now
from storage.history import HistoryFilter, parse_filter
from storage.store import TRASH_DAYS
from tui.config.credentials import region_of
from tui.dashscope import DashScopeClient, DashScopeError
from tui.engine import operations, preview, rescue, resolve, stats, trash
from tui.engine.download import DownloadBusy, Downloader, DownloadError
from tui.engine.media_url import UrlPolicy, UrlRefused
from tui.engine.observe import adopt_foreign
from tui.engine.poller import Health, PollScheduler
from tui.engine.submit import CreatedButNotRecorded, submit_all
from tui.engine.workspace import Workspace
from tui.safe_text import printable
from tui.ui import graphics
from tui.ui.halfblock import sheet
from tui.ui.messages import (
    PollerHealthChanged,
    PreviewReady,
    StoreChanged,
    SubmissionFinished,
    TaskFinished,
)
from tui.ui.screens.ask import AskScreen
from tui.ui.screens.choice import ChoiceScreen
from tui.ui.screens.detail import DetailScreen
from tui.ui.screens.keys import KeysScreen
from tui.ui.screens.stats import StatsScreen
from tui.ui.screens.welcome import WelcomeScreen
from tui.ui.state import read_state, write_state
from tui.ui.terminal_guard import ControlCharacterGuard
from tui.ui.themes import DEFAULT_THEME, load_themes, status_style
from tui.ui.widgets.composer import Composer, Draft
from tui.ui.widgets.detail import DetailPane, describe
from tui.ui.widgets.status_bar import StatusBar
from tui.ui.widgets.task_table import TaskTable

REFRESH_EVERY = 0.25  # seconds: coalesces bursts of updates into a few repaints a second
PAGE_SIZE = 50  # rows in the table at once; the rest of the history stays in SQLite
COUNT_CAP = 1000  # a text search says "1,000+" rather than count every match
ACCOUNT_CHECK_EVERY = 30.0  # seconds between looks for expiring videos and foreign tasks
NARROW = 160  # columns below which the detail pane moves under the table
LIVE = ("PENDING", "RUNNING", "SUSPENDED", "SUBMITTING")


# What a callback meets when the screen or the database went away under it.
_CLOSING_ERRORS = (NoMatches, IndexError, sqlite3.ProgrammingError, ValueError, StoreError)
STORE_TROUBLE_EVERY = 10.0  # seconds between two toasts about the same database trouble


def quiet_when_closing(method: Callable[..., Any]) -> Callable[..., Any]:
    """For timer and message callbacks that may run while the app is closing.

    The widgets they update can be gone by then; that alone is not an error.
    A database that is busy or failing while the dashboard is up is said in a
    toast (the next tick tries again); any other failure is raised as usual.
    """
    def handle(self: PixverseApp, exc: Exception) -> None:
        if self._main() is None or self._closing:
            return
        if isinstance(exc, StoreError):
            self.store_trouble(exc)
            return
        raise exc

    if inspect.iscoroutinefunction(method):
        @functools.wraps(method)
        async def run_async(self: PixverseApp, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except _CLOSING_ERRORS as exc:
                handle(self, exc)
                return None

        return run_async

    @functools.wraps(method)
    def run(self: PixverseApp, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except _CLOSING_ERRORS as exc:
            handle(self, exc)
            return None

    return run


class MainScreen(Screen[None]):
    """The dashboard: status bar, composer, task table with its detail pane."""

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Composer(id="composer")
        yield Input(placeholder="filter: words in the prompt, status:RUNNING …  (enter: keep, "
                                "escape: clear)", id="filter", compact=True)
        with Container(id="work"):
            yield TaskTable(id="tasks")
            yield DetailPane(id="detail")
        yield Footer()


class PixverseApp(App[str | None]):
    CSS_PATH = "app.tcss"
    TITLE = "pixverse-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+j,f5", "submit", "Submit", id="submit", priority=True),
        Binding("question_mark", "show_keys", "Keys", id="keys"),
        # A priority binding: the app acts on "/" before it hands later keys to the table,
        # so a burst like "/fox" lands in the filter box (check_action lets "/" be typed).
        Binding("slash", "filter", "Filter", id="filter", priority=True),
        Binding("s", "stats", "Stats", id="stats"),
        Binding("ctrl+z", "undo_forget", "Undo forget", id="undo", show=False),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(self, ws: Workspace, *, now: Callable[[], datetime] = utc_now,
                 poll: bool = True, client: DashScopeClient | None = None) -> None:
        super().__init__()
        self.ws = ws
        self.now = now
        self.poll_enabled = poll
        self.store: TaskStore | None = None
        self.client = client
        self.poller: PollScheduler | None = None
        self.downloader: Downloader | None = None
        self.health = Health.OK.value
        self.health_detail = ""
        self.last_update: datetime | None = None
        self.where = HistoryFilter()
        self.page_no = 0
        self.total = 0
        self._stamp = ""
        self._submitting = False
        self._downloading: set[int] = set()
        self._forgotten: list[int] = []  # this session's, newest last: ctrl+z restores
        self._filter_pending = False
        self._expiring = 0  # finished, not saved, URL dies within 2 h
        self._foreign = 0  # tasks of the account no row knows
        self._view_lock = asyncio.Lock()  # one page load or refresh at a time
        self._previews: dict[tuple[int, str | None], Any] = {}  # Text, or a Pillow image
        self.graphics = graphics.detected()
        self._last_seen: list[Generation] = []
        self._closing = False
        self._store_dirty = False
        self._guard = ControlCharacterGuard()
        self._store_trouble_at = -STORE_TROUBLE_EVERY
        self._state = read_state(ws.paths.state_file)
        self._startup_problems = list(ws.warnings)
        loaded = load_themes(ws.paths.themes_dir)
        self._startup_problems += loaded.problems
        for theme in loaded.themes:
            self.register_theme(theme)

    # -- start and stop -----------------------------------------------------------

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast, whoever raises it: never markup (``markup`` is ignored), never a
        control character — toasts often carry a server's words."""
        super().notify(printable(message, multiline=True), title=printable(title),
                       severity=severity, timeout=timeout, markup=False)

    def store_trouble(self, exc: StoreError) -> None:
        """The database failed under a callback: say so, now and then, and carry on."""
        now = time.monotonic()
        if now - self._store_trouble_at >= STORE_TROUBLE_EVERY:
            self._store_trouble_at = now
            self.notify(str(exc), title="Database", severity="warning", timeout=8)

    def get_line_filters(self) -> Sequence[LineFilter]:
        return [*super().get_line_filters(), self._guard]

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen() if self.ws.key is not None else WelcomeScreen()

    async def on_mount(self) -> None:
        self._apply_theme()
        self._apply_keymap()
        for problem in self._startup_problems:
            self.notify(problem, title="Config", severity="warning", timeout=15, markup=False)
        if self.ws.key is None:
            return
        try:
            self.store = await self.ws.open_store()
        except StoreError as exc:
            self.exit(return_code=1, message=f"pixverse-tui: {printable(str(exc))}")
            return
        if self.client is None:
            try:
                self.client = self.ws.client(self.store)
            except DashScopeError as exc:
                self.exit(return_code=1, message=f"pixverse-tui: {printable(str(exc))}")
                return
        self.downloader = self.ws.downloader(self.store)
        composer = self.screen.query_one(Composer)
        composer.apply_settings(self._composer_defaults())
        composer.prompt.focus()
        table = self.screen.query_one(TaskTable)
        table.style_for = lambda status: status_style(self.current_theme, status)
        await self._load_table()
        self._render_status()
        self.set_interval(REFRESH_EVERY, self._refresh_from_store, name="refresh")
        self.set_interval(1.0, self._tick, name="tick")
        self.set_interval(ACCOUNT_CHECK_EVERY, self._account_check, name="account")
        self.call_later(self._account_check)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.poll_enabled:
            self._start_poller()

    def _composer_defaults(self) -> dict[str, Any]:
        values = self.ws.settings.section("composer")
        values.update(self._state.get("composer", {}))
        return values

    async def action_quit(self) -> None:
        self._save_state()  # while the screens still exist
        await super().action_quit()

    async def on_unmount(self) -> None:
        self._closing = True
        if self.poller is not None and self.store is not None:
            await self.poller.release()
        if self.downloader is not None:
            await self.downloader.aclose()
        if self.client is not None:
            await self.client.aclose()
        if self.store is not None:
            await self.store.close()

    def _save_state(self) -> None:
        state = dict(self._state)
        state["theme"] = self.theme
        if self.screen_stack and isinstance(self.screen_stack[0], MainScreen):
            with contextlib.suppress(Exception):  # the screen may be gone while quitting
                state["composer"] = self.screen_stack[0].query_one(Composer).settings()
        try:
            write_state(self.ws.paths.state_file, state)
            self._state = state
        except OSError as exc:
            self.notify(f"Could not save settings: {exc}", severity="warning", markup=False)

    # -- themes and keys -----------------------------------------------------------

    def _apply_theme(self) -> None:
        wanted = self._state.get("theme") or self.ws.settings.get("ui", "theme") or DEFAULT_THEME
        if wanted not in self.available_themes:
            fallback = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
            self._startup_problems.append(f"Theme {wanted!r} is not installed; using "
                                          f"{fallback}.")
            wanted = fallback
        self.theme = wanted

    @quiet_when_closing
    def _theme_changed(self, _theme: object) -> None:
        self._save_state()
        if self.store is not None:
            self.screen_stack[0].query_one(TaskTable).restyle(self.now())
            self._show_detail()

    def binding_ids(self) -> dict[str, Binding]:
        every = [*self.BINDINGS, *Composer.BINDINGS, *TaskTable.BINDINGS]
        return {b.id: b for b in every if isinstance(b, Binding) and b.id}

    def _apply_keymap(self) -> None:
        wanted = self.ws.settings.section("keys")
        known = self.binding_ids()
        keymap = {}
        for binding_id, keys in wanted.items():
            if binding_id not in known:
                close = difflib.get_close_matches(binding_id, list(known), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self._startup_problems.append(
                    f"[keys] {binding_id} is not a binding id{hint}; press ? to see them.")
            elif not isinstance(keys, str) or not keys.strip():
                self._startup_problems.append(f"[keys] {binding_id} must be a key name such as "
                                              '"ctrl+s" or "f5,ctrl+s".')
            else:
                keymap[binding_id] = keys
        if keymap:
            self.set_keymap(keymap)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.store is None:
            return
        for binding in self.binding_ids().values():
            action = binding.action.removeprefix("app.")
            if not hasattr(self, f"action_{action}") or action in ("quit", "show_keys"):
                continue
            yield SystemCommand(binding.description, f"{binding.description} ({binding.key})",
                                getattr(self, f"action_{action}"))
        yield SystemCommand("Keys", "Show every key binding", self.action_show_keys)

    # -- reading the store ----------------------------------------------------------

    def _main(self) -> MainScreen | None:
        """The dashboard screen while it is up; None while starting or closing."""
        stack = self.screen_stack if self.is_running else []
        screen = stack[0] if stack else None
        return screen if isinstance(screen, MainScreen) and screen.is_attached else None

    def _table(self) -> TaskTable:
        return self.screen_stack[0].query_one(TaskTable)

    async def _load_table(self, page: int | None = None) -> None:
        """Show one page of the filtered, sorted history — never the whole of it."""
        async with self._view_lock:  # never interleaved with a refresh (see there)
            await self._load_page(page)

    async def _load_page(self, page: int | None) -> None:
        assert self.store is not None
        if page is not None:
            self.page_no = max(0, page)
        table = self._table()
        stamp = iso(utc_now())
        self.total = await self._count()
        if not self._count_capped:
            self.page_no = min(self.page_no, max(0, (self.total - 1) // PAGE_SIZE))
        rows = await self.store.page(self.where, sort=table.sort_column,
                                     descending=table.sort_reverse, limit=PAGE_SIZE,
                                     offset=self.page_no * PAGE_SIZE)
        if not rows and self.page_no > 0:  # past the end of an uncounted search
            self.page_no -= 1
            rows = await self.store.page(self.where, sort=table.sort_column,
                                         descending=table.sort_reverse, limit=PAGE_SIZE,
                                         offset=self.page_no * PAGE_SIZE)
        self._stamp = min(self._stamp, stamp) if self._stamp else stamp
        table.replace(rows, self.now())
        self._render_status()
        self._show_detail()

    async def _count(self) -> int:
        """Rows matching the filter; a text search stops counting past ``COUNT_CAP``."""
        assert self.store is not None
        if not self.where.text:
            return await self.store.count_where(self.where)
        return await self.store.count_where(self.where, at_most=COUNT_CAP)

    @property
    def _count_capped(self) -> bool:
        return bool(self.where.text) and self.total > COUNT_CAP

    @quiet_when_closing
    async def _account_check(self) -> None:
        """Videos about to be lost (saved now when this process polls and auto is on),
        and tasks other clients made with the key."""
        if self.store is None:
            return
        if self.poller is not None and self.poller.polling and self.ws.settings.get(
                "downloads", "auto"):
            for row in await rescue.to_rescue(self.store):
                self._download(row.id)
        self._expiring = len(await rescue.expiring(self.store))
        account = self.ws.account
        self._foreign = len(await self.store.foreign_tasks(account)) if account else 0
        self._render_status()

    def _shows_newest(self) -> bool:
        table = self._table()
        return self.page_no == 0 and table.sort_column == "submitted" and table.sort_reverse

    @quiet_when_closing
    async def _refresh_from_store(self) -> None:
        """Apply whatever any process wrote since the last look.

        Holds the view lock: a page loaded while this waits for the store would be
        trimmed to the rows shown before it.
        """
        if self.store is None:
            return
        async with self._view_lock:
            await self._apply_changes()

    async def _apply_changes(self) -> None:
        assert self.store is not None
        self._store_dirty = False
        rows = await self.store.changed_since(self._stamp)
        gone = set(await self.store.forgotten_since(self._stamp))
        if not rows and not gone:
            return
        if rows:
            self._stamp = max(r.updated_at for r in rows)
        table = self._table()
        shown = set(table.rows_by_id)
        ids = {r.id for r in rows}
        admitted = await self.store.matching_ids(self.where, ids)  # the trash is never shown
        new = [r for r in rows if r.id in admitted and r.id not in shown]
        visible = [r for r in rows if r.id in admitted and (
            r.id in shown or self._shows_newest())]
        touched = table.apply(visible, self.now())
        table.keep_only(shown - (ids - admitted) - gone | {r.id for r in visible})
        if len(table.rows_by_id) > PAGE_SIZE:  # newest rows pushed the oldest off page 1
            oldest = sorted(table.rows_by_id.values(), key=lambda r: (r.created_at, r.id))
            table.keep_only({r.id for r in oldest[len(oldest) - PAGE_SIZE:]})
        if new or gone:
            self.total = await self._count()
        if table.highlighted_id in ids and rows != self._last_seen:
            self._show_detail()
        self._last_seen = rows
        if not (touched or gone):
            return
        self.last_update = self.now()
        self._render_status()

    @quiet_when_closing
    def _tick(self) -> None:
        table = self._table()
        table.tick(self.now())
        highlighted = table.rows_by_id.get(table.highlighted_id or -1)
        if highlighted is not None and highlighted.display_status in LIVE:
            self._show_detail()

    @quiet_when_closing
    def _render_status(self) -> None:
        in_flight = sum(1 for r in self._table().rows_by_id.values()
                        if r.display_status in LIVE)
        self.screen_stack[0].query_one(StatusBar).render_status(
            endpoint=self.ws.base_url, region=region_of(self.ws.base_url), demo=self.ws.demo,
            in_flight=in_flight, health=self.health, detail=self.health_detail,
            updated=self.last_update, window=self._window(), expiring=self._expiring,
            foreign=self._foreign)

    def _window(self) -> str:
        if self.total <= PAGE_SIZE and self.page_no == 0:
            return f"{self.total} shown" if self.where.empty else f"{self.total} match"
        first = self.page_no * PAGE_SIZE + 1
        last = first + self._table().row_count - 1
        of = f"{COUNT_CAP:,}+" if self._count_capped else f"{self.total:,}"
        return f"{first:,}–{last:,} of {of}"

    def _show_detail(self) -> None:
        self.call_later(self._update_detail)

    @quiet_when_closing
    async def _update_detail(self) -> None:
        table = self._table()
        row = table.rows_by_id.get(table.highlighted_id or -1)
        pane = self.screen_stack[0].query_one(DetailPane)
        if row is None or self.store is None:
            return
        events = await self.store.events(row.id)
        tags = await self.store.tags_of(row.id)
        pane.show(describe(row, events, self.now(), status_style(self.current_theme,
                                                                 row.display_status), tags))
        self._show_preview(row)

    def _show_preview(self, row: Generation) -> None:
        pane = self.screen_stack[0].query_one(DetailPane)
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
        path, cache = Path(row.download_path or ""), self.ws.paths.data_dir / "previews"
        try:
            thumbs = preview.cached(path, row.download_sha256, cache)
            picture = None
            if self.graphics is not None:
                big = preview.cached(path, row.download_sha256, cache, max_w=160, max_h=120)
                picture = graphics.contact_sheet(big)
        except preview.PreviewError as exc:
            self.post_message(PreviewReady(row.id, None, str(exc)))
            return
        self.post_message(PreviewReady(row.id, list(thumbs), picture=picture))

    @quiet_when_closing
    def on_preview_ready(self, message: PreviewReady) -> None:
        row = self._table().rows_by_id.get(message.generation_id)
        if row is None:
            return
        content = (sheet(message.thumbs) if message.thumbs  # type: ignore[arg-type]
                   else Text(f"No preview: {message.error}", style="dim"))
        if message.picture is not None:
            content = message.picture  # type: ignore[assignment]
        self._previews[(row.id, row.download_sha256)] = content
        if len(self._previews) > 64:
            self._previews.pop(next(iter(self._previews)))
        if self._table().highlighted_id == row.id:
            self.screen_stack[0].query_one(DetailPane).show_preview(content)

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_detail()

    def on_store_changed(self, _: StoreChanged) -> None:
        """Coalesced: the refresh timer applies every change a few times a second, so a
        burst of poll answers costs one table update, not one each."""
        self._store_dirty = True

    def on_poller_health_changed(self, message: PollerHealthChanged) -> None:
        self.health, self.health_detail = message.health, message.detail
        self._render_status()

    def on_task_finished(self, message: TaskFinished) -> None:
        if self.ws.settings.get("downloads", "auto"):
            self._download(message.generation_id)

    # -- the poller ----------------------------------------------------------------

    def _start_poller(self) -> None:
        assert self.store is not None and self.client is not None
        self.poller = self.ws.poller(self.store, self.client, on_update=self._polled,
                                     on_health=self._poller_health)
        self.run_worker(self.poller.run(), name="poller", group="poller", exclusive=True,
                        exit_on_error=False)

    def _poller_health(self, health: Health, detail: str) -> None:
        self.post_message(PollerHealthChanged(health.value, detail))

    def _polled(self, row: Generation, changed: bool) -> None:
        self.post_message(StoreChanged())
        if changed and row.status == "SUCCEEDED":
            self.post_message(TaskFinished(row.id))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is not WorkerState.ERROR:
            return
        error = worker.error
        self.notify(f"{worker.name or worker.group} failed: {error}", title="Background work",
                    severity="error", markup=False, timeout=10)
        if worker.group == "poller":
            self.set_timer(2.0, self._start_poller)

    # -- actions: composer ------------------------------------------------------------

    def action_submit(self) -> None:
        if self.store is None:
            return
        self.screen_stack[0].query_one(Composer).request_submit()

    def on_composer_submit_requested(self, message: Composer.SubmitRequested) -> None:
        draft = message.draft
        if draft.problems:
            self.notify(" ".join(draft.problems), title="Cannot submit", severity="error",
                        markup=False)
            return
        self._start_submission(draft, from_composer=True)

    def _start_submission(self, draft: Draft, *, from_composer: bool) -> None:
        if self._submitting:
            self.notify("Still submitting the previous prompt.", severity="warning")
            return
        self._submitting = True
        self._submit(draft, from_composer)

    @work(group="submit", exclusive=False, exit_on_error=False)
    async def _submit(self, draft: Draft, from_composer: bool) -> None:
        assert self.store is not None and self.client is not None
        sent = 0
        try:
            async for outcome in submit_all(self.store, self.client, draft.requests,
                                            first_poll_after=self.ws.poll_settings().first_poll):
                self.post_message(StoreChanged())
                if outcome.error is not None:
                    if outcome.error.ambiguous:
                        self.notify("No clear answer to the create request: a task may exist. "
                                    "It was not re-sent; select it and press u to resolve.",
                                    title="Submission unconfirmed", severity="warning",
                                    markup=False, timeout=15)
                    else:
                        self.notify(str(outcome.error), title="Refused", severity="error",
                                    markup=False, timeout=10)
                    return
                sent += 1
                if self.poller is not None:
                    self.poller.wake()
                    await self.poller.nudge()  # in case another process polls
            self.post_message(SubmissionFinished(sent, from_composer, draft.requests[0].prompt))
        except (CreatedButNotRecorded, StoreError) as exc:
            self.notify(str(exc), title="Not recorded", severity="error", timeout=60)
        finally:
            self._submitting = False

    @quiet_when_closing
    def on_submission_finished(self, message: SubmissionFinished) -> None:
        if message.from_composer:
            # Only what was sent is cleared: text typed meanwhile stays.
            self.screen_stack[0].query_one(Composer).clear_prompt(if_still=message.prompt)
            self._save_state()
        count = message.count
        self.notify(f"Submitted {count} task{'s' if count > 1 else ''}.", timeout=3)

    def action_focus_tasks(self) -> None:
        self._table().focus()

    # -- actions: table ---------------------------------------------------------------

    def _highlighted_row(self) -> Generation | None:
        table = self._table()
        return table.rows_by_id.get(table.highlighted_id or -1)

    async def action_open_detail(self) -> None:
        row = self._highlighted_row()
        if row is None or self.store is None:
            return
        events = await self.store.events(row.id)
        self.push_screen(DetailScreen(describe(row, events, self.now(), status_style(
            self.current_theme, row.display_status))))

    def action_download(self) -> None:
        row = self._highlighted_row()
        if row is None:
            return
        if row.status != "SUCCEEDED":
            self.notify(f"Only finished tasks can be downloaded (this one is "
                        f"{row.display_status}).", severity="warning", markup=False)
            return
        if row.download_state in ("expired", "refused"):
            self.notify(f"This video cannot be downloaded: {row.download_error}",
                        severity="warning")
            return
        self._download(row.id)

    def action_download_all(self) -> None:
        rows = [r for r in self._table().rows_by_id.values() if r.status == "SUCCEEDED"
                and r.download_state not in ("done", "expired", "refused")]
        if not rows:
            self.notify("Every finished task is already downloaded.")
            return
        for row in rows:
            self._download(row.id)
        self.notify(f"Downloading {len(rows)} video{'s' if len(rows) > 1 else ''}.")

    def _download(self, generation_id: int) -> None:
        if generation_id in self._downloading:
            return
        self._downloading.add(generation_id)
        self.run_worker(self._download_one(generation_id), group="downloads",
                        exit_on_error=False, name=f"download #{generation_id}")

    async def _download_one(self, generation_id: int) -> None:
        assert self.store is not None and self.downloader is not None
        try:
            row = await self.store.get(generation_id)
            if row is None:
                return
            done = await self.downloader.download(row)
            self.notify(f"Saved {done.download_path}", title="Downloaded", markup=False)
        except DownloadBusy as exc:
            self.notify(str(exc), title="Already downloading", timeout=5)
        except DownloadError as exc:
            hint = " Press d to try again (it resumes)." if exc.retryable else ""
            self.notify(str(exc) + hint, title="Download failed", severity="error",
                        timeout=10)
        except StoreError as exc:
            self.notify(str(exc), title="Download not recorded", severity="error", timeout=10)
        finally:
            self._downloading.discard(generation_id)
            self.post_message(StoreChanged())

    def action_cancel_task(self) -> None:
        row = self._highlighted_row()
        if row is None:
            return
        try:
            operations.cancelable(row)
        except operations.Refused as exc:
            self.notify(f"{exc}.", severity="warning")
            return
        self._cancel(row)

    @work(group="cancel", exclusive=False, exit_on_error=False)
    async def _cancel(self, row: Generation) -> None:
        assert self.store is not None and self.client is not None
        try:
            done = await operations.cancel(self.store, self.client, row)
            self.notify(f"{(done.task_id or '')[:8]}: {done.display_status}.")
        except (DashScopeError, operations.Refused) as exc:
            self.notify(str(exc), title="Cancel failed", severity="error")
        self.post_message(StoreChanged())

    def action_reuse(self) -> None:
        row = self._highlighted_row()
        if row is None:
            return
        self.screen_stack[0].query_one(Composer).reuse(row)
        self.notify("Prompt and settings loaded into the composer (same seed).", timeout=3)

    def action_rerun(self) -> None:
        """Submit a past generation again, same prompt, settings and seed (after asking)."""
        row = self._highlighted_row()
        if row is None:
            return
        try:
            request, warnings = operations.rerun_request(row)
        except operations.Refused as exc:
            self.notify(str(exc), title="Cannot re-run", severity="error")
            return
        seed = "a new random seed" if row.seed is None else f"seed {row.seed}"
        question = (f"Submit this prompt again ({row.size}, {row.duration} s, {seed})?\n"
                    "It creates a new task, which is billed.\n\n"
                    + " ".join(row.prompt.split())[:200])

        def chosen(answer: str | None) -> None:
            if answer == "submit":
                self._start_submission(Draft([request], [], warnings), from_composer=False)

        self.push_screen(ChoiceScreen(question, [("cancel", "Cancel"),
                                                 ("submit", "Submit again (billed)")],
                                      safe="cancel"), chosen)

    def action_copy_url(self) -> None:
        row = self._highlighted_row()
        if row is None or not row.video_url:
            self.notify("This task has no video URL yet.", severity="warning")
            return
        try:  # what is pasted into a shell must be a plain URL, nothing more
            UrlPolicy(self.ws.plain_http_origins).check(row.video_url)
        except UrlRefused as exc:
            self.notify(f"The video URL was not copied: {exc}.", severity="warning")
            return
        self.copy_to_clipboard(row.video_url)
        self.notify("Video URL copied to the clipboard.", timeout=3)

    def action_resolve(self) -> None:
        row = self._highlighted_row()
        if row is None or self.store is None:
            return
        if row.task_id and not row.terminal and row.next_poll_at is None:
            self._follow_again(row)  # a task given up on: the user asks to try again
            return
        if row.submission != "unconfirmed":
            self.notify("Only an UNCONFIRMED submission needs resolving.")
            return

        def chosen(answer: str | None) -> None:
            if answer == "search":
                self._resolve(row)
            elif answer == "abandon":
                self._abandon(row)

        self.push_screen(ChoiceScreen(
            "This submission got no clear answer, so a task may exist and be billed.\n"
            "Look for it on the service (recommended), or mark it as never created?",
            [("search", "Look for it"), ("close", "Later"), ("abandon", "Not created")],
            safe="search"), chosen)

    @work(group="resolve", exclusive=True, exit_on_error=False)
    async def _resolve(self, row: Generation) -> None:
        assert self.store is not None and self.client is not None
        self.notify("Looking for it in the service's task list…", timeout=3)
        [verdict] = await resolve.settle(self.store, self.client, [row])
        outcome = verdict.outcome
        if outcome is resolve.Outcome.FOUND and verdict.task is not None:
            self.notify(f"Found it: {verdict.task.task_id} ({verdict.evidence}).")
            if self.poller is not None:
                self.poller.wake()
        elif outcome is resolve.Outcome.NONE:
            self.notify("The service has no task from the moment it was sent: nothing was "
                        "created, nothing is billed. Press u again to mark it as not "
                        "created.", timeout=15)
        elif outcome is resolve.Outcome.AMBIGUOUS:
            ids = ", ".join(t.task_id[:8] for t in verdict.candidates)
            self.notify(f"{len(verdict.candidates)} tasks could be it ({ids}); pick one with "
                        f"`pixverse-tui resolve {row.id} --task TASK_ID`.", timeout=20)
        else:
            self.notify(f"Could not settle it: {verdict.problem}.", severity="warning",
                        timeout=15)
        self.post_message(StoreChanged())

    @work(group="follow", exclusive=False, exit_on_error=False)
    async def _follow_again(self, row: Generation) -> None:
        assert self.store is not None
        await self.store.follow_again(row.id)
        if self.poller is not None:
            self.poller.wake()
        self.notify(f"Following {row.task_id} again.", timeout=3)
        self.post_message(StoreChanged())

    @work(group="resolve", exclusive=True, exit_on_error=False)
    async def _abandon(self, row: Generation) -> None:
        assert self.store is not None
        await operations.abandon(self.store, row)
        self.post_message(StoreChanged())

    async def action_favourite(self) -> None:
        row = self._highlighted_row()
        if row is None or self.store is None:
            return
        await self.store.set_favourite(row.id, not row.favourite)
        await self._refresh_from_store()

    async def action_tags(self) -> None:
        row = self._highlighted_row()
        if row is None or self.store is None:
            return
        store = self.store
        current = await store.tags_of(row.id)

        async def save(answer: str | None) -> None:
            if answer is not None:
                await store.set_tags(row.id, answer.replace(",", " ").split())
                await self._refresh_from_store()

        self.push_screen(AskScreen("Tags (separated by spaces or commas):", " ".join(current)),
                         save)

    async def action_note(self) -> None:
        row = self._highlighted_row()
        if row is None or self.store is None:
            return
        store = self.store

        async def save(answer: str | None) -> None:
            if answer is not None:
                await store.set_note(row.id, answer)
                await self._refresh_from_store()

        self.push_screen(AskScreen("Note:", row.note or "", multiline=True), save)

    def action_forget(self) -> None:
        row = self._highlighted_row()
        if row is None or self.store is None:
            return
        if row.forgotten_at is not None:  # browsing the trash: x puts it back
            self._undo_forget(row.id)
            return
        answers = [("keep", "Keep it"), ("forget", "Forget it")]
        video = trash.own_video(row)
        if video is not None:
            answers.append(("delete", "Forget it and its file"))
        question = ("This task is still running on the service; forgetting it only stops "
                    "following it here.\n" if row.display_status in LIVE else "")
        question += ("Forget this generation? It goes to the trash (ctrl+z brings it back; "
                     f"the trash is emptied after {TRASH_DAYS} days).\n")
        if video is not None:
            question += f"Its file: {video}\n"
        question += "\n" + " ".join(row.prompt.split())[:200]

        def chosen(answer: str | None) -> None:
            if answer in ("forget", "delete"):
                self._forget(row, with_file=answer == "delete")

        self.push_screen(ChoiceScreen(question, answers, safe="keep"), chosen)

    @work(group="forget", exclusive=False, exit_on_error=False)
    async def _forget(self, row: Generation, *, with_file: bool) -> None:
        assert self.store is not None
        try:
            await trash.forget(self.store, row, self.ws.paths.trash_dir, with_file=with_file)
        except OSError as exc:
            self.notify(f"Could not move {row.download_path} to the trash: "
                        f"{exc.strerror or exc}; nothing was forgotten.", severity="error")
            return
        self._forgotten.append(row.id)
        self.notify("Forgotten" + (" (its file is in the trash)" if with_file else "")
                    + ". Press ctrl+z to bring it back.", timeout=6)
        self.post_message(StoreChanged())

    def action_undo_forget(self) -> None:
        if not self._forgotten:
            self.notify("Nothing to bring back (the filter in:trash shows the trash; x there "
                        "restores).", timeout=5)
            return
        self._undo_forget(self._forgotten.pop())

    @work(group="forget", exclusive=False, exit_on_error=False)
    async def _undo_forget(self, generation_id: int) -> None:
        assert self.store is not None
        try:
            row = await trash.restore(self.store, generation_id)
        except OSError as exc:
            self.notify(f"Restored, but its file could not be moved back: "
                        f"{exc.strerror or exc}", severity="warning")
            row = await self.store.get(generation_id)
        if generation_id in self._forgotten:
            self._forgotten.remove(generation_id)
        if row is not None:
            self.notify(f"Brought back #{row.id}.", timeout=3)
        self.post_message(StoreChanged())

    def action_adopt_foreign(self) -> None:
        if not self._foreign:
            self.notify("No foreign tasks: every task the service runs for this key is "
                        "followed here.", timeout=4)
            return
        self._adopt_foreign()

    @work(group="adopt", exclusive=True, exit_on_error=False)
    async def _adopt_foreign(self) -> None:
        assert self.store is not None and self.client is not None
        account = self.ws.account
        if account is None:
            return
        try:
            rows = await adopt_foreign(self.store, self.client, account)
        except DashScopeError as exc:
            self.notify(str(exc), title="Could not adopt", severity="error")
            return
        self.notify(f"Adopted {len(rows)} task{'s' if len(rows) != 1 else ''} made by other "
                    "clients with this key.", timeout=5)
        self.post_message(StoreChanged())
        await self._account_check()

    async def action_stats(self) -> None:
        if self.store is None:
            return
        figures = await stats.compute(self.store, self.ws.settings.section("prices"))
        self.push_screen(StatsScreen(figures))

    # -- actions: app ---------------------------------------------------------------

    def action_show_keys(self) -> None:
        rows = []
        for binding_id, binding in self.binding_ids().items():
            keys = self._keymap.get(binding_id, binding.key)
            rows.append((keys.replace("question_mark", "?").replace("slash", "/"),
                         binding.description, binding_id))
        rows.append(("ctrl+p", "Command palette (themes, every action)", "—"))
        rows.append(("tab / shift+tab", "Move focus", "—"))
        rows.append(("arrows", "Move in the table", "—"))
        self.push_screen(KeysScreen(rows))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            return self.store is not None and not isinstance(self.focused, Input | TextArea)
        return True

    def action_filter(self) -> None:
        screen = self.screen_stack[0]
        box = screen.query_one("#filter", Input)
        box.add_class("-shown")
        # Focus now, not later (``focus()`` waits for the queue): keys typed right after
        # "/" are already queued, and must reach the box, not run table commands.
        screen.set_focus(box)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        """Coalesced: keys already queued are handled before the query runs, and the
        query then uses the latest text — one query for a burst, none of it delayed."""
        self.where = parse_filter(event.value)
        if not self._filter_pending:
            self._filter_pending = True
            self.call_later(self._apply_filter)

    @quiet_when_closing
    async def _apply_filter(self) -> None:
        self._filter_pending = False
        self._expiring = 0  # finished, not saved, URL dies within 2 h
        self._foreign = 0  # tasks of the account no row knows
        await self._load_table(page=0)

    @on(Input.Submitted, "#filter")
    async def _filter_kept(self) -> None:
        for problem in self.where.problems:
            self.notify(problem, title="Filter", severity="warning", markup=False)
        self._table().focus()

    @on(TaskTable.SortChanged)
    async def _sort_changed(self) -> None:
        await self._load_table(page=0)

    @on(TaskTable.PageRequested)
    async def _page_requested(self, message: TaskTable.PageRequested) -> None:
        last = max(0, (self.total - 1) // PAGE_SIZE)
        wanted = self.page_no + message.step
        more = self._count_capped and self._table().row_count == PAGE_SIZE
        if 0 <= wanted <= last or (wanted > self.page_no and more):
            await self._load_table(page=wanted)
            table = self._table()
            table.move_cursor(row=0 if message.step > 0 else table.row_count - 1)

    def on_key(self, event: Any) -> None:
        focused = self.focused
        if event.key == "escape" and isinstance(focused, Input) and focused.id == "filter":
            focused.value = ""
            focused.remove_class("-shown")
            self._table().focus()
            event.stop()

