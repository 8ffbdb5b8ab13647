"""``?``: every key the app answers to, with the ids used to rebind them."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.safe_text import printable
from tui.ui.actions import Where
from tui.ui.bindings import bindings


class KeysScreen(ModalScreen[None]):
    PLACE = Where.KEYS
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        title = Text()
        title.append("Keys", style="bold")
        title.append("   (rebind in config.toml: [keys] ID = \"key\")\n", style="dim")
        # Columns that never wrap: on a narrow terminal the description is cut (…)
        # before a key or an id is, so every row stays one line.
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        table.add_column(style="dim", no_wrap=True)
        for keys, description, binding_id in self.rows:
            table.add_row(printable(keys), printable(description), printable(binding_id))
        with VerticalScroll(id="keys-box"):
            yield Static(Group(title, table))
