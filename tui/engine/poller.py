"""The poll scheduler: follows every unfinished task until it ends.

Work comes from SQLite (``claim_due``), so it resumes after a restart and two
processes on one database never poll the same task at once (leases).  Each
answer is written to the store before anyone hears of it.  Intervals adapt to
the task's age and to how long similar tasks took; a 429 or 5xx backs the whole
scheduler off; the query rate stays under the account's 20/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from storage import Generation, TaskStore, can_advance
from storage.clock import parse_iso, utc_now
from storage.store import process_tag
from tui.dashscope import DashScopeClient, DashScopeError
from tui.engine.observe import observation
from tui.engine.ratelimit import TokenBucket


class Health(enum.Enum):
    OK = "ok"
    BACKING_OFF = "backing off"
    OFFLINE = "offline"


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
        self._learned: dict[tuple[str, int], float] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Poll now (a task was just submitted)."""
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
            if exc.retryable or exc.status is None:
                self._back_off(exc)
            updated = await self.store.record_poll_failure(
                row.id, str(exc), max(self._backoff, self.interval_for(row)))
            if self.on_update is not None:
                self.on_update(updated, False)
            return
        except Exception:
            await self.store.release(row.id, self.owner)
            raise
        self._backoff = 0.0
        self._set_health(Health.OK, "")
        seen = observation(info)
        expected = replace(row, status=seen.status if can_advance(row.status, seen.status)
                           else row.status,
                           scheduled_time=seen.scheduled_time or row.scheduled_time)
        updated, changed = await self.store.apply(row.id, seen, self.interval_for(expected))
        self.learn(updated)
        if self.on_update is not None:
            self.on_update(updated, changed)

    async def run(self, *, stop_when_idle: bool = False) -> None:
        """Poll forever (or until nothing is left to follow)."""
        while True:
            await self.poll_once()
            if stop_when_idle and not await self.store.unfinished():
                return
            await self._sleep_until_due()

    async def wait_for(self, generation_ids: set[int]) -> list[Generation]:
        """Poll until every one of these rows is terminal (or has no task to follow)."""
        while True:
            rows = [await self.store.get(i) for i in generation_ids]
            open_rows = [r for r in rows if r is not None and r.task_id and not r.terminal]
            if not open_rows:
                return [r for r in rows if r is not None]
            await self.poll_once()
            await self._sleep_until_due()

    async def _sleep_until_due(self) -> None:
        due = parse_iso(await self.store.next_due_at())
        wait = self._scaled(self.settings.max_interval)
        if due is not None:
            wait = min(wait, max(0.05, (due - utc_now()).total_seconds()))
        wait = max(wait, self._backoff_until - time.monotonic())
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, wait))
