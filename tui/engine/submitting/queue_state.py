"""The local queue as a status line tells it: how much waits, what is paused and why, and
who feeds it (whoever polls the account).  Light on purpose — ``list`` and the
dashboard's first paint read it without loading the feeder, the poller or the client."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from storage import TaskStore
from tui.engine.following.account import holder_name

if TYPE_CHECKING:  # annotations only: the queue's records come with a queue read
    from storage.records import QueuePause

PROMPT = 1  # the composer, `submit PROMPT`, a re-run: ahead of batch lines
BATCH = 0  # the lines of a batch file
NOBODY = ("waiting: nobody is feeding the queue (start the dashboard or "
          "`pixverse-tui watch`)")
# Who feeds the queue is whoever polls the account — which a process without the
# account's key cannot name (``list`` in a shell without DASHSCOPE_API_KEY).
UNKNOWN = "who sends them is not known here (no API key: the account is not known)"
# How each front end resumes what is paused: the dashboard's keys, the command line.
RESUME_QUEUE = "`pixverse-tui queue resume`"
RESUME_BATCH = "`pixverse-tui queue resume BATCH`"


class QueueState(NamedTuple):
    """The queue as a status line tells it."""

    queued: int
    pauses: tuple[QueuePause, ...]
    feeder: str | None  # the process that polls the account (and so feeds), if any
    shared: bool = False  # a team's store: a pause by hand may be someone else's
    known: bool = True  # whether ``feeder`` could be looked for (this process has a key)

    @property
    def paused(self) -> QueuePause | None:
        """The pause of the whole queue, if it is paused."""
        return next((p for p in self.pauses if p.batch_id is None), None)

    @property
    def paused_batches(self) -> frozenset[str]:
        return frozenset(p.batch_id for p in self.pauses if p.batch_id is not None)

    def why(self, pause: QueuePause) -> str:
        """Why something is paused, in a few words: "paused by you", or the program's
        reason ("paused: key refused, 401 InvalidApiKey — …")."""
        if pause.reason is None:
            return "paused by a user" if self.shared else "paused by you"
        return f"paused: {pause.reason}"

    def sentence(self, resume: str = RESUME_QUEUE) -> str | None:
        """Why the queue does not move, in one sentence — or None when it does (or is
        empty).  ``resume``: how the front end resumes it (a key, a command)."""
        if not self.queued:
            return None
        if self.paused is not None:
            return f"queue {self.why(self.paused)}; {resume} resumes it"
        if self.feeder is None and self.known:
            return NOBODY
        return None

    def batches_note(self, resume: str = RESUME_BATCH) -> str | None:
        """The batches paused while the rest of the queue moves ("batch paused by you;
        p resumes it"), or None."""
        if not self.queued or self.paused is not None:
            return None
        paused = [p for p in self.pauses if p.batch_id is not None]
        if not paused:
            return None
        one = len(paused) == 1
        what = "batch" if one else f"{len(paused)} batches"
        if one:  # the command names it
            resume = resume.replace("BATCH", paused[0].batch_id or "BATCH")
        return f"{what} {self.why(paused[0])}; {resume} resumes {'it' if one else 'them'}"


async def queue_state(store: TaskStore, account: str | None, *,
                      queued: int | None = None) -> QueueState:
    """The queue now (``queued``: counted already, to save a read)."""
    if queued is None:
        queued = (await store.history.counts("")).queued
    holder = (await store.leases.current(account)).holder if account else None
    return QueueState(queued, tuple(await store.queue.pauses()),
                      holder_name(holder) if holder else None, store.shared,
                      known=account is not None)
