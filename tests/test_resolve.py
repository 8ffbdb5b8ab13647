"""``resolve`` never gives a task to the wrong row (issue 7, part 3).

Row A's create reached the service (its answer was lost); row B's did not.
``resolve`` must find A's task for A, never attach it to B, and tell B
"nothing was created" only when no task B could have made exists — being told
to submit again when a task exists bills the user twice.  When it cannot tell,
it lists the candidates and asks.  100 unconfirmed rows are settled from a few
list pages, and a failed list call leaves only its rows unsettled.

Every command runs as a subprocess against the simulator over loopback.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage import Generation, open_store
from storage.clock import iso
from tests.conftest import CLI, KEY, cli_env, client_for
from tui.dashscope import GenerationRequest
from tui.dashscope.sizes import MODEL_V56
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator


def run(home: Path, sim: Simulator | None, *args: str,
        key: str | None = KEY) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=cli_env(home, sim, key), capture_output=True,
                          text=True, timeout=60)


async def unconfirmed(home: Path, sim: Simulator, prompt: str, *, created: bool,
                      size: str = "1280*720", duration: int = 5) -> Generation:
    """A submission whose answer was lost: with a task behind it or without.

    Sent the way ``pixverse-tui submit`` sends it (the same engine and client, over
    loopback), in-process to keep the test fast.
    """
    if created:
        sim.inject(on="create", kind="drop_after")  # the task exists; the answer is lost
    else:
        sim.inject(on="create", kind="status", status=500)  # nothing behind it
    async with await open_store(home / "tasks.db") as store, client_for(sim) as client:
        outcome = await submit(store, client, GenerationRequest(prompt, size=size,
                                                                duration=duration))
    assert outcome.error is not None and outcome.error.ambiguous
    assert outcome.generation.submission == "unconfirmed"
    return outcome.generation


def other_client_creates(sim: Simulator, prompt: str, size: str = "1280*720", *,
                         http: httpx.Client | None = None) -> str:
    """A task made with the same key by another program (the SDK, the console)."""
    answer = (http or httpx).post(sim.base_url + "/services/aigc/video-generation/video-synthesis",
                        headers={"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"},
                        json={"model": MODEL_V56, "input": {"prompt": prompt},
                              "parameters": {"size": size, "duration": 5}})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["output"]["task_id"])


def service_tasks(sim: Simulator) -> dict[str, str]:
    """task id → prompt, for every task the service holds."""
    return {t.task_id: t.prompt for a in sim.world.accounts.values() for t in a.tasks.values()}


async def rows(home: Path) -> dict[int, Generation]:
    """What the history now says of each row."""
    async with await open_store(home / "tasks.db") as store:
        return {row.id: row for row in await store.history.page(limit=1000)}


def line_about(out: subprocess.CompletedProcess[str], row_id: int) -> str:
    """The block of ``resolve`` output about one row."""
    blocks = out.stdout.split("\n#")
    found = [b for b in blocks if b.lstrip("#").startswith(f"{row_id}:")]
    assert len(found) == 1, out.stdout
    return found[0]


def move_into_the_past(home: Path, row_id: int, minutes: float) -> None:
    """Make a row look as if it had been sent ``minutes`` earlier (its send window too)."""
    def earlier(text: str | None) -> str | None:
        return None if text is None else iso(datetime.fromisoformat(text)
                                              - timedelta(minutes=minutes))

    with closing(sqlite3.connect(home / "tasks.db")) as db, db:
        created, sending = db.execute("SELECT created_at, sending_since FROM generations"
                                      " WHERE id = ?", (row_id,)).fetchone()
        db.execute("UPDATE generations SET created_at = ?, sending_since = ? WHERE id = ?",
                   (earlier(created), earlier(sending), row_id))
        for event_id, at in db.execute("SELECT id, at FROM status_events"
                                       " WHERE generation_id = ?", (row_id,)).fetchall():
            db.execute("UPDATE status_events SET at = ? WHERE id = ?", (earlier(at), event_id))


# -- two rows, one task --------------------------------------------------------------------


async def test_the_task_goes_to_the_row_that_made_it_and_the_other_is_told_nothing_was_made(
        slow_sim: Simulator, tmp_path: Path) -> None:
    home, sim = tmp_path / "home", slow_sim  # the task stays PENDING: no prompt to compare
    a = await unconfirmed(home, sim, "a lighthouse in a storm", created=True)
    b = await unconfirmed(home, sim, "a windmill at noon", created=False)
    move_into_the_past(home, b.id, minutes=10)  # sent ten minutes before the task was made
    [task_id] = service_tasks(sim)
    resolved = run(home, sim, "resolve")
    assert resolved.returncode == 1  # one of them did not create anything
    assert f"found it — {task_id}" in line_about(resolved, a.id)
    assert "nothing was created" in line_about(resolved, b.id)
    after = await rows(home)
    assert after[a.id].task_id == task_id and after[a.id].submission == "accepted"
    assert after[b.id].task_id is None and after[b.id].submission == "unconfirmed"


async def test_a_pending_task_two_rows_could_have_made_is_ambiguous_until_the_user_picks(
        slow_sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    a = await unconfirmed(home, slow_sim, "a harbour at night", created=True)
    b = await unconfirmed(home, slow_sim, "a desert road", created=False)
    [task_id] = service_tasks(slow_sim)  # PENDING: the service reports no prompt yet
    asked = run(home, slow_sim, "resolve")
    assert asked.returncode == 1
    assert "nothing was created" not in asked.stdout  # that would make someone pay twice
    for row in (a, b):
        block = line_about(asked, row.id)
        assert "could be it" in block and task_id in block
        assert f"pixverse-tui resolve {row.id} --task TASK_ID" in block
    assert all(row.task_id is None for row in (await rows(home)).values())

    picked = run(home, slow_sim, "resolve", str(a.id), "--task", task_id)  # the user knows
    assert picked.returncode == 0 and f"#{a.id}: is {task_id}" in picked.stdout
    settled = run(home, slow_sim, "resolve")  # now nothing else can be b's
    assert "nothing was created" in line_about(settled, b.id)
    after = await rows(home)
    assert after[a.id].task_id == task_id and after[b.id].task_id is None


async def test_one_row_with_two_possible_tasks_is_ambiguous(slow_sim: Simulator,
                                                            tmp_path: Path) -> None:
    home = tmp_path / "home"
    a = await unconfirmed(home, slow_sim, "twin peaks", created=True)
    [made] = service_tasks(slow_sim)
    twin = other_client_creates(slow_sim, "twin peaks")  # the same prompt, the same minute
    asked = run(home, slow_sim, "resolve")
    assert asked.returncode == 1
    block = line_about(asked, a.id)
    assert "2 tasks could be it" in block and made in block and twin in block
    assert (await rows(home))[a.id].task_id is None  # nothing adopted on a guess


# (row A: made the task; row B: made nothing) — told apart only by what the service
# reports of the finished task
TOLD_APART = {
    "prompt-prefix": ({"prompt": "a cat"}, {"prompt": "a cat in the rain"}),
    "size": ({"prompt": "a cat"}, {"prompt": "a cat", "size": "640*360"}),
    "duration": ({"prompt": "a cat"}, {"prompt": "a cat", "duration": 10}),
}


@pytest.mark.parametrize("case", list(TOLD_APART))
async def test_what_the_service_reports_keeps_a_task_from_the_wrong_row(
        sim: Simulator, tmp_path: Path, case: str) -> None:
    home = tmp_path / "home"
    made, not_made = TOLD_APART[case]
    a = await unconfirmed(home, sim, created=True, **made)
    b = await unconfirmed(home, sim, created=False, **not_made)
    sim.clock.advance(400)  # finished: the service reports prompt, size and duration
    [task_id] = service_tasks(sim)
    resolved = run(home, sim, "resolve")
    assert f"found it — {task_id}" in line_about(resolved, a.id)
    assert task_id not in line_about(resolved, b.id)
    assert "nothing was created" in line_about(resolved, b.id)
    after = await rows(home)
    assert after[a.id].task_id == task_id and after[b.id].task_id is None


@pytest.mark.parametrize("listed", [
    {"task_id": "made/elsewhere-0001", "gmt_create": "now"},
    {"task_id": "0385dc79-1111-4000-8000-000000000000"},  # no creation time
], ids=["unusable-id", "no-creation-time"])
async def test_a_listed_task_that_cannot_be_checked_is_never_read_as_nothing_created(
        sim: Simulator, tmp_path: Path, listed: dict[str, Any]) -> None:
    home = tmp_path / "home"
    b = await unconfirmed(home, sim, "a red kite", created=False)
    if listed.get("gmt_create") == "now":
        listed = {**listed, "gmt_create": int(time.time() * 1000)}  # inside b's window
    sim.inject(on="list", kind="answer", status=200, body={
        "request_id": "r", "total": 1, "total_page": 1, "page_no": 1, "page_size": 100,
        "data": [{"status": "SUCCEEDED", "model_name": MODEL_V56, "region": "cn-beijing",
                  **listed}]})
    resolved = run(home, sim, "resolve")
    assert resolved.returncode == 1 and "1 task in the window" in resolved.stderr
    # a task is there that could be b's: telling the user nothing is billed is not known
    assert "nothing was created" not in line_about(resolved, b.id)


async def test_a_failed_list_call_leaves_only_its_rows_unsettled(sim: Simulator,
                                                                 tmp_path: Path) -> None:
    home = tmp_path / "home"
    a = await unconfirmed(home, sim, "a lighthouse in a storm", created=True)
    b = await unconfirmed(home, sim, "a windmill at noon", created=False)
    move_into_the_past(home, b.id, minutes=10)  # two windows: b's is listed first
    [task_id] = service_tasks(sim)
    sim.inject(on="list", kind="status", status=403, code="AccessDenied",
               message="Access denied.")
    first = run(home, sim, "resolve")
    assert first.returncode == 1 and "Traceback" not in first.stderr
    assert f"found it — {task_id}" in line_about(first, a.id)
    assert "not settled" in line_about(first, b.id)
    assert "run resolve again" in line_about(first, b.id)
    again = run(home, sim, "resolve")
    assert again.returncode == 1 and "nothing was created" in line_about(again, b.id)
    assert (await rows(home))[b.id].task_id is None


# -- scale ---------------------------------------------------------------------------------


async def test_a_hundred_unconfirmed_rows_settle_from_a_few_list_pages(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    count = 100
    async with await open_store(home / "tasks.db") as store:
        for n in range(count):
            row = await store.intents.add(endpoint=sim.base_url, model=MODEL_V56,
                                          prompt=f"scene number {n}", size="1280*720",
                                          duration=5)
            await store.intents.mark_unconfirmed(row.id, "the answer was lost")
    with httpx.Client() as http:
        for n in range(count):  # every one of them did reach the service
            other_client_creates(sim, f"scene number {n}", http=http)
        for n in range(20):  # and another program made some more meanwhile
            other_client_creates(sim, f"someone else's idea {n}", http=http)
    sim.clock.advance(4 * 3600)  # all finished (five run at a time): prompts are reported
    sim.requests.clear()

    resolved = run(home, sim, "resolve")
    assert resolved.returncode == 0, resolved.stdout
    assert resolved.stdout.count("found it") == count
    lists = [p for m, p in sim.requests if m == "GET" and p.rstrip("/") == "/api/v1/tasks"]
    queried = [p for m, p in sim.requests if m == "GET" and p.startswith("/api/v1/tasks/")
               and p != "/api/v1/tasks/"]
    assert 1 <= len(lists) <= 3  # a few shared pages, not one listing per row
    assert len(queried) == len(set(queried)) <= count + 20  # each candidate asked once
    progress = [line for line in resolved.stderr.splitlines() if "resolve: " in line]
    assert any("listed page" in line for line in progress), resolved.stderr

    prompts = service_tasks(sim)
    async with await open_store(home / "tasks.db") as store:
        settled = await store.history.page(limit=1000)
    assert len(settled) == count
    for row in settled:  # each row got the task with its own prompt
        assert row.task_id is not None and prompts[row.task_id] == row.prompt


# -- resolve N --task ID --------------------------------------------------------------------


async def test_resolve_task_checks_the_named_task_with_one_sentence_each(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    row = await unconfirmed(home, sim, "a red kite", created=False)
    async with await open_store(home / "tasks.db") as store, client_for(sim) as client:
        other_row = (await submit(store, client, GenerationRequest("a blue boat"))).generation
    held = other_row.task_id
    assert held is not None
    other_prompt = other_client_creates(sim, "a green field")
    other_size = other_client_creates(sim, "a red kite", size="640*360")
    right = other_client_creates(sim, "a red kite")
    sim.clock.advance(400)  # finished: prompt and size are reported

    for task_id, words in ((held, f"already belongs to #{other_row.id}"),
                           ("0385dc79-0000-4000-8000-000000000000", "does not know"),
                           (other_prompt, "its prompt differs"),
                           (other_size, "its size is 640*360, not 1280*720")):
        refused = run(home, sim, "resolve", str(row.id), "--task", task_id)
        assert refused.returncode == 1, refused.stdout
        assert "Traceback" not in refused.stderr
        assert refused.stderr.count("\n") == 1 and words in refused.stderr, refused.stderr
    accepted = run(home, sim, "resolve", str(row.id), "--task", right)
    assert accepted.returncode == 0 and f"#{row.id}: is {right}" in accepted.stdout
    after = await rows(home)
    assert after[row.id].task_id == right and after[other_row.id].task_id == held
