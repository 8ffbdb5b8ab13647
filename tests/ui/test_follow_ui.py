"""The dashboard hears of every write from the store's change feed — its own poller's
too — and runs the same follower as ``watch``: each video is saved once, by whichever
process polls."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import Counter
from pathlib import Path

from tests.conftest import CLI, FAST, cli_env, submitted
from tests.ui.helpers import app_for, statuses, table, until
from tui.simulator import Simulator
from tui.ui import messages

SIZE = (140, 40)


async def test_the_screen_follows_its_own_poller_through_the_store(sim: Simulator,
                                                                    tmp_path: Path) -> None:
    assert not hasattr(messages, "TaskUpdated")  # no route from the poller to the screen
    app = app_for(tmp_path, sim)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await submitted(tmp_path, sim, "a heron at dusk")  # made elsewhere, polled here
        await until(pilot, lambda: statuses(app) == ["SUCCEEDED"], timeout=20,
                    what="this process's poller's answer on screen")
        assert app.poller is not None and app.poller.polling and app.poller.requests > 0


async def test_dashboard_and_watch_save_each_video_once(sim: Simulator, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[downloads]\nauto = true\n")
    watch = subprocess.Popen([*CLI, "watch", "--signal", "none", "--time-scale", str(FAST)],
                             env=cli_env(tmp_path, sim), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        app = app_for(tmp_path, sim)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            for n in range(3):
                await submitted(tmp_path, sim, f"a paper boat {n}")
            await until(pilot, lambda: [r.download_state for r in table(app).rows_by_id.values()]
                        == ["done"] * 3, timeout=40, what="three videos saved")
            await asyncio.sleep(1.0)  # time for a second download, were one to start
            fetched = Counter(path for method, path in sim.requests
                              if method == "GET" and "/media/" in path)
            assert len(fetched) == 3 and set(fetched.values()) == {1}, fetched
            assert not [n for n in app._notifications if "Already downloading" in n.title]
    finally:
        watch.send_signal(signal.SIGINT)
        _, errors = watch.communicate(timeout=30)
    assert "Traceback" not in errors
