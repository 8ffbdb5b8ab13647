"""Records of the local queue: what is queued, what queueing did, a queued row, a pause.

Kept out of ``storage.records`` (which re-exports them): a page read makes none of
them, and creating even a named tuple costs something that ``list`` need not pay.
"""

from typing import NamedTuple


class QueueEntry(NamedTuple):
    """One submission to wait in the local queue.  ``key`` makes it an intent of a batch
    file's line (never queued or sent twice: see ``Queue.enqueue``)."""

    endpoint: str
    model: str
    prompt: str
    size: str
    duration: int
    audio: bool = False
    watermark: bool = False
    seed: int | None = None
    key: str | None = None
    tags: tuple[str, ...] = ()
    note: str | None = None


class Enqueued(NamedTuple):
    """What ``Queue.enqueue`` did: the rows now waiting, in the order given, and how many
    keyed entries were left as they were (sent before, in flight, in doubt, or queued)."""

    queued: tuple[int, ...]
    known: int = 0


class QueueItem(NamedTuple):
    """A queued row in the few columns an estimate or a listing needs."""

    id: int
    batch_id: str | None
    size: str
    duration: int
    audio: bool
    priority: int
    held: bool


class QueuePause(NamedTuple):
    """The whole queue (``batch_id`` None) or one batch is paused; ``reason`` says why
    when the program paused it (a refused key, a quota, a budget), None when a user did."""

    batch_id: str | None
    reason: str | None
    at: str
