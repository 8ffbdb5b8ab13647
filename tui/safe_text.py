"""Text from outside, made safe to show in a terminal.

Server answers, prompts, imported files and synced tasks can hold control
characters.  Written raw, ``ESC ] 0 ; … BEL`` retitles the terminal, ``ESC [ 2 J``
clears it and ``ESC ] 52 ;`` writes the user's clipboard; bidirectional
overrides make text read differently from what it is.  Every place that shows
such text (the command line and the dashboard) passes it through
:func:`printable`, which turns those characters into visible, inert stand-ins
and keeps everything else — Chinese, emoji, punctuation — as it is.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from typing import Any

# C0 controls become their Unicode "control pictures" (ESC → ␛, BEL → ␇ …):
# visible, one cell wide, and meaningless to a terminal.
_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)}
_PICTURES[0x7F] = "\u2421"  # ␡
# C1 controls (0x9B is a one-byte CSI) have no pictures: show their code.
_C1 = {code: f"<{code:02X}>" for code in range(0x80, 0xA0)}
# Characters that reorder or hide text, or break lines outside our control.
_INVISIBLE = {code: f"<U+{code:04X}>" for code in (
    0x061C,  # Arabic letter mark
    0x200E, 0x200F,  # left-to-right / right-to-left marks
    0x202A, 0x202B, 0x202C, 0x202D, 0x202E,  # embeddings and overrides
    0x2066, 0x2067, 0x2068, 0x2069,  # isolates
    0x2028, 0x2029,  # line and paragraph separators
    0xFEFF,  # zero-width no-break space
)}

_TABLE: dict[int, str] = {**_PICTURES, **_C1, **_INVISIBLE}
_TABLE[0x09] = " "  # a tab is harmless but breaks alignment
_MULTILINE = dict(_TABLE)
del _MULTILINE[0x0A]  # newlines kept where the text is shown as a paragraph

# (compiled by ``re`` when JSON is first written: a table of rows needs only ``UNSAFE``)
_JSON_UNSAFE = "[" + "".join(re.escape(chr(c)) for c in (*range(0x7F, 0xA0), *_INVISIBLE)) + "]"


def printable(value: Any, *, multiline: bool = False) -> str:
    """``value`` as text with every control character made visible and harmless.

    ``multiline`` keeps line feeds (a prompt shown as a paragraph); otherwise
    they are shown too, so one field stays on one line.
    """
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # (every character of the table is one Python calls unprintable)
        return text
    return text.translate(_MULTILINE if multiline else _TABLE)


def unsafe(text: str) -> bool:
    """True when ``text`` holds a character :func:`printable` replaces (a line feed too)."""
    return not text.isprintable() and text.translate(_TABLE) != text


def is_printable(text: str, *, multiline: bool = False) -> bool:
    """True when :func:`printable` would leave ``text`` unchanged."""
    return printable(text, multiline=multiline) == text


def json_text(value: Any, *, indent: int | None = 2) -> str:
    """JSON for a terminal: exact data, but no raw DEL, C1 or direction controls.

    ``json.dumps`` already escapes C0 controls; with ``ensure_ascii=False`` it
    would print DEL, C1 (an 8-bit CSI) and bidi overrides raw.  They can only
    occur inside strings, where ``\\uXXXX`` means the same character.
    """
    import json  # (when first asked: most text is never JSON)

    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return re.sub(_JSON_UNSAFE, lambda m: f"\\u{ord(m.group()):04x}", text)
