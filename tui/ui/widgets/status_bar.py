"""One line at the top: what is in flight, what the view shows, how polling goes.

Every figure comes from the store (``Counts``), never from the rows on screen;
the screen sets ``figures`` and the bar redraws itself.  The most useful come
first, so a narrow terminal cuts the least useful.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui.safe_text import printable
from tui.ui.view.figures import StatusFigures

HEALTH_COLOURS = {"ok": "green", "backing off": "yellow", "offline": "red", "halted": "red",
                  "database busy": "yellow", "database unreachable": "red"}
# The poller's own words for what the status bar already says first (``f.database``).
STORE_HEALTH = ("database busy", "database unreachable")


class StatusBar(Static):
    figures: reactive[StatusFigures] = reactive(StatusFigures, layout=False)

    def watch_figures(self, figures: StatusFigures) -> None:
        self.update(render_figures(figures))


def render_figures(f: StatusFigures) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    dim, bold = Style(dim=True), Style(bold=True)
    if f.demo:
        text.append(" DEMO ", Style(bold=True, reverse=True))
        text.append(" ")
    if f.read_only:
        text.append(" READ-ONLY ", Style(bold=True, reverse=True))
        text.append(" ")
    if f.database:  # the figures below are the last the database gave
        text.append(f"⚠ {f.database}", Style(color="red", bold=True))
        text.append(" · ")
    c = f.counts
    text.append(f"▶{c.running} ◷{c.pending + c.submitting}", bold)
    text.append(" in flight")
    warn = Style(color="yellow", bold=True)
    if f.unconfirmed:  # creates in doubt: stopped until resolved, never a silent stop
        text.append(f" · ⚠ {f.unconfirmed:,} unconfirmed: {printable(f.resolve_key)} "
                    "resolves", warn)
    if c.queued:
        text.append(f" · ≡{c.queued:,} queued", bold)
        if f.queue_problem:  # never a silent stop: first, in colour
            text.append(f" · {printable(f.queue_problem)}", warn)
        else:
            if f.queue_done:
                text.append(f" {printable(f.queue_done)}")
            if f.queue_note:
                text.append(f" · {printable(f.queue_note)}", Style(color="yellow"))
    said = bool(f.database) and f.health in STORE_HEALTH  # the poller's: said above
    trouble = f.health not in ("ok", "followed") and not said
    if trouble:  # first, where even an 80-column terminal shows it
        text.append(" · ")
        _health(text, f)
    if f.expiring:  # videos about to be lost: early too
        text.append(f" · ⚠ {f.expiring} expire < 2 h", Style(color="yellow", bold=True))
    if f.window:
        text.append(f" · {f.window}")
    if f.new_above:
        text.append(f" · {f.new_above} new ↑", Style(bold=True, color="cyan"))
    if f.marks:
        text.append(f" · ● {f.marks} marked", bold)
    text.append(f" · ✔{c.finished_today} ✘{c.failed_today} today")
    if c.not_downloaded:
        text.append(f" · ⇣{c.not_downloaded} not saved")
    if f.foreign:
        text.append(f" · {f.foreign} foreign", dim)
    if f.budget:
        text.append(f" · {printable(f.budget)}",
                    Style(color="yellow", bold=True) if f.budget_low else Style())
    if not trouble and not said:
        text.append(" · ")
        _health(text, f)
    if f.updated is not None:
        text.append(f" · {f.updated.astimezone():%H:%M:%S}")
    if f.region:
        text.append(f" · {printable(f.region)} ")
        text.append(printable(f.endpoint), dim)
    return text


def _health(text: Text, f: StatusFigures) -> None:
    dim = Style(dim=True)
    if f.health == "followed":  # another process polls; this one reads the store
        text.append(printable(f.detail or "polled by another process"), dim)
        return
    text.append(f"poller {f.health}", Style(color=HEALTH_COLOURS.get(f.health),
                                              bold=f.health != "ok"))
    if f.detail and f.health != "ok":
        text.append(f" ({printable(f.detail)})", dim)
