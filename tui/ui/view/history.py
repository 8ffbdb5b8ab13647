"""The main screen's view of the history, as data: which page of which filter in which
order, the marks, the folded batches and the status bar's figures.

It asks the store and returns rows and sentences; the screen passes them down to
its widgets.  The page is never the whole history: one page of the filtered,
sorted rows, read again whenever the store's change feed says it changed
(``tui.ui.view.changes``), so a task made by another terminal appears under any sort, filter
or page, and the figures are the store's, never the page's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from storage import Generation, TaskStore
from storage.clock import iso
from storage.history import HistoryFilter, parse_filter
from storage.records import BatchSummary, Counts
from tui.config.credentials import region_of
from tui.engine.following import rescue
from tui.engine.submitting import eta, queue_state
from tui.engine.submitting.prices import BudgetState
from tui.ui.services import Services
from tui.ui.view.changes import ChangeWatch
from tui.ui.view.figures import StatusFigures
from tui.ui.view.reach import Reach

if TYPE_CHECKING:  # annotations only: the status records are made by a detail's read
    from storage import StatusEvent

PAGE_SIZE = 50  # rows in the table at once; the rest of the history stays in the store
MAX_GROWN = 450  # the first page holds at most PAGE_SIZE + this many rows
COUNT_CAP = 1000  # a filtered view says "1,000+" rather than count every match
# (and "312+" when the store stopped counting sooner: a common word with rare tokens)
SHORT_WINDOW = 20_000  # newest rows a search for only 1–2 character words looks through
COUNTS_EVERY = 0.5  # seconds between recounts: the figures lag the store by < 1 s
SLOW_SORT_EVERY = 1.0  # seconds between reloads of a page whose sort has no index
INDEXED_SORT = "submitted"
FORECAST_EVERY = 5.0  # seconds between estimates of when the queue is done
TIMES_EVERY = 60.0  # seconds between reads of the account's generation times
STARTS_SOON = 30.0  # seconds: a prompt that would start sooner is not said to wait
NOBODY_POLLS = "nobody polls"  # the status bar's word when no process holds the lease
UNCONFIRMED = HistoryFilter(statuses=("UNCONFIRMED",))


@dataclass(frozen=True)
class Page:
    rows: list[Generation]
    batches: dict[int, BatchSummary]  # rows standing for a folded batch
    positions: dict[int, int] = field(default_factory=dict)  # queued rows' places (1: next)


class TaskDetails(NamedTuple):
    row: Generation
    events: list[StatusEvent]
    tags: list[str]
    by: str | None = None  # who submitted it, when worth saying (``submitter``)
    queue: str | None = None  # where it waits in the queue, and when it should start


class BatchDetails(NamedTuple):
    row: Generation  # the row that stands for the folded batch
    summary: BatchSummary
    variations: list[Generation]


Details = TaskDetails | BatchDetails


async def task_details(services: Services, generation_id: int) -> TaskDetails | None:
    """One task as the store has it now, with its history and tags."""
    store = services.db
    row = await store.generations.get(generation_id)
    if row is None:
        return None
    return TaskDetails(row, await store.generations.events(row.id),
                       await store.history.tags_of(row.id), submitter(row, store))


def submitter(row: Generation, store: TaskStore) -> str | None:
    """Who submitted a row, as the details say it: always in a team's store; in one's
    own, only someone else (a row copied from a team) — one's own history reads as
    before."""
    if row.submitted_by is None or (not store.shared
                                    and row.submitted_by == store.who.person):
        return None
    return row.submitted_by


class HistoryView:
    def __init__(self, services: Services, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.services = services
        self.changes = ChangeWatch(services)
        self.clock = clock
        self.reach = Reach(clock)  # whether the database answers (the view keeps its rows)
        self.where = HistoryFilter()
        self.sort = INDEXED_SORT
        self.descending = True
        self.page_no = 0
        self.grown = 0  # rows the first page holds beyond PAGE_SIZE (see make_room)
        self.shift = 0  # rows a later page moved down by (see make_room)
        self.matching = 0  # rows the filter matches (capped for text searches)
        self.exact = True  # False: at least ``matching`` (counting stopped early)
        self.marks: set[int] = set()  # they span every page
        self.folded: set[str] = set()  # batches shown as one row
        self.batches: dict[int, BatchSummary] = {}
        self.positions: dict[int, int] = {}  # the page's queued rows: their places (1: next)
        self.counts = Counts()
        self.unconfirmed = 0  # creates in doubt, waiting for resolve
        self._unconfirmed_counted = False
        self.health = ("ok", "")
        self.expiring = 0
        self.foreign = 0
        self.new_above = 0
        self.budget: BudgetState | None = None
        self.queue: queue_state.QueueState | None = None
        self.forecast: eta.Forecast | None = None
        self._times: eta.Times | None = None
        self._times_at = -TIMES_EVERY
        self._forecast_at = -FORECAST_EVERY
        self._forecast_stale = False  # a change came while estimates were held back
        self.last_update: datetime | None = None
        self.recount_due = False  # a change came while recounts were held back
        self.lock = asyncio.Lock()  # one page read (and its display) at a time
        self._last_reload = 0.0
        self._last_count = -COUNTS_EVERY

    # -- what to show --------------------------------------------------------------

    def filter(self, text: str) -> None:
        """What the filter line says.  A search with a word shorter than the text index
        serves (one or two characters: ``f``, ``fo``, ``猫``, the ``ti`` of ``rain ti``)
        looks through the newest ``SHORT_WINDOW`` generations only — found at once at any
        size; a third character in each word searches everything."""
        where = parse_filter(text)
        self.where = where._replace(newest=SHORT_WINDOW) if where.unindexed_text else where

    def sort_by(self, column: str, descending: bool) -> None:
        self.sort, self.descending = column, descending

    def go_to(self, page: int) -> None:
        """Page ``page``; after End (pages aligned on the last row) paging keeps that
        alignment, so PgUp moves a whole page, until the first page."""
        self.page_no = max(0, page)
        aligned = self.shift < 0 and self.page_no * PAGE_SIZE + self.shift > 0
        self.grown, self.shift = 0, self.shift if aligned else 0

    def go_to_end(self) -> None:
        """The last rows as a full page (rows 71–120 of 120, not a page of 20 or of 1);
        a search counted no further than the cap goes to its last counted page."""
        self.go_to(self.last_page)
        if not self.capped:
            self.shift = max(0, self.matching - PAGE_SIZE) - self.page_no * PAGE_SIZE

    @property
    def query(self) -> HistoryFilter:
        """The filter as typed, with the folded batches shown as one row each."""
        return self.where._replace(folded=tuple(sorted(self.folded)))

    @property
    def offset(self) -> int:
        return self.page_no * PAGE_SIZE + self.shift

    @property
    def capped(self) -> bool:
        """A filtered view counted no further than ``COUNT_CAP`` — or than the store's
        bound on the work: there may be more rows than ``matching``."""
        return not self.where.empty and not self.exact

    @property
    def last_page(self) -> int:
        return max(0, (self.matching - 1) // PAGE_SIZE)

    async def read_page(self) -> Page:
        """The page the view shows, as the store has it now.  The page is read first: a
        first page that is not full holds every match, and nothing is counted (a search
        that finds little or nothing reads the rows once, not twice)."""
        store = self.services.db
        self.changes.reading()

        async def page() -> list[Generation]:
            return await store.history.page(self.query, sort=self.sort,
                                            descending=self.descending,
                                            limit=PAGE_SIZE + self.grown, offset=self.offset)

        rows = await page()
        if self.offset == 0 and len(rows) < PAGE_SIZE + self.grown:
            self.matching, self.exact = len(rows), True
        elif self.where.empty:
            self.matching, self.exact = await store.history.count(self.query), True
        else:  # a bounded count: "1,000+", or "at least" the rows seen so far
            tally = await store.history.tally(self.query, at_most=COUNT_CAP)
            self.matching = max(tally.matches, self.offset + len(rows))
            self.exact = tally.exact
            if not self.capped and self.page_no > self.last_page:  # fewer pages now
                self.page_no = self.last_page
                rows = await page()
        if not rows and self.page_no > 0:  # past the end of an uncounted search
            self.go_to(self.page_no - 1)
            rows = await page()
        self._last_reload = self.clock()
        self.batches = {row.id: summary for row in rows if row.batch_id in self.folded
                        if (summary := await store.intents.batch(row.batch_id)) is not None}
        queued = [row.id for row in rows if row.queued and row.id not in self.batches]
        self.positions = await store.queue.positions(queued) if queued else {}
        return Page(rows, self.batches, self.positions)

    async def reread(self, highlighted: int | None, on_page: set[int]) -> Page:
        """The page again, for a refresh: if rows arrived above and pushed the highlighted
        row off it, a page that makes room for them (``make_room``)."""
        page = await self.read_page()
        if highlighted in on_page and all(row.id != highlighted for row in page.rows):
            added = len({row.id for row in page.rows} - on_page)
            if added and self.make_room(added):
                page = await self.read_page()
        return page

    def reload_due(self) -> bool:
        """A sort without an index reloads at most once a second."""
        return (self.sort == INDEXED_SORT
                or self.clock() - self._last_reload >= SLOW_SORT_EVERY)

    def make_room(self, added: int) -> bool:
        """Rows arrived above and pushed the highlighted one off the page: the first page
        grows to keep it, a later page moves down with it (until the user moves on)."""
        if self.page_no == 0:
            grown = min(self.grown + added, MAX_GROWN)
            changed, self.grown = grown != self.grown, grown
        else:
            changed, self.shift = True, self.shift + added
        return changed

    def page_step(self, step: int, shown: int) -> int | None:
        """The page ``step`` pages away, or None at either end."""
        wanted = self.page_no + step
        more = self.capped and shown == PAGE_SIZE
        return wanted if 0 <= wanted <= self.last_page or (wanted > self.page_no and more) \
            else None

    def arrived(self, above: int, *, at_top: bool) -> None:
        """``above`` rows joined the page above the first one on screen ("3 new ↑")."""
        self.new_above = 0 if at_top else self.new_above + above

    # -- marks and folds -----------------------------------------------------------------

    def toggle_mark(self, row_id: int) -> None:
        self.marks.symmetric_difference_update({row_id})

    async def mark_all(self) -> list[int]:
        """Mark everything the filter matches, on every page."""
        ids = await self.services.db.history.ids(self.where)
        self.marks.update(ids)
        return ids

    def clear_marks(self) -> set[int]:
        """Unmark everything; the ids that were marked."""
        cleared = set(self.marks)
        self.marks.clear()
        return cleared

    async def fold(self, batch_id: str) -> int:
        """Fold a batch into one row, or unfold it; its first row's id."""
        self.folded.symmetric_difference_update({batch_id})
        return min(r.id for r in await self.services.db.intents.batch_rows(batch_id))

    async def details(self, row: Generation) -> Details | None:
        """What the detail pane shows for a row: the task, or a folded batch's variations."""
        summary = self.batches.get(row.id)
        if summary is not None:
            return BatchDetails(row, summary, await self.services.db.intents.batch_rows(
                summary.batch_id))
        found = await task_details(self.services, row.id)
        return None if found is None else found._replace(queue=self.queue_line(found.row))

    # -- figures -------------------------------------------------------------------------

    async def recount(self, *, force: bool = False) -> bool:
        """The store's figures (at most twice a second unless forced); whether counted."""
        now = self.clock()
        if not force and now - self._last_count < COUNTS_EVERY:
            self.recount_due = True
            return False
        self._last_count = now
        self.recount_due = False
        midnight = self.services.now().astimezone().replace(hour=0, minute=0, second=0,
                                                              microsecond=0)
        self.counts = await self.services.db.history.counts(iso(midnight))
        if self.unconfirmed or not self._unconfirmed_counted:  # while any: resolved yet?
            await self.count_unconfirmed()
        await self.look_at_queue()
        return True

    async def count_unconfirmed(self) -> int:
        """Creates that got no clear answer and wait for ``resolve`` (counted at the
        start, when the follower tells of one, and while there are any)."""
        self.unconfirmed = await self.services.db.history.count(UNCONFIRMED)
        self._unconfirmed_counted = True
        return self.unconfirmed

    async def look_at_queue(self, *, force: bool = False) -> None:
        """Who feeds the queue and what holds it (with every recount); when it should be
        done (every few seconds while anything waits or runs)."""
        store = self.services.db
        state = await queue_state.queue_state(store, self.services.ws.account,
                                        queued=self.counts.queued)
        if state.feeder is None and self.services.polling:  # a renewal that came late
            state = state._replace(feeder="this dashboard")
        self.queue = state
        now = self.clock()
        busy = self.counts.queued or self.counts.in_flight
        if not busy:
            self.forecast = None
            self._forecast_stale = False
            return
        if not force and now - self._forecast_at < FORECAST_EVERY:
            self._forecast_stale = True  # ``forecast_if_due`` makes it, a little later
            return
        self._forecast_at = now
        self._forecast_stale = False
        if self._times is None or now - self._times_at >= TIMES_EVERY:
            self._times = await eta.account_times(store, scale=self.services.ws.time_scale)
            self._times_at = now
        self.forecast = await eta.forecast(store, times=self._times,
                                           probe_priority=queue_state.PROMPT,
                                           now=self.services.now())

    async def forecast_if_due(self) -> bool:
        """The estimate again, if something changed since the last one (held back: at
        most one every ``FORECAST_EVERY``) and that long has passed; whether it was made.
        Without it, the last burst of a change (a batch's first creates) would leave the
        estimate as it was before the burst ended."""
        if not self._forecast_stale or self.clock() - self._forecast_at < FORECAST_EVERY:
            return False
        await self.look_at_queue(force=True)
        return True

    def starts(self) -> str:
        """Where a prompt typed now would start ("starts in ~4 min"); nothing when it
        would start at once (or the queue does not move: the status bar says why)."""
        forecast = self.forecast
        if forecast is None or forecast.probe is None:  # nothing waits or runs: at once
            return ""
        if self.queue is not None and self.queue.sentence() is not None:
            return ""  # the queue does not move: the status bar says why
        if forecast.probe.p50 < STARTS_SOON:  # at once, as if there were no queue
            return ""
        return f"starts in {eta.in_words(forecast.probe.p50)}"

    def queue_line(self, row: Generation) -> str | None:
        """The detail pane's word on a queued row: its place and priority, whether it is
        held or paused (and why), and when it should start."""
        if not row.queued:
            return None
        parts = [f"priority {row.queue_priority or 0}"]
        place = self.positions.get(row.id)
        if place is not None:
            parts.insert(0, f"#{place:,} in the queue")
        state = self.queue
        if row.queue_held:
            parts.append("held (h releases)")
        elif state is not None and state.paused is not None:
            parts.append(f"queue {state.why(state.paused)} ({self.key('queue.pause')} "
                         "resumes)")
        elif state is not None and row.batch_id in state.paused_batches:
            pause = next(p for p in state.pauses if p.batch_id == row.batch_id)
            parts.append(f"its batch is {state.why(pause)} ({self.key('table.pause')} "
                         "resumes)")
        elif state is not None and state.sentence() is not None:
            parts.append(state.sentence() or "")  # nobody feeds the queue
        elif self.forecast is not None and row.id in self.forecast.starts:
            start = self.forecast.starts[row.id]
            parts.append(f"starts in {eta.in_words(start.p50)} (p90 "
                         f"{eta.in_words(start.p90)})")
        if row.retries:
            parts.append(f"retry {row.retries}" + (f" of #{row.retry_of}" if row.retry_of
                                                   else ""))
        return " · ".join(parts)

    async def look_around(self) -> tuple[int, int]:
        """How many videos are about to be lost (the follower saves them, when this
        process saves), and how many tasks other clients made with the key: read by a
        worker, kept in ``expiring`` and ``foreign`` by the screen."""
        store, account = self.services.db, self.services.ws.account
        expiring = len(await rescue.expiring(store))
        return expiring, len(await store.foreign.recent(account)) if account else 0

    def key(self, action_id: str) -> str:
        """The keys an action answers to now (``[keys]`` may rebind it)."""
        return self.services.keymap.keys(action_id)

    def window(self, shown: int) -> str:
        """Which rows the page shows: "6 shown", "12 of 1,204 match", "51–100 of 1,204";
        a short search says where it looked: "… in the newest 20,000"."""
        newest = self.where.newest
        bounded = newest is not None and self.counts.total > newest
        if self.matching <= PAGE_SIZE + self.grown and self.offset == 0 and not self.capped:
            if bounded:
                return f"{self.matching} in the newest {newest:,} (3+ letters: all)"
            return f"{self.matching} shown" if self.where.empty else (
                f"{self.matching} of {self.counts.total:,} match")
        first = self.offset + 1
        of = f"{min(self.matching, COUNT_CAP):,}+" if self.capped else f"{self.matching:,}"
        return f"{first:,}–{first + shown - 1:,} of {of}" + (
            "" if self.where.empty else
            f" in the newest {newest:,}" if bounded else " matching")

    def poll_health(self) -> tuple[str, str]:
        """How polling goes, as the status bar says it: this process's poller's own word —
        or, in a process that runs none (a viewer), who holds the account's lease as the
        store last said ("polled by bob@studio-2"), or that nobody does (it lapsed)."""
        if not self.services.polls_nothing:
            return self.health
        if self.queue is None:  # not read yet: nothing to say
            return ("", "")
        feeder = self.queue.feeder
        return ("followed", f"polled by {feeder}") if feeder else (NOBODY_POLLS, "")

    def figures(self, shown: int) -> StatusFigures:
        ws, budget = self.services.ws, self.budget
        health, detail = self.poll_health()
        return StatusFigures(
            counts=self.counts, window=self.window(shown), marks=len(self.marks),
            new_above=self.new_above, expiring=self.expiring, foreign=self.foreign,
            budget=budget.summary() if budget is not None else "",
            budget_low=budget is not None and budget.low, health=health,
            detail=detail, database=self.reach.describe(),
            updated=self.last_update, demo=ws.demo,
            read_only=self.services.read_only,
            region=region_of(ws.base_url), endpoint=ws.base_url,
            queue_problem=(self.queue.sentence(self.key("queue.pause")) or "")
            if self.queue else "",
            queue_note=(self.queue.batches_note(self.key("table.pause")) or "")
            if self.queue else "",
            queue_done=self._queue_done(),
            unconfirmed=self.unconfirmed, resolve_key=self.key("table.resolve"))

    def _queue_done(self) -> str:
        done = self.forecast.queue if self.forecast is not None else None
        if done is None:
            return ""
        now = self.services.now()
        return f"done {eta.when(done.p50, now)} (p90 {eta.when(done.p90, now)})"
