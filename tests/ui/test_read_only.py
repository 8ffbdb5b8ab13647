"""``--read-only`` (``pixverse-tui serve --read-only``): a viewer's dashboard.  Every action
the registry flags billed, destructive or written is refused in one sentence, left out
of the footer, the palette and ``?``; the composer is gone; nothing reaches the service.

Pilot drives the real ``PixverseApp`` against the simulator over loopback.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets._footer import FooterKey

from storage import open_store
from tests.conftest import submitted
from tests.ui.helpers import app_for, table, until
from tests.ui.test_live_views import status_text
from tui.simulator import Simulator
from tui.ui import actions
from tui.ui.widgets.composer import Composer

SIZE = (200, 50)

# Every key of something a viewer may not do, on the table (the default keymap).
REFUSED_KEYS = ["ctrl+j", "f5", "ctrl+o", "x", "c", "R", "f", "t", "n", "u", "A", "r", "i",
                "ctrl+z"]


def test_every_billed_or_destructive_action_is_not_for_viewers() -> None:
    for action in actions.ACTIONS:
        if action.billed or action.destructive:
            assert not action.for_viewers, action.id
    refused = {a.id for a in actions.ACTIONS if not a.for_viewers}
    assert {"submit", "open-batch", "table.cancel", "table.rerun", "table.forget", "undo",
            "table.tags", "table.note", "table.favourite", "main.compose"} <= refused
    assert {"table.download", "table.copy-url", "table.open", "filter", "quit",
            "table.play", "stats"}.isdisjoint(refused)
    sentence = actions.refusal("screen.row('forget')")
    assert sentence is not None and sentence.startswith("read-only: “Forget”")
    assert actions.refusal("row('download')") is None


async def test_a_read_only_dashboard_refuses_every_key_that_writes_and_sends_nothing(
        sim: Simulator, tmp_path: Path) -> None:
    await submitted(tmp_path, sim, "a heron at dawn")
    creates = sim.traffic.count("create")
    app = app_for(tmp_path, sim, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table(app).row_count == 1, what="the row")
        assert app.main is not None
        assert not app.main.query_one(Composer).display  # nothing to write a prompt in
        assert app.focused is table(app)
        await until(pilot, lambda: status_text(app).startswith(" READ-ONLY "),
                    what="the status bar to say so first")
        def footer() -> set[str]:
            return {key.description for key in app.main.query(FooterKey)}  # type: ignore[union-attr]

        await until(pilot, lambda: "Download" in footer(), what="the footer")
        assert not footer() & {"Submit", "Cancel", "Forget"}
        palette = {command.title for command in app.get_system_commands(app.screen)}
        assert "Download" in palette and "Stats" in palette
        assert not palette & {"Submit", "Forget", "Cancel", "Re-run", "Tags", "Note",
                              "Favourite", "Undo forget", "Open a batch file"}

        for key in REFUSED_KEYS:
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.main, f"{key} opened {app.screen!r}"
        said = [n.message for n in app._notifications]
        refusals = [m for m in said if m.startswith("read-only: ")]
        assert len(refusals) >= len(REFUSED_KEYS) - 1, said  # f5 and ctrl+j: both Submit
        assert "read-only: “Forget” is not available in this dashboard (started with " \
               "--read-only); looking, filtering, downloading and copying are." in said

        await pilot.press("y")  # a viewer may copy the URL
        await until(pilot, lambda: any("Copied" in n.message or "URL" in n.message
                                       for n in app._notifications
                                       if not n.message.startswith("read-only")),
                    what="the copy")
    assert sim.traffic.count("create") == creates  # nothing created
    async with await open_store(tmp_path / "tasks.db") as store:
        rows = await store.history.page()
        assert [(r.prompt, r.forgotten_at, r.favourite, r.note) for r in rows] == [
            ("a heron at dawn", None, False, None)]
        assert await store.history.tags_of(rows[0].id) == []


async def test_without_read_only_the_same_keys_act(sim: Simulator, tmp_path: Path) -> None:
    """The control: ``f`` stars the row in a dashboard that is not read-only (whose
    status bar does not say READ-ONLY)."""
    await submitted(tmp_path, sim, "a heron at dawn")
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table(app).row_count == 1, what="the row")
        assert app.main is not None and app.main.query_one(Composer).display
        table(app).focus()
        await pilot.press("f")
        await until(pilot, lambda: any(r.favourite for r in table(app).rows_by_id.values()),
                    what="the star")
        assert not any(n.message.startswith("read-only") for n in app._notifications)
        assert "READ-ONLY" not in status_text(app)


async def test_read_only_in_config_toml_makes_a_viewers_dashboard(sim: Simulator,
                                                                  tmp_path: Path) -> None:
    """``[ui] read_only = true``: the dashboard is a viewer's, as with --read-only, and its
    refusals say why — the setting, not a flag it was not started with."""
    await submitted(tmp_path, sim, "a heron at dawn")
    (tmp_path / "config.toml").write_text("[ui]\nread_only = true\n", encoding="utf-8")
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table(app).row_count == 1, what="the row")
        await until(pilot, lambda: status_text(app).startswith(" READ-ONLY "),
                    what="the status bar to say so first")
        await pilot.press("x")
        await until(pilot, lambda: any(n.message.startswith("read-only: ")
                                       for n in app._notifications), what="the refusal")
        said = next(n.message for n in app._notifications if n.message.startswith("read-only"))
        assert "([ui] read_only is set in config.toml)" in said
        assert "--read-only" not in said
    async with await open_store(tmp_path / "tasks.db") as store:
        assert [r.forgotten_at for r in await store.history.page()] == [None]
