"""One line at the top: endpoint and region, DEMO badge, tasks in flight, poller health."""

from __future__ import annotations

from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from tui.safe_text import printable


class StatusBar(Static):
    def render_status(self, *, endpoint: str, region: str, demo: bool, in_flight: int,
                      health: str, detail: str, updated: datetime | None,
                      window: str = "", expiring: int = 0, foreign: int = 0) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if demo:
            text.append(" DEMO ", Style(bold=True, reverse=True))
            text.append(" ")
        text.append("PixVerse v5.6", Style(bold=True))
        text.append(f" · {in_flight} in flight · ")
        if window:
            text.append(f"{window} · ")
        if expiring:
            text.append(f"⚠ {expiring} expire < 2 h · ", Style(color="yellow", bold=True))
        if foreign:
            text.append(f"{foreign} foreign · ", Style(dim=True))
        colour = {"ok": "green", "backing off": "yellow", "offline": "red",
                  "halted": "red", "database busy": "yellow"}.get(health, "")
        if health == "followed":  # another process polls; this one reads the store
            text.append(printable(detail or "polled by another process"), Style(dim=True))
        else:
            text.append(f"poller {health}", Style(color=colour or None, bold=health != "ok"))
            if detail and health != "ok":
                text.append(f" ({printable(detail)})", Style(dim=True))
        if updated is not None:
            text.append(f" · {updated.astimezone().strftime('%H:%M:%S')}")
        text.append(f" · {region} ")
        text.append(printable(endpoint), Style(dim=True))
        self.update(text)
