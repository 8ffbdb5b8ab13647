"""Terminal graphics (Kitty's graphics protocol or Sixel) for previews, where the
terminal has one; everywhere else previews are half-block characters.

The terminal must be asked before Textual takes it over, so ``detect()`` runs
once at launch; the app only reads the answer (``detected()``).  Set
``PIXVERSE_TUI_GRAPHICS=off`` to always use half-blocks.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_UNASKED = object()
_answer: Any = _UNASKED


def detect() -> str | None:
    """Ask the terminal (once): ``"tgp"``, ``"sixel"`` or None."""
    global _answer
    if _answer is not _UNASKED:
        return _answer
    _answer = None
    off = os.environ.get("PIXVERSE_TUI_GRAPHICS", "").lower() in ("off", "0", "no", "false")
    if off or not (sys.__stdout__ and sys.__stdout__.isatty()):
        return None
    try:
        import textual_image.widget  # noqa: F401  (sizes the cells while it still can)
        from textual_image.renderable import Image, SixelImage, TGPImage
    except Exception:  # any failure to probe the terminal just means half-blocks
        return None
    _answer = "sixel" if Image is SixelImage else "tgp" if Image is TGPImage else None
    return _answer


def detected() -> str | None:
    """The answer ``detect()`` got, without asking (None if it never asked)."""
    return None if _answer is _UNASKED else _answer


def contact_sheet(thumbs: list[Any], gap: int = 8) -> Any:
    """The frames side by side as one Pillow image (for a graphics protocol)."""
    from PIL import Image

    height = max(t.height for t in thumbs)
    width = sum(t.width for t in thumbs) + gap * (len(thumbs) - 1)
    sheet = Image.new("RGB", (width, height))
    x = 0
    for thumb in thumbs:
        sheet.paste(Image.frombytes("RGB", (thumb.width, thumb.height), thumb.rgb),
                    (x, height - thumb.height))
        x += thumb.width + gap
    return sheet


def image_widget(picture: Any) -> Any:
    from textual_image.widget import Image

    return Image(picture, id="preview-graphic")
