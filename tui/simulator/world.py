"""The simulated service's state: tasks, their life, rate windows — on a fast clock.

Everything runs on simulated time (``SimClock``), so ``--speed 60`` makes a
two-minute generation take two seconds, and expiry and rate windows shrink
with it.  Task life is computed lazily from event times whenever someone looks.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

SERVER_TZ = timezone(timedelta(hours=8))  # Beijing; the protocol's times are server-local
EXPIRY_SECONDS = 24 * 3600
RUNNING_LIMIT = 5
CREATE_RATE = 5  # per second per key
QUERY_RATE = 20  # per second per key

# (width, height) per tier and ratio, written out again on purpose: the client
# has its own copy, and each catches the other's typos.
SIZES: dict[str, tuple[str, str]] = {}
for _tier, _row in {
    "360P": ["640*360", "640*480", "640*640", "480*640", "360*640"],
    "540P": ["1024*576", "1024*768", "1024*1024", "768*1024", "576*1024"],
    "720P": ["1280*720", "1280*960", "1280*1280", "960*1280", "720*1280"],
    "1080P": ["1920*1080", "1920*1440", "1808*1808", "1440*1920", "1080*1920"],
}.items():
    for _ratio, _size in zip(("16x9", "4x3", "1x1", "3x4", "9x16"), _row, strict=True):
        SIZES[_size] = (_tier, _ratio)

MODELS = {"pixverse/pixverse-v5.6-t2v": 2048, "pixverse/pixverse-v6-t2v": 5000,
          "pixverse/pixverse-c1-t2v": 5000}

# Median generation seconds by tier; duration scales it.  Drawn log-normally
# and kept within the vendor's "1–5 minutes".
_TIER_MEDIAN = {"360P": 70.0, "540P": 95.0, "720P": 125.0, "1080P": 190.0}
_FAILURES = [
    ("InternalError", "An internal error has occured during execution, please try again later."),
    ("DataInspectionFailed", "Output data may contain inappropriate content."),
    (None, None),  # field reports: FAILED with neither code nor message
]
_EARLY_FAILURES = [
    ("DataInspectionFailed", "Input data may contain inappropriate content."),
    (None, None),  # "tasks FAILED seconds after submit with no code/message"
]


class SimClock:
    """Simulated wall-clock seconds since the epoch, ``speed`` times faster than real."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start_wall = time.time()
        self._start_mono = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        return self._start_wall + (time.monotonic() - self._start_mono) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        """Jump ahead (tests use this to expire tasks)."""
        self._offset += seconds

    def wall(self, sim_time: float) -> float:
        """The wall-clock moment a simulated moment is reported as.

        Reported times stay next to the real clock (so a client's "elapsed"
        is right); the durations between them shrink by ``speed``.
        """
        return self._start_wall + (sim_time - self._start_wall) / self.speed

    def sim(self, wall_time: float) -> float:
        return self._start_wall + (wall_time - self._start_wall) * self.speed


def server_time(epoch: float | None) -> str | None:
    """``2026-03-20 10:34:41.630`` in Beijing time, for a wall-clock epoch."""
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(epoch, UTC).astimezone(SERVER_TZ)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


@dataclass
class SimTask:
    task_id: str
    key: str
    model: str
    prompt: str
    size: str
    duration: int
    audio: bool
    watermark: bool
    seed: int
    request_id: str
    created: float
    ready_at: float  # earliest moment it may start running
    work: float  # seconds of generation once running
    fails_with: tuple[str | None, str | None] | None
    status: str = "PENDING"
    started: float | None = None
    ended: float | None = None
    fails_pending_at: float | None = None  # moderation: FAILED before it ever runs

    @property
    def ratio(self) -> str:
        return SIZES[self.size][1]

    @property
    def tier(self) -> str:
        return SIZES[self.size][0]


@dataclass
class Account:
    tasks: dict[str, SimTask] = field(default_factory=dict)
    creates: deque[float] = field(default_factory=deque)
    queries: deque[float] = field(default_factory=deque)


class World:
    """All accounts' tasks.  Thread-safe: the HTTP server calls it from many threads."""

    def __init__(self, clock: SimClock, *, failure_rate: float = 0.05,
                 early_failure_rate: float = 0.0,
                 rng: random.Random | None = None, min_work: float = 60.0,
                 max_work: float = 300.0,
                 queue_delay: tuple[float, float] = (0.5, 4.0)) -> None:
        self.clock = clock
        self.failure_rate = failure_rate
        self.early_failure_rate = early_failure_rate
        self.rng = rng or random.Random()
        self.min_work = min_work
        self.max_work = max_work
        self.queue_delay = queue_delay
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}

    def account(self, key: str) -> Account:
        return self.accounts.setdefault(key, Account())

    # -- rate windows (one simulated second) --------------------------------

    def allow(self, key: str, kind: str) -> bool:
        with self.lock:
            account = self.account(key)
            window = account.creates if kind == "create" else account.queries
            limit = CREATE_RATE if kind == "create" else QUERY_RATE
            now = self.clock.now()
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                return False
            window.append(now)
            return True

    # -- tasks --------------------------------------------------------------

    def create(self, key: str, *, model: str, prompt: str, size: str, duration: int,
               audio: bool, watermark: bool, seed: int | None,
               fail_early_after: float | None = None) -> SimTask:
        """A new PENDING task.  ``fail_early_after``: it FAILS that many seconds later
        without ever running (content moderation); also drawn at ``early_failure_rate``."""
        with self.lock:
            now = self.clock.now()
            tier = SIZES[size][0]
            median = _TIER_MEDIAN[tier] * (1.0 + 0.25 * (duration - 5) / 5) * (1.1 if audio else 1)
            work = min(self.max_work, max(self.min_work, self.rng.lognormvariate(
                math.log(median), 0.25)))
            fails = None
            if self.rng.random() < self.failure_rate:
                fails = self.rng.choice(_FAILURES)
                work *= self.rng.uniform(0.05, 0.6)
            task = SimTask(
                task_id=str(uuid.uuid4()), key=key, model=model, prompt=prompt, size=size,
                duration=duration, audio=audio, watermark=watermark,
                seed=seed if seed is not None else self.rng.randint(0, 2_147_483_647),
                request_id=str(uuid.uuid4()), created=now,
                ready_at=now + self.rng.uniform(*self.queue_delay), work=work, fails_with=fails)
            if fail_early_after is None and self.rng.random() < self.early_failure_rate:
                fail_early_after = self.rng.uniform(1.0, 10.0)
            if fail_early_after is not None:
                task.fails_pending_at = now + fail_early_after
                task.fails_with = self.rng.choice(_EARLY_FAILURES)
            self.account(key).tasks[task.task_id] = task
            return task

    def get(self, key: str, task_id: str) -> SimTask | None:
        """The task as of now, or None when unknown to this key or expired."""
        with self.lock:
            self._advance(key)
            task = self.account(key).tasks.get(task_id)
            if task is None or self.clock.now() - task.created > EXPIRY_SECONDS:
                return None
            return task

    def find_any(self, task_id: str) -> SimTask | None:
        """For media downloads, which carry no key."""
        with self.lock:
            for key, account in self.accounts.items():
                if task_id in account.tasks:
                    self._advance(key)
                    return account.tasks[task_id]
        return None

    def listing(self, key: str) -> list[SimTask]:
        with self.lock:
            self._advance(key)
            now = self.clock.now()
            return sorted((t for t in self.account(key).tasks.values()
                           if now - t.created <= EXPIRY_SECONDS),
                          key=lambda t: t.created, reverse=True)

    def cancel(self, key: str, task_id: str) -> bool:
        with self.lock:
            task = self.get(key, task_id)
            if task is None or task.status != "PENDING":
                return False
            task.status = "CANCELED"
            task.ended = self.clock.now()
            return True

    def _advance(self, key: str) -> None:
        """Replay start/finish events up to now, honouring the running limit."""
        account = self.account(key)
        now = self.clock.now()
        for task in account.tasks.values():
            if task.status == "PENDING" and task.fails_pending_at is not None and \
                    task.fails_pending_at <= now:
                task.status, task.ended = "FAILED", task.fails_pending_at
        running = [t for t in account.tasks.values() if t.status == "RUNNING"]
        pending = sorted((t for t in account.tasks.values() if t.status == "PENDING"),
                         key=lambda t: t.created)
        moment = 0.0  # time of the last finish replayed; a start cannot precede it
        while True:
            finish = min(running, key=lambda t: t.started + t.work, default=None)  # type: ignore[operator]
            finish_at = finish.started + finish.work if finish else math.inf  # type: ignore[operator]
            start_at = math.inf
            if pending and len(running) < RUNNING_LIMIT:
                start_at = max(pending[0].ready_at, moment)
            if min(finish_at, start_at) > now:
                return
            if finish is not None and finish_at <= start_at:
                running.remove(finish)
                finish.ended = finish_at
                finish.status = "FAILED" if finish.fails_with else "SUCCEEDED"
                moment = finish_at
            else:
                task = pending.pop(0)
                task.status = "RUNNING"
                task.started = start_at
                running.append(task)
                moment = start_at
