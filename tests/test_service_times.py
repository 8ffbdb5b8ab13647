"""Times from the service are checked (issue 13, point 12).

A task whose ``end_time`` comes before its submit or scheduled time (or whose
scheduled time comes before its submit time) has no queue or generation time
anyone can know: ``show`` and the detail pane say "—", and ``stats``, the
typical times and a dry-run's estimate leave it out — no negative figure, no
"about 0 s".
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

from rich.style import Style

from storage import Generation, Observation, TaskStore, open_store
from tests.conftest import CLI, cli_env
from tui.engine.history import stats
from tui.simulator import Simulator
from tui.ui.cells import row_cells
from tui.ui.widgets.detail import describe

DAY = "2026-03-20T02:"
GOOD = (f"{DAY}00:00.000+00:00", f"{DAY}00:02.000+00:00", f"{DAY}01:02.000+00:00")  # 2 s, 60 s
IMPOSSIBLE = {
    "ends before it was submitted": (f"{DAY}10:00.000+00:00", f"{DAY}10:02.000+00:00",
                                     f"{DAY}05:00.000+00:00"),
    "ends before it was scheduled": (f"{DAY}20:00.000+00:00", f"{DAY}22:00.000+00:00",
                                     f"{DAY}21:00.000+00:00"),
    "scheduled before it was submitted": (f"{DAY}30:00.000+00:00", f"{DAY}29:00.000+00:00",
                                          f"{DAY}39:00.000+00:00"),
}


async def ended(store: TaskStore, prompt: str, times: tuple[str, str, str],
                task_id: str) -> Generation:
    row = await store.intents.add(endpoint="http://127.0.0.1:9/api/v1", prompt=prompt,
                                  model="pixverse/pixverse-v5.6-t2v", size="1280*720",
                                  duration=5)
    await store.intents.mark_accepted(row.id, task_id=task_id, status="PENDING",
                                      request_id="r", next_poll_in=600)
    submitted, scheduled, end = times
    row, _ = await store.following.apply(row.id, Observation(
        "SUCCEEDED", request_id="r", submit_time=submitted, scheduled_time=scheduled,
        end_time=end, video_url="https://example.com/v.mp4", usage_duration=5.0,
        usage_size="1280*720", usage_fps=24, usage_sr="720", usage_audio=False,
        usage_video_count=1), None)
    return row


async def history(path: Path) -> dict[str, Generation]:
    async with await open_store(path) as store:
        rows = {"good": await ended(store, "good", GOOD, "task-good-0001")}
        for n, (name, times) in enumerate(IMPOSSIBLE.items()):
            rows[name] = await ended(store, name, times, f"task-bad-{n:04d}")
    return rows


async def test_stats_and_typical_times_leave_impossible_times_out(tmp_path: Path) -> None:
    await history(tmp_path / "tasks.db")
    async with await open_store(tmp_path / "tasks.db") as store:
        figures = (await stats.compute(store)).as_json()["tiers"]["720P"]
        typical = await stats.typical_generation_times(store)
    assert figures["videos"] == 4  # the videos count; only their times are unknown
    assert figures["queue_median"] == figures["queue_p95"] == 2.0
    assert figures["generation_median"] == figures["generation_p95"] == 60.0
    assert typical == {"720P": 60.0}


async def test_show_says_unknown_and_the_dry_run_estimate_ignores_them(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    rows = await history(home / "tasks.db")
    env = cli_env(home, sim)
    for name in IMPOSSIBLE:
        shown = subprocess.run([*CLI, "show", f"#{rows[name].id}"], env=env, text=True,
                               capture_output=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        lines = {line.split("  ")[0]: line for line in shown.stdout.splitlines()}
        assert lines["queue time"].split()[-1] == "—", shown.stdout
        assert lines["generation time"].split()[-1] == "—", shown.stdout
        assert " -" not in lines["queue time"] + lines["generation time"]
    good = subprocess.run([*CLI, "show", f"#{rows['good'].id}"], env=env, text=True,
                          capture_output=True, timeout=60)
    assert "queue time       2.0 s" in good.stdout and "generation time  60.0 s" in good.stdout
    as_json = subprocess.run([*CLI, "stats", "--json"], env=env, text=True,
                             capture_output=True, timeout=60)
    tier = json.loads(as_json.stdout)["tiers"]["720P"]
    assert min(v for k, v in tier.items() if k.startswith(("queue", "generation"))) >= 0
    dry = subprocess.run([*CLI, "submit", "a fox", "--dry-run"], env=env, text=True,
                         capture_output=True, timeout=60)
    assert "about 60 s" in dry.stdout and "about 0 s" not in dry.stdout, dry.stdout


async def test_the_detail_pane_and_the_table_say_unknown(tmp_path: Path) -> None:
    rows = await history(tmp_path / "tasks.db")
    now = datetime.fromisoformat(f"{DAY}50:00.000+00:00")
    for name in IMPOSSIBLE:
        text = describe(rows[name], [], now, Style()).plain
        lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
        assert lines["Queue"].split()[-1] == "—" and lines["Generation"].split()[-1] == "—"
        took = row_cells(rows[name], now, Style())["took"]
        assert took.plain == "" and took.order == 0.0
    text = describe(rows["good"], [], now, Style()).plain
    assert "2.0 s" in text and "60.0 s" in text


async def test_sorting_by_time_taken_puts_impossible_times_with_the_unknown(
        tmp_path: Path) -> None:
    """Sorted by how long they took, longest first: the good task leads; those whose times
    contradict each other come last, with the ones not ended yet — not first, as a
    negative (or inflated) figure would put them."""
    rows = await history(tmp_path / "tasks.db")
    async with await open_store(tmp_path / "tasks.db") as store:
        longest = await store.history.page(sort="took", descending=True)
        shortest = await store.history.page(sort="took", descending=False)
    assert longest[0].id == rows["good"].id
    assert shortest[-1].id == rows["good"].id
