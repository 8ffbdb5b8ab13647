"""Terminal graphics (Kitty's graphics protocol or Sixel) for previews, where the
terminal has one; everywhere else previews are half-block characters.

The terminal must be asked before Textual takes it over, so ``detect()`` runs
once at launch; the app only reads the answer (``detected()``).  Set
``PIXVERSE_TUI_GRAPHICS=off`` to always use half-blocks.

Inside tmux or GNU screen nothing is asked: the Kitty probe is an APC
sequence, which tmux takes for a pane title (the title fills with garbage),
and neither passes graphics through unless told to.  ``PIXVERSE_TUI_GRAPHICS=on``
asks anyway (for a tmux with ``allow-passthrough``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

_UNASKED = "unasked"
_answer: str | None = _UNASKED


def detect() -> str | None:
    """Ask the terminal (once): ``"tgp"``, ``"sixel"`` or None."""
    global _answer
    if _answer != _UNASKED:
        return _answer
    _answer = None
    wanted = os.environ.get("PIXVERSE_TUI_GRAPHICS", "").lower()
    if wanted in ("off", "0", "no", "false") or not (sys.__stdout__ and sys.__stdout__.isatty()):
        return None
    if in_multiplexer() and wanted not in ("on", "1", "yes", "true"):
        return None
    try:
        import textual_image.widget  # noqa: F401  (sizes the cells while it still can)
        from textual_image.renderable import Image, SixelImage, TGPImage
    except Exception:  # any failure to probe the terminal just means half-blocks
        return None
    found = "sixel" if Image is SixelImage else "tgp" if Image is TGPImage else None
    _answer = found
    return found


def in_multiplexer(environ: dict[str, str] | None = None) -> bool:
    """Inside tmux or GNU screen (which eat or mangle the probes)."""
    env = os.environ if environ is None else environ
    term = env.get("TERM", "")
    return bool(env.get("TMUX") or env.get("STY")) or term.startswith(("tmux", "screen"))


def detected() -> str | None:
    """The answer ``detect()`` got, without asking (None if it never asked)."""
    return None if _answer == _UNASKED else _answer


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

    return Image(picture, classes="preview-graphic")
