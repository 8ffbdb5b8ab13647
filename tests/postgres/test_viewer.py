"""A viewer's dashboard on a team database (a role that may only read, made as
docs/team.md says): it polls nothing itself, so its status bar says who does — or that
nobody does once the lease lapsed; it saves a video on its own machine without writing
to the team's history; and it says why it refuses what writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storage import open_store
from storage.records import Who
from tests.conftest import client_for
from tests.postgres.test_roles import Team, team
from tests.test_downloads import finished
from tests.ui.helpers import app_for, table, until
from tests.ui.test_live_views import status_text
from tui.dashscope import GenerationRequest
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator
from tui.ui.app import PixverseApp

__all__ = ["team"]  # the fixture, from test_roles

SIZE = (200, 50)
STUDIO_2 = Who("bob@studio-2", "studio-2")


def viewer_app(team: Team, sim: Simulator, home: Path) -> PixverseApp:
    app = app_for(home, sim)
    app.ws.settings.values["store"]["url"] = team.viewer
    return app


def notices(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


async def test_a_viewer_says_who_polls_and_when_nobody_does(team: Team, sim: Simulator,
                                                            tmp_path: Path) -> None:
    app = viewer_app(team, sim, tmp_path)
    account = app.ws.account
    assert account is not None
    async with await open_store(team.writer, who=STUDIO_2) as bob, \
            app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: status_text(app).startswith(" READ-ONLY "),
                    what="a viewer's dashboard")
        await until(pilot, lambda: "nobody polls" in status_text(app), what="nobody polls")
        assert "poller ok" not in status_text(app)  # it runs no poller: it cannot say so
        # bob's watch takes the lease, and renews it no more (killed): it lapses in 3 s
        assert (await bob.leases.hold(account, "bob@studio-2:4123:1", 3)).holder
        await until(pilot, lambda: "polled by bob@studio-2" in status_text(app),
                    what="the holder named")
        # the holder's process tag is not shown: "bob@studio-2", not "bob@studio-2:4123:1"
        # (a bare "4123" can be in the bar's endpoint: a random port)
        assert "nobody polls" not in status_text(app)
        assert "bob@studio-2:" not in status_text(app)
        await until(pilot, lambda: "nobody polls" in status_text(app), timeout=20,
                    what="the lapsed lease noticed")
        assert "polled by" not in status_text(app)


async def test_a_viewer_saves_a_video_here_without_recording_it(team: Team, sim: Simulator,
                                                                tmp_path: Path) -> None:
    """d on a viewer's dashboard saves the video in its own downloads folder and says that
    the team's history does not record it (the role may only read); d again finds the
    file it saved rather than saving a second copy."""
    async with await open_store(team.writer, who=STUDIO_2) as bob, \
            client_for(sim) as client:
        row = await finished(sim, client, bob, "a lantern in the fog")
    app = viewer_app(team, sim, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: table(app).row_count == 1, what="bob's finished row")
        await pilot.press("d")
        await until(pilot, lambda: any(m.startswith("Saved ") for m in notices(app)),
                    timeout=30, what="the video saved")
        said = next(m for m in notices(app) if m.startswith("Saved "))
        assert "not recorded" in said and "the database role may only read" in said
        saved = sorted(app.ws.downloads_dir.glob("*.mp4"))
        assert len(saved) == 1 and saved[0].stat().st_size > 0
        assert str(saved[0]) in said
        assert not any("Download not recorded" in m or "failed" in m for m in notices(app))
        await pilot.press("d")  # again: the file it saved is found, no second copy
        await until(pilot, lambda: sum(m.startswith("Saved ") for m in notices(app)) == 2,
                    timeout=30, what="the second answer")
        assert sorted(app.ws.downloads_dir.glob("*.mp4")) == saved
    async with await open_store(team.writer) as alice:
        kept = await alice.generations.get(row.id)
        assert kept is not None and kept.download_state == "none" and not kept.saved_on


async def test_a_viewer_is_told_the_real_reason_it_may_not_write(team: Team, sim: Simulator,
                                                                 tmp_path: Path) -> None:
    async with await open_store(team.writer) as alice, client_for(sim) as client:
        await submit(alice, client, GenerationRequest("a heron"), first_poll_after=0)
    app = viewer_app(team, sim, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: table(app).row_count == 1, what="alice's row")
        await until(pilot, lambda: app.services.read_only, what="read-only by itself")
        await pilot.press("x")
        await until(pilot, lambda: any(m.startswith("read-only: ") for m in notices(app)),
                    what="the refusal")
        [said] = [m for m in notices(app) if m.startswith("read-only: ")]
        assert "(the database role may only read)" in said and "--read-only" not in said

