"""Pilot drives the real app against the simulator over loopback."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox, Input, Select, Static

from storage import open_store
from tests.conftest import KEY, make_sim, same_video
from tests.ui.helpers import (
    app_for,
    cell,
    composer,
    composer_ready,
    static_lines,
    statuses,
    table,
    type_prompt,
    until,
)
from tui.simulator import Simulator
from tui.ui.dialogs.choice import ChoiceScreen
from tui.ui.screens.welcome import WelcomeScreen
from tui.ui.state import read_state
from tui.ui.widgets.detail import DetailPane

SIZE = (120, 40)


async def test_compose_submit_follow_download(tmp_path: Path) -> None:
    with make_sim(speed=60.0, min_work=180.0, max_work=180.0) as sim:  # RUNNING for 3 s
        await _compose_submit_follow_download(sim, tmp_path)


async def _compose_submit_follow_download(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.focused is composer(app).prompt  # typing can start at once
        await pilot.press(*"a red fox")
        await pilot.press("ctrl+j")
        await until(pilot, lambda: statuses(app) == ["RUNNING"], what="running")
        assert cell(app, 0, "status").startswith("▶ RUNNING")
        await until(pilot, lambda: statuses(app) == ["SUCCEEDED"], what="success")
        assert composer(app).prompt.text == ""  # ready for the next prompt
        table(app).focus()
        await pilot.press("d")
        await until(pilot, lambda: table(app).rows_by_id[1].download_state == "done",
                    what="download")
        row = table(app).rows_by_id[1]
        data = Path(row.download_path or "").read_bytes()
        assert same_video(data, sim.clip("16x9"))
        await until(pilot, lambda: "saved" in cell(app, 0, "download"))
        detail = app.screen.query_one(DetailPane).query_one("#detail-body").render()
        assert "SUCCEEDED" in str(detail) and "fps" in str(detail)
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert KEY.encode() not in file.read_bytes()


async def test_variations_submit_n_tasks_with_consecutive_seeds(sim: Simulator,
                                                                tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await type_prompt(pilot, app, "three cats")
        app.screen.query_one("#seed", Input).value = "100"
        app.screen.query_one("#variations", Input).value = "3"
        await pilot.pause()
        await pilot.press("f5")
        await until(pilot, lambda: len(table(app).rows_by_id) == 3, what="three rows")
    tasks = [t for a in sim.world.accounts.values() for t in a.tasks.values()]
    assert sorted(t.seed for t in tasks) == [100, 101, 102]


async def test_invalid_combinations_cannot_be_submitted(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await composer_ready(pilot, app)
        await pilot.press("ctrl+j")  # empty prompt
        await pilot.pause()
        assert not table(app).rows_by_id
        assert any("prompt is empty" in n.message for n in app._notifications)
        app.screen.query_one("#duration", Select).value = 10
        app.screen.query_one("#tier", Select).value = "1080P"
        await pilot.pause()
        duration = app.screen.query_one("#duration", Select)
        assert duration.value == 8  # 10 s is not offered at 1080P
        assert [v for _, v in duration._options] == [5, 8]
        await type_prompt(pilot, app, "x" * 2100)
        assert "will be truncated" in str(composer(app).prompt.border_subtitle)
    assert not sim.requests


async def test_cancel_a_pending_task(slow_sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, slow_sim)
    async with app.run_test(size=SIZE) as pilot:
        await type_prompt(pilot, app, "cancel me")
        await pilot.press("ctrl+j")
        await until(pilot, lambda: statuses(app) == ["PENDING"], what="pending")
        await pilot.press("escape")
        assert app.focused is table(app)
        await pilot.press("c")
        await until(pilot, lambda: statuses(app) == ["CANCELED"], what="canceled")


async def test_reuse_loads_prompt_and_settings(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await type_prompt(pilot, app, "reuse me")
        app.screen.query_one("#tier", Select).value = "1080P"
        app.screen.query_one("#ratio", Select).value = "9:16"
        app.screen.query_one("#audio", Checkbox).value = True
        app.screen.query_one("#seed", Input).value = "42"
        await pilot.pause()
        await pilot.press("ctrl+j")
        await until(pilot, lambda: len(table(app).rows_by_id) == 1)
        composer(app).apply_settings({"tier": "360P", "ratio": "1:1", "audio": False,
                                      "seed": "random"})
        table(app).focus()
        await pilot.press("r")
        await pilot.pause()
        settings = composer(app).settings()
        assert composer(app).prompt.text == "reuse me"
        assert (settings["tier"], settings["ratio"], settings["audio"], settings["seed"]) == (
            "1080P", "9:16", True, 42)
        assert app.focused is composer(app).prompt
        await type_prompt(pilot, app, "a draft that must survive")
        table(app).focus()
        await pilot.press("R")  # re-run: asks first, because it costs money
        await pilot.pause()
        await pilot.click("#answer-submit")
        await until(pilot, lambda: len(table(app).rows_by_id) == 2)
        assert composer(app).prompt.text == "a draft that must survive"
    seeds = sorted(t.seed for a in sim.world.accounts.values() for t in a.tasks.values())
    assert seeds == [42, 42]


async def test_filter(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        for prompt in ("a red fox", "a blue whale", "一只小猫在月光下奔跑"):
            await type_prompt(pilot, app, prompt)
            await pilot.press("ctrl+j")
            await until(pilot, lambda: not app.main.flow.busy)
        await until(pilot, lambda: len(table(app).rows_by_id) == 3)
        table(app).focus()
        await pilot.press("slash", *"whale")
        await until(pilot, lambda: len(table(app).rows_by_id) == 1)
        assert cell(app, 0, "prompt") == "a blue whale"
        app.screen.query_one("#filter", Input).value = "月光下"
        await until(pilot, lambda: [r.prompt for r in table(app).rows_by_id.values()] == [
            "一只小猫在月光下奔跑"])
        await pilot.press("escape")
        await until(pilot, lambda: len(table(app).rows_by_id) == 3)


async def test_markup_in_a_prompt_is_shown_literally(sim: Simulator, tmp_path: Path) -> None:
    prompt = "[bold red]not bold[/] [link=x]y[/link] [@click=app.quit]z[/]"
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await type_prompt(pilot, app, prompt)
        await pilot.press("ctrl+j")
        await until(pilot, lambda: len(table(app).rows_by_id) == 1)
        assert cell(app, 0, "prompt").startswith("[bold red]not bold[/]")
        body = app.screen.query_one(DetailPane).query_one("#detail-body")
        await until(pilot, lambda: prompt in str(body.render()), what="the prompt, literally")
        assert app.is_running


async def test_a_broken_config_names_the_key_and_still_starts(sim: Simulator,
                                                              tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "config.toml").write_text(
        "[composer]\ntierr = \"1080P\"\nduration = 11\n[keys]\nsubmitt = \"f6\"\n")
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        messages = " | ".join(n.message for n in app._notifications)
        assert "line 2" in messages and 'did you mean "tier"' in messages
        assert "duration" in messages and "line 3" in messages
        assert 'did you mean "submit"' in messages
        await type_prompt(pilot, app, "still works")
        await pilot.press("ctrl+j")
        await until(pilot, lambda: len(table(app).rows_by_id) == 1)


async def test_an_unreadable_config_file_still_starts(sim: Simulator, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[composer\n")
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await composer_ready(pilot, app)
        assert any("using the defaults" in n.message for n in app._notifications)
        assert composer(app).settings()["tier"] == "720P"


async def test_keys_can_be_rebound_from_config(sim: Simulator, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[keys]\nsubmit = "f6"\n')
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await type_prompt(pilot, app, "rebound")
        await pilot.press("f6")
        await until(pilot, lambda: len(table(app).rows_by_id) == 1)
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        shown = "\n".join(static_lines(app.screen.query_one("#keys-box Static", Static)))
        assert "f6" in shown and "table.download" in shown


async def test_restart_keeps_history_and_resumes_polling(tmp_path: Path) -> None:
    with make_sim(speed=1.0, queue_delay=(0.5, 0.5), min_work=2.0, max_work=2.0) as sim:
        sim.world.min_work = sim.world.max_work = 3.0
        first = app_for(tmp_path, sim)
        async with first.run_test(size=SIZE) as pilot:
            await type_prompt(pilot, first, "survives a restart")
            await pilot.press("ctrl+j")
            await until(pilot, lambda: statuses(first) in (["PENDING"], ["RUNNING"]))
        second = app_for(tmp_path, sim)
        async with second.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert [r.prompt for r in table(second).rows_by_id.values()] == [
                "survives a restart"]
            await until(pilot, lambda: statuses(second) == ["SUCCEEDED"], timeout=20)


async def test_rows_from_another_process_appear_and_update_in_place(
        sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        other = await open_store(tmp_path / "tasks.db")  # e.g. the CLI in a terminal
        row = await other.intents.add(endpoint=sim.base_url, model="m", prompt="from the cli",
                                      size="1280*720", duration=5)
        await until(pilot, lambda: statuses(app) == ["SUBMITTING"])
        row_key = next(iter(table(app).rows))
        await other.intents.mark_accepted(row.id, task_id="t-1", status="PENDING", request_id=None,
                                          next_poll_in=60)
        await until(pilot, lambda: statuses(app) == ["PENDING"])
        assert next(iter(table(app).rows)) is row_key  # same row, updated in place
        await other.close()


async def test_no_key_shows_how_to_set_one(tmp_path: Path) -> None:
    from tests.ui.helpers import workspace
    from tui.ui.app import PixverseApp

    app = PixverseApp(workspace(tmp_path, None, key=None))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        text = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "DASHSCOPE_API_KEY" in text
        await pilot.press("d")
        await pilot.pause()
    assert app.return_value == "demo"


async def test_theme_persists(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert {"pixverse-dark", "pixverse-light", "pixverse-contrast",
                "pixverse-terminal"} <= set(app.available_themes)
        app.theme = "pixverse-light"
        await pilot.pause()
        await pilot.press("ctrl+q")
    assert read_state(tmp_path / "state.toml")["theme"] == "pixverse-light"
    again = app_for(tmp_path, sim)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.theme == "pixverse-light"


async def test_a_failing_worker_becomes_a_notification(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        async def broken() -> None:
            raise RuntimeError("boom")

        app.run_worker(broken(), name="poller", group="poller", exclusive=True,
                       exit_on_error=False)
        await until(pilot, lambda: any("boom" in n.message for n in app._notifications))
        assert app.is_running

        def poller_running() -> bool:
            return any(w.group == "poller" and w.name == "poller" and not w.is_finished
                       for w in app.workers)

        await until(pilot, poller_running, what="the poller to be restarted")


async def test_failed_download_says_why_and_retries(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await type_prompt(pilot, app, "flaky network")
        await pilot.press("ctrl+j")
        await until(pilot, lambda: statuses(app) == ["SUCCEEDED"])
        sim.inject(on="media", kind="truncate")
        await pilot.press("escape", "d")
        await until(pilot, lambda: table(app).rows_by_id[1].download_state == "failed")
        assert any("closed before the whole video" in n.message for n in app._notifications)
        await until(pilot, lambda: "retry" in cell(app, 0, "download"))
        await pilot.press("d")
        await until(pilot, lambda: table(app).rows_by_id[1].download_state == "done")
        assert same_video(Path(table(app).rows_by_id[1].download_path or "").read_bytes(),
                          sim.clip("16x9"))


async def test_auto_download_copy_url_and_details(sim: Simulator, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[downloads]\nauto = true\n")
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        for prompt in ("one", "two"):
            await type_prompt(pilot, app, prompt)
            await pilot.press("ctrl+j")
            await until(pilot, lambda: not app.main.flow.busy)
        await until(pilot, lambda: [r.download_state for r in table(app).rows_by_id.values()]
                    == ["done", "done"], what="auto downloads")
        await pilot.press("escape", "y")
        assert app.clipboard.startswith(sim.origin + "/media/")
        await pilot.press("enter")
        await pilot.pause()
        from tui.ui.screens.detail import DetailScreen

        assert isinstance(app.screen, DetailScreen)
        assert "Usage" in str(app.screen.query_one("Static").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_download_all_finished(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await type_prompt(pilot, app, "many")
        app.screen.query_one("#variations", Input).value = "3"
        await pilot.pause()
        await pilot.press("ctrl+j")
        await until(pilot, lambda: statuses(app) == ["SUCCEEDED"] * 3)
        await pilot.press("escape", "D")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        assert "Download 3 finished videos?" in str(app.screen.question)
        await pilot.press("tab", "enter")  # "Cancel" has the focus: choose "Download"
        await until(pilot, lambda: all(r.download_state == "done"
                                       for r in table(app).rows_by_id.values()))
    assert len(list((tmp_path / "downloads").glob("*.mp4"))) == 3


async def test_the_table_follows_the_terminal_width(tmp_path: Path) -> None:
    """The prompt column takes what the fixed columns leave, as the terminal grows and
    shrinks: the table's scrollable width is its columns' (no sideways scrollbar, no
    column cut off)."""
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=(120, 40)) as pilot:
        t = table(app)
        for width in (140, 110, 150, 120):
            await pilot.resize_terminal(width, 40)
            await until(pilot, lambda wanted=width: t.size.width >= wanted - 4,
                        what=f"width {width}")
            await pilot.pause()
            columns = sum(c.get_render_width(t) for c in t.columns.values())
            assert t.hidden == ()
            assert t.virtual_size.width == columns <= t.scrollable_content_region.width
            assert not t.scrollbars_enabled[1]
