"""``enter``: the highlighted task's details, full screen — live (redrawn from the store
as it changes) and answering the same row keys as the table (``d`` downloads…)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from storage import StoreError
from tui.ui.themes import status_style
from tui.ui.widgets.detail import describe
from tui.ui.widgets.footer import Footer

if TYPE_CHECKING:
    from tui.ui.app import PixverseApp

REDRAW_EVERY = 1.0  # seconds

# The table's row keys, answered here for the row shown (the one highlighted below).
ROW_KEYS = (("d", "download", "Download"), ("c", "cancel_task", "Cancel"),
            ("R", "rerun", "Re-run"), ("y", "copy_url", "Copy URL"),
            ("u", "resolve", "Resolve"), ("f", "favourite", "Favourite"),
            ("t", "tags", "Tags"), ("n", "note", "Note"), ("x", "forget", "Forget"),
            ("v", "play", "Play"))


class DetailScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "dismiss", "Close", id="detail.close"),
        *(Binding(key, f"row('{action}')", label, show=key in ("d", "v"), id=f"detail.{key}")
          for key, action, label in ROW_KEYS),
    ]

    def __init__(self, generation_id: int, content: Text) -> None:
        super().__init__()
        self.generation_id = generation_id
        self.content = content

    @property
    def pixverse(self) -> PixverseApp:
        return cast("PixverseApp", self.app)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-box"):
            yield Static(self.content, id="detail-full")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(REDRAW_EVERY, self._redraw, name="redraw")

    async def _redraw(self) -> None:
        app = self.pixverse
        if app.store is None:
            return
        try:
            row = await app.store.generations.get(self.generation_id)
            if row is None:
                self.dismiss()
                return
            events = await app.store.generations.events(row.id)
            tags = await app.store.history.tags_of(row.id)
        except StoreError as exc:
            app.store_trouble(exc)
            return
        self.query_one("#detail-full", Static).update(describe(
            row, events, app.now(), status_style(app.current_theme, row.display_status), tags))

    async def action_row(self, action: str) -> None:
        """The table's key, for the task this screen shows (as it is now)."""
        app = self.pixverse
        if app.main is None or app.store is None:
            return
        try:
            row = await app.store.generations.get(self.generation_id)
        except StoreError as exc:
            app.store_trouble(exc)
            return
        if row is not None:
            await app.main.act_on(row, action)
