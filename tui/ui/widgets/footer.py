"""The footer, with ``?`` (every key) always first: a narrow terminal cuts the end of the
line, and the one key that explains the others must never be the one cut.  A read-only
dashboard's footer leaves out what a viewer may not use.

Textual's footer composes its keys again whenever the screen's bindings may have
changed — every focus change — which mounts and styles every key anew (20–40 ms of CPU
each time: three times in the dashboard's first second, as the prompt takes the focus
and the first page comes).  This one does it only when what it shows changed."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
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
        self._shown: tuple[Any, ...] | None = None  # what the last composition showed

    def bindings_changed(self, screen: Screen[Any]) -> None:
        """The screen's bindings may have changed: compose the keys again only if what
        the footer shows did (their keys, labels, states, and what is left out)."""
        shown = self._showing(screen)
        if shown == self._shown:
            return
        super().bindings_changed(screen)
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = shown  # (Textual composes again only then)

    def _showing(self, screen: Screen[Any]) -> tuple[Any, ...]:
        app = self.app
        return (self.hidden, self.show_command_palette, tuple(
            (key, app.get_key_display(binding), binding.description, binding.action,
             binding.show, binding.group, enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in screen.active_bindings.items()))

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
