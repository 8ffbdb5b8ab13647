"""Text from the user's files and standard input: decoded, never trusted.

Bytes become text only through :func:`decode` — strict UTF-8, a leading BOM an
editor added left out, and bytes that are not UTF-8 named by line and column in
one sentence — and text becomes lines only through :func:`split_lines`, which
breaks at ``\\n`` and ``\\r\\n`` alone.  ``str.splitlines`` also breaks at
U+2028, U+0085, form feed and a lone CR, so a file's line numbers would no
longer match the editor's and one prompt would become several.  Text that
came through a JSON escape or a command-line argument can hold lone surrogates
(``"\\ud800"``), which no file, database or request can carry:
:func:`unicode_problem` says so before anything is recorded.
"""

from __future__ import annotations

import codecs

BOM = "\ufeff"


class BadText(ValueError):
    """Input that is not text; ``str()`` is one sentence naming where."""


def decode(data: bytes, name: str) -> str:
    """``data`` as UTF-8 text, without a leading BOM; ``BadText`` names the line."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadText(f"{name}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02X} "
                      f"at byte {exc.start - line_start + 1} of the line)") from None


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as an editor numbers them: split at ``\\n`` only, a ``\\r``
    before it dropped; no empty last line for a final newline (as ``splitlines``)."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def unicode_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored or sent (a lone surrogate), as words to follow its
    name; None when it can."""
    try:
        text.encode("utf-8")  # (a lone surrogate is the one thing UTF-8 cannot encode)
    except UnicodeEncodeError as error:
        return (f"holds a character that is not valid Unicode at character {error.start + 1} "
                f"(\\u{ord(text[error.start]):04x}: a broken \\u escape, or bytes that are "
                "not UTF-8)")
    return None
