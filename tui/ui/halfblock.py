"""Draw tiny RGB bitmaps with ``▀``: the upper pixel is the foreground, the lower the
background, so one character cell shows two pixels — in any colour terminal."""

from __future__ import annotations

from rich.color import Color
from rich.style import Style
from rich.text import Text

from tui.engine.media.preview import Thumb


def _colour(rgb: tuple[int, int, int]) -> Color:
    return Color.from_rgb(*rgb)


def sheet(thumbs: list[Thumb], gap: int = 1) -> Text:
    """The frames side by side, bottoms aligned, with their times underneath."""
    rows = max((t.height for t in thumbs), default=0) // 2
    out = Text()
    for row in range(rows):
        for index, thumb in enumerate(thumbs):
            offset = rows - thumb.height // 2
            if row < offset:
                out.append(" " * thumb.width)
            else:
                y = (row - offset) * 2
                for x in range(thumb.width):
                    out.append("▀", Style(color=_colour(thumb.pixel(x, y)),
                                          bgcolor=_colour(thumb.pixel(x, y + 1))))
            if index < len(thumbs) - 1:
                out.append(" " * gap)
        out.append("\n")
    labels = [f"{t.at:.1f}s".center(t.width) for t in thumbs]
    out.append((" " * gap).join(labels), Style(dim=True))
    return out
