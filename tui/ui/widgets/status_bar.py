"""One line at the top: what is in flight, what the view shows, how polling goes.

Every figure comes from the store (``Counts``), never from the rows on screen;
the screen sets ``figures`` and the bar redraws itself.  The most useful come
first, so a narrow terminal cuts the least useful — except that who polls is not
cut for the figures before it: those go first (``render_figures``).
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
# Who polls the account, as the store last said: not known while it does not answer.
LEASE_HEALTH = ("followed", "nobody polls")


class StatusBar(Static):
    figures: reactive[StatusFigures] = reactive(StatusFigures, layout=False)

    def watch_figures(self, figures: StatusFigures) -> None:
        self.update(render_figures(figures, self.content_region.width or None))

    def on_resize(self) -> None:
        self.update(render_figures(self.figures, self.content_region.width or None))


# Parts that may go, first to last, when who polls would otherwise be cut (``WHOLE``).
FOREIGN, TODAY, WINDOW, NOT_SAVED = 1, 2, 3, 4
KEPT, WHOLE = 0, -1


def render_figures(f: StatusFigures, width: int | None = None) -> Text:
    """The bar's line.  At ``width`` cells, when who polls ("polled by bob@studio-2")
    would be cut, the least useful parts before it go first (foreign tasks, the day's
    figures, the window, "not saved"); otherwise the line is cut at the end as ever."""
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
    parts: list[tuple[Text, int]] = []

    def part(rank: int = KEPT) -> Text:
        piece = Text()
        parts.append((piece, rank))
        return piece

    c = f.counts
    first = part()
    first.append(f"▶{c.running} ◷{c.pending + c.submitting}", bold)
    first.append(" in flight")
    warn = Style(color="yellow", bold=True)
    if f.unconfirmed:  # creates in doubt: stopped until resolved, never a silent stop
        first.append(f" · ⚠ {f.unconfirmed:,} unconfirmed: {printable(f.resolve_key)} "
                     "resolves", warn)
    if c.queued:
        first.append(f" · ≡{c.queued:,} queued", bold)
        if f.queue_problem:  # never a silent stop: first, in colour
            first.append(f" · {printable(f.queue_problem)}", warn)
        else:
            if f.queue_done:
                first.append(f" {printable(f.queue_done)}")
            if f.queue_note:
                first.append(f" · {printable(f.queue_note)}", Style(color="yellow"))
    # Nothing on polling: the poller's word on the database is said above, and who polls
    # is not known while the database does not answer (nor before it was first read).
    silent = not f.health or (bool(f.database) and f.health in (*STORE_HEALTH, *LEASE_HEALTH))
    trouble = f.health not in ("ok", "followed") and not silent
    if trouble:  # first, where even an 80-column terminal shows it
        _health(part(), f)
    if f.expiring:  # videos about to be lost: early too
        part().append(f"⚠ {f.expiring} expire < 2 h", Style(color="yellow", bold=True))
    if f.window:
        part(WINDOW).append(f.window)
    if f.new_above:
        part().append(f"{f.new_above} new ↑", Style(bold=True, color="cyan"))
    if f.marks:
        part().append(f"● {f.marks} marked", bold)
    part(TODAY).append(f"✔{c.finished_today} ✘{c.failed_today} today")
    if c.not_downloaded:
        part(NOT_SAVED).append(f"⇣{c.not_downloaded} not saved")
    if f.foreign:
        part(FOREIGN).append(f"{f.foreign} foreign", dim)
    if f.budget:
        part().append(printable(f.budget),
                      Style(color="yellow", bold=True) if f.budget_low else Style())
    if not trouble and not silent:  # who polls ("polled by bob@studio-2") is kept whole
        _health(part(WHOLE if f.health == "followed" else KEPT), f)
    if width is not None:
        _make_room(text.cell_len, parts, width)
    text.append_text(Text(" · ").join(piece for piece, _ in parts))
    if f.updated is not None:
        text.append(f" · {f.updated.astimezone():%H:%M:%S}")
    if f.region:
        text.append(f" · {printable(f.region)} ")
        text.append(printable(f.endpoint), dim)
    return text


def _make_room(start: int, parts: list[tuple[Text, int]], width: int) -> None:
    """Drop the least useful parts (in rank order) until the part kept whole ends within
    ``width`` — or there is nothing left to drop."""
    def whole() -> tuple[int, int]:
        """Where the part kept whole is, and the cell its end falls on."""
        length = start
        for index, (piece, rank) in enumerate(parts):
            length += piece.cell_len + (3 if index else 0)  # " · " before all but one
            if rank == WHOLE:
                return index, length
        return -1, 0

    for victim in (FOREIGN, TODAY, WINDOW, NOT_SAVED):
        at, end = whole()
        if end <= width:
            return
        parts[:] = [(piece, rank) for index, (piece, rank) in enumerate(parts)
                    if rank != victim or index > at]


def _health(text: Text, f: StatusFigures) -> None:
    dim = Style(dim=True)
    if f.health == "followed":  # another process polls; this one reads the store
        text.append(printable(f.detail or "polled by another process"), dim)
        return
    if f.health == "nobody polls":  # a viewer: nothing will move until someone polls
        text.append(f.health, Style(color="yellow", bold=True))
        return
    text.append(f"poller {f.health}", Style(color=HEALTH_COLOURS.get(f.health),
                                              bold=f.health != "ok"))
    if f.detail and f.health != "ok":
        text.append(f" ({printable(f.detail)})", dim)
