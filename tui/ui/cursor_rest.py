"""A text cursor blinks while the user works and rests after a while: shown, steady.

A blinking cursor repaints its line twice a second forever — on an idle dashboard the
only thing that moves.  Like a terminal's own blink timeout, the focused text field
(the composer's prompt, the filter line, any input) stops blinking ``BLINK_FOR``
seconds after the last key or click, and blinks again at the next one.  A field whose
blink someone else turned off (a snapshot, a setting) is left alone.
"""

from __future__ import annotations

import weakref
from typing import Any

from textual.app import App
from textual.timer import Timer

BLINK_FOR = 10.0  # seconds a cursor blinks after the last key or click


class CursorRest:
    def __init__(self, app: App[Any], *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled  # False: blinking is never turned on (deterministic shots)
        self._timer: Timer | None = None
        self._rested: weakref.WeakSet[Any] = weakref.WeakSet()  # fields this stopped

    def stir(self) -> None:
        """A key or a click: the fields this rested blink again; the focused one rests
        ``BLINK_FOR`` seconds from now (never, when blinking is off: deterministic shots)."""
        if not self.enabled:
            field = self.app.focused
            if field is not None and hasattr(field, "cursor_blink"):
                field.cursor_blink = False
            return
        for field in list(self._rested):
            field.cursor_blink = True
        self._rested.clear()
        if self._timer is None:
            self._timer = self.app.set_timer(BLINK_FOR, self._rest, name="cursor rest")
        else:
            self._timer.reset()

    def _rest(self) -> None:
        self._timer = None
        if not self.app.screen_stack:  # the app is closing (or not started): no field
            return
        field = self.app.focused
        if field is not None and getattr(field, "cursor_blink", False) is True:
            field.cursor_blink = False  # type: ignore[attr-defined]
            self._rested.add(field)
