"""The poll scheduler: follows every unfinished task until it ends.

Work comes from SQLite (``claim_due``), so it resumes after a restart and two
processes on one database never poll the same task at once (leases).  Each
answer is written to the store before anyone hears of it.  Intervals adapt to
the task's age and to how long similar tasks took; the query rate stays under
the account's 20/s.

A failure slows or stops only what it is about (``Scope``): a 429, 5xx or
network error backs the whole scheduler off; a garbled answer about one task
backs that task off; a task the service will never answer about (a refused id)
stops being followed; a refused key or a wrong endpoint halts the scheduler
until someone changes something — nothing is asked again and again in vain.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from storage import Generation, StoreError, TaskStore, can_advance
from storage.clock import parse_iso, utc_now
from storage.store import process_tag
from tui.dashscope import DashScopeClient, DashScopeError, Failure, Scope
from tui.engine.observe import observation
from tui.engine.ratelimit import TokenBucket


class Health(enum.Enum):
    OK = "ok"
    BACKING_OFF = "backing off"
    OFFLINE = "offline"
    HALTED = "halted"  # every request would fail alike (key refused, wrong endpoint)
    STORE_BUSY = "database busy"


HALTED_RETRY = 300.0  # real seconds between tries while halted (someone may fix the key)
STORE_RETRY = 2.0  # real seconds before trying again after a database error
WAIT_GIVE_UP = 10  # consecutive failed polls of one task before `wait` stops waiting for it


class PollingHalted(Exception):
    """Raised by ``wait_for`` when no task can be followed (the key or endpoint is refused)."""

    def __init__(self, cause: DashScopeError) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True)
class PollSettings:
    concurrency: int = 8
    queries_per_second: float = 10.0  # the account allows 20 for everything
    min_interval: float = 3.0
    max_interval: float = 30.0
    typical_generation: float = 120.0  # before there is any history to learn from
    time_scale: float = 1.0  # >1 when the service's clock runs fast (the demo)
    lease_seconds: float = 30.0  # a crashed poller's tasks are free again after this

    @property
    def first_poll(self) -> float:
        """Seconds from a create to its first poll."""
        return self.min_interval / self.time_scale


Listener = Callable[[Generation, bool], None]


class PollScheduler:
    def __init__(self, store: TaskStore, client: DashScopeClient,
                 settings: PollSettings | None = None, *, owner: str | None = None,
                 on_update: Listener | None = None,
                 on_health: Callable[[Health, str], None] | None = None) -> None:
        self.store = store
        self.client = client
        self.settings = settings or PollSettings()
        self.owner = owner or f"{process_tag()}:{id(self):x}"
        self.on_update = on_update
        self.on_health = on_health
        self.health = Health.OK
        self.health_detail = ""
        self._bucket = TokenBucket(self.settings.queries_per_second)
        self._backoff_until = 0.0
        self._backoff = 0.0
        self.halted: DashScopeError | None = None
        self._learned: dict[tuple[str, int], float] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Poll now (a task was just submitted, or the user asked to try again)."""
        if self.halted is not None:
            self.halted = None
            self._backoff_until = 0.0
        self._wake.set()

    # -- intervals ------------------------------------------------------------

    def _scaled(self, seconds: float) -> float:
        return seconds / self.settings.time_scale

    def interval_for(self, row: Generation) -> float:
        """Seconds until the next poll: sparse while a task is young, dense near its end."""
        s = self.settings
        lo, hi = self._scaled(s.min_interval), self._scaled(s.max_interval)
        if row.status in (None, "PENDING"):
            return lo
        started = parse_iso(row.scheduled_time) or parse_iso(row.created_at)
        if started is None:
            return lo
        elapsed = (utc_now() - started).total_seconds()
        expected = self._scaled(self._learned.get((row.size, row.duration),
                                                  s.typical_generation))
        remaining = expected * 0.8 - elapsed
        return max(lo, min(hi, remaining / 2)) if remaining > 0 else lo

    def learn(self, row: Generation) -> None:
        """Remember how long a finished task took, for tasks like it."""
        started, ended = parse_iso(row.scheduled_time), parse_iso(row.end_time)
        if row.status != "SUCCEEDED" or started is None or ended is None:
            return
        took = (ended - started).total_seconds() * self.settings.time_scale
        key = (row.size, row.duration)
        old = self._learned.get(key)
        self._learned[key] = took if old is None else 0.7 * old + 0.3 * took

    # -- health ---------------------------------------------------------------

    def _set_health(self, health: Health, detail: str) -> None:
        changed = health is not self.health or detail != self.health_detail
        self.health, self.health_detail = health, detail
        if changed and self.on_health is not None:
            self.on_health(health, detail)

    def _back_off(self, exc: DashScopeError) -> None:
        self._backoff = min(60.0, max(2.0, self._backoff * 2))
        wait = max(self._backoff, exc.retry_after or 0.0)
        self._backoff_until = time.monotonic() + wait
        offline = exc.status is None
        self._set_health(Health.OFFLINE if offline else Health.BACKING_OFF,
                         f"{exc} — next try in {wait:.0f} s")

    def _halt(self, exc: DashScopeError) -> None:
        """Nothing can be followed until someone fixes the key or the endpoint."""
        self.halted = exc
        self._backoff_until = time.monotonic() + HALTED_RETRY
        self._set_health(Health.HALTED, f"{exc} — polling stopped; next try in "
                                        f"{HALTED_RETRY / 60:.0f} min")

    def _task_retry_in(self, row: Generation) -> float:
        """A task whose answers cannot be read is asked again later and later."""
        s = self.settings
        ceiling = self._scaled(s.max_interval * 4)
        return min(ceiling, self._scaled(s.min_interval) * 2.0 ** min(row.poll_failures, 10))

    # -- polling --------------------------------------------------------------

    async def poll_once(self, *, everything: bool = False) -> int:
        """Poll the tasks that are due; returns how many were asked about."""
        if time.monotonic() < self._backoff_until:
            return 0
        rows = await self.store.claim_due(self.owner, limit=self.settings.concurrency * 4,
                                          lease_seconds=self.settings.lease_seconds,
                                          include_future=everything)
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
            await self.store.release(row.id, self.owner)
            return
        await self._bucket.take()
        try:
            info = await self.client.query(row.task_id)
        except DashScopeError as exc:
            updated = await self._failed(row, exc)
            if self.on_update is not None:
                self.on_update(updated, False)
            return
        except Exception:
            await self.store.release(row.id, self.owner)
            raise
        self._backoff = 0.0
        self.halted = None
        self._set_health(Health.OK, "")
        seen = observation(info)
        expected = replace(row, status=seen.status if can_advance(row.status, seen.status)
                           else row.status,
                           scheduled_time=seen.scheduled_time or row.scheduled_time)
        updated, changed = await self.store.apply(row.id, seen, self.interval_for(expected))
        self.learn(updated)
        if self.on_update is not None:
            self.on_update(updated, changed)

    async def _failed(self, row: Generation, exc: DashScopeError) -> Generation:
        """Record a failed poll and slow down or stop exactly what it is about."""
        reason = str(exc)
        if exc.scope is Scope.TASK and exc.failure is Failure.FINAL:
            return await self.store.stop_following(
                row.id, f"the service cannot be asked about this task: {reason}")
        if exc.scope is Scope.ACCOUNT:
            self._halt(exc)
            return await self.store.record_poll_failure(row.id, reason, HALTED_RETRY)
        if exc.scope is Scope.TASK:
            return await self.store.record_poll_failure(row.id, reason,
                                                        self._task_retry_in(row))
        self._back_off(exc)
        return await self.store.record_poll_failure(
            row.id, reason, max(self._backoff, self.interval_for(row)))

    async def _round(self) -> None:
        """One poll round; a database error slows the loop down instead of ending it."""
        try:
            await self.poll_once()
        except StoreError as exc:
            self._backoff_until = max(self._backoff_until, time.monotonic() + STORE_RETRY)
            self._set_health(Health.STORE_BUSY, str(exc))

    async def run(self, *, stop_when_idle: bool = False) -> None:
        """Poll forever (or until nothing is left to follow)."""
        while True:
            await self._round()
            if stop_when_idle and not await self.store.unfinished():
                return
            await self._sleep_until_due()

    async def wait_for(self, generation_ids: set[int]) -> list[Generation]:
        """Poll until every one of these rows has ended: finished, no longer followed, or
        unanswerable ``WAIT_GIVE_UP`` times in a row.  Raises ``PollingHalted``."""
        try:
            while True:
                rows = await self.store.get_many(generation_ids)
                if not any(waiting(r) for r in rows):
                    return rows
                await self._round()
                if self.halted is not None:
                    raise PollingHalted(self.halted)
                await self._sleep_until_due()
        finally:
            await self.release()

    async def release(self) -> None:
        """Give back this scheduler's leases (it stops: others may poll those tasks now).
        Runs to the end even while the caller is being cancelled (Ctrl-C)."""
        with contextlib.suppress(StoreError, asyncio.CancelledError):
            await asyncio.shield(self.store.release_all(self.owner))

    async def _sleep_until_due(self) -> None:
        if self.health is Health.STORE_BUSY and time.monotonic() >= self._backoff_until:
            self._set_health(Health.OK, "")
        due = parse_iso(await self.store.next_due_at())
        wait = self._scaled(self.settings.max_interval)
        if due is not None:
            wait = min(wait, max(0.05, (due - utc_now()).total_seconds()))
        wait = max(wait, self._backoff_until - time.monotonic())
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, wait))


def waiting(row: Generation) -> bool:
    """Whether ``wait`` should go on waiting for this row."""
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
