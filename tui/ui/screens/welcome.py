"""Shown when no API key is set: how to set one, and the demo instead."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Static

from tui.ui.actions import Where
from tui.ui.bindings import bindings
from tui.ui.widgets.footer import Footer

MESSAGE = """No DashScope API key is set, so there is nothing to connect to yet.

Set it the way the official SDK reads it, then start pixverse-tui again:

    export DASHSCOPE_API_KEY=sk-...
    # or keep it in a file:
    export DASHSCOPE_API_KEY_FILE_PATH=~/.dashscope_api_key

Keys are created in the Model Studio console (Beijing region). The key is never \
stored or shown by pixverse-tui.

Or try everything now against the built-in simulator — no key, no cost."""


class WelcomeScreen(Screen[None]):
    PLACE = Where.WELCOME
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="welcome-box"):
            yield Static(Text("pixverse-tui", style="bold"))
            yield Static(Text(MESSAGE))
            yield Button("Open the demo (d)", id="open-demo", variant="primary")
        yield Footer()

    @on(Button.Pressed, "#open-demo")
    def action_demo(self) -> None:
        self.app.exit(result="demo")
