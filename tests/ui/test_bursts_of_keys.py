"""Keys that arrive in one burst — a browser tab's keystrokes come over a WebSocket
(``pixverse-tui serve``), a fast typist over SSH — are applied in order: the submit key
sends the prompt with every character typed before it, never a truncated one (a
different, billed video)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from tests.conftest import KEY
from tests.ui.helpers import app_for, composer, composer_ready, table, until
from tests.ui.test_history_ui import seeded
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



async def test_a_correction_in_a_burst_is_the_prompt_sent(sim: Simulator,
                                                         tmp_path: Path) -> None:
    """A typo put right within the burst (``foz`` ⌫ ``x``) is sent put right: the
    backspace deletes the ``z``, not the ``x`` typed after it."""
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.focused is composer(app).prompt
        for char in "a red foz":
            app.post_message(events.Key("space" if char == " " else char, char))
        app.post_message(events.Key("backspace", "\x7f"))
        app.post_message(events.Key("x", "x"))
        app.post_message(events.Key("ctrl+j", None))
        await until(pilot, lambda: sim.traffic.count("create") == 1, what="the create")
        await pilot.pause(0.3)
        assert [t.prompt for t in sim.world.listing(KEY)] == ["a red fox"]

async def test_backspaces_in_a_burst_edit_the_search_in_the_order_typed(
        tmp_path: Path) -> None:
    """``rain ti`` then ⌫⌫fo in one burst (one read of the terminal, as tmux's
    ``send-keys BSpace BSpace f o`` writes it) is ``rain fo``.  Textual types a character
    where the box is, but runs a bound key (backspace, ←, Home…) only once the key has
    bubbled up to the App: the box used to type ``fo`` first, then delete it."""
    await seeded(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 3, what="the history")
        table(app).focus()
        await pilot.press("slash", *"rain", "space", *"ti")
        box = app.screen.query_one("#filter", Input)
        await until(pilot, lambda: box.value == "rain ti", what="the search typed")
        values: list[str] = []
        app.screen.watch(box, "value", lambda value: values.append(value), init=False)
        for key, char in [("backspace", "\x7f"), ("backspace", "\x7f"), ("f", "f"),
                          ("o", "o")]:  # all at once, before the app has handled any
            app.post_message(events.Key(key, char))
        await until(pilot, lambda: len(values) == 4, what="four edits of the search")
        assert values == ["rain t", "rain ", "rain f", "rain fo"]
        assert app.focused is box


async def test_the_seed_box_takes_a_correction_in_a_burst_in_order(tmp_path: Path) -> None:
    """The composer's other boxes (seed, variations) and a dialog's answer edit in the
    order typed too: 12 ⌫ 3 in one burst is the seed 13."""
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await composer_ready(pilot, app)
        seed = composer(app).query_one("#seed", Input)
        seed.focus()
        await pilot.pause()
        for key, char in [("1", "1"), ("2", "2"), ("backspace", "\x7f"), ("3", "3")]:
            app.post_message(events.Key(key, char))
        await until(pilot, lambda: seed.value == "13" or len(seed.value) >= 3,
                    what="the seed typed")
        await pilot.pause(0.2)
        assert seed.value == "13"


@pytest.mark.parametrize(("leave", "kept"), [(("enter", "\r"), "a"), (("escape", "\x1b"), "")])
async def test_keys_typed_after_enter_in_a_burst_go_to_the_table(
        tmp_path: Path, leave: tuple[str, str], kept: str) -> None:
    """``a`` ⏎ ``j`` in one burst: the search keeps "a" and the ``j`` moves the
    table's cursor — it used to land in the search box ("aj"), which Textual was still
    focusing when it read the burst.  The same after escape."""
    await seeded(tmp_path)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 3, what="the history")
        table(app).focus()
        await pilot.press("slash")
        box = app.screen.query_one("#filter", Input)
        await until(pilot, lambda: app.focused is box, what="the search box")
        for key, char in [("a", "a"), leave, ("j", "j")]:
            app.post_message(events.Key(key, char))
        await until(pilot, lambda: app.focused is table(app) and table(app).cursor_row == 1,
                    what="the j moving the table's cursor")
        assert box.value == kept
