"""Templates, cost, budgets and batch files in the dashboard, against the simulator."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Select

from tests.conftest import make_sim
from tests.ui.helpers import app_for, composer, composer_ready, options_held, table, until
from tui.simulator import Simulator
from tui.ui.app import PixverseApp
from tui.ui.commands.submit import SubmitFlow
from tui.ui.dialogs.ask import AskScreen
from tui.ui.dialogs.batch import BatchScreen
from tui.ui.dialogs.choice import ChoiceScreen
from tui.ui.widgets.status_bar import StatusBar

SIZE = (140, 40)
PRICES = '[prices]\ncurrency = "CNY"\n"720P" = 0.5\n'


def prompts_at(sim: Simulator) -> Counter[str]:
    return Counter(t.prompt for a in sim.world.accounts.values() for t in a.tasks.values())


def summary(app: object) -> str:
    return str(composer(app).query_one("#problems").render())  # type: ignore[arg-type]


def status_text(app: object) -> str:
    return str(app.main.query_one(StatusBar).render())  # type: ignore[attr-defined]


async def open_batch_file(pilot: Pilot[None], app: PixverseApp, source: Path) -> None:
    """ctrl+o from the table, the file's path answered: wait for its preview."""
    table(app).focus()
    await pilot.press("ctrl+o")
    await until(pilot, lambda: isinstance(app.screen, AskScreen), what="the ask")
    app.screen.query_one("#answer").value = str(source)  # type: ignore[attr-defined]
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, BatchScreen), what="the preview")


async def test_the_composer_expands_a_template_shows_count_and_cost_and_sends_it(
        tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "config.toml").write_text(PRICES)
    with make_sim() as sim:
        app = app_for(tmp_path, sim)
        async with app.run_test(size=SIZE) as pilot:
            composer(app).prompt.load_text("a red {fox|owl} in {snow|rain}")
            await until(pilot, lambda: "4 prompts" in summary(app), what=summary(app))
            assert "about 10.00 CNY" in summary(app)
            await pilot.press("ctrl+j")
            await until(pilot, lambda: len(prompts_at(sim)) == 4, what="four creates")
            assert set(prompts_at(sim)) == {"a red fox in snow", "a red fox in rain",
                                            "a red owl in snow", "a red owl in rain"}
            await until(pilot, lambda: composer(app).prompt.text == "")


async def test_a_template_variable_is_asked_for_when_submitting(tmp_path: Path) -> None:
    with make_sim() as sim:
        app = app_for(tmp_path, sim)
        async with app.run_test(size=SIZE) as pilot:
            composer(app).prompt.load_text("a {subject} at dawn")
            await until(pilot, lambda: "subject asked when you submit" in summary(app))
            await pilot.press("ctrl+j")
            await until(pilot, lambda: isinstance(app.screen, AskScreen), what="the question")
            await pilot.press(*"heron|crane", "enter")
            await until(pilot, lambda: len(prompts_at(sim)) == 2, what="two creates")
            assert set(prompts_at(sim)) == {"a heron at dawn", "a crane at dawn"}


async def test_more_than_the_cap_asks_and_cancel_is_the_default(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "config.toml").write_text("[batch]\nask_above = 3\n")
    with make_sim() as sim:
        app = app_for(tmp_path, sim)
        async with app.run_test(size=SIZE) as pilot:
            composer(app).prompt.load_text("{a|b} {c|d}")
            await pilot.pause()
            await pilot.press("ctrl+j")
            await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the ask")
            assert "Send 4 tasks" in app.screen.question  # type: ignore[attr-defined]
            await pilot.press("enter")  # Cancel has the focus
            await until(pilot, lambda: not isinstance(app.screen, ChoiceScreen))
            await pilot.pause(0.3)
            assert not prompts_at(sim)


async def test_a_budget_refuses_in_the_dashboard_unless_told_to_go_over(
        tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "config.toml").write_text(PRICES + "[budget]\ndaily = 4\n")
    with make_sim() as sim:
        app = app_for(tmp_path, sim)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "4.00 of 4.00 CNY left today" in status_text(app),
                        what="the budget in the status bar")
            await composer_ready(pilot, app)
            composer(app).prompt.load_text("a fox")
            composer(app).query_one("#variations").value = "2"  # type: ignore[attr-defined]
            await pilot.pause()
            await pilot.press("ctrl+j")  # 5.00 CNY: over
            await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="refusal")
            assert "cross the daily budget" in app.screen.question  # type: ignore[attr-defined]
            await pilot.press("enter")  # "Don't send" has the focus
            await until(pilot, lambda: not isinstance(app.screen, ChoiceScreen))
            await pilot.pause(0.3)
            assert not prompts_at(sim)
            composer(app).query_one("#variations").value = "1"  # type: ignore[attr-defined]
            await pilot.pause()
            await pilot.press("ctrl+j")  # 2.50: fits
            await until(pilot, lambda: len(prompts_at(sim)) == 1)
            await until(pilot, lambda: "1.50 of 4.00 CNY left today" in status_text(app),
                        what="what is left")


async def test_a_batch_file_opens_as_a_preview_and_is_sent_once(tmp_path: Path) -> None:
    source = tmp_path / "shots.txt"
    source.write_text("# three shots\nA lantern on a river\nA {red|blue} kite\n")
    with make_sim() as sim:
        app = app_for(tmp_path / "home", sim)
        async with app.run_test(size=SIZE) as pilot:
            for attempt in range(2):
                await open_batch_file(pilot, app, source)
                facts = str(app.screen.query_one("#batch-facts").render())
                if attempt == 0:
                    assert "2 lines, 3 prompts — 3 to send" in facts
                    assert app.screen.focused.id == "cancel"  # type: ignore[union-attr]
                    app.screen.query_one("#send").press()
                    await until(pilot, lambda: len(prompts_at(sim)) == 3, what="sent")
                    # …and recorded: until then the second look says "1 being sent now"
                    # (tests/test_batches.py: a survey tells a send in flight from doubt)
                    assert app.main is not None
                    await until(pilot, lambda: not app.main.flow.busy,  # type: ignore[union-attr]
                                what="the answers recorded")
                else:
                    assert "3 sent before, 0 to send" in facts, facts
                    assert not app.screen.query("#send")
                    await pilot.press("escape")
            assert max(prompts_at(sim).values()) == 1
            await until(pilot, lambda: len(table(app).rows_by_id) == 3)


async def test_a_batch_file_with_problems_lists_them_and_cannot_be_sent(
        tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"prompt": "fine"}\n{"prompt": "x", "duration": 7}\n')
    with make_sim() as sim:
        app = app_for(tmp_path / "home", sim)
        async with app.run_test(size=SIZE) as pilot:
            await open_batch_file(pilot, app, source)
            problems = str(app.screen.query_one("#batch-problems").render())
            assert "bad.jsonl, line 2: Duration 7 s is not offered" in problems
            assert not app.screen.query("#send")
            await pilot.press("enter")  # Close
            await until(pilot, lambda: not isinstance(app.screen, BatchScreen))
            assert not prompts_at(sim)


async def test_a_batch_file_opened_before_the_options_are_mounted_takes_their_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ctrl+o in the first moments, before the composer's options are mounted (they come
    after the first page): the preview opens with the settings the options will show —
    the remembered ones — instead of its worker failing on a Select not set up yet."""
    source = tmp_path / "shots.txt"
    source.write_text("A lantern on a river\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.toml").write_text('[composer]\ntier = "1080P"\nduration = 8\n')
    gate = options_held(monkeypatch)
    with make_sim() as sim:
        app = app_for(home, sim)
        async with app.run_test(size=SIZE) as pilot:
            assert app.main is not None
            await until(pilot, lambda: table(app).display, what="the table")
            assert not app.main.query(Select)  # the options are not there yet
            await open_batch_file(pilot, app, source)
            facts = str(app.screen.query_one("#batch-facts").render())
            assert "defaults for lines that do not say: 1920*1080 · 8 s" in facts, facts
            assert not app._notifications
            await pilot.press("escape")
            promised = composer(app).settings()
            gate.set()
            await until(pilot, lambda: composer(app).complete, what="the options")
            assert composer(app).settings() == promised  # what they show is what was used


async def test_a_failing_worker_of_the_screen_is_told_not_silent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual tells a worker's failure only to its owner: the screen's own workers (a
    batch being opened, a submission, the preview's thread) reach the App's policy — a
    toast, its text shown as written."""
    async def broken(*_: object) -> None:
        raise RuntimeError("the [bold]disk[/bold] went away")

    monkeypatch.setattr(SubmitFlow, "open_batch", broken)
    with make_sim() as sim:
        app = app_for(tmp_path, sim)
        async with app.run_test(size=SIZE) as pilot:
            table(app).focus()
            await pilot.press("ctrl+o")
            await until(pilot, lambda: bool(app._notifications), what="a toast")
            toast = list(app._notifications)[-1]
            assert toast.severity == "error" and toast.markup is False
            assert "the [bold]disk[/bold] went away" in toast.message


async def test_a_long_batch_files_preview_keeps_its_buttons_on_an_80_by_24_screen(
        tmp_path: Path) -> None:
    """120 lines: the lines scroll inside the preview; Cancel and Send stay on screen (the
    table grew past the screen's bottom, and Send with it)."""
    source = tmp_path / "long.txt"
    source.write_text("".join(f"a fox, take {n}\n" for n in range(120)))
    with make_sim() as sim:
        app = app_for(tmp_path / "home", sim)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: table(app).display, what="the table")
            await open_batch_file(pilot, app, source)
            await pilot.pause()
            for button in ("#cancel", "#send"):
                region = app.screen.query_one(button).region
                assert region.height == 1 and region.bottom <= 24, (button, region)
            assert "120 to send" in str(app.screen.query_one("#batch-facts").render())
