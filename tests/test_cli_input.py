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
