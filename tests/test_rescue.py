"""Videos saved before their URLs die: submit --wait --download, watch, expiry warnings."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from datetime import timedelta
from pathlib import Path

from storage import open_store
from storage.clock import iso, utc_now
from tests.conftest import CLI, cli_env, same_video, submitted
from tui.simulator import Simulator

SCALE = ["--time-scale", "600"]


def run(home: Path, sim: Simulator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=cli_env(home, sim), capture_output=True,
                          text=True, timeout=120)


def test_submit_wait_download_in_one_go(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, sim, "submit", "a kite over dunes", "--wait", "--download", "--json",
               *SCALE)
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    assert row["local_path"] and same_video(Path(row["local_path"]).read_bytes(),
                                            sim.clip("16x9"))
    assert "saved" in done.stderr


def test_download_without_wait_is_refused_before_anything_is_sent(sim: Simulator,
                                                                   tmp_path: Path) -> None:
    """It cannot download what it was asked to: it says so, and bills nothing."""
    sent = run(tmp_path / "home", sim, "submit", "a kite", "--download")
    assert sent.returncode == 1 and "--download needs --wait" in sent.stderr
    assert "nothing was sent" in sent.stderr and sent.stdout == ""
    assert not [p for m, p in sim.requests if m == "POST"]


def test_wait_with_auto_downloads_while_it_polls(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[downloads]\nauto = true\n")
    made = run(home, sim, "submit", "a lantern", "--json")
    task_id = json.loads(made.stdout)[0]["task_id"]
    waited = run(home, sim, "wait", task_id, "--json", *SCALE)
    assert waited.returncode == 0, waited.stderr
    assert Path(json.loads(waited.stdout)[0]["local_path"]).is_file()


async def test_list_warns_about_videos_about_to_expire(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    task_id = await submitted(home, sim, "a glacier at dawn")
    sim.clock.advance(400)
    assert run(home, sim, "wait", task_id, *SCALE).returncode == 0
    quiet = run(home, sim, "list")
    assert "expire" not in quiet.stderr  # ended just now: a day to go
    with sqlite3.connect(home / "tasks.db") as db:  # as if it ended 23 hours ago
        db.execute("UPDATE generations SET end_time = ?",
                   (iso(utc_now() - timedelta(hours=23)),))
    warned = run(home, sim, "list")
    assert warned.returncode == 0
    assert "1 finished video is not downloaded and its URL expires within 2 hours" in (
        warned.stderr) and task_id[:8] in warned.stderr
    assert run(home, sim, "download", task_id).returncode == 0
    assert "expire" not in run(home, sim, "list").stderr


async def test_watch_follows_downloads_and_reports(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = await submitted(home, sim, "a paper boat")
    watch = subprocess.Popen([*CLI, "watch", "--download", "--signal", "none", *SCALE],
                             env=cli_env(home, sim), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        second = run(home, sim, "submit", "a second paper boat", "--json")
        # Queued and sent by whoever feeds the queue (watch, once it holds the lease): its
        # task id may not be known yet when submit returns — its row id is.
        second_id = json.loads(second.stdout)[0]["id"]
        deadline = time.monotonic() + 60
        saved: list[tuple[int, str]] = []
        while len(saved) < 2:
            assert time.monotonic() < deadline and watch.poll() is None, saved
            async with await open_store(home / "tasks.db") as store:
                saved = [(r.id, r.task_id or "") for r in await store.history.page(limit=10)
                         if r.download_state == "done"]
            time.sleep(0.2)
        assert {task for row, task in saved if row != second_id} == {first}
        assert second_id in {row for row, _ in saved}
    finally:
        watch.send_signal(signal.SIGINT)
        out, errors = watch.communicate(timeout=30)
    assert watch.returncode == 130 and "Traceback" not in errors
    assert "pixverse-tui: watching " in errors and out.count("✔ SUCCEEDED") == 2
    assert "watching" not in out  # the start-up line is a message: on stderr
    assert out.count("saved ") == 2
