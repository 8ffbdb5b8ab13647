"""A viewer's dashboard on a team database (a role that may only read, made as
docs/team.md says): it polls nothing itself, so its status bar says who does — or that
nobody does once the lease lapsed."""

from __future__ import annotations

from pathlib import Path

from storage import open_store
from storage.records import Who
from tests.postgres.test_roles import Team, team
from tests.ui.helpers import app_for, until
from tests.ui.test_live_views import status_text
from tui.simulator import Simulator
from tui.ui.app import PixverseApp

__all__ = ["team"]  # the fixture, from test_roles

SIZE = (200, 50)
STUDIO_2 = Who("bob@studio-2", "studio-2")


def viewer_app(team: Team, sim: Simulator, home: Path) -> PixverseApp:
    app = app_for(home, sim)
    app.ws.settings.values["store"]["url"] = team.viewer
    return app


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
        assert "nobody polls" not in status_text(app) and "4123" not in status_text(app)
        await until(pilot, lambda: "nobody polls" in status_text(app), timeout=20,
                    what="the lapsed lease noticed")
        assert "polled by" not in status_text(app)

