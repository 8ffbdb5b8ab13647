"""The footer, with ``?`` (every key) always first: a narrow terminal cuts the end of the
line, and the one key that explains the others must never be the one cut.  A read-only
dashboard's footer leaves out what a viewer may not use."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.widgets import Footer as TextualFooter

from tui.ui import actions
from tui.ui.services import Services

FIRST = ("app.show_keys", "show_keys")


class Footer(TextualFooter):
    def __init__(self, *, hidden: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        """``hidden``: Textual actions (without a namespace) never shown."""
        kwargs.setdefault("show_command_palette", False)  # ctrl+p is listed under ?
        super().__init__(**kwargs)
        self.hidden = hidden

    def compose(self) -> ComposeResult:
        keys = [key for key in super().compose()  # one key per action, as Textual lays them
                if _bare(getattr(key, "action", "")) not in self.hidden]
        keys.sort(key=lambda key: getattr(key, "action", None) not in FIRST)  # stable
        yield from keys


def viewers_footer(services: Services) -> frozenset[str]:
    """What a screen's footer leaves out: in a read-only dashboard, what a viewer may not
    use (it is refused, in one sentence, if its key is pressed anyway)."""
    return actions.not_for_viewers() if services.read_only else frozenset()


def _bare(action: str) -> str:
    for namespace in ("app.", "screen."):
        action = action.removeprefix(namespace)
    return action
