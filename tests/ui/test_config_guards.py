"""What the user's own files ask of the dashboard cannot break it: theme files that are
wrong start the app with one warning each; a damaged state file is forgotten."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_theme_files import BAD, GOOD
from tests.ui.helpers import app_for, cell, composer, composer_ready, table, type_prompt, until
from tui.simulator import Simulator

SIZE = (120, 40)
USABLE = ('name = "usable"\nprimary = "#1e90ff"\ndark = false\nansi = false\n'
          'luminosity_spread = 0.2\ntext_alpha = 0.9\n[variables]\n'
          'block-cursor-text-style = "bold underline"\ntext = "auto 80%"\n'
          'link-background = "initial"\nstatus-running = "#00ff00"\n')


def themes_folder(home: Path) -> Path:
    themes = home / "themes"
    themes.mkdir(parents=True)
    for stem, (content, _words) in BAD.items():
        data = content if isinstance(content, bytes) else content.encode()
        (themes / f"{stem}.toml").write_bytes(data)
    (themes / "mine.toml").write_text(GOOD)
    (themes / "usable.toml").write_text(USABLE)
    return themes


async def test_bad_theme_files_start_the_app_with_a_warning_each(sim: Simulator,
                                                                 tmp_path: Path) -> None:
    """Even the selected theme being one of them (``primary = 123``)."""
    themes_folder(tmp_path)
    (tmp_path / "config.toml").write_text('[ui]\ntheme = "c"\n')  # primary-number.toml
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.is_running and app.theme == "pixverse-dark"
        shown = "\n".join(n.message for n in app._notifications)
        for stem in BAD:
            assert shown.count(f"/{stem}.toml") == 1, (stem, shown)
        assert "primary-number.toml, line 2: primary = 123 is not a colour" in shown
        assert "Theme 'c' is not installed" in shown
        await type_prompt(pilot, app, "still works")
        await pilot.press("ctrl+j")
        await until(pilot, lambda: len(table(app).rows_by_id) == 1, what="the new task")
        assert cell(app, 0, "prompt").startswith("still works")


async def test_every_theme_that_loads_can_be_applied(sim: Simulator, tmp_path: Path) -> None:
    themes_folder(tmp_path)
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert {"mine", "usable"} <= set(app.available_themes)
        ours = sorted(n for n in app.available_themes if n.startswith("pixverse-"))
        for name in ["mine", "usable", *ours]:  # the user's and the bundled ones
            app.theme = name
            await pilot.pause()
            assert app.is_running and app.theme == name


@pytest.mark.parametrize("state", ['theme = 5\n', 'theme = ["x"]\nconfig_theme = 3\n',
                                   'composer = "x"\n', 'theme = "nope"\n'])
async def test_a_damaged_state_file_still_starts_the_app(tmp_path: Path, state: str) -> None:
    (tmp_path / "state.toml").write_text(state)
    app = app_for(tmp_path, None)
    async with app.run_test(size=SIZE) as pilot:
        await composer_ready(pilot, app)
        assert app.is_running and app.theme == "pixverse-dark"
        assert composer(app).settings()["tier"] == "720P"


# -- keys that would swallow typing -------------------------------------------------------


async def test_a_typing_key_for_an_action_that_acts_while_typing_is_refused(
        sim: Simulator, tmp_path: Path) -> None:
    """``submit = "q"``: q could not be typed in the prompt; refused, the default stays.
    Keys that a text field types first (the table's, ``keys``) may be anything."""
    (tmp_path / "config.toml").write_text(
        '[keys]\nsubmit = "q"\nquit = "shift+x"\n"table.download" = "s"\nkeys = "k"\n')
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = "\n".join(n.message for n in app._notifications)
        assert '[keys] submit = "q" is refused' in shown, shown
        assert '[keys] quit = "shift+x" is refused' in shown, shown
        assert "table.download" not in shown and "[keys] keys" not in shown
        composer(app).prompt.focus()
        await pilot.press("q", "u", "i", "e", "t", "space", "X", "k")
        await pilot.pause()
        assert composer(app).prompt.text == "quiet Xk" and app.is_running
        await pilot.press("ctrl+j")  # the default submit key still submits
        await until(pilot, lambda: len(table(app).rows_by_id) == 1, what="the new task")
        assert cell(app, 0, "prompt").startswith("quiet Xk")
        assert app.keys_for("submit") == "ctrl+j,f5" and app.keys_for("table.download") == "s"
