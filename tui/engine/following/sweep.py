"""Reading the service's list of RUNNING tasks against what the store follows.

One list call tells what a thousand single queries would: a task we knew as
RUNNING that is no longer listed has ended (query it once, for its video and
usage); a PENDING one that is listed has started.  The service runs at most five
tasks per key and starts them in the order they were made, so a PENDING task
made before one of ours that already runs must have run too — started and
ended between two looks (a fast failure) — and is asked about at once.

Pure functions: what to do is decided here, the poller does it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from storage.clock import parse_iso
from storage.records import LiveTask
from tui.dashscope import ListedTask

RUNNING_LIMIT = 5  # tasks one key runs at once (protocol sheet, "Limits")
RUNNING_LIKE = ("RUNNING", "SUSPENDED")


@dataclass(frozen=True)
class SweepFindings:
    ended: list[int] = field(default_factory=list)  # left the RUNNING list: ask once
    started: list[tuple[int, datetime | None]] = field(default_factory=list)  # now runs
    overtaken: list[int] = field(default_factory=list)  # must have run already: ask
    foreign: list[ListedTask] = field(default_factory=list)  # runs, but no row follows it


def read_sweep(live: list[LiveTask], running: list[ListedTask],
               settled_before: datetime | None = None) -> SweepFindings:
    """What the RUNNING list says about the followed tasks (``live``, oldest first).

    A free slot points at the oldest pending tasks only once they were made before
    ``settled_before``: the service takes a few seconds to start a task it has just
    accepted, and asking about one that simply has not started yet is a wasted request
    (a young task that FAILs at once is caught by the FAILED list instead)."""
    listed = {task.task_id: task for task in running}
    ours = {row.task_id for row in live}
    ended = [row.id for row in live
             if row.status in RUNNING_LIKE and row.task_id not in listed]
    started = [(row.id, listed[row.task_id].started) for row in live
               if row.status in (None, "PENDING") and row.task_id in listed]
    running_ours = [row for row in live if row.task_id in listed]
    pending = [row for row in live if row.status in (None, "PENDING")
               and row.task_id not in listed]
    overtaken: list[int] = []
    if running_ours:
        newest = max(_made(row) for row in running_ours)
        overtaken = [row.id for row in pending if _made(row) < newest]
    elif len(running) < RUNNING_LIMIT:
        # A free slot and nothing of ours runs: the oldest pending ones should be
        # running — unless they already ran and ended between two looks.
        settled = [row for row in pending
                   if settled_before is None or _made(row) < settled_before]
        overtaken = [row.id for row in settled[:RUNNING_LIMIT - len(running)]]
    foreign = [task for task in running if task.task_id not in ours]
    return SweepFindings(ended, started, overtaken, foreign)


def _made(row: LiveTask) -> datetime:
    return parse_iso(row.created_at) or datetime.max.replace(tzinfo=UTC)


class Timing:
    """How long generations take (learned per size and duration), and so when to look.

    Durations are in the service's seconds.  Until a kind of task has finished
    once, the shortest the service promises (one minute) is assumed, so looks
    start early rather than late.
    """

    PRIOR = 60.0  # seconds: "generation usually takes 1–5 minutes"
    TIGHT_FROM = 0.6  # look closely once a task has run this share of its expected time

    def __init__(self) -> None:
        self.learned: dict[tuple[str, int], float] = {}

    def expected(self, size: str, duration: int) -> float:
        return self.learned.get((size, duration), self.PRIOR)

    def learn(self, size: str, duration: int, seconds: float) -> None:
        if seconds <= 0:
            return
        old = self.learned.get((size, duration))
        self.learned[(size, duration)] = seconds if old is None else 0.7 * old + 0.3 * seconds

    def next_sweep_in(self, live: list[LiveTask], now: datetime, *, close: float,
                      far: float, scale: float = 1.0) -> float | None:
        """Service-seconds until the next look: ``close`` while some running task may be
        ending, up to ``far`` otherwise; None when nothing is followed.

        ``now`` and the tasks' times are wall-clock moments; on a service whose clock
        runs ``scale`` times faster (the demo's simulator) a real second of running is
        ``scale`` of its seconds."""
        if not live:
            return None
        waits = []
        for row in live:
            if row.status not in RUNNING_LIKE:
                continue
            started = parse_iso(row.scheduled_time) or parse_iso(row.created_at)
            if started is None:
                return close
            ran = (now - started).total_seconds() * scale
            waits.append(self.expected(row.size, row.duration) * self.TIGHT_FROM - ran)
        if not waits:
            return far
        return max(close, min(far, min(waits)))
