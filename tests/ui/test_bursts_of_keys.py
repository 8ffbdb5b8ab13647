"""Keys that arrive in one burst — a browser tab's keystrokes come over a WebSocket
(``pixverse-tui serve``), a fast typist over SSH — are applied in order: the submit key
sends the prompt with every character typed before it, never a truncated one (a
different, billed video)."""

from __future__ import annotations

from pathlib import Path

from textual import events

from tests.conftest import KEY
from tests.ui.helpers import app_for, composer, until
from tui.simulator import Simulator

SIZE = (120, 40)


async def test_the_submit_key_at_the_end_of_a_burst_sends_the_whole_prompt(
        sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.focused is composer(app).prompt
        prompt = "a red fox in fresh snow"
        for char in prompt:  # all at once, before the app has handled any of them
            key = "space" if char == " " else char
            app.post_message(events.Key(key, char))
        app.post_message(events.Key("ctrl+j", None))
        await until(pilot, lambda: sim.traffic.count("create") == 1, what="the create")
        await pilot.pause(0.3)
        assert [t.prompt for t in sim.world.listing(KEY)] == [prompt]
