"""Intent-first submission: write the row, then send, then record what happened.

Whatever goes wrong, the row says so: ``accepted`` (we have a task id),
``rejected`` (the server said no, nothing was created), or ``unconfirmed`` (the
request may have created a task; the user decides — see ``resolve``).  Nothing
here ever sends a create twice for one intent.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from storage import Generation, StoreError, TaskStore
from tui.dashscope import DashScopeError, GenerationRequest, RequestInvalid
from tui.dashscope.sizes import SEED_MAX
from tui.dashscope.validation import check_request

if TYPE_CHECKING:
    from tui.dashscope import DashScopeClient

T = TypeVar("T")

FIRST_POLL_AFTER = 3.0
CREATE_PACE = 0.25  # seconds between creates: the service allows 5 per second per key


class IntentNotRecorded(StoreError):
    """The store could not record the intent (unreachable, full, read-only), so its create
    was never sent: nothing was created, nothing is billed."""

    def __init__(self, cause: StoreError) -> None:
        super().__init__(f"nothing was sent: the intent could not be recorded first ({cause})")
        self.cause = cause


async def record_first(recording: Awaitable[T]) -> T:
    """An intent being recorded (``intents.add``, ``intents.claim``): its ``StoreError``
    becomes ``IntentNotRecorded`` — the create that would follow is not sent."""
    try:
        return await recording
    except StoreError as exc:
        raise IntentNotRecorded(exc) from None


class CreatedButNotRecorded(Exception):
    """The service created (and bills) a task, but the store could not record it.

    The task id must not be lost: the message names it and how to adopt it later.
    """

    def __init__(self, task_id: str, cause: StoreError) -> None:
        super().__init__(
            f"task {task_id} was created (and is billed) but could not be recorded: {cause}. "
            f"Once that is fixed, run `pixverse-tui track {task_id}` to follow it")
        self.task_id = task_id


@dataclass(frozen=True)
class Submitted:
    generation: Generation
    error: DashScopeError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def submit(store: TaskStore, client: DashScopeClient, req: GenerationRequest,
                 *, first_poll_after: float = FIRST_POLL_AFTER,
                 batch_id: str | None = None) -> Submitted:
    """Create one task.  Raises ``RequestInvalid`` (before writing anything) for bad input."""
    verdict = check_request(req)
    if not verdict.ok:
        raise RequestInvalid(verdict.problems)
    if not 0 <= first_poll_after <= 3600:  # also nan and inf: nothing may fail after sending
        first_poll_after = FIRST_POLL_AFTER
    row = await record_first(store.intents.add(
        endpoint=client.base_url, model=req.model, prompt=req.prompt, size=req.size,
        duration=req.duration, audio=req.audio, watermark=req.watermark, seed=req.seed,
        batch_id=batch_id))
    return await send_intent(store, client, row, req, first_poll_after=first_poll_after)


async def send_intent(store: TaskStore, client: DashScopeClient, row: Generation,
                      req: GenerationRequest, *,
                      first_poll_after: float = FIRST_POLL_AFTER) -> Submitted:
    """Send the create for an intent already recorded (``row``, in 'sending'), once,
    and record what came of it."""
    if not 0 <= first_poll_after <= 3600:
        first_poll_after = FIRST_POLL_AFTER
    try:
        created = await client.create(req)
    except DashScopeError as exc:
        if exc.ambiguous:
            row = await store.intents.mark_unconfirmed(
                row.id, f"no clear answer to the create request ({exc}); a task may exist")
        else:
            row = await store.intents.mark_rejected(row.id, code=exc.code, message=exc.message,
                                                    request_id=exc.request_id)
        return Submitted(row, exc)
    except BaseException:
        # Cancelled or crashed mid-flight: the request may have been sent.
        await store.intents.mark_unconfirmed(
            row.id, "submission was interrupted before the answer arrived; a task may exist")
        raise
    try:
        row = await store.intents.mark_accepted(row.id, task_id=created.task_id,
                                                status=created.status,
                                                request_id=created.request_id,
                                                next_poll_in=first_poll_after)
    except StoreError as exc:
        raise CreatedButNotRecorded(created.task_id, exc) from None
    return Submitted(row)


def variation_seeds(seed: int | None, count: int) -> list[int | None]:
    """Seeds for ``count`` variations: s, s+1, … (from a random s when none is given);
    a single task keeps ``seed`` as it is (None: the service picks)."""
    if count <= 1:
        return [seed]
    start = seed if seed is not None else random.randint(0, SEED_MAX)
    return [(start + i) % (SEED_MAX + 1) for i in range(count)]


async def submit_all(store: TaskStore, client: DashScopeClient,
                     requests: Sequence[GenerationRequest], *,
                     first_poll_after: float = FIRST_POLL_AFTER,
                     pace: float = CREATE_PACE) -> AsyncIterator[Submitted]:
    """Create each task in turn, paced under the create limit; stops after the first
    one that is refused or unclear (the rest are not sent).  Several requests make a
    batch: their rows share a batch id."""
    batch_id = uuid.uuid4().hex[:12] if len(requests) > 1 else None
    for index, request in enumerate(requests):
        if index:
            await asyncio.sleep(pace)
        outcome = await submit(store, client, request, first_poll_after=first_poll_after,
                               batch_id=batch_id)
        yield outcome
        if not outcome.ok:
            return
