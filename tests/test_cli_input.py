"""Command-line input as scripts give it: prompts on stdin, filter words, many variations."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import CLI, cli_env
from tui.simulator import Simulator

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"


def run(home: Path, sim: Simulator, *args: str, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=cli_env(home, sim), input=stdin,
                          capture_output=True, text=True, timeout=120)


def creates(sim: Simulator) -> int:
    return sum(1 for method, path in sim.requests if method == "POST" and path == CREATE)


def test_submit_dash_reads_the_prompt_from_stdin(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    sent = run(home, sim, "submit", "-", "--json", stdin="a heron at dawn\nover still water\n")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)[0]["prompt"] == "a heron at dawn\nover still water"
    empty = run(home, sim, "submit", "-", stdin="  \n")
    assert empty.returncode == 1 and "no prompt" in empty.stderr
    assert creates(sim) == 1  # never a task whose prompt is "-"


def test_list_search_understands_the_filter_words(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    for prompt, size in (("a fox", "1280*720"), ("a fox", "640*360"), ("an owl", "1280*720")):
        assert run(home, sim, "submit", prompt, "--size", size).returncode == 0
    found = json.loads(run(home, sim, "list", "--search", "fox tier:720P", "--json").stdout)
    assert [(t["prompt"], t["size"]) for t in found] == [("a fox", "1280*720")]
    bad = run(home, sim, "list", "--search", "tier:9000P")
    assert bad.returncode == 1 and "tier" in bad.stderr


def test_variations_are_paced_under_the_create_limit(slow_sim: Simulator,
                                                     tmp_path: Path) -> None:
    """Eight creates at a real 5 per second: none refused, so none sent again."""
    home = tmp_path / "home"
    sent = run(home, slow_sim, "submit", "a kite", "--variations", "8", "--json")
    assert sent.returncode == 0, sent.stderr
    assert len(json.loads(sent.stdout)) == 8 and creates(slow_sim) == 8


def test_mistakes_on_the_command_line_are_one_sentence(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    for args, words in ((["list", "--status", "BOGUS"], "not a status"),
                        (["list", "--limit", "-5"], "must be 1 or more"),
                        (["submit", "x", "--seed", "-1"], "seed must be"),
                        (["--demo", "list"], "pixverse-tui simulate"),
                        (["track", "../../etc"], "not a task id")):
        done = run(home, sim, *args)
        assert done.returncode in (1, 2), args
        assert done.stderr.count("\n") == 1 and words in done.stderr, (args, done.stderr)
        assert "usage:" not in done.stderr and "Traceback" not in done.stderr
        assert done.stdout == "", args  # not even an empty table
    assert creates(sim) == 0


def test_cancel_answers_locally_when_the_task_cannot_be_canceled(sim: Simulator,
                                                                 tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = json.loads(run(home, sim, "submit", "a swan", "--wait", "--json",
                          "--time-scale", "600").stdout)[0]
    asked = len(sim.requests)
    refused = run(home, sim, "cancel", made["task_id"])
    assert refused.returncode == 1 and "only a PENDING task" in refused.stderr
    assert len(sim.requests) == asked  # nothing sent


def test_a_home_under_a_file_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    env = {**cli_env(tmp_path, None), "PIXVERSE_TUI_HOME": str(blocker / "home")}
    done = subprocess.run([*CLI, "list"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "is a file, not a folder" in done.stderr


def test_a_novel_length_error_message_is_cut(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = json.loads(run(home, sim, "submit", "a heron", "--json").stdout)[0]
    sim.inject(on="query", kind="answer", status=200, body={
        "request_id": "r", "output": {"task_id": made["task_id"], "task_status": "FAILED",
                                      "code": "X" * 5000, "message": "boom " * 40_000}})
    run(home, sim, "wait", made["task_id"], "--time-scale", "600")
    shown = json.loads(run(home, sim, "show", made["task_id"], "--json").stdout)
    assert len(shown["error_code"]) <= 100 and len(shown["error_message"]) <= 2000
