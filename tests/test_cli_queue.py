"""The local queue on the command line, run as a user runs it (a subprocess against the
simulator): what `queue list` says while nobody feeds the queue and of creates in doubt,
what `watch` prints for each of them, a take-back that meets a task that started, and
the words of pause, resume, move and `submit --help`."""

from __future__ import annotations

import contextlib
import json
import queue as queue_module
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import open_store
from tests.conftest import CLI, KEY, cli_env, client_for, make_sim
from tests.test_cli import run
from tests.test_queue import started_meanwhile
from tui.dashscope import GenerationRequest
from tui.engine.submitting import queue
from tui.engine.submitting.feeder import Feeder
from tui.simulator import Simulator

SCALE = ["--time-scale", "600"]
NOBODY = ("waiting: nobody is feeding the queue (start the dashboard or `pixverse-tui "
          "watch`)")


@pytest.fixture
def busy_sim() -> Iterator[Simulator]:
    """Tasks wait long at the service: what was sent stays PENDING."""
    with make_sim(speed=1.0, queue_delay=(600.0, 600.0), min_work=600.0,
                  max_work=600.0) as running:
        yield running


def lines_file(tmp_path: Path, count: int) -> Path:
    source = tmp_path / "herons.txt"
    source.write_text("".join(f"heron {n}\n" for n in range(count)), encoding="utf-8")
    return source


def test_queue_list_with_nobody_feeding_says_waiting_and_gives_no_times(
        sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    queued = run(home, sim, "submit", "--from", str(lines_file(tmp_path, 3)))
    assert queued.returncode == 0, queued.stderr
    assert NOBODY in queued.stderr and "done" not in queued.stderr
    listed = run(home, sim, "queue", "list")
    assert listed.returncode == 0, listed.stderr
    head, *rest = listed.stdout.splitlines()
    assert head == f"3 queued · {NOBODY}"
    items = [line for line in rest if line.split()[:1] in (["1"], ["2"], ["3"])]
    assert len(items) == 3 and all(" waiting " in line for line in items), listed.stdout
    assert len([line for line in rest if line.split()[1:3] == ["3", "waiting"]]) == 1  # batch
    shown = json.loads(run(home, sim, "queue", "list", "--json").stdout)
    assert shown["problem"] == NOBODY and shown["finish"] is None
    assert all(item["starts"] is None for item in shown["items"])
    assert all(batch["finish"] is None for batch in shown["batches"])


def test_without_a_key_list_and_queue_list_do_not_say_nobody_feeds_the_queue(
        sim: Simulator, tmp_path: Path) -> None:
    """Whoever polls the account feeds the queue — which a shell without the account's
    key cannot tell: `list` says nothing of it, and `queue list` says it is not known (it
    said "nobody is feeding the queue" while a dashboard with the key was feeding it)."""
    home = tmp_path / "home"
    assert run(home, sim, "submit", "--from", str(lines_file(tmp_path, 2))).returncode == 0
    listed = run(home, sim, "list", key=None)
    assert listed.returncode == 0 and "heron 1" in listed.stdout, listed.stderr
    assert "feeding" not in listed.stderr, listed.stderr
    shown = run(home, sim, "queue", "list", key=None)
    head = shown.stdout.splitlines()[0]
    assert head == "2 queued · who sends them is not known here (no API key: the account " \
                   "is not known)", shown.stdout
    shown_json = json.loads(run(home, sim, "queue", "list", "--json", key=None).stdout)
    assert shown_json["problem"] is None and shown_json["feeder_known"] is False


async def test_queue_list_and_watch_tell_of_creates_in_doubt(sim: Simulator,
                                                             tmp_path: Path) -> None:
    """A lost create answer stops that item for `resolve`: `watch` prints one line for it
    as it happens, `queue list` names it until it is settled."""
    home = tmp_path / "home"
    async with await open_store(home / "tasks.db") as store:
        done = await queue.enqueue_requests(store, sim.base_url,
                                            [GenerationRequest(f"lantern {n}") for n in range(3)])
    sim.inject(kind="drop_after", on="create")  # the first create: made, its answer lost
    watch = subprocess.Popen([*CLI, "watch", *SCALE], env=cli_env(home, sim, KEY),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said: list[str] = []
    lines: queue_module.Queue[str] = queue_module.Queue()
    assert watch.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in watch.stdout],
                              daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 90
        while sum(1 for line in said if line.startswith(("✔", "!"))) < 3:
            assert time.monotonic() < deadline and watch.poll() is None, said
            with contextlib.suppress(queue_module.Empty):
                said.append(lines.get(timeout=0.5).rstrip("\n"))
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=30)
        reader.join(timeout=10)
        errors = watch.stderr.read() if watch.stderr is not None else ""
    while not lines.empty():
        said.append(lines.get().rstrip("\n"))
    doubts = [line for line in said if line.startswith("!")]
    assert doubts == [f"! UNCONFIRMED #{done.queued[0]}  lantern 0  (`pixverse-tui resolve`)"]
    assert errors.count("UNCONFIRMED: no clear answer to its create: a task may exist; it is "
                        "not sent again") == 1  # what it means, once
    assert "Traceback" not in errors

    listed = run(home, sim, "queue", "list")
    assert listed.returncode == 0, listed.stderr
    assert ("1 unconfirmed — a task may exist; not sent again: `pixverse-tui resolve`"
            in listed.stdout)
    assert f"#{done.queued[0]}" in listed.stdout and "lantern 0" in listed.stdout
    shown = json.loads(run(home, sim, "queue", "list", "--json").stdout)
    assert [d["id"] for d in shown["unconfirmed"]] == [done.queued[0]]

    assert run(home, sim, "resolve").returncode == 0  # found in the service's list
    assert "unconfirmed" not in run(home, sim, "queue", "list").stdout


async def test_taking_back_a_batch_whose_task_started_meanwhile_is_one_clear_sentence(
        busy_sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with await open_store(home / "tasks.db") as store, client_for(busy_sim) as client:
        done = await queue.enqueue_requests(
            store, busy_sim.base_url, [GenerationRequest(f"crane {n}") for n in range(3)],
            priority=queue.BATCH)
        assert len(await Feeder(store, client, pace=0.0).feed()) == 3  # all PENDING there
        rows = await store.generations.get_many(done.queued)
    await started_meanwhile(busy_sim, rows[0].task_id)  # the store still says PENDING
    batch = rows[0].batch_id
    assert batch is not None
    paused = run(home, busy_sim, "queue", "pause", batch, "--take-back")
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.strip() == (
        f"batch {batch} paused: nothing more of it is sent until `pixverse-tui queue resume "
        f"{batch}`; 2 of 3 tasks still PENDING at the service were cancelled there and queued "
        "again; 1 had started meanwhile and run on (a started task cannot be taken back)")
    assert paused.stderr == ""  # no raw HTTP 400
    resumed = run(home, busy_sim, "queue", "resume", batch, "--json")
    assert json.loads(resumed.stdout) == {"batch_id": batch, "paused": False,
                                          "taken_back": [], "started": 0}


def test_pause_resume_and_move_say_what_they_did(sim: Simulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, sim, "submit", "--from", str(lines_file(tmp_path, 2))).returncode == 0
    paused = run(home, sim, "queue", "pause")
    assert paused.stdout.strip() == ("queue paused: nothing more of it is sent until "
                                     "`pixverse-tui queue resume`")
    assert run(home, sim, "submit", "a stork").returncode == 0  # waits, ahead of the lines
    listed = run(home, sim, "queue", "list")
    assert ("queue paused by you; `pixverse-tui queue resume` resumes it"
            in listed.stdout.splitlines()[0])
    batch = json.loads(run(home, sim, "queue", "list", "--json").stdout)["batches"][0]
    assert run(home, sim, "queue", "resume").returncode == 0
    assert run(home, sim, "queue", "pause", batch["batch_id"]).returncode == 0
    head = run(home, sim, "queue", "list").stdout.splitlines()[0]
    assert head.endswith(f"batch paused by you; `pixverse-tui queue resume "
                         f"{batch['batch_id']}` resumes it"), head
    assert run(home, sim, "queue", "resume", batch["batch_id"]).returncode == 0
    assert run(home, sim, "queue", "pause").returncode == 0
    items = json.loads(run(home, sim, "queue", "list", "--json").stdout)["items"]
    assert [i["priority"] for i in items] == [1, 0, 0]
    last = items[-1]["id"]
    moved = run(home, sim, "queue", "move", "top", f"#{last}")
    assert moved.stdout.strip() == (f"#{last} moved to the top of the queue: first to be "
                                    "sent — its priority rose to 1, the highest waiting.")
    same = run(home, sim, "queue", "move", "up", f"#{last}")
    assert same.stdout.strip() == f"#{last} is first in the queue already: nothing moved."
    assert run(home, sim, "queue", "resume").stdout.strip() == "queue resumed"


def test_submit_help_says_yes_queues() -> None:
    helped = subprocess.run([*CLI, "submit", "--help"], capture_output=True, text=True,
                            timeout=60)
    said = " ".join(helped.stdout.split())
    assert "--yes queue more than [batch] ask_above tasks without asking" in said
    assert "send more than" not in said
