"""What a command asks its screen to do: ask a question, then act; act now; copy;
hand a file to the browser; show figures.  Data only — the screen
(``tui.ui.screens.plans``) carries them out with dialogs, so a command needs no Textual
and can be tested without a screen.

``Outlet`` is the little a command may ask of its screen besides: tell the user
something, say the store changed, run a job in the background.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

if TYPE_CHECKING:
    from tui.engine.history.stats import Stats


Severity = Literal["information", "warning", "error"]
Then = Callable[[str], Awaitable[None]]


class Outlet(Protocol):
    def notify(self, message: str, *, title: str = "", severity: Severity = "information",
               timeout: float | None = None) -> None: ...

    def spawn(self, job: Awaitable[None], *, group: str, name: str = "") -> None:
        """Run ``job`` in the background (a worker of the screen's)."""


class Choose(NamedTuple):
    """A question with a few answers; ``then`` runs with the one chosen (not on escape).
    ``safe`` has the focus: a destructive or billed answer is never the default."""

    question: str
    answers: list[tuple[str, str]]  # (id, label)
    safe: str
    then: Then
    group: str = "rows"


class AskText(NamedTuple):
    """A line (or a paragraph) to type; ``then`` runs with it (not on escape)."""

    question: str
    then: Then
    initial: str = ""
    multiline: bool = False
    group: str = "rows"


class Run(NamedTuple):
    """Act now, in the background."""

    job: Callable[[], Awaitable[None]]
    group: str = "rows"


class Copy(NamedTuple):
    text: str
    said: str  # what to tell the user once it is copied


class Deliver(NamedTuple):
    """Hand a saved file to the browser the dashboard runs in, as a download."""

    path: Path
    name: str  # the file name the browser saves it under


class ShowStats(NamedTuple):
    figures: Stats


Plan = Choose | AskText | Run | Copy | Deliver | ShowStats | None


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
