"""``enter``: the highlighted task's details, full screen — live (redrawn from the store
as it changes) and answering the same row keys as the table (``d`` downloads…),
rebound with them: the bindings carry the table's ids (``tui.ui.actions``)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from storage import StoreError
from tui.ui.actions import Where
from tui.ui.bindings import bindings
from tui.ui.commands.rows import RowCommands, Scope
from tui.ui.messages import StoreFailed
from tui.ui.screens.plans import carry_out
from tui.ui.services import Services
from tui.ui.themes import status_style
from tui.ui.view.history import TaskDetails, task_details
from tui.ui.widgets.detail import describe
from tui.ui.widgets.footer import Footer, viewers_footer

REDRAW_EVERY = 1.0  # seconds


class DetailScreen(ModalScreen[None]):
    PLACE = Where.DETAILS
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)

    def __init__(self, services: Services, commands: RowCommands,
                 details: TaskDetails) -> None:
        super().__init__()
        self.services = services
        self.commands = commands
        self.generation_id = details.row.id
        self.first = details

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-box"):
            yield Static(self._describe(self.first), id="detail-full")
        yield Footer(hidden=viewers_footer(self.services))

    def on_mount(self) -> None:
        self.set_interval(REDRAW_EVERY, self._redraw, name="redraw")

    def _describe(self, details: TaskDetails) -> Text:
        row = details.row
        return describe(row, details.events, self.services.now(),
                        status_style(self.app.current_theme, row.display_status), details.tags,
                        details.by, details.queue)

    async def _details(self) -> TaskDetails | None:
        try:
            return await task_details(self.services, self.generation_id)
        except StoreError as exc:
            self.post_message(StoreFailed(exc))
            return None

    async def _redraw(self) -> None:
        if not self.services.open:
            return
        details = await self._details()
        if details is None:
            if self.is_current:  # forgotten elsewhere: nothing left to show
                self.dismiss()
            return
        self.query_one("#detail-full", Static).update(self._describe(details))

    async def action_row(self, command: str) -> None:
        """The table's key, for the task this screen shows (as it is now) — never the
        table's highlighted row, nor the marks."""
        details = await self._details()
        if details is None:
            return
        scope = Scope(details.row, on_page=frozenset({details.row.id}))
        try:
            plan = await self.commands.run(command, scope)
        except StoreError as exc:
            self.post_message(StoreFailed(exc))
            return
        carry_out(self, plan, self.commands.outlet)
