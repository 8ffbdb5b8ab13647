"""Refused submissions can be listed and cleared: ``list --status REJECTED`` and
``forget --status REJECTED``, which asks first (no is the default), takes ``--yes``
from a script, and sends nothing to the service."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

from tests.conftest import CLI, KEY, cli_env
from tui.simulator import Simulator

DEAD = "http://127.0.0.1:9/api/v1"  # nothing listens: forgetting must not need the service


def run(home: Path, sim: Simulator | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(home, sim, KEY)
    if sim is None:
        env["DASHSCOPE_HTTP_BASE_URL"] = DEAD
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def refused_twice_and_one_kept(home: Path, sim: Simulator) -> str:
    for prompt in ("a refused fox", "a refused owl"):
        sim.inject(on="create", kind="status", status=400, code="DataInspectionFailed",
                   message="Input data may contain inappropriate content.")
        assert run(home, sim, "submit", prompt).returncode == 1
    kept = run(home, sim, "submit", "a quiet harbour", "--json")
    assert kept.returncode == 0, kept.stderr
    return str(json.loads(kept.stdout)[0]["task_id"])


def listed(home: Path, *args: str) -> list[dict[str, object]]:
    done = run(home, None, "list", "--json", *args)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def answering(home: Path, answer: str) -> subprocess.CompletedProcess[str]:
    """``forget --status REJECTED`` on a terminal, typing ``answer``."""
    leader, follower = pty.openpty()
    env = cli_env(home, None, KEY)
    env["DASHSCOPE_HTTP_BASE_URL"] = DEAD
    try:
        os.write(leader, answer.encode() + b"\n")  # waits in the terminal's line buffer
        return subprocess.run([*CLI, "forget", "--status", "REJECTED"], env=env, stdin=follower,
                              capture_output=True, text=True, timeout=120)
    finally:
        os.close(follower)
        os.close(leader)


def test_refused_rows_are_listed_and_forgotten_after_asking(sim: Simulator,
                                                             tmp_path: Path) -> None:
    home = tmp_path / "home"
    kept = refused_twice_and_one_kept(home, sim)
    refused = listed(home, "--status", "REJECTED")
    assert sorted(r["prompt"] for r in refused) == ["a refused fox", "a refused owl"]
    assert all(r["status"] == "REJECTED" and r["task_id"] is None for r in refused)

    # from a script without --yes: refused in one sentence, nothing forgotten
    script = run(home, None, "forget", "--status", "REJECTED")
    assert script.returncode == 1 and "--yes" in script.stderr
    assert "2 generations" in script.stderr and script.stdout == ""
    assert len(listed(home, "--status", "REJECTED")) == 2

    # on a terminal: the question holds the count; enter (the default) is no
    declined = answering(home, "")
    assert "Forget 2 generations (REJECTED)?" in declined.stderr and "[y/N]" in declined.stderr
    assert declined.returncode == 1 and "nothing was forgotten" in declined.stderr
    assert len(listed(home, "--status", "REJECTED")) == 2
    accepted = answering(home, "y")
    assert accepted.returncode == 0, accepted.stderr
    assert "forgot 2 generations" in accepted.stdout
    assert listed(home, "--status", "REJECTED") == []
    assert [r["task_id"] for r in listed(home)] == [kept]  # the rest is untouched


def test_forget_yes_json_for_scripts(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    kept = refused_twice_and_one_kept(home, sim)
    created = len([t for a in sim.world.accounts.values() for t in a.tasks])
    ids = sorted(int(str(r["id"])) for r in listed(home, "--status", "REJECTED"))
    done = run(home, None, "forget", "--status", "REJECTED", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"forgotten": 2, "ids": ids, "trash_days": 30}
    assert [r["task_id"] for r in listed(home)] == [kept]
    assert len([t for a in sim.world.accounts.values() for t in a.tasks]) == created
    again = run(home, None, "forget", "--status", "REJECTED", "--yes", "--json")
    assert json.loads(again.stdout)["forgotten"] == 0
    # by reference too; asking for nothing is one sentence
    by_ref = run(home, None, "forget", kept[:8], "--yes")
    assert by_ref.returncode == 0 and listed(home) == []
    nothing = run(home, None, "forget")
    assert nothing.returncode == 1 and "--status REJECTED" in nothing.stderr
