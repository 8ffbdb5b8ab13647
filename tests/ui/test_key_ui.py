"""The dashboard with a key that cannot go into a header (issue 13, point 2): the toast,
the row and the detail pane say the request was not sent — never UNCONFIRMED, never
the key."""

from __future__ import annotations

from pathlib import Path

from tests.ui.helpers import until, workspace
from tests.ui.test_safety_ui import (
    SIZE,
    highlight,
    pane_shows,
    row_named,
    shows,
    submit,
    toasts,
)
from tui.dashscope import ApiKey
from tui.simulator import Simulator
from tui.ui.app import PixverseApp

PIECES = ("SECRETKEY12", "TAILPIECE77")


def smuggled(value: str) -> ApiKey:
    """A key that skipped the checks made when a key is read."""
    key = object.__new__(ApiKey)
    key._value = value  # type: ignore[attr-defined]
    return key


async def test_a_key_that_cannot_be_sent_shows_not_sent_and_never_the_key(
        sim: Simulator, home: Path) -> None:
    ws = workspace(home, sim)
    ws.key = smuggled("sk-SECRETKEY12\nTAILPIECE77")
    app = PixverseApp(ws)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await submit(pilot, app, "a fox in the snow")
        await until(pilot, lambda: "Not sent" in toasts(app), what="the refusal")
        assert "not sent" in toasts(app)
        await shows(pilot, app, "refusal toast", "not sent", within="Toast")
        # nothing left: it waits, the queue paused (the row follows the toast)
        await until(pilot, lambda: getattr(row_named(app, "a fox in the snow"),
                                           "display_status", None) == "QUEUED",
                    what="the row back in the queue")
        row = row_named(app, "a fox in the snow")
        assert row is not None
        await highlight(pilot, app, row.id, "QUEUED")
        text = await pane_shows(pilot, app, "queued details", "not sent")
        for piece in PIECES:
            assert piece not in toasts(app) and piece not in text
    assert sim.requests == []
