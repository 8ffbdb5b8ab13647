"""Text measured as a terminal draws it: in cells, not characters.

A Chinese character or an emoji takes two cells, a combining accent none; ``len()``
counts each as one, so columns laid out with it drift apart.  rich (a dependency)
knows each character's width; these helpers pad and cut by it, never splitting a
wide character or leaving a combining mark without its letter.
"""

from __future__ import annotations

import shutil
import sys

from rich.cells import cell_len

ELLIPSIS = "…"


def cells(text: str) -> int:
    """How many terminal cells ``text`` takes."""
    return cell_len(text)


def fit(text: str, width: int) -> str:
    """``text`` if it fits in ``width`` cells, else its head and ``…`` in at most
    ``width`` cells (a wide character that would not fit whole is left out)."""
    if cell_len(text) <= width:
        return text
    if width <= 0:
        return ""
    room = width - cell_len(ELLIPSIS)
    low, high = 0, len(text)  # the longest prefix that fits: cell_len grows with length
    while low < high:
        middle = (low + high + 1) // 2
        if cell_len(text[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    end = low
    while end < len(text) and cell_len(text[: end + 1]) == cell_len(text[:end]):
        end += 1  # marks that take no cell stay with their letter (accents, joiners)
    return text[:end] + ELLIPSIS


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` cells (on the left when ``right``)."""
    gap = " " * max(0, width - cell_len(text))
    return gap + text if right else text + gap


def cell(text: str, width: int, *, right: bool = False) -> str:
    """``text`` in exactly ``width`` cells: cut with ``…`` if longer, padded if shorter."""
    return pad(fit(text, width), width, right=right)


def terminal_width() -> int | None:
    """The width of the terminal standard output is drawn on, in cells (``COLUMNS``
    wins); None when it goes to a file or a pipe, where no line is too long."""
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):  # no stdout, or a closed one
        return None
    return shutil.get_terminal_size().columns
