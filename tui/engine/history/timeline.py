"""How long a task queued and generated — the one place durations come from.

The service reports when a task was submitted, scheduled (started) and ended.
Those times come from outside: an ``end_time`` before the submit time, or a
task scheduled before it was submitted, makes every figure drawn from them
meaningless (negative, or silently wrong).  Then each figure is None — shown
as "—", and left out of statistics and estimates — rather than a guess.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Protocol

from storage.clock import parse_iso


class Timed(Protocol):
    """A generation, or the columns statistics read of one."""

    @property
    def submit_time(self) -> str | None: ...
    @property
    def scheduled_time(self) -> str | None: ...
    @property
    def end_time(self) -> str | None: ...


def _moments(row: Timed) -> tuple[datetime | None, datetime | None, datetime | None] | None:
    """(submitted, scheduled, ended), or None when the times given contradict each other."""
    moments = (parse_iso(row.submit_time), parse_iso(row.scheduled_time),
               parse_iso(row.end_time))
    known = [m for m in moments if m is not None]
    if any(later < earlier for earlier, later in pairwise(known)):
        return None
    return moments


def _between(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def queue_seconds(row: Timed) -> float | None:
    """Submitted → scheduled; None if unknown or impossible."""
    moments = _moments(row)
    return None if moments is None else _between(moments[0], moments[1])


def generation_seconds(row: Timed) -> float | None:
    """Scheduled → ended; None if unknown or impossible."""
    moments = _moments(row)
    return None if moments is None else _between(moments[1], moments[2])


def total_seconds(row: Timed) -> float | None:
    """Submitted → ended; None if unknown or impossible."""
    moments = _moments(row)
    return None if moments is None else _between(moments[0], moments[2])
