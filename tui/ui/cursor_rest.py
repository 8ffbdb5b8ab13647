"""A text cursor blinks while the user works and rests after a while: shown, steady.

A blinking cursor repaints its line twice a second forever — on an idle dashboard the
only thing that moves.  Like a terminal's own blink timeout, the focused text field
(the composer's prompt, the filter line, any input) stops blinking ``BLINK_FOR``
seconds after the last key or click, and blinks again at the next one.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.timer import Timer

BLINK_FOR = 10.0  # seconds a cursor blinks after the last key or click


class CursorRest:
    def __init__(self, app: App[Any], *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled  # False: blinking is never turned on (deterministic shots)
        self._timer: Timer | None = None

    def stir(self) -> None:
        """A key or a click: the focused field blinks again, for ``BLINK_FOR`` more."""
        if not self.enabled:
            _blink(self.app.focused, False)
            return
        _blink(self.app.focused, True)
        if self._timer is None:
            self._timer = self.app.set_timer(BLINK_FOR, self._rest, name="cursor rest")
        else:
            self._timer.reset()

    def _rest(self) -> None:
        self._timer = None
        _blink(self.app.focused, False)


def _blink(widget: object, blink: bool) -> None:
    if widget is not None and hasattr(widget, "cursor_blink") and widget.cursor_blink != blink:
        widget.cursor_blink = blink
