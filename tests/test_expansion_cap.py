"""Expansion has a ceiling (issue 13, point 8).

``{a|b}`` alternatives × variations × lines are counted before anything is
expanded; above ``[batch] max_tasks`` (default 10,000) the submission is refused
in one sentence — from the command line (a prompt, ``--template``, ``--from``,
``--dry-run``) and in the dashboard's composer, whose live count is arithmetic.
"""

from __future__ import annotations

import subprocess
import tracemalloc
from pathlib import Path

import pytest

from tests.conftest import CLI, cli_env
from tests.ui.helpers import app_for, composer, until
from tui.config import settings
from tui.dashscope import GenerationRequest
from tui.engine.submitting import batch, templates
from tui.simulator import Simulator

TEN = "{" + "|".join("abcdefghij") + "}"
TEN_THOUSAND = " ".join([TEN] * 4)  # 10^4 prompts from 43 characters
# Under 300 bytes that make 3 × 10^4 prompts — × 100 variations, 3,000,000 tasks (each
# line within the old per-template limit: it took 1 GB and half a minute to refuse).
HUGE_FILE = "\n".join(f"{TEN_THOUSAND} {n}" for n in range(3)) + "\n"


def run(home: Path, sim: Simulator, *args: str, config: str = ""
        ) -> subprocess.CompletedProcess[str]:
    if config:
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text(config)
    return subprocess.run([*CLI, *args], env=cli_env(home, sim), capture_output=True,
                          text=True, timeout=120)


def refused(out: subprocess.CompletedProcess[str], count: str, cap: str = "10,000") -> None:
    assert out.returncode == 1, out.stderr
    assert f"makes {count} tasks" in out.stderr and f"max_tasks ({cap})" in out.stderr, \
        out.stderr
    assert "this is a bug" not in out.stderr and out.stdout == ""


def test_a_prompt_over_the_cap_is_refused_before_expanding(sim: Simulator,
                                                           tmp_path: Path) -> None:
    home = tmp_path / "home"
    refused(run(home, sim, "submit", TEN_THOUSAND, "--variations", "2", "--dry-run"),
            "20,000")
    refused(run(home, sim, "submit", " ".join([TEN] * 12), "--variations", "100"),
            "100,000,000,000,000")
    config = f'[templates]\nmany = "{TEN_THOUSAND} {{who}}"\n'
    refused(run(home, sim, "submit", "--template", "many", "--var", "who=fox|owl",
                "--dry-run", config=config), "20,000")
    assert not sim.requests


def test_a_batch_file_over_the_cap_is_refused_in_one_sentence(sim: Simulator,
                                                              tmp_path: Path) -> None:
    home = tmp_path / "home"
    two = tmp_path / "two.txt"
    two.write_text(f"{TEN_THOUSAND}\nan owl {{at dawn|at dusk}}\n")
    out = run(home, sim, "submit", "--from", str(two), "--dry-run")
    refused(out, "10,002")
    assert len(out.stderr.strip().splitlines()) == 1
    huge = tmp_path / "huge.txt"
    huge.write_text(HUGE_FILE)
    assert len(HUGE_FILE.encode()) < 300
    refused(run(home, sim, "submit", "--from", str(huge), "--variations", "100",
                "--dry-run"), "3,000,000")
    from_stdin = subprocess.run([*CLI, "submit", "--from", "-", "--dry-run"], input=HUGE_FILE,
                                env=cli_env(home, sim), capture_output=True, text=True,
                                timeout=120)
    refused(from_stdin, "30,000")
    assert not sim.requests


def test_the_cap_is_configurable_and_checked(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = run(home, sim, "submit", "a {fox|owl|cat}", "--variations", "2", "--dry-run",
              config="[batch]\nmax_tasks = 5\n")
    refused(out, "6", "5")
    ok = run(home, sim, "submit", "a {fox|owl|cat}", "--dry-run")
    assert ok.returncode == 0 and "would send 3 tasks" in ok.stdout
    for bad in ("0", "-1", '"many"', "10000000", "nan"):
        (home / "config.toml").write_text(f"[batch]\nmax_tasks = {bad}\n")
        loaded = settings.load(home / "config.toml")
        assert loaded.get("batch", "max_tasks") == 10_000
        assert len(loaded.problems) == 1 and "max_tasks" in loaded.problems[0]


def test_counting_is_arithmetic_in_bounded_memory() -> None:
    """Refusing three lines worth 3,000,000 tasks builds none of them."""
    tracemalloc.start()
    try:
        plan = batch.read_batch(HUGE_FILE, "huge.txt", GenerationRequest(""), variations=100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert plan.items == [] and len(plan.problems) == 1
    assert "max_tasks" in plan.problems[0]
    assert peak < 5 * 2**20, f"{peak / 2**20:.1f} MB to say no"
    with pytest.raises(batch.TooManyTasks):
        batch.expand_prompt(GenerationRequest(" ".join([TEN] * 100)), 100)
    assert templates.count(" ".join([TEN] * 5)) == 100_000


async def test_the_composer_counts_without_expanding_and_refuses_over_the_cap(
        sim: Simulator, tmp_path: Path) -> None:
    app = app_for(tmp_path / "home", sim)
    async with app.run_test(size=(160, 45)) as pilot:
        c = composer(app)

        def problems() -> str:
            return str(c.query_one("#problems").render())

        c.prompt.load_text(TEN_THOUSAND)
        await until(pilot, lambda: "10000 prompts" in problems() or "10,000 prompts"
                    in problems(), what="the count")
        c.query_one("#variations").value = "2"  # type: ignore[attr-defined]
        await until(pilot, lambda: "max_tasks" in problems(), what="the refusal")
        assert "20,000 tasks" in problems()
        c.prompt.load_text(" ".join([TEN] * 40))  # 10^40 × 2: said at once, never built
        await until(pilot, lambda: "max_tasks" in problems() and "more than" in problems(),
                    what="the refusal of a huge template")
        assert c.draft(expand=False).requests == []
        assert not c.draft().requests and c.draft().problems
