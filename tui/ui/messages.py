"""Messages (past tense: what happened).  Workers post them to the screen that owns the
view; the App posts what it did to the main screen; screens post to the App what
it should know — never a call into each other."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message
from textual.message_pump import MessagePump
from textual.worker import Worker, WorkerState

from storage import StoreError
from tui.engine.following.follower import Event

if TYPE_CHECKING:
    from tui.engine.submitting.prices import BudgetState

# The worker group of widgets still being mounted after the first paint (the composer's
# options): quitting waits for it, briefly — Textual's Select, torn down in the middle
# of its own mounting, raised NoMatches and printed a traceback on the way out.
MOUNTING = "mounting"


class ServicesOpened(Message):
    """The App opened the store: the screen can show the history."""


class HistoryShown(Message):
    """The main screen painted its first page: the App may now tidy the store, make the
    client and start the poller (nothing is done before the first paint but it)."""


class LookedAround(Message):
    """A worker read what the status bar shows beside the page: videos about to expire,
    tasks other clients made, what is left of the budgets."""

    def __init__(self, expiring: int, foreign: int, budget: BudgetState) -> None:
        super().__init__()
        self.expiring, self.foreign, self.budget = expiring, foreign, budget

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LookedAround)


class ConfigReloaded(Message):
    """config.toml was read again (ctrl+r): notifications, keys and prices follow it."""


class StoreFailed(Message):
    """The database failed under a screen's callback: the App says so, now and then."""

    def __init__(self, error: StoreError) -> None:
        super().__init__()
        self.error = error


class WorkFailed(Message):
    """A screen's or a widget's worker ended in an error (Textual tells only the worker's
    owner, and does not pass it on): the App says so, as for its own workers."""

    def __init__(self, what: str, error: BaseException | None) -> None:
        super().__init__()
        self.what, self.error = what, error


def report_failure(owner: MessagePump, event: Worker.StateChanged) -> None:
    """The worker-error policy of a screen or widget: a worker that failed is told to the
    App (``WorkFailed``), which shows it — none ends silently."""
    if event.state is WorkerState.ERROR:
        worker = event.worker
        owner.post_message(WorkFailed(worker.name or worker.group, worker.error))


class ComposerUsed(Message):
    """A prompt was sent from the composer: its settings are worth keeping now."""


class StoreChanged(Message):
    """The store's change feed said something changed; the next refresh picks it up."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)


class PollerHealthChanged(Message):
    def __init__(self, health: str, detail: str) -> None:
        super().__init__()
        self.health = health
        self.detail = detail


class Followed(Message):
    """The follower told something (a task ended, a video to save, a signal's words)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class SubmissionFinished(Message):
    """Every request of one submission was accepted."""

    def __init__(self, count: int, from_composer: bool, prompt: str,
                 waiting: int = 0) -> None:
        super().__init__()
        self.count = count
        self.from_composer = from_composer
        self.prompt = prompt  # what was sent: the composer clears only that
        self.waiting = waiting  # of ``count``, those still in the local queue (no room yet)


class PreviewReady(Message):
    """Frames of a downloaded video were decoded (in a thread)."""

    def __init__(self, generation_id: int, thumbs: list[object] | None, error: str = "",
                 picture: object | None = None, *, frame_only: bool = False,
                 sha256: str | None = None) -> None:
        super().__init__()
        self.generation_id = generation_id
        self.sha256 = sha256  # of the file decoded: a preview is kept per file
        self.thumbs = thumbs
        self.error = error
        self.picture = picture  # a Pillow image, when the terminal can show real pixels
        self.frame_only = frame_only  # one frame, for a batch's side-by-side view
