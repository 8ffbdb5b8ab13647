"""One action registry: every binding comes from it, every id rebinds its action on every
screen and in every dialog, and the dialogs answer to ←/→ and to first letters."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import Button, Static

import tui.ui
from storage import open_store
from tests.ui.helpers import app_for, static_lines, table, until
from tests.ui.test_live_views import SIZE, record, seed
from tui.ui import actions, keymap
from tui.ui.actions import Where
from tui.ui.bindings import bindings, textual_action
from tui.ui.dialogs.answers import by_letter
from tui.ui.dialogs.choice import ChoiceScreen
from tui.ui.dialogs.keys import KeysScreen
from tui.ui.screens.detail import DetailScreen

# -- the registry (no screen) -------------------------------------------------------------------


def _nodes() -> list[type[DOMNode]]:
    """Every screen, widget, dialog and the App in tui/ui."""
    found: list[type[DOMNode]] = []
    for info in pkgutil.walk_packages(tui.ui.__path__, "tui.ui."):
        module = importlib.import_module(info.name)
        found += [value for value in vars(module).values() if isinstance(value, type)
                  and issubclass(value, DOMNode) and value.__module__ == info.name]
    return found


def test_every_binding_is_the_registrys_and_every_action_is_bound() -> None:
    bound: set[str] = set()
    for node in _nodes():
        for binding in vars(node).get("BINDINGS", []):
            assert isinstance(binding, Binding) and binding.id is not None, (
                f"{node.__name__} has a binding without an id: {binding}")
            action = actions.action(binding.id)
            place = getattr(node, "PLACE", None)
            assert place in action.where, f"{binding.id} bound on {node.__name__}"
            assert binding.action == textual_action(action, place)
            bound.add(binding.id)
    assert bound == set(actions.ids())
    assert len(actions.ids()) == len(set(actions.ids()))


def test_the_row_keys_of_the_details_are_the_tables() -> None:
    details = {b.id for b in bindings(Where.DETAILS) if isinstance(b, Binding)}
    assert {"table.download", "table.forget", "table.rerun", "detail.close"} <= details
    assert not any((b.id or "").startswith("detail.") and b.id != "detail.close"
                   for b in bindings(Where.DETAILS) if isinstance(b, Binding))


def test_the_registry_says_what_is_billed_destructive_and_active_while_typing() -> None:
    assert {a.id for a in actions.ACTIONS if a.billed} == {"submit", "open-batch",
                                                          "table.rerun"}
    assert {a.id for a in actions.ACTIONS if a.destructive} == {"table.cancel",
                                                               "table.forget"}
    # "/" gives way to typing: the filter is not opened from a text field.
    assert {a.id for a in actions.while_typing()} == {"quit", "submit"}
    assert actions.action("table.download").reach is actions.Reach.MARKED
    assert actions.action("table.download").scope == {"table", "details"}
    assert actions.action("keys").scope == {"anywhere", "details", "dialog"}


def test_keys_in_config_are_checked_against_every_id() -> None:
    read = keymap.read({"detail.close": "w", "choice.cancel": "ctrl+g", "submitt": "f6",
                        "table.download": ""})
    assert read.chosen == {"detail.close": "w", "choice.cancel": "ctrl+g"}
    assert read.problems[0].startswith('[keys] submitt is not a binding id (did you mean '
                                       '"submit"?)')
    assert "must be a key name" in read.problems[1]
    assert read.keys("detail.close") == "w" and read.keys("table.mark-all") == "*"


@pytest.mark.parametrize(("labels", "focused", "letter", "expected"), [
    (["Cancel", "Download"], 0, "d", (1, True)),
    (["Keep it", "Forget it", "Forget it and its file"], 0, "f", (1, False)),
    (["Keep it", "Forget it", "Forget it and its file"], 1, "F", (2, False)),
    (["Keep it", "Forget it", "Forget it and its file"], 2, "f", (1, False)),
    (["Cancel", "Cancel them"], 0, "x", None),
])
def test_a_letter_picks_its_answer_unless_several_share_it(
        labels: list[str], focused: int, letter: str, expected: tuple[int, bool] | None) -> None:
    assert by_letter(labels, focused, letter) == expected


# -- on screen ----------------------------------------------------------------------------------

def toasts(app: object) -> str:
    return " | ".join(n.message for n in app._notifications)  # type: ignore[attr-defined]


async def open_details(pilot: object, app: object) -> None:
    await until(pilot, lambda: len(table(app).rows_by_id) == 2)  # type: ignore[arg-type]
    table(app).focus()  # type: ignore[arg-type]
    await pilot.press("enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))  # type: ignore[arg-type, attr-defined]


async def test_a_rebound_row_key_is_rebound_in_the_details_too(tmp_path: Path) -> None:
    """It used to answer to ``d`` there whatever [keys] said."""
    await seed(tmp_path, [record(1, "PENDING"), record(2, "PENDING")])
    (tmp_path / "config.toml").write_text('[keys]\n"table.download" = "ctrl+d"\n')
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_details(pilot, app)
        app.clear_notifications()
        await pilot.press("d")
        await pilot.pause(0.2)
        assert "can be downloaded" not in toasts(app)
        await pilot.press("ctrl+d")
        await until(pilot, lambda: "Only finished tasks can be downloaded" in toasts(app),
                    what="the rebound key to act")


async def test_the_details_own_keys_are_rebindable(tmp_path: Path) -> None:
    """``[keys] "detail.close"`` used to be refused as "not a binding id"."""
    await seed(tmp_path, [record(1, "PENDING"), record(2, "PENDING")])
    (tmp_path / "config.toml").write_text('[keys]\n"detail.close" = "w"\n')
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_details(pilot, app)
        assert "binding id" not in toasts(app)
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, KeysScreen))
        shown = "\n".join(static_lines(app.screen.query_one("#keys-box Static", Static)))
        assert "detail.close" in shown and "table.download" in shown
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("w")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), what="closed")


async def forget_dialog(pilot: object, app: object) -> None:
    await until(pilot, lambda: len(table(app).rows_by_id) == 2)  # type: ignore[arg-type]
    table(app).focus()  # type: ignore[arg-type]
    await pilot.press("x")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))  # type: ignore[arg-type, attr-defined]


async def test_a_dialog_answers_to_arrows_and_first_letters(tmp_path: Path) -> None:
    await seed(tmp_path, [record(1, "FAILED"), record(2, "FAILED")])
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await forget_dialog(pilot, app)
        assert isinstance(app.focused, Button) and app.focused.id == "answer-keep"
        await pilot.press("right")
        assert app.focused.id == "answer-forget"
        await pilot.press("left")
        assert app.focused.id == "answer-keep"
        await pilot.press("k")  # "Keep it": chosen at once
        await until(pilot, lambda: not isinstance(app.screen, ChoiceScreen))
        assert len(table(app).rows_by_id) == 2
        await forget_dialog(pilot, app)
        await pilot.press("f")  # "Forget it"
        await until(pilot, lambda: len(table(app).rows_by_id) == 1, what="forgotten")
        async with await open_store(tmp_path / "tasks.db") as store:
            assert await store.history.count() == 1


async def test_a_dialogs_keys_are_rebindable(tmp_path: Path) -> None:
    await seed(tmp_path, [record(1, "FAILED"), record(2, "FAILED")])
    (tmp_path / "config.toml").write_text('[keys]\n"choice.cancel" = "ctrl+g"\n'
                                          '"dialog.next" = "l"\n')
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await forget_dialog(pilot, app)
        assert "binding id" not in toasts(app)
        await pilot.press("l")
        assert isinstance(app.focused, Button) and app.focused.id == "answer-forget"
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("ctrl+g")
        await until(pilot, lambda: not isinstance(app.screen, ChoiceScreen), what="canceled")
        assert len(table(app).rows_by_id) == 2


async def test_reloading_a_config_without_keys_brings_the_defaults_back(
        tmp_path: Path) -> None:
    """ctrl+r after [keys] is emptied: the default keys answer again, the rebound ones
    no longer do (the old keymap used to stay)."""
    await seed(tmp_path, [record(1, "PENDING"), record(2, "PENDING")])
    config = tmp_path / "config.toml"
    config.write_text('[keys]\n"table.download" = "ctrl+d"\n')
    app = app_for(tmp_path, None, poll=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: len(table(app).rows_by_id) == 2, what="the rows")
        table(app).focus()
        config.write_text("")
        app.action_reload_config()
        await until(pilot, lambda: "Config reloaded" in toasts(app), what="the reload")
        app.clear_notifications()
        await pilot.press("ctrl+d")
        await pilot.pause(0.2)
        assert "can be downloaded" not in toasts(app)
        await pilot.press("d")
        await until(pilot, lambda: "Only finished tasks can be downloaded" in toasts(app),
                    what="the default key to act again")
