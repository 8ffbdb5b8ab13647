"""Every command with ``--json`` prints JSON on standard output — only JSON: messages go
to standard error — with the shape docs/cli.md documents."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import CLI, KEY, cli_env, submitted
from tui.cli.main import build_parser
from tui.simulator import Simulator

SCALE = ["--time-scale", "600"]
# watch --json is a stream that ends only when stopped: test_watch_json_is_a_line_per_event.
STREAMS = {"watch"}


def json_commands() -> set[str]:
    """The subcommands that take ``--json``."""
    found: set[str] = set()

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, [*path, name])
            elif "--json" in action.option_strings:
                found.add(" ".join(path))

    walk(build_parser(), [])
    return found


def run(home: Path, sim: Simulator, *args: str) -> Any:
    done = subprocess.run([*CLI, *args], env=cli_env(home, sim, KEY), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode in (0, 1), (args, done.stderr)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"{' '.join(args)} printed no JSON: {done.stdout!r} "
                             f"(stderr {done.stderr!r})") from exc


def test_every_json_command_prints_json(sim: Simulator, slow_sim: Simulator,
                                        tmp_path: Path) -> None:
    home = tmp_path / "home"
    seen: set[str] = set()

    def check(command: str, *args: str) -> Any:
        seen.add(command)
        return run(home, sim, *command.split(), *args, "--json")

    [task] = check("submit", "a fox in snow", "--wait", *SCALE)
    assert task["status"] == "SUCCEEDED"
    tid = task["task_id"]
    dry = check("submit", "a {fox|owl} in snow", "--dry-run")
    assert dry["count"] == 2 and dry["sent"] is False and len(dry["tasks"]) == 2
    assert [t["task_id"] for t in check("list")] == [tid]
    assert check("show", tid)["task_id"] == tid
    assert check("wait", tid, *SCALE)[0]["status"] == "SUCCEEDED"
    [saved] = check("download", tid)
    assert Path(saved["local_path"]).is_file()
    assert check("track", tid)[0]["task_id"] == tid
    assert check("resolve") == []
    assert check("sync")["adopted"] == 0
    assert check("stats")["total"] == 1
    where = check("locate")
    assert where["database"].startswith(str(home)) and KEY not in json.dumps(where)
    exported = tmp_path / "history.jsonl"
    subprocess.run([*CLI, "export", "-o", str(exported)], env=cli_env(home, sim, KEY),
                   check=True, timeout=120)
    imported = check("import", str(exported))
    assert (imported["added"], imported["present"], imported["skipped"]) == (0, 1, 0)
    assert check("config", "show")["settings"]
    assert check("config", "check")["ok"] is True
    assert check("config", "path")["exists"] is False
    assert check("forget", tid, "--yes") == {"forgotten": 1, "ids": [task["id"]],
                                             "trash_days": 30}
    copied = check("store copy", "--to", str(tmp_path / "copy.db"))
    assert (copied["rows"], copied["added"], copied["already_there"]) == (1, 1, 0)

    # cancel needs a task still PENDING: a service whose tasks wait in the queue
    pending_home = tmp_path / "pending"
    [queued] = run(pending_home, slow_sim, "submit", "a slow owl", "--json")
    canceled = run(pending_home, slow_sim, "cancel", queued["task_id"], "--json")
    seen.add("cancel")
    assert canceled["task_id"] == queued["task_id"] and canceled["status"] == "CANCELED"

    # the queue: a batch file's lines wait (nobody feeds the queue here)
    lines = tmp_path / "lines.txt"
    lines.write_text("a heron\na crane\na stork\n")
    waiting = check("submit", "--from", str(lines))
    assert [row["status"] for row in waiting] == ["QUEUED"] * 3
    first, second, third = (f"#{row['id']}" for row in waiting)
    listed = check("queue list")
    assert listed["queued"] == 3 and [i["prompt"] for i in listed["items"]] == [
        "a heron", "a crane", "a stork"]
    assert listed["problem"].startswith("waiting: nobody is feeding the queue")
    batch_id = listed["batches"][0]["batch_id"]
    assert check("queue pause", batch_id) == {"batch_id": batch_id, "paused": True,
                                              "taken_back": [], "started": 0}
    assert check("queue resume", batch_id)["paused"] is False
    assert [r["prompt"] for r in check("queue move", "top", third)] == ["a stork"]
    assert check("queue hold", first)[0]["status"] == "QUEUED"
    assert check("queue release", first)[0]["status"] == "QUEUED"
    assert check("queue priority", "3", second)[0]["status"] == "QUEUED"
    assert check("queue cancel", second)[0]["status"] == "ABANDONED"
    assert [i["prompt"] for i in check("queue list")["items"]] == ["a stork", "a heron"]

    assert json_commands() - STREAMS <= seen, "a --json command this test does not run"


async def test_watch_json_is_a_line_per_event(sim: Simulator, tmp_path: Path) -> None:
    """Each line of standard output is one JSON object: a task that ended, a video saved,
    the poller in trouble and back; the start-up line and the rest are on stderr."""
    home = tmp_path / "home"
    first = await submitted(home, sim, "a paper boat")
    sim.inject(on="any", kind="status", status=500, code="InternalError",
               message="the service is unwell", times=0)  # every request, until cleared
    watch = subprocess.Popen([*CLI, "watch", "--json", "--download", "--signal", "bell",
                              *SCALE], env=cli_env(home, sim, KEY), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    events: list[dict[str, Any]] = []

    def read_until(what: str, **fields: str) -> None:
        assert watch.stdout is not None
        deadline = time.monotonic() + 90
        while not any(e["event"] == what and fields.items() <= e.items() for e in events):
            assert time.monotonic() < deadline and watch.poll() is None, events
            events.append(json.loads(watch.stdout.readline()))  # a line is one whole event

    try:
        read_until("poller", health="backing off")
        sim.faults.clear()  # the service recovers
        read_until("saved")
        read_until("poller", health="ok")
    finally:
        watch.send_signal(signal.SIGINT)
        rest, errors = watch.communicate(timeout=30)
    events += [json.loads(line) for line in rest.splitlines()]
    assert watch.returncode == 130 and "Traceback" not in errors
    assert "watching 1 task in flight" in errors  # messages on stderr
    assert "\a" not in rest  # no signal inside the stream
    kinds = [e["event"] for e in events]
    assert all(isinstance(e["at"], str) for e in events)
    [ended] = [e for e in events if e["event"] == "ended"]
    assert ended["task"]["task_id"] == first and ended["task"]["status"] == "SUCCEEDED"
    [saved] = [e for e in events if e["event"] == "saved"]
    assert saved["task"]["task_id"] == first and Path(saved["path"]).is_file()
    assert kinds.index("ended") < kinds.index("saved")
    trouble = [e for e in events if e["event"] == "poller"]
    assert trouble[0]["health"] == "backing off" and "InternalError" in trouble[0]["detail"]
    assert any(e["health"] == "ok" and e["detail"] is None for e in trouble)
    assert KEY not in rest + errors
