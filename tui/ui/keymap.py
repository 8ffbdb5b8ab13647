"""``[keys]`` in config.toml → the keymap Textual applies, with one sentence for each
entry that cannot be used, and the keys each action answers to now (for ``?``,
the palette and the composer's title).  No Textual here: the app hands the
keymap to ``App.set_keymap``.

An entry is refused when its key would swallow typing (``tui.ui.keys_policy``):
the registry says which actions act while a text field has the focus.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tui.config.loaded import Settings
from tui.ui import actions, keys_policy

# How a key is shown: Textual's names for a few signs, as the signs.
KEY_SIGNS = {"question_mark": "?", "slash": "/", "right_square_bracket": "]",
             "left_square_bracket": "[", "asterisk": "*", "plus": "+", "minus": "-"}


@dataclass(frozen=True)
class Keymap:
    chosen: dict[str, str] = field(default_factory=dict)  # id → keys, as config.toml says
    problems: list[str] = field(default_factory=list)

    def keys(self, action_id: str) -> str:
        """The keys an action answers to now (the config's, else the default), shown."""
        action = actions.BY_ID.get(action_id)
        keys = self.chosen.get(action_id, action.keys if action is not None else "")
        return ",".join(KEY_SIGNS.get(key.strip(), key.strip()) for key in keys.split(","))


def from_settings(settings: Settings) -> Keymap:
    """``[keys]`` of a loaded config.toml, each problem with its file and line — what the
    dashboard shows at start and ``config check`` prints."""
    return read(settings.section("keys"), at=lambda binding_id: settings.at("keys", binding_id))


def read(section: Mapping[str, object], *, at: Callable[[str], str] | None = None) -> Keymap:
    """The usable entries of ``[keys]`` (aliases resolved to today's ids), and a sentence
    for each that is not (after ``at(binding_id)``, where it is written, when given)."""
    chosen: dict[str, str] = {}
    found: list[str] = []
    known = actions.ids()
    typing_ids = [action.id for action in actions.while_typing()]
    for binding_id, keys in section.items():
        if not actions.known([binding_id]):
            close = difflib.get_close_matches(binding_id, known, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            problem = f"[keys] {binding_id} is not a binding id{hint}; press ? to see them."
        elif not isinstance(keys, str) or not keys.strip():
            problem = (f"[keys] {binding_id} must be a key name such as "
                       '"ctrl+s" or "f5,ctrl+s".')
        elif (why := keys_policy.refusal((action := actions.action(binding_id)).id, keys,
                                         typing_ids, action.keys)) is not None:
            problem = why
        else:
            chosen[action.id] = keys
            continue
        found.append(f"{at(binding_id)}: {problem}" if at is not None else problem)
    return Keymap(chosen, found)
