"""Which keys ``[keys]`` may bind where: never a typing key where it would swallow typing.

Textual gives a key to the focused widget first — a text field types it — except
for priority bindings, which act before the focused widget sees the key.  A
priority binding on a key that types a character (``submit = "q"``) would make
that character impossible to type in the prompt or the filter box.  So such a
binding is refused, and the default key stays.  Bindings that are not priority
(``stats = "s"``, keys of the table) may use any key: a text field types it first.

Pure rules, no Textual; the action registry (``tui.ui.actions``) says which actions
act while typing, and ``tui.ui.keymap`` applies the rules to ``[keys]``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Protocol

from tui.ui import actions

# Priority bindings whose action steps aside while a text field has the focus (their
# screen's ``check_action`` says so): the key is typed, so any key will do.  The
# registry says which (``Action.gives_way``).
TYPED_THROUGH = frozenset(action.id for action in actions.ACTIONS if action.gives_way)

_FRIENDLY = {"space": " ", "slash": "/", "backslash": "\\", "at": "@", "minus": "-",
             "plus": "+", "underscore": "_"}
_UNICODE_NAMES = {"hyphen_minus": "HYPHEN-MINUS", "less_than_sign": "LESS-THAN SIGN",
                  "greater_than_sign": "GREATER-THAN SIGN"}


class BindingLike(Protocol):
    """What these rules read of a binding (``textual.binding.Binding`` has it)."""

    @property
    def id(self) -> str | None: ...

    @property
    def priority(self) -> bool: ...


def typed_character(key: str) -> str | None:
    """The character a key types in a text field (``"q"``, ``"question_mark"`` → ``?``,
    ``"shift+a"``, ``"space"``), or None for a command key (``ctrl+s``, ``f5``, ``escape``)."""
    key = key.strip()
    if key in ("+", "shift++"):
        return "+"
    *modifiers, base = key.split("+")
    if any(m.strip().lower() != "shift" for m in modifiers):  # ctrl, alt, meta…: a command
        return None
    if len(base) == 1:
        character = base
    elif base in _FRIENDLY:
        character = _FRIENDLY[base]
    else:
        try:
            character = unicodedata.lookup(_UNICODE_NAMES.get(base, base.replace("_", " ")))
        except KeyError:  # a named key: f5, home, enter…
            return None
    return character if len(character) == 1 and character.isprintable() else None


def swallows_typing(keys: str) -> bool:
    """Whether any key of a comma-separated list types a character."""
    return any(typed_character(key) is not None for key in keys.split(","))


def active_while_typing(bindings: Iterable[BindingLike]) -> frozenset[str]:
    """The ids, among bindings of the app and of the screens and widgets that hold a text
    field, that act before a focused text field sees the key."""
    return frozenset(b.id for b in bindings if b.id and b.priority and b.id not in TYPED_THROUGH)


def refusal(binding_id: str, keys: str, typing_ids: Iterable[str],
            default: str = "") -> str | None:
    """Why ``[keys] binding_id = keys`` cannot be used (one sentence), or None."""
    if binding_id not in set(typing_ids):
        return None
    typed = [key.strip() for key in keys.split(",") if typed_character(key) is not None]
    if not typed:
        return None
    keeping = f'; keeping "{default}"' if default else "; keeping the default"
    return (f'[keys] {binding_id} = "{keys}" is refused: "{typed[0]}" types a character, '
            f"and {binding_id} acts even while you type in the prompt or the filter box, "
            "so that character could not be typed. Use a key with ctrl or alt, or a "
            f'function key (e.g. "ctrl+s", "f6"){keeping}.')
