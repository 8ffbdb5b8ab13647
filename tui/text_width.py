"""Text measured as a terminal draws it: in cells, not characters.

A Chinese character or an emoji takes two cells, a combining accent none; ``len()``
counts each as one, so columns laid out with it drift apart.  A character's width
comes from the Unicode database as terminals (wcwidth) read it: East Asian Wide and
Fullwidth take two cells, combining marks, format characters and variation selectors
none.  No rich here: the engine's reports use this, and the dashboard's view model,
which reads the engine, must not pull in a rendering library.  These helpers pad and
cut by that width, never splitting a wide character or leaving a combining mark (or
a joiner) without its letter.
"""

from __future__ import annotations

import functools
import os
import sys
import unicodedata

ELLIPSIS = "…"
ZWJ = "\u200d"


@functools.lru_cache(maxsize=4096)
def char_cells(char: str) -> int:
    """0, 1 or 2: the cells one character takes on a terminal."""
    code = ord(char)
    if code < 0x7F:
        return 1 if code >= 0x20 else 0
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0  # accents, joiners, direction marks, variation selectors
    if 0x1160 <= code <= 0x11FF:  # Hangul medial vowels and final consonants join
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cell_len(text: str) -> int:
    if text.isascii() and text.isprintable():
        return len(text)
    return sum(char_cells(char) for char in text)


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
    while end < len(text) and char_cells(text[end]) == 0:
        end += 1  # marks that take no cell stay with their letter
    return text[:end].rstrip(ZWJ) + ELLIPSIS  # a joiner with nothing to join is dropped


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
    return terminal_columns()


def terminal_columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` gives it (``COLUMNS`` wins;
    80 when there is no terminal), without importing shutil: it loads the compression
    modules too, and every command line run asks (argparse's formatters)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    stream = sys.__stdout__
    try:
        return (os.get_terminal_size(stream.fileno()).columns if stream is not None
                else 0) or 80
    except (AttributeError, ValueError, OSError):  # not a terminal, or closed
        return 80
