"""A modal that asks for a line (tags) or a paragraph (a note)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TextArea

from tui.safe_text import printable
from tui.ui.actions import Where
from tui.ui.bindings import bindings
from tui.ui.bound_keys import OrderedInput, OrderedTextArea


class AskScreen(ModalScreen[str | None]):
    """Returns the text (``enter`` / ``ctrl+s``), or None on escape."""

    PLACE = Where.ASK
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)

    def __init__(self, question: str, initial: str = "", *, multiline: bool = False) -> None:
        super().__init__()
        self.question = question
        # What is edited is shown, so it is made printable first (a note may be imported).
        self.initial = printable(initial, multiline=multiline)
        self.multiline = multiline

    def compose(self) -> ComposeResult:
        with Vertical(id="ask-box"):
            hint = "ctrl+s saves, escape cancels" if self.multiline else \
                "enter saves, escape cancels"
            yield Static(Text(printable(self.question) + "   ") + Text(hint, style="dim"))
            if self.multiline:
                yield OrderedTextArea(self.initial, id="answer", soft_wrap=True)
            else:
                yield OrderedInput(self.initial, id="answer")

    def on_mount(self) -> None:
        self.query_one("#answer").focus()

    def action_save(self) -> None:
        answer = self.query_one("#answer")
        if isinstance(answer, TextArea):
            self.dismiss(answer.text)
        elif isinstance(answer, Input):
            self.dismiss(answer.value)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()
