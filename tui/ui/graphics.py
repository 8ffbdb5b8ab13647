"""Terminal graphics (Kitty's graphics protocol or Sixel) for previews, where the
terminal has one; everywhere else previews are half-block characters.

The terminal must be asked before Textual takes it over, so ``detect()`` runs
once at launch; the app only reads the answer (``detected()``).  Set
``PIXVERSE_TUI_GRAPHICS=off`` to always use half-blocks.

Inside tmux or GNU screen nothing is asked: the Kitty probe is an APC
sequence, which tmux takes for a pane title (the title fills with garbage),
and neither passes graphics through unless told to.  ``PIXVERSE_TUI_GRAPHICS=on``
asks anyway (for a tmux with ``allow-passthrough``).

The image library's probe is not cheap where there are no graphics: it loads Pillow,
and a terminal without Kitty's protocol leaves its query unanswered until a timeout —
a third of a second of every start in a plain xterm.  So the terminal is first asked
the one question every terminal answers at once, its device attributes (``ESC [ c``,
which says whether it draws Sixel); the library's probe runs only where that says
Sixel, or where the terminal names itself as one with Kitty's protocol (``TERM``,
``TERM_PROGRAM``: Kitty, Ghostty, WezTerm, Konsole), or when asked to
(``PIXVERSE_TUI_GRAPHICS=on``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Any

_UNASKED = "unasked"
ATTRIBUTES_TIMEOUT = 0.5  # seconds: every terminal answers ``ESC [ c`` (a VT100's question)
SIXEL = "4"  # in a terminal's device attributes: it draws Sixel
# Terminals with Kitty's graphics protocol, as they name themselves (over SSH too: TERM
# travels); their device attributes do not say it.
KITTY_TERMS = ("xterm-kitty", "xterm-ghostty", "wezterm")
KITTY_PROGRAMS = ("kitty", "ghostty", "wezterm")
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

    forced = wanted in ("on", "1", "yes", "true")
    _probe = threading.Thread(target=_ask, args=(forced,), name="terminal graphics probe",
                              daemon=True)
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


def _ask(forced: bool = False) -> None:
    global _answer
    if not (forced or os.name != "posix" or names_kitty_protocol()
            or draws_sixel(device_attributes())):
        _answer = None  # half-blocks, without loading Pillow or waiting out a timeout
        return
    try:
        from textual_image.renderable import Image, SixelImage, TGPImage
    except Exception:  # any failure to probe the terminal just means half-blocks
        _answer = None
        return
    _answer = "sixel" if Image is SixelImage else "tgp" if Image is TGPImage else None


def names_kitty_protocol(environ: dict[str, str] | None = None) -> bool:
    """The terminal says it is one that draws with Kitty's graphics protocol."""
    env = os.environ if environ is None else environ
    term, program = env.get("TERM", "").lower(), env.get("TERM_PROGRAM", "").lower()
    return (term in KITTY_TERMS or program in KITTY_PROGRAMS
            or bool(env.get("KITTY_WINDOW_ID") or env.get("KONSOLE_VERSION")))


def draws_sixel(attributes: str | None) -> bool:
    """Whether device attributes (``ESC [ ? 62 ; 4 ; 22 c``) list Sixel."""
    if not attributes or not attributes.startswith("\x1b[?") or not attributes.endswith("c"):
        return False
    return SIXEL in attributes[3:-1].split(";")


def device_attributes(timeout: float = ATTRIBUTES_TIMEOUT) -> str | None:
    """The terminal's answer to ``ESC [ c`` (primary device attributes), or None: no
    terminal on stdin and stdout, not a POSIX one, or no answer within ``timeout``.
    The terminal is read without echo for that moment (a key typed meanwhile is lost,
    as with any such question before the app starts)."""
    if os.name != "posix":
        return None
    import select
    import termios

    streams = sys.__stdin__, sys.__stdout__
    if not all(stream is not None and stream.isatty() for stream in streams):
        return None
    read_fd, write_fd = (stream.fileno() for stream in streams)  # type: ignore[union-attr]
    try:
        before = termios.tcgetattr(read_fd)
    except termios.error:
        return None
    quiet = termios.tcgetattr(read_fd)
    quiet[3] &= ~(termios.ICANON | termios.ECHO)
    answer = b""
    try:
        termios.tcsetattr(read_fd, termios.TCSANOW, quiet)
        os.write(write_fd, b"\x1b[c")
        deadline = time.monotonic() + timeout
        while not _answered(answer):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                return None
            answer += os.read(read_fd, 64)
    except OSError:
        return None
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(read_fd, termios.TCSANOW, before)
    start = answer.find(b"\x1b[?")
    return answer[start:answer.index(b"c", start) + 1].decode("ascii", "replace")


def _answered(read: bytes) -> bool:
    """Whether what the terminal sent holds a whole answer (keys typed meanwhile may
    come before or after it)."""
    start = read.find(b"\x1b[?")
    return start >= 0 and b"c" in read[start:]


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
