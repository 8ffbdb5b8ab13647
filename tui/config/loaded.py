"""The settings as read — their values, what was wrong with the file, where each key is —
apart from the rules that check them (``tui.config.settings``): a command that finds
them already checked (``tui.config.kept``) loads neither the rules nor the TOML parser."""

from __future__ import annotations

import re

from tui.text_input import split_lines

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


class Settings:
    """The settings read (defaults where the file said nothing usable), what was wrong
    with the file, and where it is.  (A plain class: ``dataclasses`` loads ``inspect``,
    which would cost ``list`` more than its page.)"""

    __slots__ = ("lines", "problems", "source", "unread", "values")

    def __init__(self, values: dict[str, dict[str, Any]], problems: list[str] | None = None,
                 source: str | Path | None = None, lines: LineIndex | None = None) -> None:
        self.values = values
        self.problems: list[str] = [] if problems is None else problems
        self.source = source
        self.lines = lines  # where each key is in the file, for later messages
        self.unread = False  # a file there could not be read (now): not an answer to keep

    def get(self, section: str, key: str) -> Any:
        return self.values.get(section, {}).get(key)

    def section(self, section: str) -> dict[str, Any]:
        return dict(self.values.get(section, {}))

    def at(self, section: str, key: str) -> str:
        """``path, line N`` of a setting, for a message about it found later (``[keys]``
        is checked by the dashboard's keymap, not here)."""
        if self.source is None:
            return "config.toml"
        if self.lines is None:
            return str(self.source)
        return self.lines.at(self.source, section, key)


_HEADER = r"\s*\[+\s*([^\]]+?)\s*\]"  # (compiled when a file is indexed)
_KEY = r"""\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*="""


class LineIndex:
    """Where each section and key first appears, built in one pass over the text.

    Looking a key up by rescanning the text made a file with many keys take
    quadratic time (minutes for 16,000 keys).
    """

    def __init__(self, text: str) -> None:
        self.headers: dict[str, int] = {}
        self.keys: dict[tuple[str | None, str], int] = {}
        current: str | None = None
        header_at, key_at = re.compile(_HEADER).match, re.compile(_KEY).match
        for number, line in enumerate(split_lines(text), 1):  # as tomllib counts lines
            if header := header_at(line):
                current = header.group(1).strip("\"'")
                self.headers.setdefault(current, number)
            elif key := key_at(line):
                name = next(g for g in key.groups() if g is not None)
                self.keys.setdefault((current, name), number)

    @classmethod
    def made(cls, headers: dict[str, int], keys: dict[tuple[str | None, str], int]
             ) -> LineIndex:
        """An index made by an earlier run (``tui.config.kept``), without the text."""
        index = cls.__new__(cls)
        index.headers, index.keys = headers, keys
        return index

    def at(self, path: str | Path, section: str | None, key: str | None = None) -> str:
        """``path, line N`` (just ``path`` if the line is not known), for a message."""
        line = (self.keys.get((section, key)) if key is not None
                else self.headers.get(section) if section is not None else None)
        return f"{path}{f', line {line}' if line else ''}"
