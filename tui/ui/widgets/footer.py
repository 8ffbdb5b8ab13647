"""The footer, with ``?`` (every key) always first: a narrow terminal cuts the end of the
line, and the one key that explains the others must never be the one cut."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

FIRST = ("app.show_keys", "show_keys")


class Footer(TextualFooter):
    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        shown = [(binding, enabled, tooltip)
                 for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
                 if binding.show]
        shown.sort(key=lambda item: item[0].action not in FIRST)  # stable: the rest in order
        actions: set[str] = set()
        for binding, enabled, tooltip in shown:
            if binding.action in actions:
                continue
            actions.add(binding.action)
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description,
                            binding.action, disabled=not enabled,
                            tooltip=tooltip).data_bind(compact=TextualFooter.compact)
        self.styles.grid_size_columns = len(actions)
