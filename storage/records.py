"""Plain records the store reads and writes, and the forward-only status rule."""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"})
LIVE = frozenset({"PENDING", "RUNNING", "SUSPENDED"})  # the service still works on it
# Every word a generation's status can show: the service's, or the submission's before it.
SHOWN_STATUSES = LIVE | TERMINAL | frozenset({"QUEUED", "SUBMITTING", "UNCONFIRMED",
                                              "REJECTED", "ABANDONED", "TRACKED", "ACCEPTED"})
# Higher rank = further along.  SUSPENDED sits beside RUNNING (keep polling).
STATUS_RANK = {"PENDING": 1, "RUNNING": 2, "SUSPENDED": 2,
               "SUCCEEDED": 3, "FAILED": 3, "CANCELED": 3, "UNKNOWN": 3}

# Submission states: how sure we are that the create request produced a task.
SUBMISSION_QUEUED = "queued"          # intent recorded, waiting in the local queue: nothing sent
SUBMISSION_SENDING = "sending"        # intent recorded, request on its way
SUBMISSION_ACCEPTED = "accepted"      # the server gave us a task id
SUBMISSION_REJECTED = "rejected"      # the server said no; nothing was created
SUBMISSION_UNCONFIRMED = "unconfirmed"  # outcome unknown: a task may exist
SUBMISSION_ABANDONED = "abandoned"    # the user decided no task was created
SUBMISSION_TRACKED = "tracked"        # created elsewhere, adopted by id


def can_advance(current: str | None, new: str) -> bool:
    """Status only moves forward; a terminal status never changes."""
    if current is None:
        return True
    if current in TERMINAL:
        return False
    new_rank = STATUS_RANK.get(new, 1)
    old_rank = STATUS_RANK.get(current, 1)
    return new_rank > old_rank or (new_rank == old_rank and new != current)


@dataclass(frozen=True)
class Observation:
    """What one answer from the service said about a task (engine → store)."""

    status: str
    request_id: str | None = None
    submit_time: str | None = None
    scheduled_time: str | None = None
    end_time: str | None = None
    video_url: str | None = None
    orig_prompt: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    usage_duration: float | None = None
    usage_size: str | None = None
    usage_fps: int | None = None
    usage_sr: str | None = None
    usage_audio: bool | None = None
    usage_video_count: int | None = None


@dataclass(frozen=True)
class Generation:
    """One row of ``generations``: an intent, and everything learned about it since."""

    id: int
    created_at: str
    endpoint: str
    model: str
    prompt: str
    size: str
    duration: int
    audio: bool
    watermark: bool
    seed: int | None
    submission: str
    submission_note: str | None
    sending_since: str | None
    task_id: str | None
    status: str | None
    submit_time: str | None
    scheduled_time: str | None
    end_time: str | None
    video_url: str | None
    orig_prompt: str | None
    usage_duration: float | None
    usage_size: str | None
    usage_fps: int | None
    usage_sr: str | None
    usage_audio: bool | None
    usage_video_count: int | None
    error_code: str | None
    error_message: str | None
    create_request_id: str | None
    last_request_id: str | None
    polls: int
    poll_failures: int
    last_polled_at: str | None
    next_poll_at: str | None
    lease_owner: str | None
    lease_until: str | None
    download_state: str
    download_path: str | None
    download_bytes: int | None
    download_total: int | None
    download_sha256: str | None
    download_error: str | None
    updated_at: str
    favourite: bool = False
    note: str | None = None
    poll_error: str | None = None  # why the last poll failed, or why it is not followed
    forgotten_at: str | None = None  # in the trash since
    batch_id: str | None = None  # the ×N submission or batch file it belongs to
    intent_key: str | None = None  # the batch line it was sent for (never sent twice)
    submitted_by: str | None = None  # who recorded the intent (``Who.person``); None: not known
    # The other machines this video is saved on (their download state is ``done``); the
    # ``download_*`` fields are this machine's (``TaskStore.who``).
    saved_on: tuple[str, ...] = ()
    queue_priority: int | None = None  # went through the local queue at this priority
    queue_order: int | None = None  # its place among its priority (first in, first out)
    queue_held: bool = False  # kept back in the queue until released
    retries: int = 0  # how often a failure of this intent was queued again
    retry_of: int | None = None  # the row this one was queued again for

    @property
    def queued(self) -> bool:
        """Waiting in the local queue: nothing sent, nothing billed."""
        return self.submission == SUBMISSION_QUEUED and self.forgotten_at is None

    @property
    def followed(self) -> bool:
        """Still polled: has a task, not finished, not given up on, not in the trash."""
        return (self.task_id is not None and not self.terminal and self.next_poll_at is not None
                and self.forgotten_at is None)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def display_status(self) -> str:
        """The API's word, or the submission state before there is one."""
        if self.status:
            return self.status
        return {SUBMISSION_QUEUED: "QUEUED", SUBMISSION_SENDING: "SUBMITTING",
                SUBMISSION_REJECTED: "REJECTED",
                SUBMISSION_UNCONFIRMED: "UNCONFIRMED",
                SUBMISSION_ABANDONED: "ABANDONED"}.get(self.submission, self.submission.upper())

    @classmethod
    def from_row(cls, row: Any) -> Generation:
        values = dict(zip(row.keys(), tuple(row), strict=True))
        for name in _FLAGS:
            if values.get(name) is not None:
                values[name] = bool(values[name])
        return cls(**{name: values[name] for name in _field_names() if name in values})


_FLAGS = ("audio", "watermark", "usage_audio", "favourite", "queue_held")  # 0/1 in SQLite


@cache
def _field_names() -> tuple[str, ...]:
    """A generation's fields, once (``fields()`` is slow enough to matter at 10,000 rows)."""
    return tuple(f.name for f in fields(Generation))


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a container)
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "someone"


@dataclass(frozen=True)
class Who:
    """Who uses a store, and from which machine: a store handle is opened for one.

    ``person`` is recorded on every intent (``Generation.submitted_by``) and is who
    ``by:me`` means; ``machine`` keys the downloads (``Downloads``: a video saved on one
    machine is not a file on another).  Defaults: ``user@host`` and the host name
    (``[team] name`` and ``[team] machine`` in config.toml change them).
    """

    person: str
    machine: str

    @classmethod
    def here(cls) -> Who:
        host = socket.gethostname() or "localhost"
        return cls(f"{_login()}@{host}", host)


@dataclass(frozen=True)
class LiveTask:
    """What the poller needs of a followed task — a few columns, cheap to read often."""

    id: int
    task_id: str
    status: str | None
    created_at: str
    scheduled_time: str | None
    size: str
    duration: int
    next_poll_at: str


@dataclass(frozen=True)
class Counts:
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


@dataclass(frozen=True)
class Tally:
    """How many rows a filter matches, as far as they were counted: exactly ``matches``,
    or — not ``exact`` — at least ``matches`` (the counting stopped early)."""

    matches: int
    exact: bool = True


@dataclass(frozen=True, slots=True)
class Billable:
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
           usage_audio: Any) -> Billable:
        """From a row's columns: what the service billed once it made the video, what
        was asked before."""
        made = status == "SUCCEEDED"
        return cls(created_at, usage_size if made and usage_size else size,
                   float(usage_duration if made and usage_duration else duration),
                   bool(usage_audio if made and usage_audio is not None else audio), made)


@dataclass(frozen=True)
class BatchSummary:
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


@dataclass(frozen=True)
class QueueEntry:
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


@dataclass(frozen=True)
class Enqueued:
    """What ``Queue.enqueue`` did: the rows now waiting, in the order given, and how many
    keyed entries were left as they were (sent before, in flight, in doubt, or queued)."""

    queued: tuple[int, ...]
    known: int = 0


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A queued row in the few columns an estimate or a listing needs."""

    id: int
    batch_id: str | None
    size: str
    duration: int
    audio: bool
    priority: int
    held: bool


@dataclass(frozen=True)
class QueuePause:
    """The whole queue (``batch_id`` None) or one batch is paused; ``reason`` says why
    when the program paused it (a refused key, a quota, a budget), None when a user did."""

    batch_id: str | None
    reason: str | None
    at: str


@dataclass(frozen=True)
class StatusEvent:
    """One move of a generation's status, as its history shows it."""

    at: str
    status: str
    detail: str | None


@dataclass(frozen=True)
class LeaseState:
    """Who polls an account: the holder (if any), and when someone last asked it to hurry."""

    holder: str | None
    until: str | None
    nudged_at: str | None

    def held_by(self, owner: str) -> bool:
        return self.holder == owner


@dataclass(frozen=True)
class CopyMark:
    """How far copies from one source came (``History.copied_from``)."""

    up_to: int = 0  # the highest source id taken: the next copy reads after it
    seen: int = 0  # how many source records copies took (added, or found here already)


@dataclass(frozen=True)
class ForeignTask:
    """A task of the account that no row knows: made by the SDK, the console, a script."""

    task_id: str
    status: str
    model: str | None
    created_at: str | None
    seen_at: str


# Columns an export carries and an import restores (everything but the local id
# and the poll leases, which belong to the machine that wrote them).
IMPORTABLE = (
    "created_at", "endpoint", "model", "prompt", "size", "duration", "audio", "watermark",
    "seed", "submission", "submission_note", "task_id", "status", "submit_time",
    "scheduled_time", "end_time", "video_url", "orig_prompt", "usage_duration", "usage_size",
    "usage_fps", "usage_sr", "usage_audio", "usage_video_count", "error_code", "error_message",
    "create_request_id", "last_request_id", "polls", "poll_failures", "last_polled_at",
    "next_poll_at", "download_state", "download_path", "download_bytes", "download_total",
    "download_sha256", "download_error", "updated_at", "favourite", "note", "batch_id",
    "submitted_by",
)

# What ``History.copy_out`` gives and ``History.copy_in`` takes of a row, beside its
# ``id``, ``tags``, ``history`` (status events) and ``downloads`` (machine → this
# machine's ``DOWNLOAD_FIELDS``): every column but the poll leases and the sender of
# an intent in flight (this process's, meaningless in another store).  The download
# columns are given per machine, not here.
DOWNLOAD_FIELDS = ("state", "path", "bytes", "total", "sha256", "error")
COPIED = (
    *(c for c in IMPORTABLE if not c.startswith("download_")),
    "sending_since", "poll_error", "forgotten_at", "intent_key",
)
