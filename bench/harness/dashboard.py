"""The real dashboard in a bench: what it says went wrong, on stderr.

Only public ways in (``App.notify``, the poller's ``health``), so a bench keeps
working while the screen's insides change."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tui.ui.app import PixverseApp


def stamped(who: str, *, clock: bool = True) -> Callable[[str], None]:
    """A logger: each line on stderr with who said it, and the time unless ``clock`` is
    off (then equal lines stay equal, for a bench that counts them by kind)."""

    def log(text: str) -> None:
        when = f"{datetime.now():%H:%M:%S} " if clock else ""
        print(f"{when}{who}{' ' if who else ''}{text}", file=sys.stderr, flush=True)

    return log


def log_troubles(app: PixverseApp, who: str = "", *, clock: bool = True) -> asyncio.Task[None]:
    """Every warning or error toast, and every change of the poller's health, on stderr
    (the app itself is unchanged); call inside the running loop, cancel the task at the end."""
    log = stamped(who, clock=clock)
    notify = app.notify

    def on_notify(message: str, **kwargs: Any) -> None:
        if kwargs.get("severity", "information") != "information":
            log(f"toast ({kwargs.get('title', '')}): {message}")
        notify(message, **kwargs)

    app.notify = on_notify  # type: ignore[method-assign]

    async def watch_health() -> None:
        seen = "ok"
        while True:
            poller = app.poller
            if poller is not None and poller.health.value != seen:
                seen = poller.health.value
                log(f"poller {seen}: {poller.health_detail}")
            await asyncio.sleep(0.1)

    return asyncio.create_task(watch_health())
