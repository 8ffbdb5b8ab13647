"""``?``: every key the app answers to, with the ids used to rebind them."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.safe_text import printable


class KeysScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="keys.close"),
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("Keys", style="bold")
        text.append("   (rebind in config.toml: [keys] ID = \"key\")\n\n", style="dim")
        width = max((len(k) for k, _, _ in self.rows), default=4)
        for keys, description, binding_id in self.rows:
            text.append(f"{printable(keys):<{width}}  ", style="bold")
            text.append(f"{printable(description):<42} ")
            text.append(f"{printable(binding_id)}\n", style="dim")
        with VerticalScroll(id="keys-box"):
            yield Static(text)
