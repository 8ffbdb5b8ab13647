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
import threading
from typing import Any

_UNASKED = "unasked"
_answer: str | None = _UNASKED
_probe: threading.Thread | None = None


def detect() -> str | None:
    """Ask the terminal (once): ``"tgp"``, ``"sixel"`` or None."""
    start_detecting()
    return finish_detecting()


def start_detecting() -> None:
    """Ask the terminal in a thread, so that its answer — or the wait for one: a terminal
    without Kitty's graphics says nothing, and the probe waits out its timeout — overlaps
    the loading of the dashboard's modules; ``finish_detecting`` before Textual starts.
    The thread loads only the probe and Pillow (Rich first, here: no module is loaded by
    both threads at once)."""
    global _answer, _probe
    if _answer != _UNASKED or _probe is not None:
        return
    wanted = os.environ.get("PIXVERSE_TUI_GRAPHICS", "").lower()
    if wanted in ("off", "0", "no", "false") or not (sys.__stdout__ and sys.__stdout__.isatty()):
        _answer = None
        return
    if in_multiplexer() and wanted not in ("on", "1", "yes", "true"):
        _answer = None
        return
    import rich.console  # noqa: F401  (see above)

    _probe = threading.Thread(target=_ask, name="terminal graphics probe", daemon=True)
    _probe.start()


def finish_detecting() -> str | None:
    """The answer (waiting for the probe if it still asks); the image widget is loaded
    now, when there are graphics to show, since it sizes the cells while it still can."""
    global _answer, _probe
    if _probe is not None:
        _probe.join()
        _probe = None
    if _answer == _UNASKED:
        _answer = None
    if _answer is not None:
        try:
            import textual_image.widget  # noqa: F401
        except Exception:  # any failure to probe the terminal just means half-blocks
            _answer = None
    return _answer


def _ask() -> None:
    global _answer
    try:
        from textual_image.renderable import Image, SixelImage, TGPImage
    except Exception:  # any failure to probe the terminal just means half-blocks
        _answer = None
        return
    _answer = "sixel" if Image is SixelImage else "tgp" if Image is TGPImage else None


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
