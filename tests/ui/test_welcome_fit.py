"""The panel shown without a key fits an 80×24 terminal: its border whole, its sentences
wrapped by the terminal's width rather than cut where the source broke them."""

from __future__ import annotations

from pathlib import Path

from tests.ui.helpers import workspace
from tui.ui.app import PixverseApp
from tui.ui.screens.welcome import WelcomeScreen


async def test_the_welcome_panel_fits_80_columns(tmp_path: Path) -> None:
    app = PixverseApp(workspace(tmp_path, None, key=None))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        box = app.screen.query_one("#welcome-box").region
        assert box.x >= 0 and box.right <= 80, box
        text = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "The key is never stored or shown" in " ".join(text.split())
        lines = [str(s.render()) for s in app.screen.query("Static")]
        assert not any(line.strip() == "never" for s in lines for line in s.splitlines())
