"""Telling the user that tasks ended, the way a terminal user expects.

Each way is switchable in ``[notify]``: a toast in the dashboard, the terminal
bell, a desktop notification (OSC 9 — iTerm2, kitty, WezTerm, Windows Terminal;
or OSC 777 — foot, urxvt, kitty), and a live terminal title
("pixverse ▶3 ◷12 ✔57 ✘2").  Never more than one signal a second: what ends in
the same second is told together ("Paper boat ×10 done: 9 ✔ 1 ✘").  Inside tmux
the desktop notification is wrapped for passthrough (tmux forwards it when
``allow-passthrough`` is on).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from storage import Generation
from storage.records import BatchSummary, Counts
from tui.safe_text import printable

GAP = 1.0  # seconds: at most one signal per second


class NotifySettings(NamedTuple):
    toast: bool = True
    bell: bool = False
    desktop: str = "off"  # "osc9", "osc777" or "off"
    title: bool = True


@dataclass
class Pending:
    ended: list[Generation] = field(default_factory=list)
    batches: list[BatchSummary] = field(default_factory=list)


def short(prompt: str, width: int = 40) -> str:
    flat = " ".join(prompt.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def sentence(pending: Pending) -> tuple[str, str] | None:
    """(title, message) for what ended since the last signal — batches told whole."""
    told = {b.batch_id for b in pending.batches}
    lines = [f"{short(b.label)} ×{b.total} done: {b.succeeded} ✔ {b.failed + b.canceled} ✘"
             for b in pending.batches]
    single = [r for r in pending.ended if r.batch_id not in told]
    for row in single[:3]:
        mark = "✔" if row.status == "SUCCEEDED" else "✘"
        lines.append(f"{mark} {row.display_status}: {short(row.prompt)}")
    if len(single) > 3:
        lines.append(f"… and {len(single) - 3} more")
    if not lines:
        return None
    done = sum(1 for r in pending.ended if r.status == "SUCCEEDED")
    canceled = sum(1 for r in pending.ended if r.status == "CANCELED")  # (taken back too)
    failed = len(pending.ended) - done - canceled
    title = (f"{done} finished" + (f", {failed} failed" if failed else "")
             + (f", {canceled} cancelled" if canceled else ""))
    return title, "\n".join(lines)


def title_text(counts: Counts) -> str:
    return (f"pixverse ▶{counts.running} ◷{counts.pending + counts.submitting} "
            f"✔{counts.finished_today} ✘{counts.failed_today}")


def desktop_sequence(kind: str, title: str, message: str, *, in_tmux: bool) -> str:
    """The escape sequence of a desktop notification (text made printable, one line)."""
    title, message = printable(title), printable(message.replace("\n", " · "))
    if kind == "osc777":
        body = f"\x1b]777;notify;{title.replace(';', ',')};{message.replace(';', ',')}\x07"
    else:
        body = f"\x1b]9;{title}: {message}\x07"
    if in_tmux:  # tmux forwards it only as a passthrough, with its escapes doubled
        return "\x1bPtmux;" + body.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return body


class Signals:
    """Collects what ended; ``flush`` tells it, once (at most one signal a second:
    ``due_in`` says when what is held back may be told).

    ``gap`` stretches the second between signals: the dashboard passes the time a
    toast stays on screen, so one toast replaces the last instead of a stack of them
    covering the table (at 80×24, four stacked toasts hid half of it)."""

    def __init__(self, settings: NotifySettings, *, toast: Callable[[str, str], None],
                 write: Callable[[str], None], bell: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic, gap: float = GAP) -> None:
        self.settings = settings
        self.gap = max(GAP, gap)  # a dashboard waits as long as a toast stays up
        self._toast = toast
        self._write = write
        self._bell = bell
        self._clock = clock
        self._pending = Pending()
        self._last = -GAP
        self._title = ""
        self._told: set[int] = set()
        self._batches_told: set[str] = set()
        self.in_tmux = bool(os.environ.get("TMUX"))

    def ended(self, rows: list[Generation], batches: list[BatchSummary]) -> None:
        """Tasks that ended (each told once), and the batches they belong to."""
        fresh = [row for row in rows if row.id not in self._told]
        self._told.update(row.id for row in fresh)
        self._pending.ended += fresh
        done = [b for b in batches if b.done and b.batch_id not in self._batches_told]
        self._batches_told.update(b.batch_id for b in done)
        self._pending.batches += done

    def flush(self) -> bool:
        """Tell what is pending, if a second has passed since the last signal."""
        now = self._clock()
        told = sentence(self._pending)
        if told is None or now - self._last < self.gap:
            return False
        self._last = now
        self._pending = Pending()
        title, message = told
        s = self.settings
        if s.toast:
            self._toast(title, message)
        if s.bell:
            self._bell()
        if s.desktop in ("osc9", "osc777"):
            self._write(desktop_sequence(s.desktop, f"pixverse-tui: {title}", message,
                                         in_tmux=self.in_tmux))
        return True

    def due_in(self) -> float | None:
        """Seconds until ``flush`` would tell what is pending (0: now), or None when
        nothing is pending — then nobody needs to call it until something ends."""
        if sentence(self._pending) is None:
            return None
        return max(0.0, self._last + self.gap - self._clock())

    def show_counts(self, counts: Counts) -> None:
        """The terminal's title follows what is in flight (only when it changes)."""
        if not self.settings.title:
            return
        text = title_text(counts)
        if text != self._title:
            self._title = text
            self._write(f"\x1b]2;{printable(text)}\x07")
