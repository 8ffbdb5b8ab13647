"""The footer, with ``?`` (every key) always first: a narrow terminal cuts the end of the
line, and the one key that explains the others must never be the one cut."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.widgets import Footer as TextualFooter

FIRST = ("app.show_keys", "show_keys")


class Footer(TextualFooter):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("show_command_palette", False)  # ctrl+p is listed under ?
        super().__init__(**kwargs)

    def compose(self) -> ComposeResult:
        keys = list(super().compose())  # one key per action, as Textual lays them out
        keys.sort(key=lambda key: getattr(key, "action", None) not in FIRST)  # stable
        yield from keys
