"""Records of figures over many rows: the status bar's counts, how many rows a filter
matches, what costs money, where a batch is, how far a copy came.

Kept out of ``storage.records`` (which re-exports them): a page read makes none of
them, and creating even a named tuple costs something that ``list`` need not pay.
"""

from typing import Any, NamedTuple


class Counts(NamedTuple):
    """The figures the status bar shows, from the whole history — never from a page."""

    pending: int = 0
    running: int = 0
    submitting: int = 0
    finished_today: int = 0
    failed_today: int = 0
    not_downloaded: int = 0
    total: int = 0
    queued: int = 0  # waiting in the local queue (not in flight: nothing was sent)

    @property
    def in_flight(self) -> int:
        return self.pending + self.running + self.submitting


class Tally(NamedTuple):
    """How many rows a filter matches, as far as they were counted: exactly ``matches``,
    or — not ``exact`` — at least ``matches`` (the counting stopped early)."""

    matches: int
    exact: bool = True


class Billable(NamedTuple):
    """A generation that costs money or may: made (``settled``), or still in flight or
    of unknown outcome.  The size, duration and audio are what was billed if known."""

    created_at: str
    size: str
    duration: float
    audio: bool
    settled: bool

    @classmethod
    def of(cls, created_at: str, status: str | None, size: str, usage_size: str | None,
           duration: float, usage_duration: float | None, audio: Any,
           usage_audio: Any) -> "Billable":
        """From a row's columns: what the service billed once it made the video, what
        was asked before."""
        made = status == "SUCCEEDED"
        return cls(created_at, usage_size if made and usage_size else size,
                   float(usage_duration if made and usage_duration else duration),
                   bool(usage_audio if made and usage_audio is not None else audio), made)


class BatchSummary(NamedTuple):
    """Where the tasks of one batch are."""

    batch_id: str
    label: str  # the first task's prompt
    total: int
    succeeded: int
    failed: int  # failed, refused or unknown
    canceled: int
    live: int  # not finished yet (sending, pending, running, unconfirmed)

    @property
    def done(self) -> bool:
        return self.live == 0


class CopyMark(NamedTuple):
    """How far copies from one source came (``History.copied_from``)."""

    up_to: int = 0  # the highest source id taken: the next copy reads after it
    seen: int = 0  # how many source records copies took (added, or found here already)
