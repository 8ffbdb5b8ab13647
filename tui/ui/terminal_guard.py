"""The dashboard's last line of defence: no text segment reaches the terminal with a
control character in it.

Every widget already shows outside text through ``printable``; this filter
catches whatever a future change forgets (a new field, a new dialog).  It
leaves control segments — Textual's own cursor moves, a picture's escape
sequences — alone.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from tui.safe_text import printable, unsafe


class ControlCharacterGuard(LineFilter):
    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if not any(not seg.control and unsafe(seg.text) for seg in segments):
            return segments
        return [seg if seg.control or not unsafe(seg.text)
                else Segment(printable(seg.text), seg.style, seg.control) for seg in segments]
