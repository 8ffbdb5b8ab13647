"""The dashboard screen: it composes its parts and routes between them.

- ``HistoryView`` (no Textual): which page of which filter in which order, the
  marks, the folded batches, the status bar's figures;
- ``RowCommands``, ``Downloads`` and ``SubmitFlow`` (no Textual): what the keys do,
  reported back as plans and notices through this screen (their ``Outlet``);
- the ``Follower`` (engine, shared with ``watch``): what happens when tasks end —
  the signals, the videos to save — told to this screen in ``Followed`` messages;
- the widgets, which get data passed down and post messages up: the history
  (``HistoryPanel``: the table beside the detail pane, kept live), the composer,
  the filter line, the status bar.

Data flows one way: pollers and commands write the store; the store's change
feed tells the history panel (which reads the page the view shows as the store
has it now, and the table applies the difference) and the follower.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, TextArea
from textual.worker import Worker

from storage import Generation, StoreError, StoreUnavailable
from tui.engine.following.follower import Event, Follower, Save, Told, Unconfirmed
from tui.engine.following.signals import NotifySettings, Signals
from tui.safe_text import printable
from tui.ui import messages
from tui.ui.actions import Where
from tui.ui.bindings import bindings
from tui.ui.commands.plans import plural
from tui.ui.commands.submit import Draft, Sent, SubmitFlow
from tui.ui.dialogs.questions import DialogQuestions
from tui.ui.services import Services
from tui.ui.tolerant import tolerant
from tui.ui.view.figures import StatusFigures
from tui.ui.view.history import HistoryView, task_details
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.filter_line import FilterLine
from tui.ui.widgets.footer import Footer, viewers_footer
from tui.ui.widgets.history import HistoryPanel
from tui.ui.widgets.status_bar import StatusBar
from tui.ui.widgets.task_table import TaskTable

if TYPE_CHECKING:  # made when first used: a row key, a video to save (see ``rows``)
    from tui.ui.commands.downloads import Downloads
    from tui.ui.commands.rows import RowCommands

ACCOUNT_CHECK_EVERY = 30.0  # seconds between looks for expiring videos, foreign tasks
NARROW = 160  # columns below which the detail pane moves under the table
POLLER_STORE_DOWN = "database unreachable"  # the poller's health (Health.STORE_DOWN)
TOAST_SECONDS = 4.0  # how long a "finished" toast stays; the next one waits for it to go
STARTS_EVERY = 2.0  # seconds between looks at whether the estimate is due again (while
# anything is queued: an idle dashboard runs no timer)
WHO_POLLS_EVERY = 2.5  # seconds between a viewer's looks at who holds the poller lease
DOUBT_SECONDS = 15.0  # how long a "submission unconfirmed" toast stays


def doubt_sentence(row: Generation, resolve_key: str) -> str:
    """A create with no clear answer, told once: a task may exist; it is stopped (never
    sent again) until the user settles it."""
    prompt = " ".join(row.prompt.split())
    return (f"#{row.id} “{printable(prompt[:40])}{'…' if len(prompt) > 40 else ''}”: no clear "
            "answer to its create request, so a task may exist (and be billed). It is not "
            f"sent again; select it and press {resolve_key} to resolve it.")


def submitted_sentence(count: int, waiting: int) -> str:
    """One toast for a submission: what was sent, and what waits in the queue (first in
    line) — "Submitted" only for what went to the service."""
    later = ("first in line: sent when a slot frees (the status bar says when, or why "
             "not).")
    if not waiting:
        return f"Submitted {plural(count, 'task')}."
    if waiting == count:
        return f"Queued {plural(count, 'task')}, {later}"
    return (f"Submitted {plural(count - waiting, 'task')}; {waiting} more wait in the queue, "
            + later)


class MainScreen(Screen[None]):
    """Status bar, composer, filter line, and the task table beside its detail pane."""

    PLACE = Where.MAIN
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)
    questions: DialogQuestions  # the dialogs, as questions the submit flow awaits

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.view = HistoryView(services)
        self.flow = SubmitFlow(services, self)
        self._downloads: Downloads | None = None
        self._rows: RowCommands | None = None
        self.signals = Signals(NotifySettings(), toast=lambda title, message: self._followed(
            Told(title, message)), write=services.write_terminal, bell=services.bell,
            gap=TOAST_SECONDS)
        self.follower: Follower | None = None  # once the store is open
        self._started = False
        self._starts: Timer | None = None  # "starts in ~4 min", while anything is queued

    @property
    def downloads(self) -> Downloads:
        """The downloads this screen started, made when the first one is (a key, a video
        the follower saves)."""
        if self._downloads is None:
            from tui.ui.commands.downloads import Downloads

            self._downloads = Downloads(self.services, self)
        return self._downloads

    @property
    def rows(self) -> RowCommands:
        """What the row keys do, made when the first is pressed: the modules behind them
        (the engine's operations, the queue's and the browser's commands, the client's
        request records) are not needed to paint the first page (issue 15)."""
        if self._rows is None:
            from tui.ui.commands.rows import RowCommands

            self._rows = RowCommands(self.services, self.view, self, self.downloads,
                                     lambda requests, warnings: self.start_submission(
                                         Draft(requests, [], warnings)))
        return self._rows

    @property
    def panel(self) -> HistoryPanel:
        return self.query_one(HistoryPanel)

    @property
    def table(self) -> TaskTable:
        return self.panel.table

    def compose(self) -> ComposeResult:
        # The terminal's width is known now: a class set after the children are styled
        # restyles all of them (a tenth of a second or more before the first paint).
        self.set_class(self.app.size.width < NARROW, "-narrow")
        status = StatusBar(id="status")
        yield status
        yield Composer(id="composer")
        yield FilterLine(id="filter")
        yield HistoryPanel(self.services, self.view, self.signals, status, id="work")
        yield Footer(hidden=viewers_footer(self.services))

    def on_mount(self) -> None:
        self.questions = DialogQuestions(self.app)
        self.on_config_reloaded()
        self.query_one(Composer).apply_settings(self.services.composer_defaults())
        if self.services.read_only:
            self._for_viewers()
        else:
            self.query_one(Composer).prompt.focus()
        if self.services.open:  # the store opened before this screen was ready
            self.call_later(self._start)

    def _for_viewers(self) -> None:
        """A viewer's dashboard: no composer, the table has the focus, the footer shows
        only what a viewer may use."""
        self.add_class("-read-only")
        self.table.focus()
        footer = self.query_one(Footer)
        if footer.hidden != viewers_footer(self.services):
            footer.hidden = viewers_footer(self.services)
            footer.refresh(recompose=True)

    def on_services_opened(self, _: messages.ServicesOpened) -> None:
        if self.is_mounted:
            if self.services.read_only and not self.has_class("-read-only"):
                self._for_viewers()  # the store said so: a role that may only read
            self.call_later(self._start)

    async def _start(self) -> None:
        """Show the history, and keep it live.  Before the first paint: the first page and
        the figures the store keeps (a few rows), nothing else; what looks around — in-flight
        tasks, expiring videos, budgets, the App's housekeeping and poller — comes after."""
        if not self._started:
            self._started = True
            services = self.services
            self.follower = Follower(
                services.db, tell=self._followed, signals=self.signals,
                polling=lambda: services.polling,
                download=lambda: bool(services.ws.settings.get("downloads", "auto")),
                rescue_every=ACCOUNT_CHECK_EVERY)
            self.follower.listen()  # before the page: nothing ends unheard
            await self.panel.start()
            self.call_after_refresh(self._after_first_paint)

    def _after_first_paint(self) -> None:
        assert self.follower is not None
        self.run_worker(self.query_one(Composer).add_options(), group=messages.MOUNTING,
                        exit_on_error=False)
        self.post_message(messages.HistoryShown())
        self.run_worker(self.follower.run(), group="follower", exclusive=True,
                        exit_on_error=False)
        self.set_interval(ACCOUNT_CHECK_EVERY, self._look_around_soon, name="account")
        self._starts = self.set_interval(STARTS_EVERY, self._estimate, name="starts",
                                         pause=True)
        self.watch(self.query_one(StatusBar), "figures", self._figures_shown)
        if self.services.polls_nothing:  # a lease that lapses writes nothing: look for it
            self.set_interval(WHO_POLLS_EVERY, self._who_polls, name="who polls")
        self._look_around_soon()

    def on_config_reloaded(self, _: messages.ConfigReloaded | None = None) -> None:
        """config.toml was read again: notifications and the submit keys follow it."""
        self.signals.settings = NotifySettings(**self.services.ws.settings.section("notify"))
        composer = self.query_one(Composer)
        composer.show_submit_keys(self.services.keymap.keys("submit"))
        composer.prices = self.flow.prices
        composer.max_tasks = self.flow.max_tasks
        composer.refresh_state()
        if self._started:
            self.call_later(self.refresh_budget)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")

    # -- the outlet: how the parts report back ----------------------------------------------

    def spawn(self, job: Awaitable[None], *, group: str, name: str = "") -> None:
        self.run_worker(self._guarded(job), group=group, name=name, exit_on_error=False)

    async def _guarded(self, job: Awaitable[None]) -> None:
        try:
            await job
        except StoreError as exc:
            self.post_message(messages.StoreFailed(exc))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        messages.report_failure(self, event)  # (the App shows it: none fails silently)

    # -- what the App, the follower and the workers tell ----------------------------------------

    def _followed(self, event: Event) -> None:
        self.post_message(messages.Followed(event))

    def on_followed(self, message: messages.Followed) -> None:
        """What the follower says: a video to save, a signal's words.  A toast is not shown
        over a dialog (it would hide the question); the title, the bell and the status
        bar still tell."""
        event = message.event
        if isinstance(event, Save):
            self.downloads.start(event.row.id, quiet=True)
        elif isinstance(event, Told) and self.app.screen is self:
            self.notify(event.message, title=event.title, timeout=TOAST_SECONDS)
        elif isinstance(event, Unconfirmed):
            if self.app.screen is self:
                self.notify(doubt_sentence(event.row, self.services.keymap.keys(
                    "table.resolve")), title="Submission unconfirmed", severity="warning",
                    timeout=DOUBT_SECONDS)
            self.run_worker(self._count_unconfirmed(), group="unconfirmed", exclusive=True,
                            exit_on_error=False)

    @tolerant
    async def _count_unconfirmed(self) -> None:
        """The status bar says how many creates are in doubt (until they are resolved)."""
        await self.view.count_unconfirmed()
        self.panel.show_figures()

    def on_store_failed(self, message: messages.StoreFailed) -> None:
        """The database did not answer: the status bar says so (and when it tries again),
        the view keeps what it shows; only the first failure of an outage is a toast."""
        if (isinstance(message.error, StoreUnavailable)
                and not self.panel.store_failed(str(message.error))):
            message.stop()

    def _show_starts(self) -> None:
        """The composer says where a prompt typed now would start ("starts in ~4 min")."""
        self.query_one(Composer).show_starts(self.view.starts())

    @tolerant
    async def _estimate(self) -> None:
        """While a queue waits: the estimate again when a change was held back (the status
        bar's "done 14:05" and the composer's "starts in ~4 min" follow it)."""
        if await self.view.forecast_if_due():
            self.panel.show_figures()
            self._show_starts()  # (the figures may read as before: their watcher is quiet)

    def _figures_shown(self, figures: StatusFigures) -> None:
        """The figures moved: the composer's estimate follows them, and its timer runs
        only while anything is queued (idle means idle)."""
        self._show_starts()
        if self._starts is not None:
            if figures.counts.queued:
                self._starts.resume()
            else:
                self._starts.pause()

    def on_poller_health_changed(self, message: messages.PollerHealthChanged) -> None:
        self.view.health = (message.health, message.detail)
        self.panel.show_figures()
        if message.health == POLLER_STORE_DOWN:  # the poller met it first (an idle view
            # reads nothing): the view hears of it as of its own read, and tries again
            reason = message.detail.rpartition(" — next try in ")[0] or message.detail
            self.post_message(messages.StoreFailed(StoreUnavailable(reason)))

    @tolerant
    async def _who_polls(self) -> None:
        """Who polls, for a dashboard that does not (a viewer): a new holder is a change
        the feed reports, but a lease that lapsed — its holder killed or cut off — changes
        no row, so it is read now and then."""
        if not self.view.reach.down:
            await self.view.look_at_queue()
            self.panel.show_figures()

    def _look_around_soon(self) -> None:
        """In a worker: a slow database never holds up the keys meanwhile."""
        self.run_worker(self._look_around(), name="look around", group="look-around",
                        exclusive=True, exit_on_error=False)

    @tolerant
    async def _look_around(self) -> None:
        """Videos about to be lost (the follower saves them), foreign tasks, budgets."""
        expiring, foreign = await self.view.look_around()
        self.post_message(messages.LookedAround(expiring, foreign, await self.flow.budget_now()))

    def on_looked_around(self, message: messages.LookedAround) -> None:
        view = self.view
        view.expiring, view.foreign, view.budget = (message.expiring, message.foreign,
                                                    message.budget)
        self.panel.show_figures()

    @tolerant
    async def refresh_budget(self) -> None:
        """What is left of the budgets, for the status bar."""
        self.view.budget = await self.flow.budget_now()
        self.panel.show_figures()

    # -- keys ------------------------------------------------------------------------------------

    @tolerant
    async def action_row(self, command: str) -> None:
        """A row key: on the marks, else the highlighted row (``RowCommands``)."""
        from tui.ui.commands.rows import Scope
        from tui.ui.screens.plans import carry_out

        scope = Scope(self.panel.highlighted(), frozenset(self.view.marks),
                      frozenset(self.table.rows_by_id))
        carry_out(self, await self.rows.run(command, scope), self)

    @tolerant
    async def action_open_detail(self) -> None:
        row = self.panel.highlighted()
        details = await task_details(self.services, row.id) if row is not None else None
        if details is not None:
            from tui.ui.screens.detail import DetailScreen  # loaded when first opened

            self.app.push_screen(DetailScreen(self.services, self.rows, details))

    def action_toggle_mark(self) -> None:
        self.panel.toggle_mark()

    @tolerant
    async def action_mark_all(self) -> None:
        """Mark everything the filter matches, on every page."""
        count = await self.panel.mark_all()
        self.notify(f"Marked {plural(count, 'generation')} (esc clears the marks).", timeout=3)

    @tolerant
    async def action_fold(self) -> None:
        row = self.panel.highlighted()
        if row is None or row.batch_id is None:
            self.notify("This generation is not part of a batch (a ×N submission).",
                        timeout=3)
        else:
            await self.panel.fold(row.batch_id)

    def refused(self, run: str) -> bool:
        """In a read-only dashboard, what a viewer may not do: said in one sentence."""
        sentence = self.services.refused(run)
        if sentence is not None:
            self.notify(sentence, severity="warning", timeout=5)
        return sentence is not None

    def action_reuse(self) -> None:
        if self.refused("reuse"):
            return
        row = self.panel.highlighted()
        if row is not None:
            self.query_one(Composer).reuse(row)
            self.notify("Prompt and settings loaded into the composer (same seed).", timeout=3)

    def action_focus_tasks(self) -> None:
        self.table.focus()

    def action_toggle_full(self) -> None:
        """The table alone, full height (again: the composer and details come back)."""
        self.toggle_class("-full-table")
        if self.has_class("-full-table"):
            self.table.focus()

    def action_compose(self) -> None:
        """From the table to the composer (the full-height table gives way to it)."""
        if self.refused("compose"):
            return
        self.remove_class("-full-table")
        self.query_one(Composer).prompt.focus()

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.focused is self.table and self.view.marks:
            self.panel.clear_marks()
            event.stop()

    # -- sending (``SubmitFlow``: each step a question whose focused answer is harmless) ------

    def action_submit(self) -> None:
        if not self.refused("submit"):
            self.query_one(Composer).request_submit()

    def on_composer_submit_requested(self, message: Composer.SubmitRequested) -> None:
        if not self.refused("submit") and self.flow.acceptable(message.draft):
            self.run_worker(self._confirm(message.draft), group="submit-confirm",
                            exclusive=True, exit_on_error=False)

    async def _confirm(self, draft: Draft) -> None:
        """The template's values, and a question above the cap; then send."""
        sendable = await self.flow.confirm(draft, self.questions, self.query_one(Composer))
        if sendable is not None:
            self.start_submission(sendable, from_composer=True)

    def start_submission(self, draft: Draft, *, from_composer: bool = False) -> None:
        if not self.refused("submit") and self.flow.claim():
            self.run_worker(self._billed(self.flow.send(draft, from_composer, self.questions)),
                            group="submit", exit_on_error=False)

    def action_open_batch(self) -> None:
        if self.refused("open_batch"):
            return
        self.run_worker(self._billed(self.flow.open_batch(self.questions,
                                                          self.query_one(Composer))),
                        group="batch-open", exclusive=True, exit_on_error=False)

    async def _billed(self, sending: Awaitable[Sent | None]) -> None:
        try:
            sent = await sending
        except StoreError as exc:  # reading what a batch would send: nothing was sent
            self.post_message(messages.StoreFailed(exc))
            return
        finally:
            self.call_later(self.refresh_budget)
        if sent is not None:
            self.post_message(messages.SubmissionFinished(sent.count, sent.from_composer,
                                                          sent.prompt, sent.waiting))

    def on_submission_finished(self, message: messages.SubmissionFinished) -> None:
        if message.from_composer:  # only what was sent is cleared: text typed meanwhile stays
            self.query_one(Composer).clear_prompt(if_still=message.prompt)
            self.post_message(messages.ComposerUsed())
        self.notify(submitted_sentence(message.count, message.waiting),
                    timeout=5 if message.waiting else 3)

    def on_composer_settings_changed(self, message: Composer.SettingsChanged) -> None:
        self.services.remembered["composer"] = message.settings

    # -- the filter line ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action != "filter" or not isinstance(self.focused, Input | TextArea)

    def action_filter(self) -> None:
        # Focus now, not later (``focus()`` waits for the queue): keys typed right after
        # "/" are already queued, and must reach the box, not run table commands.
        box = self.query_one(FilterLine)
        box.show()
        self.set_focus(box)

    @tolerant
    async def on_filter_line_edited(self, message: FilterLine.Edited) -> None:
        self.view.filter(message.text)
        await self.panel.load_page(page=0)

    def on_filter_line_left(self, message: FilterLine.Left) -> None:
        for problem in self.view.where.problems if message.kept else ():
            self.notify(problem, title="Filter", severity="warning")
        self.table.focus()
