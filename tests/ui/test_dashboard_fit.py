"""Batches, the detail views, the player, the config, and fitting the terminal."""

from __future__ import annotations

import asyncio
import io
import stat
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Input, Static

from storage import TaskStore
from tests.ui.helpers import app_for, composer, statuses, table, type_prompt, until
from tests.ui.test_live_views import record, seed
from tui.engine.media import player
from tui.simulator import Simulator
from tui.ui.screens.detail import DetailScreen
from tui.ui.widgets.detail import DetailPane


def detail_text(app) -> str:  # type: ignore[no-untyped-def]
    """The detail pane's content as text (a Text, or a batch's Table)."""
    out = Console(width=200, record=True, file=io.StringIO())
    out.print(app.main.query_one("#detail-body", Static).content)
    return out.export_text()


async def submit_batch(pilot, app, prompt: str, n: int) -> None:  # type: ignore[no-untyped-def]
    await type_prompt(pilot, app, prompt)
    app.main.query_one("#variations", Input).value = str(n)
    await pilot.pause()
    await pilot.press("ctrl+j")


async def test_a_batch_folds_into_one_row_and_shows_its_variations(sim: Simulator,
                                                                   tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=(160, 40)) as pilot:
        await submit_batch(pilot, app, "A paper boat on a pond", 3)
        await until(pilot, lambda: statuses(app) == ["SUCCEEDED"] * 3, timeout=20)
        table(app).focus()
        await pilot.press("z")
        await until(pilot, lambda: len(table(app).rows_by_id) == 1, what="one row")
        [row] = table(app).rows_in_order
        cells = table(app).get_row(str(row.id))
        assert any("3/3" in str(c) for c in cells) and any("×3" in str(c) for c in cells)
        await until(pilot, lambda: "×3 A paper boat on a pond" in detail_text(app))
        assert detail_text(app).count("seed") == 3  # the variations side by side
        await pilot.press("z")
        await until(pilot, lambda: len(table(app).rows_by_id) == 3, what="unfolded")


async def test_a_failed_task_shows_its_error_first(tmp_path: Path) -> None:
    failed = record(1, "FAILED", prompt="a storm at sea")
    failed.update(error_code="DataInspectionFailed", error_message="Output may be unsafe.")
    await seed(tmp_path, [failed])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: "DataInspectionFailed" in detail_text(app))
        text = detail_text(app)
        assert text.index("DataInspectionFailed") < text.index("Prompt")
        assert text.index("Rephrase the prompt") < text.index("a storm at sea")
        assert text.index("Video URL") < text.index("Task id")


async def test_full_screen_details_are_live_and_take_the_row_keys(sim: Simulator,
                                                                  tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=(160, 40)) as pilot:
        await type_prompt(pilot, app, "a lighthouse")
        await pilot.press("ctrl+j")
        await until(pilot, lambda: statuses(app) == ["SUCCEEDED"], timeout=20)
        table(app).focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("d")  # downloads from here, and the details follow
        await until(pilot, lambda: "SHA-256" in str(app.screen.query_one(
            "#detail-full").render()), timeout=20, what="the saved file in the details")
        await pilot.press("escape")
    assert len(list((tmp_path / "downloads").glob("*.mp4"))) == 1


async def test_v_plays_with_the_configured_player(tmp_path: Path) -> None:
    marker = tmp_path / "played"
    fake = tmp_path / "fake-player"
    fake.write_text(f"#!/bin/sh\necho \"$1\" > {marker}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 10)
    saved = record(1, "SUCCEEDED", prompt="a saved one")
    saved.update(download_state="done", download_path=str(video), download_bytes=10)
    await seed(tmp_path, [saved])
    (tmp_path / "config.toml").write_text(f'[player]\ncommand = "{fake}"\n')
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 1)
        table(app).focus()
        await pilot.press("v")
        await until(pilot, lambda: marker.exists(), what="the player started")
    assert marker.read_text().strip() == str(video)


def test_no_display_over_ssh_says_so(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    try:
        player.command_for(video, None, {"SSH_CONNECTION": "1.2.3.4 1 5.6.7.8 22"})
    except player.NoPlayer as exc:
        assert "no display" in str(exc) and "y" in str(exc)
    else:
        raise AssertionError("no refusal")
    try:
        player.command_for(video, None, {"PATH": str(tmp_path)})
    except player.NoPlayer as exc:
        assert "no video player found" in str(exc)
    else:
        raise AssertionError("no refusal")


async def test_config_reloads_and_its_warnings_are_one_notice(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    config = tmp_path / "config.toml"
    config.write_text('[polling]\nmin_interval = "x"\nqueries_per_scond = 3\n[ui]\ntheme = '
                      '"pixverse-lite"\n')
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await until(pilot, lambda: len(app._notifications) >= 1)
        [notice] = list(app._notifications)
        assert notice.title.startswith("Configuration: 3 problems")
        assert 'did you mean "pixverse-light"' in notice.message
        config.write_text('[keys]\nsubmit = "f6"\n[ui]\ntheme = "pixverse-light"\n')
        told: list[str] = []  # every toast, kept: a 3-second one can be gone under load
        shown = app.notify
        app.notify = lambda message, **kw: (told.append(str(message)),  # type: ignore[method-assign]
                                            shown(message, **kw))[1]
        table(app).focus()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.theme == "pixverse-light", what="the new theme")
        assert "f6 submits" in str(composer(app).prompt.border_title)
        await until(pilot, lambda: "Config reloaded." in told)


async def test_a_theme_chosen_in_config_wins_over_the_remembered_one(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "state.toml").write_text('theme = "pixverse-contrast"\n'
                                         'config_theme = "pixverse-dark"\n')
    (tmp_path / "config.toml").write_text('[ui]\ntheme = "pixverse-light"\n')
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "pixverse-light"  # config changed since: it wins
    (tmp_path / "state.toml").write_text('theme = "pixverse-contrast"\n'
                                         'config_theme = "pixverse-light"\n')
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "pixverse-contrast"  # remembered: picked in the app since


async def test_80x24_shows_ten_rows_and_q_quits(tmp_path: Path) -> None:
    await seed(tmp_path, [record(n, "SUCCEEDED", minutes_ago=100 - n) for n in range(30)])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 30)
        table(app).focus()  # the composer folds to one line: the layout settles after it
        await until(pilot, lambda: table(app).size.height - 1 >= 10, what="ten rows")
        assert "task" in table(app).hidden and "prompt" not in table(app).hidden
        await pilot.press("m")  # the table alone
        await until(pilot, lambda: table(app).size.height - 1 >= 19, what="the table alone")
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_three_frames_fit_the_side_pane_at_200_columns(sim: Simulator,
                                                             tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=(200, 50)) as pilot:
        await type_prompt(pilot, app, "a red fox")
        await pilot.press("ctrl+j")
        await until(pilot, lambda: statuses(app) == ["SUCCEEDED"], timeout=20)
        table(app).focus()
        await pilot.press("d")
        pane = app.main.query_one(DetailPane)
        preview = pane.query_one("#preview")
        await until(pilot, lambda: preview.display and "s" in str(preview.render()),
                    timeout=20, what="the frames")
        rendered = str(preview.render()).splitlines()
        width = max(len(line) for line in rendered)
        assert width <= pane.content_region.width, (width, pane.content_region.width)
        assert len(rendered) <= 9  # frames, not wrapped


async def test_quitting_while_the_store_is_tidied_ends_cleanly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped in the first second, while the store's housekeeping (after the first
    paint) is still under way: the dashboard ends without a traceback — the store is
    closed after the housekeeping, never under it."""
    from tui.engine.workspace import Workspace

    tidying = asyncio.Event()
    real = Workspace.tidy_store

    async def slow_tidy(self: Workspace, store: TaskStore) -> None:
        tidying.set()
        await asyncio.sleep(0.5)  # a large trash, a slow disk
        await real(self, store)

    monkeypatch.setattr(Workspace, "tidy_store", slow_tidy)
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(120, 30)):
        await asyncio.wait_for(tidying.wait(), 30)
    # (leaving the block ends the app as a stop signal does: no key, no dialog)
    assert app.return_code in (0, None)
