"""A text field's own bound keys, run where it types: in the order they were typed.

Textual types a character in the focused field at once, but runs a bound key (the
field's backspace, ←, Home, ctrl+k …) only once the key has bubbled up to the App, one
message queue at a time.  Keys that arrive in one burst — one read of the terminal (a
fast typist over SSH, tmux's ``send-keys``, a browser tab's WebSocket) — were typed out
of order: ``rain ti`` then ⌫⌫fo became ``rain tifo``, then ``rain ti``.  A field that
calls ``run_own_binding`` from its ``on_key`` runs its own bindings as it meets them.
Only the field's own: a key bound further up (the screen's, the App's) still bubbles
as before, and priority bindings have acted before the field saw the key.
"""

from __future__ import annotations

from textual import events
from textual.widget import Widget
from textual.widgets import Input, TextArea


async def run_own_binding(field: Widget, event: events.Key) -> bool:
    """Run the binding ``field`` itself has for this key, now; whether it ran (the key
    then goes no further).  A printable key is left to the field, which types it."""
    if event.is_printable:
        return False
    active = field.screen.active_bindings.get(event.key)
    if (active is None or active.node is not field or not active.enabled
            or active.binding.priority):
        return False
    if not await field.app.run_action(active.binding.action, field):
        return False  # the action stepped aside (``SkipAction``): the key bubbles on
    event.stop()
    event.prevent_default()
    return True


class OrderedInput(Input):
    """An Input whose editing keys act where they were typed (a seed, a dialog's answer)."""

    async def on_key(self, event: events.Key) -> None:
        await run_own_binding(self, event)


class OrderedTextArea(TextArea):
    """A TextArea whose editing keys act where they were typed: a typo put right within
    a burst is sent (or saved) put right."""

    async def on_key(self, event: events.Key) -> None:
        await run_own_binding(self, event)
