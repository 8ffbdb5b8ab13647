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
from typing import TYPE_CHECKING

from storage import Generation, StoreError, TaskStore
from storage.records import Enqueued, QueueEntry
from tui.dashscope.errors import DashScopeError
from tui.engine import operations
from tui.engine.submitting.queue_state import BATCH as BATCH
from tui.engine.submitting.queue_state import PROMPT as PROMPT

if TYPE_CHECKING:  # (``queue list`` and the queue's other reads load no HTTP client)
    from tui.dashscope import DashScopeClient, GenerationRequest
    from tui.engine.submitting.batch import BatchPlan
    from tui.engine.submitting.feeder import Feeder

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
    from tui.engine.following.account import hold_lease

    lease = await hold_lease(store, account, owner, LEASE_SECONDS)
    if not lease.held_by(owner):
        await store.leases.nudge(account)
        return []
    try:
        return await feeder.feed(only=ids, over_budget=over_budget)
    finally:
        with contextlib.suppress(StoreError):  # else it runs out by itself
            await store.leases.release(account, owner)


# -- moving ---------------------------------------------------------------------------------


WHERE = {"up": "up", "down": "down", "top": "to the top of the queue",
         "bottom": "to the bottom of the queue"}


@dataclass(frozen=True)
class Moved:
    """What a move did, as the toast and the command line say it."""

    to: str  # up, down, top, bottom
    ids: tuple[int, ...]  # the queued items asked to move
    moved: int  # how many moved
    places: dict[int, int]  # id → its place in the queue now (1: next)
    was: dict[int, int]  # id → its place before
    priorities: dict[int, tuple[int, int]]  # id → (priority before, after), when it changed
    held: int  # of them held (they keep waiting wherever they are)

    def sentence(self, release: str = "`pixverse-tui queue release`", *,
                 named: bool = True) -> str:
        """One sentence: where it went (or why nothing moved), and the priority it took to
        get there (a moved item takes the priority of the place it goes to).  ``release``:
        how a held item is let go, in the front end's words; ``named``: one item is named
        by its #ID (not where it is plain which: the row the cursor is on, whose place —
        also "#3" — must not be mistaken for it)."""
        one = len(self.ids) == 1
        ahead = self.to in ("up", "top")
        if not self.moved or self.places == self.was:
            what = (f"#{self.ids[0]} is " if named else "") if one else "They are "
            said = f"{what}{'first' if ahead else 'last'} in the queue already: nothing moved."
            return said[0].upper() + said[1:]
        if one:
            said = f"#{self.ids[0]} moved {WHERE[self.to]}" if named else \
                f"Moved {WHERE[self.to]}"
            place = self.places.get(self.ids[0])
            if place == 1:
                said += ": first to be sent"
            elif place is not None and self.to in ("up", "down"):
                said += f" to #{place:,} in the queue"
        else:
            count = f"{self.moved}" if self.moved == len(self.ids) else \
                f"{self.moved} of {len(self.ids)}"
            said = f"{count} queued tasks moved {WHERE[self.to]}"
        if self.priorities:
            now = sorted({new for _, new in self.priorities.values()})
            whose = "its" if one else "their"
            said += (f" — {whose} priority {'rose' if ahead else 'fell'} to {now[0]}"
                     if len(now) == 1 else f" — {whose} priorities changed")
            said += {"top": ", the highest waiting", "bottom": ", the lowest waiting"}.get(
                self.to, ", that of the task it passed" if one else
                ", those of the tasks they passed")
        if self.held:
            said += f"; {'it is' if one else f'{self.held} are'} held ({release} releases)"
        return said + "."


async def move(store: TaskStore, ids: Sequence[int], to: str) -> Moved:
    """Move queued items ``up``, ``down``, to the ``top`` or ``bottom`` (``store.queue.
    move``), and say what happened."""
    before = {r.id: r for r in await store.generations.get_many(ids)}
    was = await store.queue.positions(ids)
    moved = await store.queue.move(ids, to)
    after = {r.id: r for r in await store.generations.get_many(ids)}
    places = await store.queue.positions(ids)
    changed = {i: (before[i].queue_priority or 0, after[i].queue_priority or 0)
               for i in places if i in before and i in after
               and before[i].queue_priority != after[i].queue_priority}
    held = sum(1 for i in places if after[i].queue_held)
    return Moved(to, tuple(ids), moved, places, was, changed, held)


# -- a paused batch: taking back what waits at the service ------------------------------------


async def pending_at_service(store: TaskStore, batch_id: str) -> list[Generation]:
    """A batch's tasks that wait at the service (PENDING, so still cancelable)."""
    return [row for row in await store.intents.batch_rows(batch_id)
            if row.task_id is not None and row.status in (None, "PENDING") and row.followed]


NOT_PENDING = "UnsupportedOperation"  # the service's answer to a cancel of a started task


@dataclass(frozen=True)
class TakenBack:
    canceled: int  # tasks the service said it canceled
    queued: list[Generation]  # the rows queued again for them, in their order
    started: int  # tasks no longer PENDING (they started meanwhile): they run on
    problems: list[str]  # what went wrong otherwise, one sentence each

    def sentence(self, of: int) -> str:
        """What became of ``of`` tasks asked back, in the service's words."""
        said = (f"{self.canceled} of {of} task{'s' if of != 1 else ''} still PENDING at the "
                "service were cancelled there and queued again")
        if self.started:
            said += (f"; {self.started} had started meanwhile and run on (a started task "
                     "cannot be taken back)")
        return said


async def take_back(store: TaskStore, client: DashScopeClient,
                    rows: Sequence[Generation]) -> TakenBack:
    """Cancel these PENDING tasks at the service and queue them again, first in their
    priority and in their order.  A task that started meanwhile runs on: it is counted,
    not a problem (the service refuses to cancel what is no longer PENDING)."""
    queued: list[Generation] = []
    problems: list[str] = []
    canceled = started = 0
    for row in reversed(rows):  # each goes first: the last first keeps their order
        try:
            now = await operations.cancel(store, client, row)
        except operations.Refused:  # the store knows it started already
            started += 1
            continue
        except DashScopeError as exc:
            if exc.code == NOT_PENDING:
                started += 1
            else:
                problems.append(str(exc))
            continue
        if now.status != "CANCELED":
            started += 1
            continue
        canceled += 1
        again = await store.queue.requeue(row.id, retry=False)
        if again is None:
            problems.append(f"#{row.id} was cancelled at the service but not queued again "
                            "(it was already)")
        else:
            queued.append(again)
    queued.reverse()
    return TakenBack(canceled, queued, started, problems)


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
