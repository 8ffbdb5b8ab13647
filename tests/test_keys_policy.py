"""A key that types a character is never bound where it would swallow typing."""

from __future__ import annotations

import pytest

from tui.ui.keys_policy import active_while_typing, refusal, swallows_typing, typed_character

TYPING = ["q", "Q", "7", "space", "question_mark", "slash", "backslash", "at", "minus", "plus",
          "underscore", "hyphen_minus", "full_stop", "comma", "semicolon", "colon",
          "apostrophe", "quotation_mark", "grave_accent", "tilde", "asterisk", "number_sign",
          "less_than_sign", "right_square_bracket", "exclamation_mark", "é", "shift+a",
          "shift+1", "shift+space", " q "]
COMMANDS = ["ctrl+q", "ctrl+j", "alt+q", "ctrl+shift+a", "meta+x", "super+s", "f5", "f12",
            "escape", "enter", "tab", "delete", "backspace", "home", "end", "up", "pageup",
            "insert", "ctrl+space", "ctrl+question_mark", "shift+tab", "shift+f5", ""]


@pytest.mark.parametrize("key", TYPING)
def test_keys_that_type_a_character(key: str) -> None:
    assert typed_character(key) is not None
    assert swallows_typing(f"f6,{key}")


@pytest.mark.parametrize("key", COMMANDS)
def test_command_keys(key: str) -> None:
    assert typed_character(key) is None
    assert not swallows_typing(f"f6,{key}")


class FakeBinding:
    def __init__(self, binding_id: str, priority: bool) -> None:
        self.id, self.priority = binding_id, priority


def test_only_what_acts_before_a_text_field_is_guarded() -> None:
    typing_ids = active_while_typing([FakeBinding("submit", True), FakeBinding("quit", True),
                                      FakeBinding("filter", True),  # steps aside: "/" types
                                      FakeBinding("keys", False), FakeBinding("stats", False)])
    assert typing_ids == {"submit", "quit"}
    why = refusal("submit", "ctrl+j,q", typing_ids, default="ctrl+j,f5")
    assert why is not None and '[keys] submit = "ctrl+j,q"' in why
    assert '"q" types a character' in why and 'keeping "ctrl+j,f5"' in why
    assert refusal("submit", "ctrl+s,f6", typing_ids) is None
    assert refusal("keys", "k", typing_ids) is None  # not priority: the prompt types k first
    assert refusal("table.download", "s", typing_ids) is None


def test_the_action_registry_carries_the_rule() -> None:
    """Which actions act while typing is the registry's to say (priority, where a text
    field can have the focus, not giving way to it); the keymap refuses by it."""
    from tui.ui import actions, keymap

    where_typing = [a for a in actions.ACTIONS
                    if any(place in actions.TEXT_FIELDS for place in a.where)]
    assert active_while_typing(where_typing) == {a.id for a in actions.while_typing()} \
        == {"submit", "quit"}
    read = keymap.read({"submit": "ctrl+j,q", "quit": "shift+x", "filter": "f",
                        "table.download": "s", "keys": "k"})
    assert read.chosen == {"filter": "f", "table.download": "s", "keys": "k"}
    assert len(read.problems) == 2
    assert '[keys] submit = "ctrl+j,q" is refused' in read.problems[0]
    assert 'keeping "ctrl+j,f5"' in read.problems[0]
    assert '[keys] quit = "shift+x" is refused' in read.problems[1]
