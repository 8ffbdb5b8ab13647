"""The poll scheduler: follows every unfinished task of an account with few requests.

One process at a time polls an account: it holds a lease in the store (renewed
every few seconds, taken over within seconds when its holder dies); the others
read the store, which every answer is written to first, and stay just as live.

**Sweeps, not one query per task.**  One list call (``status=RUNNING``) says
which tasks run; ``tui.engine.following.sweep`` reads it against the store: a task that
left the list has ended and is queried once, for its video, usage or error; one
that appeared has started.  PENDING tasks cost nothing while they wait.  The
lists of FAILED and CANCELED tasks, asked for a few seconds after a submit and
every ten minutes, catch the tasks that end without ever running (moderation);
a burst of submits shares its looks (one per few seconds, not one per submit).
Sweeps come close together only while a running task may be ending (learned per
size and duration), rarely otherwise, never when nothing is followed.  When the
list cannot be used, each task is polled on its own, as before.

**Failures slow or stop only what they are about** (``Scope``): a 429, 5xx or
network error backs the whole scheduler off; a garbled answer about one task
backs that task off; a task the service will never answer about stops being
followed; a refused key or a wrong endpoint halts the scheduler.

Every request takes its token from the account's shared budget
(``tui.engine.following.account``), so all processes together stay under the limit.

**It calls no one.**  What it learns goes to the store, and whoever shows it hears
of it from the store's change feed (``store.changes()``); its own health (ok,
backing off, halted…) is read from ``health_changes()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage import (
    ChangeFeed,
    Generation,
    StoreError,
    StoreUnavailable,
    TaskStore,
    can_advance,
)
from storage.clock import iso, parse_iso, utc_now
from storage.history import HistoryFilter
from storage.processes import holder_name, poller_tag
from storage.records import LiveTask, Observation
from tui.config.credentials import region_of
from tui.dashscope import (
    DashScopeClient,
    DashScopeError,
    Failure,
    ListedTask,
    Scope,
)
from tui.engine.following import listing
from tui.engine.following.account import hold_lease
from tui.engine.following.observe import adopt_foreign, observation
from tui.engine.following.ratelimit import TokenBucket
from tui.engine.following.sweep import RUNNING_LIKE, Timing, read_sweep
from tui.engine.history import timeline


class Health(enum.Enum):
    OK = "ok"
    BACKING_OFF = "backing off"
    OFFLINE = "offline"
    HALTED = "halted"  # every request would fail alike (key refused, wrong endpoint)
    STORE_BUSY = "database busy"
    STORE_DOWN = "database unreachable"  # StoreUnavailable: retried, later and later
    FOLLOWER = "followed"  # another process polls this account; we read the store


HALTED_RETRY = (30.0, 600.0)  # real seconds before trying again while halted: doubling
STORE_RETRY = 2.0  # real seconds before trying again after a database error
STORE_RETRY_MOST = 30.0  # …doubling while it keeps failing, up to this
WAIT_GIVE_UP = 10  # consecutive failed polls of one task before `wait` stops waiting for it
LEASE_RENEW = 2.5  # real seconds between renewals of the account's poller lease (10 s)
LEASE_TRY = 1.25  # real seconds between a follower's tries to take it (takeover ≤ ~12 s)
# The holder stops sending this long before its lease can be taken (see ``_may_poll``).
LEASE_MARGIN = 1.5
FOLLOWER_READ = 1.0  # real seconds between looks at the store by a process that does not poll
SWEEPS_OFF_FOR = 600.0  # service seconds without sweeps after the list call was refused
# A sweep or an audit is a few pages (5 tasks run at a time): two minutes is a list
# that does not end, not a slow one.
LIST_LIMITS = listing.Limits(seconds=120.0)
LIST_UNUSABLE = (400, 404, 405)  # the list call (not the account) was refused
SETTLE = 30.0  # service seconds a new task may wait for a free slot before it is asked about


class LeaseLapsed(Exception):
    """The account's lease may be another's by now: this process sends nothing more
    until it has renewed it."""


# Inside a poll round: whether its lease allows a request now, renewed when due (the
# round's tasks inherit it; anyone else using the same client — a cancel, a download —
# does not).
_ROUND_LEASE: contextvars.ContextVar[Callable[[], Awaitable[bool]] | None] = \
    contextvars.ContextVar("poller_round_lease", default=None)


class _LeaseGuard:
    """The client's pace, checked first and after the budget's turn: within a poll round,
    not one attempt — a retry of a 429 or a 5xx included, which the client sends on its
    own seconds later — leaves unless the lease allows it.  A retry that comes when the
    renewal is due renews it first, so a long run of retries ends with the service's
    answer (and the back-off it calls for) — unless the renewal fails, or comes too late."""

    def __init__(self, inner: Callable[[], Awaitable[None]] | None) -> None:
        self.inner = inner

    async def __call__(self) -> None:
        may_poll = _ROUND_LEASE.get()
        if may_poll is not None and not await may_poll():
            raise LeaseLapsed
        if self.inner is not None:
            await self.inner()
            if may_poll is not None and not await may_poll():  # the turn may come late
                raise LeaseLapsed

    @staticmethod
    def inner_of(client: DashScopeClient) -> Callable[[], Awaitable[None]] | None:
        pace = client.pace
        return pace.inner if isinstance(pace, _LeaseGuard) else pace

    @staticmethod
    def install(client: DashScopeClient) -> None:
        if not isinstance(client.pace, _LeaseGuard):
            client.pace = _LeaseGuard(client.pace)


class PollingHalted(Exception):
    """Raised by ``wait_for`` when no task can be followed (the key or endpoint is refused)."""

    def __init__(self, cause: DashScopeError) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True)
class PollSettings:
    """Times are in the service's seconds (divided by ``time_scale`` on a fast simulator)."""

    concurrency: int = 8
    queries_per_second: float = 10.0  # the account allows 20 for everything
    min_interval: float = 3.0
    max_interval: float = 30.0
    time_scale: float = 1.0  # >1 when the service's clock runs fast (the demo)
    lease_seconds: float = 30.0  # real seconds a row stays leased to one poll
    account_lease: float = 10.0  # real seconds: another process takes over after this
    look_close: float = 9.0  # between sweeps while a task may be ending: the detection lag
    young_looks: tuple[float, ...] = (3.0, 15.0)  # FAILED lists after a submit (moderation)
    audit_every: float = 600.0  # FAILED/CANCELED lists while tasks are PENDING
    park: float = 12 * 3600.0  # a task the sweeps watch is not polled on its own
    sweeps: bool = True
    adopt_foreign: bool = False  # adopt tasks other clients made with the key, as seen

    @property
    def first_poll(self) -> float:
        """Real seconds from a create to its first poll on its own.  While sweeps run, a
        new task is watched by them (and by the lists a submit triggers) instead."""
        return (self.park if self.sweeps else self.min_interval) / self.time_scale


class HealthFeed:
    """What the poller's health became, in order, for one listener.  The poller calls
    no one: whoever shows its health (the dashboard's App, ``watch``) reads a feed."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[Health, str]] = asyncio.Queue()

    def put(self, health: Health, detail: str) -> None:
        self._queue.put_nowait((health, detail))

    def take(self) -> list[tuple[Health, str]]:
        """What changed since the last look, without waiting."""
        taken = []
        while not self._queue.empty():
            taken.append(self._queue.get_nowait())
        return taken

    def __aiter__(self) -> HealthFeed:
        return self

    async def __anext__(self) -> tuple[Health, str]:
        return await self._queue.get()


class PollScheduler:
    def __init__(self, store: TaskStore, client: DashScopeClient,
                 settings: PollSettings | None = None, *, account: str | None = None,
                 owner: str | None = None) -> None:
        self.store = store
        self.client = client
        self.settings = settings or PollSettings()
        self.account = account  # None: no lease to hold (a test, a one-off)
        self.owner = owner or poller_tag(id(self))
        self._health_feeds: weakref.WeakSet[HealthFeed] = weakref.WeakSet()
        self.health = Health.OK
        self.health_detail = ""
        # The shared budget paces the client when there is one; else a local one.
        self._bucket = None if _LeaseGuard.inner_of(client) is not None else TokenBucket(
            self.settings.queries_per_second * self.settings.time_scale)
        _LeaseGuard.install(client)
        self._backoff_until = 0.0
        self._store_wait = 0.0  # seconds of the last wait after a database error
        self._backoff = 0.0
        self._trouble_since: float | None = None  # when the current back-off or halt began
        self._halt_wait = 0.0
        self.halted: DashScopeError | None = None
        self.timing = Timing()
        self._wake = asyncio.Event()
        self._holding = account is None
        self._lease_checked = -LEASE_RENEW
        self._lease_ends = float("inf") if account is None else -float("inf")  # monotonic
        self._nudged_at: str | None = None
        self._next_sweep = 0.0  # monotonic
        self._looks: list[float] = []  # monotonic times of FAILED/CANCELED lists
        self._next_audit = 0.0
        self._sweeps_off_until = 0.0
        self._seeded = False
        self._endpoints: list[str] = []  # where the tasks it may ask about were made
        # The followed tasks as last read; the store's change feed says when a write (by
        # any process) makes them stale: a round in which nothing was written (most of
        # them, at speed 1) reads nothing else.
        self._live: list[LiveTask] | None = None
        self._changes: ChangeFeed | None = None
        self._live_due: str | None = None
        self.requests = 0  # sent by this scheduler (for benchmarks)

    def wake(self) -> None:
        """Look now (the user asked to try again)."""
        self._live = None  # whoever wakes us may just have written (the feed may lag)
        self._resume()
        self._next_sweep = time.monotonic()
        self._wake.set()

    def submitted(self) -> None:
        """A task was just created (here or by another process): look soon.  A burst of
        submits shares its looks — the sweep that shows the new task starting, and the
        FAILED lists that catch a young task's moderation — instead of adding its own."""
        self._live = None  # the new task is followed from now (the feed may lag)
        self._resume()
        now = after = time.monotonic()
        first = self._scaled(min(self.settings.young_looks, default=0.0))
        self._next_sweep = min(self._next_sweep, now + first)
        for offset in self.settings.young_looks:
            # One look in each window (now, +3 s], (+3 s, +15 s] serves every task
            # submitted before it.
            at = now + self._scaled(offset)
            if not any(after < look <= at for look in self._looks):
                self._looks.append(at)
            after = at
        self._wake.set()

    def _resume(self) -> None:
        if self.halted is not None:
            self.halted = None
            self._backoff_until = 0.0

    # -- intervals ------------------------------------------------------------

    def _scaled(self, seconds: float) -> float:
        return seconds / self.settings.time_scale

    @property
    def sweeping(self) -> bool:
        return self.settings.sweeps and time.monotonic() >= self._sweeps_off_until

    def interval_for(self, row: Generation) -> float:
        """Real seconds until a task is polled on its own again.  While sweeps watch it,
        that is far away; otherwise sparse while it is young, dense near its end."""
        s = self.settings
        lo, hi = self._scaled(s.min_interval), self._scaled(s.max_interval)
        if self.sweeping and row.status in (None, "PENDING", *RUNNING_LIKE):
            return self._scaled(s.park)
        if row.status in (None, "PENDING"):
            return lo
        started = parse_iso(row.scheduled_time) or parse_iso(row.created_at)
        if started is None:
            return lo
        elapsed = (utc_now() - started).total_seconds()
        remaining = self._scaled(self.timing.expected(row.size, row.duration)) * 0.8 - elapsed
        return max(lo, min(hi, remaining / 2)) if remaining > 0 else lo

    def learn(self, row: Generation) -> None:
        """Remember how long a finished task took, for tasks like it."""
        took = timeline.generation_seconds(row)
        if row.status != "SUCCEEDED" or took is None:
            return
        self.timing.learn(row.size, row.duration, took * self.settings.time_scale)

    async def _seed_timing(self) -> None:
        """Learn from what finished before this process started."""
        if self._seeded:
            return
        self._seeded = True
        finished = await self.store.history.page(HistoryFilter(statuses=("SUCCEEDED",)),
                                                 limit=200)
        for row in reversed(finished):
            self.learn(row)

    # -- health ---------------------------------------------------------------

    def _set_health(self, health: Health, detail: str) -> None:
        changed = health is not self.health or detail != self.health_detail
        self.health, self.health_detail = health, detail
        if changed:
            for feed in list(self._health_feeds):
                feed.put(health, detail)

    def health_changes(self) -> HealthFeed:
        """A new listener to the poller's health (held while referenced)."""
        feed = HealthFeed()
        self._health_feeds.add(feed)
        return feed

    def _back_off(self, exc: DashScopeError) -> None:
        self._backoff = min(60.0, max(2.0, self._backoff * 2))
        wait = max(self._backoff, exc.retry_after or 0.0)
        self._trouble_since = time.monotonic()
        self._backoff_until = self._trouble_since + wait
        offline = exc.status is None
        self._set_health(Health.OFFLINE if offline else Health.BACKING_OFF,
                         f"{exc} — next try in {wait:.0f} s")

    def _halt(self, exc: DashScopeError) -> None:
        """Nothing can be followed until someone fixes the key or the endpoint."""
        self.halted = exc
        low, high = HALTED_RETRY
        self._halt_wait = min(high, self._halt_wait * 2) if self._halt_wait else low
        self._trouble_since = time.monotonic()
        self._backoff_until = self._trouble_since + self._halt_wait
        self._set_health(Health.HALTED, f"{exc} — polling stopped; next try in "
                                        f"{self._halt_wait:.0f} s")

    def _answered(self, sent_at: float) -> None:
        """A good answer ends a back-off or a halt — if the question was asked after the
        trouble began (an answer to an earlier one proves nothing)."""
        if self._trouble_since is not None and sent_at < self._trouble_since:
            return
        self._trouble_since = None
        self._backoff = 0.0
        self._backoff_until = 0.0
        self._halt_wait = 0.0
        self.halted = None
        if self.health is not Health.OK:
            self._set_health(Health.OK, "")

    def _task_retry_in(self, row: Generation) -> float:
        """A task whose answers cannot be read is asked again later and later."""
        s = self.settings
        ceiling = self._scaled(s.max_interval * 4)
        return min(ceiling, self._scaled(s.min_interval) * 2.0 ** min(row.poll_failures, 10))

    # -- the account's lease ----------------------------------------------------

    @property
    def polling(self) -> bool:
        """Whether this process polls the account (holds its lease) — and so downloads."""
        return self._holding and time.monotonic() < self._lease_ends

    async def _may_poll(self) -> bool:
        """Whether this process polls the account now (it holds, or took, the lease).

        The holder's rule (docs/team.md, "Why the poller lease is a row"): it sends
        requests only until ``account_lease - LEASE_MARGIN`` after the moment, on its
        own monotonic clock, it *sent* the last renewal the store confirmed — the lease
        that renewal wrote ends no sooner — so a holder that cannot renew (a network cut,
        a database that does not answer) stops before anyone else can take over."""
        if self.account is None:
            return True
        now = time.monotonic()
        if now - self._lease_checked < (LEASE_RENEW if self._holding else LEASE_TRY):
            return self.polling
        self._lease_checked = now
        lease = await hold_lease(self.store, self.account, self.owner,
                                 self.settings.account_lease)
        if lease.held_by(self.owner):
            self._lease_ends = now + self.settings.account_lease - LEASE_MARGIN
        was_holding, self._holding = self._holding, lease.held_by(self.owner)
        if lease.nudged_at and lease.nudged_at != self._nudged_at:
            if self._nudged_at is not None and self._holding:
                self.submitted()  # by another process
            self._nudged_at = lease.nudged_at
        if self._holding and not was_holding and self.health is Health.FOLLOWER:
            self._set_health(Health.OK, "")
        elif not self._holding:
            holder = holder_name(lease.holder) if lease.holder else ""
            self._set_health(Health.FOLLOWER, f"polled by {holder or 'another process'}")
        return self.polling

    async def nudge(self) -> None:
        """Tell whoever polls the account that a task was just submitted."""
        if self.account is not None:
            with contextlib.suppress(StoreError):
                await self.store.leases.nudge(self.account)

    # -- asking the service -------------------------------------------------------

    async def _request(self) -> None:
        if not await self._may_poll():  # the lease lapsed mid-round: not one more request
            raise LeaseLapsed
        self.requests += 1
        if self._bucket is not None:
            await self._bucket.take()

    async def _list(self, status: str, start: datetime | None = None) -> list[ListedTask]:
        """Every task of the account with this status (within 24 h, or since ``start``);
        ``listing.ListRunaway`` (a list that does not end) stops sweeping like a refusal."""
        tasks: list[ListedTask] = []
        async for page in listing.pages(self.client, status=status, start=start,
                                        end=utc_now() if start else None,
                                        limits=LIST_LIMITS, before_each=self._request):
            tasks += page.tasks
        return tasks

    async def _sweep(self, live: list[LiveTask]) -> None:
        """One look at the RUNNING list, and what it means for every followed task."""
        running = await self._list("RUNNING")
        settled = utc_now() - timedelta(seconds=self._scaled(SETTLE))
        found = read_sweep(live, running, settled)
        if found.ended or found.overtaken:
            # Ask about the ended ones before recording the ones that took their slots,
            # so the store never shows more tasks running than the service runs.
            await self._poll_soon([*found.ended, *found.overtaken])
            await self._poll_due(known_due=True)
        if found.started:
            self._live = None
        for row_id, started in found.started:
            seen = Observation(status="RUNNING", scheduled_time=iso(started) if started
                               else None)
            await self.store.following.apply(row_id, seen, self._scaled(self.settings.park))
        if found.foreign and self.account is not None:
            known = await self.store.generations.known_task_ids(t.task_id for t in found.foreign)
            await self.store.foreign.record(self.account, [
                (t.task_id, t.status, t.model_name, iso(t.created) if t.created else None)
                for t in found.foreign if t.task_id not in known])
            if self.settings.adopt_foreign:
                self._live = None
                await adopt_foreign(self.store, self.client, self.account)

    async def _audit(self, live: list[LiveTask], statuses: tuple[str, ...]) -> None:
        """PENDING tasks that ended without running: the FAILED (and CANCELED) lists."""
        pending = {row.task_id: row for row in live if row.status in (None, "PENDING")}
        if not pending:
            return
        oldest = min((parse_iso(row.created_at) or utc_now()) for row in pending.values())
        start = max(oldest - timedelta(minutes=2), utc_now() - timedelta(hours=23, minutes=59))
        ended: list[int] = []
        for status in statuses:
            ended += [pending[t.task_id].id for t in await self._list(status, start)
                      if t.task_id in pending]
        too_old = [row.id for row in pending.values()
                   if (parse_iso(row.created_at) or utc_now()) < start]
        await self._poll_soon([*ended, *too_old])

    async def _looks_around(self, live: list[LiveTask]) -> None:
        """The sweeps and lists that are due, each failure handled by its scope."""
        now = sent_at = time.monotonic()
        try:
            if now >= self._next_sweep:
                await self._sweep(live)
            young = any(t <= now for t in self._looks)
            audit = now >= self._next_audit
            if young or audit:
                self._looks = [t for t in self._looks if t > now]
                if audit:
                    self._next_audit = now + self._scaled(self.settings.audit_every)
                # Moderation FAILs a young task; only a user (or another client) cancels.
                await self._audit(live, ("FAILED", "CANCELED") if audit else ("FAILED",))
        except DashScopeError as exc:
            if exc.scope is Scope.TRANSIENT:
                self._back_off(exc)
            elif exc.scope is Scope.ACCOUNT and exc.status not in LIST_UNUSABLE:
                self._halt(exc)  # the key or the endpoint: every request would fail
            else:
                await self._stop_sweeping(exc)  # only the list cannot be used
            return
        self._answered(sent_at)

    async def _stop_sweeping(self, exc: DashScopeError) -> None:
        """The list cannot be used: poll every task on its own for a while."""
        self._sweeps_off_until = time.monotonic() + self._scaled(SWEEPS_OFF_FOR)
        self._set_health(Health.BACKING_OFF, f"the task list was refused ({exc}); "
                                             "polling each task on its own")
        live = await self._live_tasks()
        await self._poll_soon([row.id for row in live])

    # -- polling one task -----------------------------------------------------------

    async def _refresh_endpoints(self) -> None:
        self._endpoints = [e for e in await self.store.following.endpoints()
                           if same_service(e, self.client.base_url)]

    async def _live_tasks(self) -> list[LiveTask]:
        """The followed tasks, read again only after this scheduler wrote one (``_live`` is
        dropped then) or when ``_notice_changes`` saw another process write."""
        if self._live is None:
            self._feed().take()  # what was written before this read is in it
            await self._refresh_endpoints()
            self._live = await self.store.following.live(self._endpoints)
            # Stored moments compare as text (the store's MIN does the same).
            self._live_due = min((row.next_poll_at for row in self._live if row.next_poll_at),
                                 default=None)
        return self._live

    async def _poll_soon(self, generation_ids: list[int]) -> None:
        """Make these tasks due now (the followed tasks are read again: their times moved)."""
        if generation_ids:
            await self.store.following.poll_now(generation_ids)
            self._live = None

    async def _notice_changes(self) -> None:
        """Once a round: has any process written a task since the followed ones were read?
        (The store's change feed says; asking it costs nothing.)"""
        if self._feed().take():
            self._live = None

    def _feed(self) -> ChangeFeed:
        if self._changes is None:
            self._changes = self.store.changes()
        return self._changes

    async def _due_at(self) -> datetime | None:
        """When the first task is due to be polled on its own (from the followed tasks)."""
        await self._live_tasks()
        return parse_iso(self._live_due)

    def _looks_due(self, now: float) -> bool:
        return now >= self._next_sweep or now >= self._next_audit or any(
            t <= now for t in self._looks)

    async def poll_once(self, *, everything: bool = False) -> int:
        """Poll the tasks that are due on their own; returns how many were asked about."""
        await self._notice_changes()
        return await self._poll_due(everything=everything)

    async def _poll_due(self, *, everything: bool = False, known_due: bool = False) -> int:
        if time.monotonic() < self._backoff_until:
            return 0
        if not (everything or known_due):  # claiming takes the write lock: only if due
            due = await self._due_at()
            if due is None or due > utc_now():
                return 0
        elif everything:
            await self._refresh_endpoints()
        rows = await self.store.following.claim_due(self.owner, limit=self.settings.concurrency * 4,
                                                    lease_seconds=self.settings.lease_seconds,
                                                    include_future=everything,
                                                    endpoints=self._endpoints)
        if not rows:
            return 0
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(row: Generation) -> None:
            async with gate:
                await self._poll(row)

        await asyncio.gather(*(one(row) for row in rows))
        return len(rows)

    async def _poll(self, row: Generation) -> None:
        assert row.task_id is not None
        if time.monotonic() < self._backoff_until:
            await self.store.following.release(row.id, self.owner)
            return
        await self._request()
        sent_at = time.monotonic()
        try:
            info = await self.client.query(row.task_id)
        except DashScopeError as exc:
            await self._failed(row, exc)
            return
        except BaseException:
            with contextlib.suppress(StoreError):
                await asyncio.shield(self.store.following.release(row.id, self.owner))
            raise
        self._answered(sent_at)
        seen = observation(info)
        expected = row._replace(status=seen.status if can_advance(row.status, seen.status)
                                else row.status,
                                scheduled_time=seen.scheduled_time or row.scheduled_time)
        updated, _ = await self.store.following.apply(row.id, seen, self.interval_for(expected))
        self._live = None
        self.learn(updated)

    async def _failed(self, row: Generation, exc: DashScopeError) -> Generation:
        """Record a failed poll and slow down or stop exactly what it is about."""
        self._live = None  # each way below writes the task
        reason = str(exc)
        if exc.scope is Scope.TASK and exc.failure is Failure.FINAL:
            return await self.store.following.stop(
                row.id, f"the service cannot be asked about this task: {reason}")
        if exc.scope is Scope.ACCOUNT:
            self._halt(exc)
            return await self.store.following.record_poll_failure(row.id, reason, self._halt_wait)
        if exc.scope is Scope.TASK:
            return await self.store.following.record_poll_failure(row.id, reason,
                                                                  self._task_retry_in(row))
        self._back_off(exc)
        return await self.store.following.record_poll_failure(
            row.id, reason, max(self._backoff, self.interval_for(row)))

    # -- the loop ---------------------------------------------------------------------

    async def _round(self) -> None:
        """One round: the lease, the sweeps that are due, the tasks due on their own.
        A database error slows the loop down instead of ending it."""
        guarded = _ROUND_LEASE.set(self._may_poll)  # every attempt checks (and renews) it
        try:
            if not await self._may_poll():
                self._store_wait = 0.0  # the lease said who polls: the store answers
                return
            await self._seed_timing()
            if time.monotonic() < self._backoff_until:
                return
            await self._notice_changes()
            live = await self._live_tasks()
            if self.sweeping and live and self._looks_due(time.monotonic()):
                await self._looks_around(live)
            await self._poll_due()
            await self._plan()
            self._store_wait = 0.0
        except StoreError as exc:
            self._store_wait = min(STORE_RETRY_MOST, max(STORE_RETRY, self._store_wait * 2))
            self._backoff_until = max(self._backoff_until, time.monotonic() + self._store_wait)
            down = isinstance(exc, StoreUnavailable)
            self._set_health(Health.STORE_DOWN if down else Health.STORE_BUSY,
                             f"{exc} — next try in {self._store_wait:.0f} s")
        except LeaseLapsed:  # renewals failed or came too late: ask again next round
            self._lease_checked = -LEASE_RENEW
            with contextlib.suppress(StoreError):
                await self.store.following.release_all(self.owner)
        finally:
            _ROUND_LEASE.reset(guarded)

    async def _plan(self) -> None:
        """When to sweep next: soon while a running task may be ending, rarely otherwise."""
        if not self.sweeping:
            return
        live = await self._live_tasks()
        s = self.settings
        wait = self.timing.next_sweep_in(live, utc_now(), close=s.look_close,
                                         far=s.max_interval, scale=s.time_scale)
        now = time.monotonic()
        if wait is None:
            self._next_sweep = now + self._scaled(s.audit_every)  # nothing followed
        elif self._next_sweep <= now:
            self._next_sweep = now + self._scaled(wait)
        else:
            self._next_sweep = min(self._next_sweep, now + self._scaled(wait))

    async def run(self, *, stop_when_idle: bool = False) -> None:
        """Poll forever (or until nothing is left to follow)."""
        try:
            while True:
                await self._round()
                if stop_when_idle and not await self.store.following.unfinished():
                    return
                await self._sleep()
        finally:
            await self.release()

    async def wait_for(self, generation_ids: set[int]) -> list[Generation]:
        """Follow until every one of these rows has ended: finished, no longer followed, or
        unanswerable ``WAIT_GIVE_UP`` times in a row.  Raises ``PollingHalted``.

        If another process polls the account, this one reads the store (and nudges the
        poller once); it takes over if that process goes away.
        """
        await self.nudge()
        try:
            while True:
                rows = await self.store.generations.get_many(generation_ids)
                if not any(waiting(r) for r in rows):
                    return rows
                await self._round()
                if self.halted is not None:
                    raise PollingHalted(self.halted)
                await self._sleep()
        finally:
            await self.release()

    async def release(self) -> None:
        """Give back this scheduler's leases (it stops: others may poll now).

        Runs to the end even while the caller is being cancelled (Ctrl-C, SIGTERM) — and
        a cancellation that arrives meanwhile is passed on once it is done, never lost:
        a ``wait`` stopped just as it ended must still stop."""
        job = asyncio.ensure_future(self._give_back())
        interrupted = False
        while not job.done():
            try:
                await asyncio.shield(job)
            except asyncio.CancelledError:
                interrupted = True
        if interrupted:
            raise asyncio.CancelledError

    async def _give_back(self) -> None:
        if self._changes is not None:  # stop listening (a later run listens again)
            await self._changes.aclose()
            self._changes, self._live = None, None
        with contextlib.suppress(StoreError):
            await self.store.following.release_all(self.owner)
        if self.account is not None and self._holding:
            with contextlib.suppress(StoreError):
                await self.store.leases.release(self.account, self.owner)

    async def _sleep(self) -> None:
        if self.health in (Health.STORE_BUSY, Health.STORE_DOWN) \
                and time.monotonic() >= self._backoff_until:
            self._set_health(Health.OK, "")
        now = time.monotonic()
        wait = self._scaled(self.settings.max_interval)
        if self._holding:
            due = await self._next_due()
            if due is not None:
                wait = min(wait, max(0.01, (due - utc_now()).total_seconds()))
            if self.sweeping:
                wait = min(wait, self._next_sweep - now, *(t - now for t in self._looks))
            if self.account is not None:
                wait = min(wait, LEASE_RENEW)
        else:
            wait = min(wait, FOLLOWER_READ)
        wait = max(wait, self._backoff_until - now, 0.01)
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _next_due(self) -> datetime | None:
        with contextlib.suppress(StoreError):
            return await self._due_at()
        return None


def same_service(endpoint: str, base_url: str) -> bool:
    """Whether a task made at ``endpoint`` can be asked about at ``base_url``: the same
    region (keys and tasks belong to one region; hosts within it are interchangeable)."""
    return endpoint.rstrip("/") == base_url.rstrip("/") or region_of(endpoint) == region_of(
        base_url)


def waiting(row: Generation) -> bool:
    """Whether ``wait`` should go on waiting for this row: followed (and answering), or
    not sent yet — queued, or being sent (whoever polls the account feeds the queue)."""
    if row.forgotten_at is None and row.submission in ("queued", "sending"):
        return True
    return row.followed and row.poll_failures < WAIT_GIVE_UP


def why_not_finished(row: Generation) -> str | None:
    """One sentence for a row ``wait`` stopped waiting for without a result; None if it
    finished (or was never sent)."""
    if row.terminal or row.task_id is None:
        return None
    if row.next_poll_at is None and row.poll_error:
        return f"{row.task_id} is not followed any more: {row.poll_error}"
    if row.poll_failures >= WAIT_GIVE_UP:
        return (f"gave up waiting for {row.task_id} after {row.poll_failures} failed polls in "
                f"a row (last: {row.poll_error}); `pixverse-tui wait {row.task_id[:8]}` "
                "tries again")
    return None
