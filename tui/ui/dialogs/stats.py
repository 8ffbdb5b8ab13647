"""``s``: usage statistics — per day, per tier, success, errors, timing, cost."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Sparkline, Static

from tui.engine.history.stats import Stats, report
from tui.safe_text import printable
from tui.ui.actions import Where
from tui.ui.bindings import bindings


class StatsScreen(ModalScreen[None]):
    PLACE = Where.STATS
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)

    def __init__(self, figures: Stats) -> None:
        super().__init__()
        self.figures = figures

    def compose(self) -> ComposeResult:
        days = list(self.figures.per_day.values())
        with VerticalScroll(id="stats-box"):
            yield Static(Text("Usage", style="bold"))
            if len(days) > 1:  # one day's bar says nothing the table below does not
                yield Static(Text("seconds of video per day, oldest → newest", style="dim"))
                yield Sparkline([d["seconds"] for d in days], id="per-day")
            yield Static(Text(printable(report(self.figures), multiline=True)), id="report")
