"""Team semantics on the command line, run as a user runs it (subprocesses): who
submitted (``[team] name``, ``by:``), videos saved on other machines, and
``store copy`` — idempotent, and resumable after kill -9."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

from storage import TaskStore, open_store
from storage.clock import iso, utc_now
from storage.records import Who
from tests.conftest import CLI, KEY, cli_env
from tests.store_contract.helpers import finished
from tests.store_contract.test_team import fill
from tui.simulator import Simulator

STUDIO = Who("bob@studio-2", "studio-2")


def run(home: Path, sim: Simulator | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=cli_env(home, sim), capture_output=True,
                          text=True, timeout=300)


async def everything(store: TaskStore) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while records := await store.history.copy_out(out[-1]["id"] if out else 0, 5000):
        out += records
    return out


def field(shown: str, name: str) -> str:
    """One field of ``show``'s output."""
    [line] = [line for line in shown.splitlines() if line.startswith(name + "  ")]
    return line[len(name):].strip()


def rows_of(path: Path) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        async with await open_store(path) as store:
            return await everything(store)
    return asyncio.run(read())


# -- who submitted, where it is saved ------------------------------------------------------

def test_team_name_is_recorded_and_by_finds_it(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[team]\nname = "Carol Ng"\nmachine = "edit-bay"\n')
    sent = run(home, sim, "submit", "a heron at dusk", "--json")
    assert sent.returncode == 0, sent.stderr
    [row] = json.loads(sent.stdout)
    assert row["submitted_by"] == "Carol Ng" and row["saved_on"] == []
    for search in ("by:me", 'by:"carol ng"', "heron by:me"):
        found = run(home, sim, "list", "--search", search, "--json")
        assert [r["id"] for r in json.loads(found.stdout)] == [row["id"]], (search, found)
    assert json.loads(run(home, sim, "list", "--search", "by:bob", "--json").stdout) == []
    shown = run(home, sim, "show", f"#{row['id']}")
    assert field(shown.stdout, "submitted by") == "Carol Ng"


def test_a_video_saved_on_another_machine_is_listed_as_such(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()

    async def seed() -> None:
        async with await open_store(tmp_path / "team.db", who=STUDIO) as team:
            row = await finished(team, "a fox saved on the studio's machine")
            await team.downloads.set(row.id, state="done", path="/studio/fox.mp4")
            async with await open_store(home / "tasks.db") as here:
                await here.history.copy_in(team.location, await team.history.copy_out())

    asyncio.run(seed())
    [row] = json.loads(run(home, None, "list", "--json").stdout)
    assert row["submitted_by"] == "bob@studio-2" and row["saved_on"] == ["studio-2"]
    assert row["download"]["state"] == "none" and row["local_path"] is None
    listed = run(home, None, "list").stdout.splitlines()
    assert listed[0].split()[:7] == ["ID", "TASK", "STATUS", "SIZE", "DUR", "FILE", "PROMPT"]
    assert "@studio-2" in listed[1]
    shown = run(home, None, "show", "#1").stdout
    assert field(shown, "saved on") == "studio-2"
    assert field(shown, "submitted by") == "bob@studio-2"


def test_d_saves_here_a_video_saved_on_another_machine(sim: Simulator, tmp_path: Path) -> None:
    """studio-2 made and saved a video; its history reaches this machine (copied through
    the team's database): here it is not saved until `download` saves it here."""
    studio, here = tmp_path / "studio", tmp_path / "here"
    studio.mkdir()
    here.mkdir()
    made = run(studio, sim, "submit", "a fox in the studio", "--wait", "--download",
               "--time-scale", "600", "--json")
    assert made.returncode == 0, made.stderr

    async def through_the_team() -> None:
        async with await open_store(studio / "tasks.db", who=STUDIO) as team, \
                await open_store(here / "tasks.db") as mine:
            await mine.history.copy_in(team.location, await team.history.copy_out())

    asyncio.run(through_the_team())
    [row] = json.loads(run(here, sim, "list", "--json").stdout)
    assert (row["download"]["state"], row["saved_on"]) == ("none", ["studio-2"])
    saved = run(here, sim, "download", "#1", "--json")
    assert saved.returncode == 0, saved.stderr
    [row] = json.loads(run(here, sim, "list", "--json").stdout)
    assert (row["download"]["state"], row["saved_on"]) == ("done", ["studio-2"])
    assert Path(row["local_path"]).is_relative_to(here) and Path(row["local_path"]).is_file()


# -- store copy --------------------------------------------------------------------------------

def test_store_copy_copies_everything_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()

    async def seed() -> None:
        async with await open_store(home / "tasks.db") as store:
            await fill(store)

    asyncio.run(seed())
    target = tmp_path / "copy" / "tasks.db"
    first = run(home, None, "store", "copy", "--to", str(target), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["rows"], summary["added"], summary["already_there"],
            summary["copied_before"]) == (11, 11, 0, 0)
    assert summary["from"] == str(home / "tasks.db") and summary["to"] == str(target)
    assert "copying" in first.stderr and "100%" in first.stderr
    assert rows_of(target) == rows_of(home / "tasks.db")
    again = run(home, None, "store", "copy", "--to", str(target))
    assert again.returncode == 0 and "copied 0 generations" in again.stdout
    assert "11 copied before" in again.stdout
    back = run(home, None, "store", "copy", "--from", str(target), "--to",
               str(tmp_path / "back.db"), "--json")
    assert json.loads(back.stdout)["added"] == 11
    assert rows_of(tmp_path / "back.db") == rows_of(home / "tasks.db")
    same = run(home, None, "store", "copy", "--to", str(home / "tasks.db"))
    assert same.returncode == 1 and same.stderr.count("\n") == 1
    assert "both the source and the target" in same.stderr


def test_store_copy_killed_half_way_resumes_exactly(tmp_path: Path) -> None:
    """kill -9 in the middle of a copy, then the same command again: exactly the rows of
    the source, none twice, none missing."""
    home = tmp_path / "home"
    home.mkdir()
    total = 5_000

    async def seed() -> None:
        start = utc_now() - timedelta(days=30)
        async with await open_store(home / "tasks.db") as store:
            for first in range(0, total, 5000):
                await store.history.import_many([{
                    "created_at": iso(start + timedelta(seconds=n)),
                    "updated_at": iso(start + timedelta(seconds=n)), "prompt": f"prompt {n}",
                    "size": "1280*720", "duration": 5, "task_id": f"task-{n:06d}",
                    "status": "SUCCEEDED", "submission": "accepted", "endpoint": "e",
                    "model": "m", "tags": ["k"] if n % 7 == 0 else [],
                    "history": [{"at": iso(start), "status": "SUCCEEDED", "detail": None}],
                } for n in range(first, first + 5000)])

    asyncio.run(seed())
    target = tmp_path / "team.db"
    copying = subprocess.Popen([*CLI, "store", "copy", "--to", str(target), "--batch", "100"],
                               env=cli_env(home, None, KEY), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert copying.stderr is not None
    for line in copying.stderr:  # "copying ██░░ 10%  3,000 of 30,000": under way
        if "%" in line and not line.split("%")[0].endswith(" 0"):
            break
    os.kill(copying.pid, signal.SIGKILL)
    copying.wait(timeout=60)
    assert copying.returncode == -signal.SIGKILL
    part = len(rows_of(target))
    assert 0 < part < total, part  # killed half-way
    resumed = run(home, None, "store", "copy", "--to", str(target), "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["copied_before"] == part and summary["added"] == total - part
    assert rows_of(target) == rows_of(home / "tasks.db")
