"""The local queue as a status line tells it: how much waits, what is paused, and who
feeds it (whoever polls the account).  Light on purpose — ``list`` and the dashboard's
first paint read it without loading the feeder, the poller or the client."""

from __future__ import annotations

from dataclasses import dataclass

from storage import TaskStore
from storage.records import QueuePause
from tui.engine.following.account import holder_name

PROMPT = 1  # the composer, `submit PROMPT`, a re-run: ahead of batch lines
BATCH = 0  # the lines of a batch file
NOBODY = ("nobody feeds the queue: it is sent by the dashboard or `pixverse-tui watch` "
          "(whichever polls the account)")


@dataclass(frozen=True)
class QueueState:
    """The queue as a status line tells it."""

    queued: int
    pauses: tuple[QueuePause, ...]
    feeder: str | None  # the process that polls the account (and so feeds), if any

    @property
    def paused(self) -> QueuePause | None:
        """The pause of the whole queue, if it is paused."""
        return next((p for p in self.pauses if p.batch_id is None), None)

    @property
    def paused_batches(self) -> frozenset[str]:
        return frozenset(p.batch_id for p in self.pauses if p.batch_id is not None)

    def sentence(self) -> str | None:
        """Why the queue does not move, in one sentence — or None when it does (or is
        empty)."""
        if not self.queued:
            return None
        if self.paused is not None:
            why = self.paused.reason or "by a user"
            return f"the queue is paused ({why})"
        if self.feeder is None:
            return NOBODY
        return None


async def queue_state(store: TaskStore, account: str | None, *,
                      queued: int | None = None) -> QueueState:
    """The queue now (``queued``: counted already, to save a read)."""
    if queued is None:
        queued = (await store.history.counts("")).queued
    holder = (await store.leases.current(account)).holder if account else None
    return QueueState(queued, tuple(await store.queue.pauses()),
                      holder_name(holder) if holder else None)
