"""Every command with ``--json`` prints JSON on standard output — only JSON: messages go
to standard error — with the shape docs/cli.md documents."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import CLI, KEY, cli_env
from tui.cli.main import build_parser
from tui.simulator import Simulator

SCALE = ["--time-scale", "600"]
# watch --json is a stream that ends only when stopped: tested with watch itself.
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
    assert listed["problem"].startswith("nobody feeds the queue")
    batch_id = listed["batches"][0]["batch_id"]
    assert check("queue pause", batch_id) == {"batch_id": batch_id, "paused": True,
                                              "taken_back": []}
    assert check("queue resume", batch_id)["paused"] is False
    assert [r["prompt"] for r in check("queue move", "top", third)] == ["a stork"]
    assert check("queue hold", first)[0]["status"] == "QUEUED"
    assert check("queue release", first)[0]["status"] == "QUEUED"
    assert check("queue priority", "3", second)[0]["status"] == "QUEUED"
    assert check("queue cancel", second)[0]["status"] == "ABANDONED"
    assert [i["prompt"] for i in check("queue list")["items"]] == ["a stork", "a heron"]

    assert json_commands() - STREAMS <= seen, "a --json command this test does not run"
