"""The filter line: hidden until ``/``; what is typed filters the table as it is typed.

A burst of keys makes one ``Edited`` (posted once the keys already queued are
handled, with the text as it is then): one query for a burst, none of it delayed.
``enter`` keeps the filter, ``escape`` clears it; either way the table gets the
focus back (``Left``).  The box's own editing keys (backspace, ←, Home …) act where
they were typed, among the characters of a burst (``tui.ui.bound_keys``).

Keys typed after enter or escape in the same burst (``neon⏎jj``) were meant for the
table, but Textual hands every key of a burst to the widget focused when it reads
them — this box, until the screen has moved the focus.  The box holds those keys and,
once it has lost the focus, hands them in order to whatever has it now.
"""

from __future__ import annotations

from typing import Any

from textual import events, on
from textual.message import Message
from textual.widgets import Input

from tui.ui.bound_keys import run_own_binding

STAY_CHECK = 0.5  # seconds after enter: if the focus is still here, nothing will take it


class FilterLine(Input):
    class Edited(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Left(Message):
        """Enter or escape: the user is done with the filter."""

        def __init__(self, kept: bool) -> None:
            super().__init__()
            self.kept = kept

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(placeholder="filter: words in the prompt, status:RUNNING …  (enter: "
                                     "keep, escape: clear)", compact=True, **kwargs)
        self._pending = False
        self._leaving = False  # enter or escape seen: later keys are the table's
        self._held: list[events.Key] = []

    def show(self) -> None:
        self.add_class("-shown")

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if not self._pending:
            self._pending = True
            self.call_later(self._flush)

    def _flush(self) -> None:
        self._pending = False
        self.post_message(self.Edited(self.value))

    @on(Input.Submitted)
    def _kept(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Left(kept=True))

    async def on_key(self, event: events.Key) -> None:
        if self._leaving:
            event.stop()
            event.prevent_default()
            self._held.append(events.Key(event.key, event.character))
            return
        if event.key in ("enter", "escape"):
            self._leaving = True
            self.set_timer(STAY_CHECK, self._stayed)
        if event.key == "escape":
            event.stop()
            self.value = ""
            self.remove_class("-shown")
            self.post_message(self.Left(kept=False))
        else:
            await run_own_binding(self, event)  # ⌫ in a burst: where it was typed

    def on_blur(self) -> None:
        """The focus has moved on: the keys held since enter go where it is now."""
        self._leaving = False
        held, self._held = self._held, []
        target = self.app.focused
        if target is not None and target is not self:
            for key in held:
                target.post_message(key)

    def _stayed(self) -> None:
        """The focus never left (nothing took it): the held keys are typed here."""
        if self._leaving and self.has_focus:
            self._leaving = False
            held, self._held = self._held, []
            for key in held:
                self.post_message(key)

    def on_focus(self) -> None:
        self._leaving = False
        self._held.clear()
