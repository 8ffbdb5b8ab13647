"""When will it be done: finish times for the queue, each batch, and where a new prompt
would start — from the account's own generation times, five at a time.

The account's finished tasks say how long a generation takes per tier and duration
(scheduled → ended; a typical figure where the history has none).  The service runs
five at a time, so the forecast lays the work out on five slots: what runs now (its
expected remainder), what waits at the service (in arrival order), then the queue (in
the order the feeder sends it, held items and paused batches left out).  Each item
starts when a slot frees and ends a generation later: its p50.  Its p90 adds the
spread: the uncertainty of the work ahead of it, shared by the slots (the sum of the
variances of what went before, over five), its own, and how far off the mean itself may
be (the standard error of a few samples, or a quarter of a typical figure — the same
error for every task of a kind, so it adds up along the queue).

No Textual, no clock of its own: the caller says when "now" is.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from storage import Generation, TaskStore
from storage.clock import parse_iso, utc_now
from storage.history import HistoryFilter
from tui.dashscope.sizes import tier_and_ratio
from tui.engine.history import timeline

if TYPE_CHECKING:  # annotations only: the queue's records come with a queue read
    from storage.records import QueueItem

SLOTS = 5  # the service runs five tasks per key at a time
Z90 = 1.2816  # the normal distribution's 90th percentile, in standard deviations
SAMPLES = 300  # the account's most recent finished tasks the times are learned from
# Typical generation seconds per tier for 5 s of video, where the history has no figure
# (the vendor says 1–5 minutes); a longer video takes longer, audio a little more.
TYPICAL = {"360P": 70.0, "540P": 95.0, "720P": 125.0, "1080P": 190.0}
SPREAD = 0.25  # the typical spread, as a share of the typical time


def _typical(size: str, duration: int, audio: bool) -> float:
    tier = (tier_and_ratio(size) or ("720P", ""))[0]
    return TYPICAL.get(tier, 125.0) * (1 + 0.25 * (duration - 5) / 5) * (1.1 if audio else 1)


@dataclass
class Times:
    """Generation seconds learned from the account's history, per (tier, duration)."""

    samples: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    scale: float = 1.0  # a simulator's clock speed: typical figures are service seconds
    _known: dict[tuple[str, int, bool], tuple[float, float, float]] = field(
        default_factory=dict)

    def learn(self, size: str, duration: int, seconds: float) -> None:
        if seconds > 0 and math.isfinite(seconds):
            tier = (tier_and_ratio(size) or ("?", ""))[0]
            self.samples.setdefault((tier, duration), []).append(seconds)
            self._known.clear()

    def of(self, size: str, duration: int, audio: bool = False) -> tuple[float, float]:
        """(mean, standard deviation) of one generation like this, in seconds."""
        mean, sd, _ = self.figures(size, duration, audio)
        return mean, sd

    def figures(self, size: str, duration: int, audio: bool = False
                ) -> tuple[float, float, float]:
        """(mean, standard deviation, how far off the mean itself may be): the mean of a
        few samples, or a typical figure, is uncertain too — and for every task alike."""
        key = (size, duration, audio)
        if key not in self._known:
            self._known[key] = self._figure(size, duration, audio)
        return self._known[key]

    def _figure(self, size: str, duration: int, audio: bool) -> tuple[float, float, float]:
        tier = (tier_and_ratio(size) or ("?", ""))[0]
        seen = self.samples.get((tier, duration))
        if not seen:  # the same tier at another duration, scaled
            others = [(d, s) for (t, d), s in self.samples.items() if t == tier and s]
            if others:
                d, s = max(others, key=lambda pair: len(pair[1]))
                scale = (1 + 0.25 * (duration - 5) / 5) / (1 + 0.25 * (d - 5) / 5)
                seen = [v * scale for v in s]
        if not seen:
            typical = _typical(size, duration, audio) / self.scale
            return typical, typical * SPREAD, typical * SPREAD
        mean = sum(seen) / len(seen)
        if len(seen) < 3:
            return mean, mean * SPREAD, mean * SPREAD
        sd = math.sqrt(sum((v - mean) ** 2 for v in seen) / (len(seen) - 1))
        return mean, sd, sd / math.sqrt(len(seen))


async def account_times(store: TaskStore, limit: int = SAMPLES, *,
                        scale: float = 1.0) -> Times:
    """The generation times of the account's most recent finished tasks (as the service
    reported them: real seconds, even from a fast simulator)."""
    times = Times(scale=scale)
    for row in await store.history.page(HistoryFilter(statuses=("SUCCEEDED",)), limit=limit):
        took = timeline.generation_seconds(row)
        if took is not None:
            times.learn(row.usage_size or row.size, row.duration, took)
    return times


class Spread(NamedTuple):
    """Seconds from now: the median and the 90th percentile."""

    p50: float
    p90: float


@dataclass
class Forecast:
    now: datetime
    starts: dict[int, Spread] = field(default_factory=dict)  # queued items that will go
    finishes: dict[int, Spread] = field(default_factory=dict)  # …and in-flight tasks
    batches: dict[str, Spread] = field(default_factory=dict)  # each batch's last finish
    queue: Spread | None = None  # the last queued item's finish
    probe: Spread | None = None  # where a new item at ``probe_priority`` would start
    waiting: int = 0  # queued items that will go (not held, not paused)

    def finish_of(self, ids: Iterable[int]) -> Spread | None:
        """The finish of the last of these (None: none of them will go)."""
        known = [self.finishes[i] for i in ids if i in self.finishes]
        if not known:
            return None
        return Spread(max(s.p50 for s in known), max(s.p90 for s in known))

    def at(self, seconds: float) -> datetime:
        return self.now + timedelta(seconds=seconds)


class InFlight(NamedTuple):
    """A task the service holds: running (``elapsed`` seconds since it started) or
    waiting there (``elapsed`` None)."""

    id: int
    batch_id: str | None
    size: str
    duration: int
    audio: bool
    elapsed: float | None


def lay_out(now: datetime, in_flight: Sequence[InFlight], lineup: Sequence[QueueItem],
            times: Times, *, paused: Iterable[str] = (), stopped: bool = False,
            probe_priority: int | None = None, slots: int = SLOTS) -> Forecast:
    """The forecast: what the service holds, then the queue, on ``slots`` slots.
    ``stopped``: the whole queue is paused (queued items will not go; in flight ends)."""
    out = Forecast(now)
    free = [0.0] * slots
    spread = 0.0  # the variance of the work laid out so far, task by task
    doubt = 0.0  # how far off the means behind it may be: one error shared by every task
    running = [t for t in in_flight if t.elapsed is not None]
    for task in running[:slots]:
        mean, sd = times.of(task.size, task.duration, task.audio)
        left = max(mean - (task.elapsed or 0.0), mean * 0.05)
        free.sort()
        free[0] = left
        out.finishes[task.id] = Spread(left, left + Z90 * sd)
        spread += sd * sd
    heapq.heapify(free)
    blocked = set(paused)

    def place(item_id: int, size: str, duration: int, audio: bool) -> tuple[Spread, Spread]:
        nonlocal spread, doubt
        mean, sd, off = times.figures(size, duration, audio)
        start = heapq.heappop(free)
        ahead = math.sqrt(spread / slots + (doubt / slots) ** 2)
        heapq.heappush(free, start + mean)
        spread += sd * sd
        doubt += off
        own = math.sqrt(ahead ** 2 + sd * sd + off * off)
        return (Spread(start, start + Z90 * ahead),
                Spread(start + mean, start + mean + Z90 * own))

    for task in [t for t in in_flight if t.elapsed is None] + running[slots:]:
        _, out.finishes[task.id] = place(task.id, task.size, task.duration, task.audio)
        _batch(out, task.batch_id, out.finishes[task.id])
    for task in running[:slots]:
        _batch(out, task.batch_id, out.finishes[task.id])
    for item in lineup:
        if stopped or item.held or (item.batch_id is not None and item.batch_id in blocked):
            continue
        if probe_priority is not None and out.probe is None and item.priority < probe_priority:
            out.probe = _next_start(free, spread, doubt, slots)
        out.starts[item.id], out.finishes[item.id] = place(item.id, item.size, item.duration,
                                                           item.audio)
        out.queue = out.finishes[item.id]
        out.waiting += 1
        _batch(out, item.batch_id, out.finishes[item.id])
    if probe_priority is not None and out.probe is None:
        out.probe = _next_start(free, spread, doubt, slots)
    for batch_id in blocked:
        out.batches.pop(batch_id, None)  # paused: no finish to tell
    return out


def _next_start(free: list[float], spread: float, doubt: float, slots: int) -> Spread:
    start = free[0]
    return Spread(start, start + Z90 * math.sqrt(spread / slots + (doubt / slots) ** 2))


def _batch(out: Forecast, batch_id: str | None, finish: Spread) -> None:
    if batch_id is None:
        return
    known = out.batches.get(batch_id)
    out.batches[batch_id] = finish if known is None else Spread(
        max(known.p50, finish.p50), max(known.p90, finish.p90))


def in_flight_of(rows: Iterable[Generation], now: datetime) -> list[InFlight]:
    """What the service holds, from the followed rows: running first, then waiting
    there, each in the order it was made."""
    running, waiting = [], []
    for row in sorted(rows, key=lambda r: r.id):
        if row.terminal or row.task_id is None:
            continue
        started = parse_iso(row.scheduled_time)
        if row.status in ("RUNNING", "SUSPENDED"):
            elapsed = (now - started).total_seconds() if started is not None else 0.0
            running.append(InFlight(row.id, row.batch_id, row.size, row.duration, row.audio,
                                    max(0.0, elapsed)))
        else:
            waiting.append(InFlight(row.id, row.batch_id, row.size, row.duration, row.audio,
                                    None))
    return running + waiting


async def forecast(store: TaskStore, *, times: Times | None = None,
                   probe_priority: int | None = None, now: datetime | None = None) -> Forecast:
    """The forecast as the store has it now (``times``: learned before, to save a read)."""
    moment = now or utc_now()
    pauses = await store.queue.pauses()
    return lay_out(moment, in_flight_of(await store.following.unfinished(), moment),
                   await store.queue.lineup(), times or await account_times(store),
                   paused=[p.batch_id for p in pauses if p.batch_id is not None],
                   stopped=any(p.batch_id is None for p in pauses),
                   probe_priority=probe_priority)


def in_words(seconds: float) -> str:
    """``~4 min``, ``~40 s``, ``~2.5 h``: how long, roughly."""
    if seconds < 60:
        return f"~{max(seconds, 1):.0f} s"
    if seconds < 90 * 60:
        return f"~{seconds / 60:.0f} min"
    return f"~{seconds / 3600:.1f} h"


def when(seconds: float, now: datetime | None = None) -> str:
    """The local clock time ``seconds`` from now: ``14:05`` (with the day when not today)."""
    base = now or utc_now()
    moment = (base + timedelta(seconds=seconds)).astimezone()
    today = base.astimezone().date()
    return moment.strftime("%H:%M") if moment.date() == today else moment.strftime(
        "%a %H:%M")
