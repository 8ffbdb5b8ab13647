"""Plain records the store reads and writes: a generation's row and who reads it — what
a page read makes — and the columns that travel between stores.

Every other record lives in a module of its concern (``storage.tracking``,
``storage.queueing``, ``storage.figures``) and the status words in ``storage.statuses``;
all of them are importable from here, as before.  The records a page read does not make
are imported when first asked for (PEP 562): creating a dataclass costs about a
millisecond, and ``list`` should cost what printing its rows costs.  The two made here
are named tuples, not dataclasses: ``dataclasses`` imports ``inspect`` (and ``ast``,
``dis``, ``tokenize`` with it), which costs ``list`` more than reading its page.  Nothing
iterates, indexes or orders a record: read its fields by name, change one with
``_replace``.

They are declared against ``storage.tuples.NamedTuple`` at run time, which reads their
fields' names and leaves the annotations as text (``typing.NamedTuple`` compiles each
one, 3 ms for a generation's 56, and importing ``typing`` costs 3–4 ms more).
"""

from __future__ import annotations

import os

from storage.lazy import lazy_names
from storage.statuses import (
    LIVE,
    SHOWN_STATUSES,
    STATUS_RANK,
    SUBMISSION_ABANDONED,
    SUBMISSION_ACCEPTED,
    SUBMISSION_QUEUED,
    SUBMISSION_REJECTED,
    SUBMISSION_SENDING,
    SUBMISSION_TRACKED,
    SUBMISSION_UNCONFIRMED,
    TERMINAL,
    can_advance,
)

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from storage.figures import BatchSummary, Billable, CopyMark, Counts, Tally
    from storage.queueing import Enqueued, QueueEntry, QueueItem, QueuePause
    from storage.tracking import ForeignTask, LeaseState, LiveTask, Observation, StatusEvent
else:
    from storage.tuples import NamedTuple

# Where the records not made here live (``__getattr__`` imports them when first asked for).
_ELSEWHERE = {
    **dict.fromkeys(("BatchSummary", "Billable", "CopyMark", "Counts", "Tally"),
                    "storage.figures"),
    **dict.fromkeys(("Enqueued", "QueueEntry", "QueueItem", "QueuePause"), "storage.queueing"),
    **dict.fromkeys(("ForeignTask", "LeaseState", "LiveTask", "Observation", "StatusEvent"),
                    "storage.tracking"),
}

__all__ = ["COPIED", "DOWNLOAD_FIELDS", "IMPORTABLE", "LIVE", "SHOWN_STATUSES", "STATUS_RANK",
           "SUBMISSION_ABANDONED", "SUBMISSION_ACCEPTED", "SUBMISSION_QUEUED",
           "SUBMISSION_REJECTED", "SUBMISSION_SENDING", "SUBMISSION_TRACKED",
           "SUBMISSION_UNCONFIRMED", "TERMINAL", "BatchSummary", "Billable", "CopyMark",
           "Counts", "Enqueued", "ForeignTask", "Generation", "LeaseState", "LiveTask",
           "Observation", "QueueEntry", "QueueItem", "QueuePause", "StatusEvent", "Tally", "Who",
           "can_advance"]


__getattr__ = lazy_names(__name__, _ELSEWHERE, globals())


class Generation(NamedTuple):
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
        return cls(**{name: values[name] for name in cls._fields if name in values})


_FLAGS = ("audio", "watermark", "usage_audio", "favourite", "queue_held")  # 0/1 in SQLite


def _login() -> str:
    """``getpass.getuser()``, read the same way, without loading ``getpass`` (which
    loads ``termios``, ``contextlib`` and ``warnings`` for its prompts)."""
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if name := os.environ.get(variable):
            return name
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, OSError, KeyError):  # no passwd entry (a container), no pwd
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "someone"


def _host_name() -> str:
    """This machine's name, as ``socket.gethostname`` gives it: where there is
    ``os.uname`` (POSIX) both read the same kernel name, without loading the socket
    module."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


class Who(NamedTuple):
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
        host = _host_name() or "localhost"
        return cls(f"{_login()}@{host}", host)


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
