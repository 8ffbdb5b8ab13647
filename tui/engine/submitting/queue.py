"""The local queue, as the command line and the dashboard both use it: queueing a prompt
or a batch file, who feeds the queue, pausing, taking back, sending one's own now.

Submissions wait here as QUEUED intents (nothing sent, nothing billed) until the
feeder (``feeder.Feeder``, run by whoever polls the account) sends them.  Prompts
typed by a person go ahead of batch lines: ``PROMPT`` is a higher priority than
``BATCH``; within a priority, first in first out.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from storage import Generation, StoreError, TaskStore
from storage.records import Enqueued, QueueEntry
from tui.dashscope import DashScopeClient, DashScopeError, GenerationRequest
from tui.engine import operations
from tui.engine.submitting.batch import BatchPlan
from tui.engine.submitting.feeder import Feeder
from tui.engine.submitting.queue_state import BATCH as BATCH
from tui.engine.submitting.queue_state import PROMPT as PROMPT

PRIORITY_RANGE = (-9, 9)
LEASE_SECONDS = 30.0  # how long a one-off sender holds the account's poller lease at most


def entry(request: GenerationRequest, endpoint: str, *, key: str | None = None,
          tags: Sequence[str] = (), note: str | None = None) -> QueueEntry:
    return QueueEntry(endpoint=endpoint, model=request.model, prompt=request.prompt,
                      size=request.size, duration=request.duration, audio=request.audio,
                      watermark=request.watermark, seed=request.seed, key=key,
                      tags=tuple(tags), note=note)


async def enqueue_requests(store: TaskStore, endpoint: str,
                           requests: Sequence[GenerationRequest], *,
                           priority: int = PROMPT) -> Enqueued:
    """Queue the requests one prompt made (a new intent each time); several share a
    batch id, as a ×N submission always has."""
    batch_id = uuid.uuid4().hex[:12] if len(requests) > 1 else None
    return await store.queue.enqueue([entry(r, endpoint) for r in requests],
                                     priority=priority, batch_id=batch_id)


async def enqueue_plan(store: TaskStore, endpoint: str, plan: BatchPlan, *,
                       priority: int = BATCH) -> Enqueued:
    """Queue a batch file's lines, keyed: a line queued, sent or in doubt before is left
    as it is; one refused or abandoned before (nothing was created) waits again."""
    return await store.queue.enqueue(
        [entry(item.request, endpoint, key=item.key, tags=item.tags, note=item.note)
         for item in plan.items], priority=priority, batch_id=plan.batch_id)


# -- who feeds it, and what holds it --------------------------------------------------------


# -- sending one's own now -------------------------------------------------------------------


async def send_own(store: TaskStore, feeder: Feeder, ids: Sequence[int], *,
                   account: str | None, owner: str,
                   over_budget: bool = False) -> list[Generation]:
    """Send these queued items now, as the account has room, when nobody else feeds the
    queue: this process takes the account's poller lease for the moment (so no other
    feeder sends at once) and gives it back.  When another process feeds, it is asked
    to look now (``nudge``) and sends them in turn; nothing is sent here."""
    if not ids:
        return []
    if account is None:
        return await feeder.feed(only=ids, over_budget=over_budget)
    lease = await store.leases.hold(account, owner, LEASE_SECONDS)
    if not lease.held_by(owner):
        await store.leases.nudge(account)
        return []
    try:
        return await feeder.feed(only=ids, over_budget=over_budget)
    finally:
        with contextlib.suppress(StoreError):  # else it runs out by itself
            await store.leases.release(account, owner)


# -- a paused batch: taking back what waits at the service ------------------------------------


async def pending_at_service(store: TaskStore, batch_id: str) -> list[Generation]:
    """A batch's tasks that wait at the service (PENDING, so still cancelable)."""
    return [row for row in await store.intents.batch_rows(batch_id)
            if row.task_id is not None and row.status in (None, "PENDING") and row.followed]


@dataclass(frozen=True)
class TakenBack:
    queued: list[Generation]
    problems: list[str]


async def take_back(store: TaskStore, client: DashScopeClient,
                    rows: Sequence[Generation]) -> TakenBack:
    """Cancel these PENDING tasks at the service and queue them again, first in their
    priority and in their order (a task that started meanwhile runs on)."""
    queued: list[Generation] = []
    problems: list[str] = []
    for row in reversed(rows):  # each goes first: the last first keeps their order
        try:
            canceled = await operations.cancel(store, client, row)
        except (DashScopeError, operations.Refused) as exc:
            problems.append(str(exc))
            continue
        if canceled.status != "CANCELED":
            problems.append(f"{row.task_id} is {canceled.display_status}; it was not taken back")
            continue
        again = await store.queue.requeue(row.id, retry=False)
        if again is not None:
            queued.append(again)
    queued.reverse()
    return TakenBack(queued, problems)


def priority_value(text: str) -> int:
    """``--priority``: a whole number from -9 to 9 (higher goes first), or a name."""
    names = {"prompt": PROMPT, "high": PROMPT, "batch": BATCH, "normal": BATCH, "low": -1}
    if text.lower() in names:
        return names[text.lower()]
    value = int(text)
    low, high = PRIORITY_RANGE
    if not low <= value <= high:
        raise ValueError(f"must be {low} to {high}, not {value}")
    return value
