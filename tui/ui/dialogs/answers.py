"""The keys of a dialog whose answers are buttons: ←/→ move between the answers, and an
answer's first letter picks it.  When several answers start with the same letter,
the letter moves to the next of them instead, and enter picks — a letter never
picks an answer the user could not have meant.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.screen import Screen
from textual.widgets import Button


def by_letter(labels: list[str], focused: int | None, character: str) -> tuple[int, bool] | None:
    """Which answer a letter goes to, and whether it picks it (True) or only moves there:
    None when no answer starts with it."""
    letter = character.lower()
    same = [i for i, label in enumerate(labels) if label[:1].lower() == letter]
    if not same:
        return None
    if len(same) == 1:
        return same[0], True
    if focused in same:
        return same[(same.index(focused) + 1) % len(same)], False
    return same[0], False


def move(screen: Screen[Any], step: int) -> None:
    """←/→: the previous or next answer."""
    if step < 0:
        screen.focus_previous(Button)
    else:
        screen.focus_next(Button)


def letter_pressed(screen: Screen[Any], event: events.Key) -> None:
    """Pick (or move to) the answer that starts with the letter typed."""
    character = event.character
    if not event.is_printable or not character or not character.isalnum():
        return
    buttons = list(screen.query(Button))
    focused = screen.focused
    found = by_letter([str(b.label) for b in buttons],
                      buttons.index(focused) if isinstance(focused, Button)
                      and focused in buttons else None, character)
    if found is None:
        return
    event.stop()
    index, pick = found
    if pick:
        buttons[index].press()
    else:
        screen.set_focus(buttons[index])
