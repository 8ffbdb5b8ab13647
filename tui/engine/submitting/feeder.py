"""The queue's feeder: sends what waits in the local queue as the account has room.

DashScope runs five tasks per key and keeps the rest PENDING in its own queue, in
arrival order, where nobody can reorder, pause or take them back.  So the queue
waits here instead, and the feeder sends from it only while fewer than five running
plus ``[queue] ahead`` are in flight — the highest priority first, first in first
out within one.  A prompt typed now waits behind at most ``ahead`` tasks, not behind
a whole batch.

Who feeds: whoever polls the account (``polling()``: this process holds the poller
lease) — the dashboard or ``watch``, on one machine or in a team.  Never twice:
``store.queue.take`` hands an item to one sender, which records it as ``sending``
before the create leaves (the intent is the row), so

- a create with no clear answer leaves the item UNCONFIRMED, for ``resolve``;
- a feeder killed mid-create leaves it ``sending`` under a dead process, which the
  next feeder's sweep turns UNCONFIRMED too — never sent again;
- two feeders at once take different items, and never together beyond the room.

A refusal about the account (a key refused, a quota used up, an account in arrears)
or a budget reached puts the item back and pauses the whole queue with one sentence
(``store.queue.pauses``: the status bar and ``queue list`` show it) — never a
silent stop.  A refusal about the item (moderation, a bad parameter) ends that item
as REJECTED; the queue goes on.  A rate limit or an unclear answer makes it wait a
little.  With ``[queue] retry_failed``, tasks that FAILED by the service's own error
or with no reason are queued again (``store.queue.requeue``), seed kept, at most
that many times.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from storage import ChangeFeed, Generation, StoreError, TaskStore
from storage.clock import iso, now_iso, utc_now
from tui.dashscope import DashScopeClient, DashScopeError, GenerationRequest, RequestInvalid
from tui.dashscope.errors import Scope
from tui.dashscope.explain import RETRIED, SERVICE_CODES, explain, failure_class
from tui.engine.following.poller import same_service
from tui.engine.submitting.prices import BudgetState, Estimate, Prices, estimate
from tui.engine.submitting.queue_state import PROMPT
from tui.engine.submitting.submit import CREATE_PACE, FIRST_POLL_AFTER, CreatedButNotRecorded

RUNNING_AT_ONCE = 5  # the service runs five tasks per key at a time
INTERACTIVE = PROMPT  # the priority of a prompt a person typed (batch lines wait at 0)
LOOK_EVERY = 1.0  # real seconds between looks while nothing changes
GATHER = 0.1  # real seconds a change waits for the rest of its burst
SWEEP_EVERY = 30.0  # real seconds between looks for a dead sender's creates
RETRY_EVERY = 10.0  # real seconds between looks for failures to queue again
ENDPOINTS_EVERY = 30.0  # real seconds between reads of where queued items were made for
CALM = 10.0  # service seconds without creates after an unclear answer or a rate limit
STORE_CALM = 2.0  # real seconds after a database error
RETRY_WINDOW = timedelta(hours=24)  # failures older than this are not queued again
BUDGET = "budget reached, "  # how a pause for the budget begins
# A refusal about the account, in a few words and what to do (the queue's pause reason).
ACCOUNT_REFUSALS: dict[str, tuple[str, str]] = {
    "InvalidApiKey": ("key refused", "check the key and its region"),
    "Throttling.AllocationQuota": ("quota used up", "raise it or wait for the reset"),
    "Arrearage": ("account in arrears", "top up the account"),
    "AccessDenied.Unpurchased": ("model not activated", "activate it in the console"),
    "Model.AccessDenied": ("model not activated", "activate it in the console"),
    "AccessDenied": ("access denied", "check the account's model access"),
}


@dataclass(frozen=True)
class QueueSettings:
    """``[queue]`` in config.toml."""

    ahead: int = 5
    retry_failed: int = 0

    @property
    def capacity(self) -> int:
        """Tasks the account may hold at once: the five it runs and those waiting there."""
        return RUNNING_AT_ONCE + self.ahead


@dataclass
class FeederFigures:
    """What one feeder did (for benchmarks and ``watch``)."""

    creates: int = 0  # create requests sent
    refused: int = 0
    unconfirmed: int = 0
    requeued: int = 0
    problems: list[str] = field(default_factory=list)


def account_refusal(exc: DashScopeError) -> str:
    """Why the whole queue was paused, short enough for a status bar: the cause in a few
    words, what the service said, what to do ("quota used up, 429
    Throttling.AllocationQuota — raise it or wait for the reset")."""
    if isinstance(exc, RequestInvalid):  # refused here: nothing left this machine
        return f"create not sent, {exc.message} — fix it"
    what = " ".join(str(part) for part in (exc.status, exc.code) if part)
    code = exc.code or ""
    cause, action = ACCOUNT_REFUSALS.get(code) or ACCOUNT_REFUSALS.get(
        code.split(".", 1)[0]) or ("create refused", explain(code)[1].rstrip(".").lower())
    return f"{cause}{f', {what}' if what else ''} — {action}"


def budget_refusal(state: BudgetState, cost: Estimate, sent: Estimate) -> str | None:
    """Why the whole queue was paused for a budget, short enough for a status bar; None
    when ``cost`` (what was ``sent`` in this pass, and the next) fits."""
    period = state.crossed(cost)
    if period is None:
        return None
    when = "today" if period.name == "daily" else "this month"
    left = max(period.left - (sent.total or 0.0), 0.0)
    return (f"{BUDGET}{left:,.2f} of {state.prices.money(period.limit)} left {when} — "
            f"raise [budget] {period.name}, or resume to go over it")


def looked_at_soon(poller: Submitted) -> Callable[[Generation], None]:
    """What a feeder tells the poller of a task it created: a prompt a person typed is
    looked at soon (its start, and a refusal by moderation, are seen in seconds); a
    batch line needs no looks of its own — the poller hears of it by the change feed and
    sweeps as it plans, and the ten-minute audit catches what moderation refused (so a
    batch fed one create at a time costs no more requests than one sent at once)."""
    def sent(row: Generation) -> None:
        if (row.queue_priority or 0) >= INTERACTIVE:
            poller.submitted()
    return sent


class Submitted(Protocol):
    def submitted(self) -> None: ...


def request_of(row: Generation) -> GenerationRequest:
    """The create request a queued row stands for."""
    return GenerationRequest(prompt=row.prompt, size=row.size, duration=row.duration,
                             audio=row.audio, watermark=row.watermark, seed=row.seed,
                             model=row.model)


class Feeder:
    def __init__(self, store: TaskStore, client: DashScopeClient,
                 settings: QueueSettings | None = None, *,
                 polling: Callable[[], bool] = lambda: True,
                 first_poll_after: float = FIRST_POLL_AFTER, pace: float = CREATE_PACE,
                 time_scale: float = 1.0, prices: Prices | None = None,
                 budget: Callable[[], Awaitable[BudgetState]] | None = None,
                 sent: Callable[[Generation], None] = lambda _row: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.client = client
        self.settings = settings or QueueSettings()
        self.polling = polling  # whether this process polls the account (and so feeds)
        self.first_poll_after = first_poll_after
        self.pace = pace  # real seconds between creates
        self.time_scale = time_scale
        self.prices = prices
        self.budget = budget  # what is left of [budget], when one is set
        self.sent = sent  # told of each task created (the poller looks soon)
        self.figures = FeederFigures()
        self._clock = clock
        self._lock = asyncio.Lock()  # one pass at a time (the loop, a submit)
        self._calm_until = 0.0
        self._last_create = -1e9
        self._next_sweep = 0.0
        self._next_retry = 0.0
        self._endpoints: list[str] | None = None
        self._endpoints_read = -1e9

    def wake(self) -> None:
        """Try again without waiting out a calm (the user resumed the queue).  Whatever
        is queued or resumed is heard of anyway: it moves the store's figures."""
        self._calm_until = 0.0

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Feed while this process polls, until cancelled.  A database error slows the
        loop down; a created task the store could not record is told, not lost (its row
        stays ``sending`` and a sweep makes it UNCONFIRMED)."""
        feed = self.store.changes()
        try:
            while not feed.ended:
                if self.polling():
                    try:
                        await self.feed()
                    except StoreError as exc:
                        self._told(str(exc))
                        self._calm_until = self._clock() + STORE_CALM
                    except CreatedButNotRecorded as exc:
                        self._told(str(exc))
                await self._rest(feed)
        finally:
            await feed.aclose()

    async def _rest(self, feed: ChangeFeed) -> None:
        """Until something changes that may let an item go (a task ended, something was
        queued, a pause lifted: the store's figures move), or ``LOOK_EVERY``.  (The feed
        is cancel-safe: a timeout loses nothing.)"""
        deadline = self._clock() + max(LOOK_EVERY, self._calm_until - self._clock())
        while (left := deadline - self._clock()) > 0:
            try:  # not ``wait_for``: on 3.11 it can swallow a cancel that races an answer
                async with asyncio.timeout(left):
                    change = await anext(feed, None)
            except TimeoutError:
                return
            if change is None:
                return
            if (change.figures or change.everything) and self._clock() >= self._calm_until:
                await asyncio.sleep(GATHER)  # the rest of the burst
                feed.take()
                return

    def _told(self, problem: str) -> None:
        self.figures.problems.append(problem)
        del self.figures.problems[:-20]

    # -- one pass ------------------------------------------------------------------------

    async def feed(self, only: Sequence[int] | None = None, *,
                   over_budget: bool = False) -> list[Generation]:
        """Send what may go now (of ``only``, when given), paced under the create limit;
        the rows created.  Stops at the first refusal about the account, the first
        unclear answer, or when the room is full.  ``over_budget``: the user chose to go
        over [budget] for these (``only``)."""
        async with self._lock:
            now = self._clock()
            if now >= self._next_sweep:  # a sender killed mid-create: its item is in doubt
                self._next_sweep = now + SWEEP_EVERY
                await self.store.intents.sweep_interrupted()
            if self.settings.retry_failed and now >= self._next_retry:
                self._next_retry = now + RETRY_EVERY
                await self.retry_failures()
            if now < self._calm_until:
                return []
            counts = await self.store.history.counts(now_iso())
            if not counts.queued:
                return []
            endpoints = await self._queue_endpoints()
            # A submission sent at once (``only``) goes even while the program paused the
            # whole queue (a refused key, a quota): it may have been fixed since — and if
            # it goes, the queue resumes.  A pause by a user holds it too.
            stopped = next((p for p in await self.store.queue.pauses() if p.batch_id is None),
                           None)
            despite = only is not None and stopped is not None and stopped.reason is not None
            if stopped is not None and not despite:
                return []
            # A read first: taking is a write, and most looks find the room full.
            if await self.store.queue.in_flight(endpoints) >= self.settings.capacity:
                return []
            priced = (self.budget is not None and self.prices is not None and self.prices.set
                      and not (over_budget and only is not None))
            # Read before taking: an item taken counts as in flight in the budget's figures.
            state = await self.budget() if priced and self.budget is not None else None
            spent: list[GenerationRequest] = []
            created: list[Generation] = []
            while True:
                row = await self.store.queue.take(capacity=self.settings.capacity,
                                                  endpoints=endpoints,
                                                  only=None if only is None else set(only),
                                                  paused_too=despite)
                if row is None:
                    break
                request = request_of(row)
                if state is not None and self.prices is not None:
                    refusal = budget_refusal(state, estimate([*spent, request], self.prices),
                                             estimate(spent, self.prices))
                    if refusal is not None:
                        await self.store.queue.put_back(row.id, "not sent: a budget is reached")
                        await self.store.queue.pause(reason=refusal)
                        break
                await self._pace()
                outcome = await self._send(row, request)
                if outcome is None:
                    break
                if outcome.task_id is not None:
                    created.append(outcome)
                    spent.append(request)
                    if despite and not ((stopped and stopped.reason) or "").startswith(BUDGET):
                        await self.store.queue.resume()  # the cause is gone: a create went
                        despite = False
            return created

    async def _queue_endpoints(self) -> list[str]:
        """Where the items this feeder may send were made for: its own service's region."""
        if self._endpoints is None or self._clock() - self._endpoints_read > ENDPOINTS_EVERY:
            self._endpoints_read = self._clock()
            self._endpoints = [e for e in await self.store.queue.endpoints()
                               if same_service(e, self.client.base_url)]
        return [*self._endpoints, self.client.base_url]

    async def _pace(self) -> None:
        wait = self._last_create + self.pace - self._clock()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_create = self._clock()

    async def _send(self, row: Generation, request: GenerationRequest) -> Generation | None:
        """One create, for an item taken (``sending``); the row as it ends up, or None
        when the feeding must stop for now (the item back in the queue, or in doubt)."""
        self.figures.creates += 1
        try:
            created = await self.client.create(request)
        except DashScopeError as exc:
            return await self._refused(row, exc)
        except BaseException:
            # Cancelled or crashed mid-flight: the request may have been sent.
            with contextlib.suppress(StoreError):
                await asyncio.shield(self.store.intents.mark_unconfirmed(
                    row.id, "submission was interrupted before the answer arrived; a task "
                            "may exist"))
            raise
        try:
            done = await self.store.intents.mark_accepted(
                row.id, task_id=created.task_id, status=created.status,
                request_id=created.request_id, next_poll_in=self.first_poll_after)
        except StoreError as exc:
            raise CreatedButNotRecorded(created.task_id, exc) from None
        self.sent(done)
        return done

    async def _refused(self, row: Generation, exc: DashScopeError) -> Generation | None:
        if exc.ambiguous:
            self.figures.unconfirmed += 1
            self._calm(CALM)
            await self.store.intents.mark_unconfirmed(
                row.id, f"no clear answer to the create request ({exc}); a task may exist "
                        "— `pixverse-tui resolve` settles it")
            return None
        if exc.scope is Scope.TASK:
            self.figures.refused += 1  # about this item only: the queue goes on
            return await self.store.intents.mark_rejected(
                row.id, code=exc.code, message=exc.message, request_id=exc.request_id)
        await self.store.queue.put_back(row.id, f"not sent: {exc}")
        if exc.scope is Scope.TRANSIENT:  # a rate limit that outlasted the client's retries
            self._calm(exc.retry_after or CALM)
        else:  # the key, the quota, the account, the endpoint: every create would fail
            await self.store.queue.pause(reason=account_refusal(exc))
        return None

    def _calm(self, service_seconds: float) -> None:
        self._calm_until = self._clock() + service_seconds / self.time_scale

    # -- failures, again ------------------------------------------------------------------

    async def retry_failures(self) -> list[Generation]:
        """Queue again the recent failures worth another try (the service's own errors,
        no reason given) — each at most ``[queue] retry_failed`` times, seed kept."""
        limit = self.settings.retry_failed
        if limit <= 0:
            return []
        since = iso(utc_now() - RETRY_WINDOW)
        again = []
        for row in await self.store.queue.retryable(codes=SERVICE_CODES, max_retries=limit,
                                                    since=since):
            if failure_class(row.error_code) not in RETRIED:
                continue
            new = await self.store.queue.requeue(row.id, retry=True)
            if new is not None:
                again.append(new)
        self.figures.requeued += len(again)
        return again
