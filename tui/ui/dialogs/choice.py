"""A small modal question with a few labelled answers."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.safe_text import printable
from tui.ui.actions import Where
from tui.ui.bindings import bindings
from tui.ui.dialogs import answers


class ChoiceScreen(ModalScreen[str | None]):
    """Returns the chosen answer's id, or None on escape.

    ``safe`` names the answer that has the focus when the dialog opens — the one
    ``enter`` picks.  Callers pass the harmless one ("Cancel", "Keep it"): a
    destructive or billed choice is never what a stray key press confirms.
    ←/→ move between the answers; a first letter picks one (``dialogs.answers``).
    """

    PLACE = Where.CHOICE
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)

    def __init__(self, question: str, answers: list[tuple[str, str]], *, safe: str) -> None:
        super().__init__()
        if safe not in {answer_id for answer_id, _ in answers}:
            raise ValueError(f"the safe answer {safe!r} is not one of the answers")
        self.question = question
        self.answers = answers
        self.safe = safe

    def compose(self) -> ComposeResult:
        with Vertical(id="choice-box"):
            yield Static(Text(printable(self.question, multiline=True)))
            with Horizontal(id="choice-buttons"):
                for answer_id, label in self.answers:
                    yield Button(label, id=f"answer-{answer_id}", compact=True)

    def on_mount(self) -> None:
        self.set_focus(self.query_one(f"#answer-{self.safe}", Button))

    def action_previous_answer(self) -> None:
        answers.move(self, -1)

    def action_next_answer(self) -> None:
        answers.move(self, 1)

    def on_key(self, event: events.Key) -> None:
        answers.letter_pressed(self, event)

    @on(Button.Pressed)
    def _chosen(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("answer-"))
