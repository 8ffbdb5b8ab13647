"""Records of following tasks at the service: what an answer said, how a status moved,
which tasks are polled, who polls the account, and tasks no row knows.

Kept out of ``storage.records`` (which re-exports them): a page read makes none of
them, and creating even a named tuple costs something that ``list`` need not pay.
"""

from typing import NamedTuple


class Observation(NamedTuple):
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


class StatusEvent(NamedTuple):
    """One move of a generation's status, as its history shows it."""

    at: str
    status: str
    detail: str | None


class LiveTask(NamedTuple):
    """What the poller needs of a followed task — a few columns, cheap to read often."""

    id: int
    task_id: str
    status: str | None
    created_at: str
    scheduled_time: str | None
    size: str
    duration: int
    next_poll_at: str


class LeaseState(NamedTuple):
    """Who polls an account: the holder (if any), and when someone last asked it to hurry."""

    holder: str | None
    until: str | None
    nudged_at: str | None

    def held_by(self, owner: str) -> bool:
        return self.holder == owner


class ForeignTask(NamedTuple):
    """A task of the account that no row knows: made by the SDK, the console, a script."""

    task_id: str
    status: str
    model: str | None
    created_at: str | None
    seen_at: str
