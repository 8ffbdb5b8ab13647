"""The local queue of a team database, with the real engine over real HTTP against the
simulator: the engine's queue tests (tests/test_queue.py) run again here on a
PostgreSQL store, and machines share one queue — whichever polls the account feeds
it, a prompt queued on another machine is sent once, ahead of the batch, and two
feeders racing send each item once within the room."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest

from storage import TaskStore, open_store
from storage.postgres.connect import ENV_URL
from storage.records import Who
from tests.conftest import CLI, KEY, cli_env, client_for, make_sim
from tests.test_queue import (  # the engine's queue tests, collected here with a team store
    SPEED,
    all_ended,
    at_service,
    creates,
    feeding,
    requests,
    test_a_budget_reached_pauses_the_queue,
    test_a_lost_create_answer_stops_that_item_only,
    test_a_prompt_starts_before_the_rest_of_a_batch,
    test_a_refused_key_pauses_the_queue_with_one_sentence,
    test_a_refused_prompt_is_rejected_and_the_queue_goes_on,
    test_failures_by_the_service_are_queued_again_with_their_seed,
    test_the_queue_is_fed_within_the_room_each_item_once,
    test_wait_follows_a_queued_item_until_it_ends,
    until,
)
from tui.cli.main import main
from tui.dashscope import ApiKey, GenerationRequest
from tui.engine.following.account import account_id
from tui.engine.following.poller import PollScheduler, PollSettings
from tui.engine.submitting import batch, queue
from tui.engine.submitting.feeder import Feeder, QueueSettings, looked_at_soon
from tui.simulator import Simulator

__all__ = [
    "test_a_budget_reached_pauses_the_queue",
    "test_a_lost_create_answer_stops_that_item_only",
    "test_a_prompt_starts_before_the_rest_of_a_batch",
    "test_a_refused_key_pauses_the_queue_with_one_sentence",
    "test_a_refused_prompt_is_rejected_and_the_queue_goes_on",
    "test_failures_by_the_service_are_queued_again_with_their_seed",
    "test_the_queue_is_fed_within_the_room_each_item_once",
    "test_wait_follows_a_queued_item_until_it_ends",
]

STUDIO_1 = Who("alice@studio-1", "studio-1")
STUDIO_2 = Who("bob@studio-2", "studio-2")


@pytest.fixture
async def store(pg_dsn: str) -> AsyncIterator[TaskStore]:
    """The team store the engine's queue tests above run on (they ask for ``store``)."""
    opened = await open_store(pg_dsn, who=STUDIO_1)
    yield opened
    await opened.close()


@contextlib.asynccontextmanager
async def running(*work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """These run (a machine's poller and feeder, as the dashboard or ``watch`` runs
    them) until the block ends."""
    jobs = [asyncio.create_task(w) for w in work]
    try:
        yield
    finally:
        for job in jobs:
            job.cancel()
        for job in jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await job


def made(sim: Simulator) -> list[str]:
    """The prompts of the tasks the service created, in the order it created them."""
    with sim.world.lock:
        return [t.prompt for a in sim.world.accounts.values() for t in a.tasks.values()]


async def test_a_prompt_queued_on_another_machine_is_sent_once_ahead_of_the_batch(
        pg_dsn: str) -> None:
    """Studio 1 polls the account and feeds a 30-line batch; on studio 2, ``submit
    PROMPT`` finds the account polled elsewhere, so it sends nothing itself (it nudges)
    and its prompt waits first in the shared queue: studio 1 sends it once, as soon as
    a slot frees, before the batch lines that waited."""
    with make_sim(speed=SPEED) as sim:
        account = account_id(sim.base_url, ApiKey(KEY))
        async with await open_store(pg_dsn, who=STUDIO_1) as one, \
                await open_store(pg_dsn, who=STUDIO_2) as two, \
                client_for(sim) as c1, client_for(sim) as c2:
            poller = PollScheduler(one, c1, PollSettings(time_scale=SPEED), account=account,
                                   owner="alice@studio-1:11:a")
            feeder = Feeder(one, c1, QueueSettings(ahead=1), polling=lambda: poller.polling,
                            time_scale=SPEED, pace=0.25 / SPEED,
                            first_poll_after=poller.settings.first_poll,
                            sent=looked_at_soon(poller))
            batch = await queue.enqueue_requests(one, c1.base_url, requests("line", 30),
                                                 priority=queue.BATCH)
            async with running(poller.run(), feeder.run()):
                await until(lambda: creates(sim) >= 8, what="the batch to start")
                assert poller.polling
                before = creates(sim)
                typed = await queue.enqueue_requests(two, c2.base_url,
                                                     [GenerationRequest("typed on studio 2")])
                elsewhere = Feeder(two, c2, QueueSettings(ahead=1), time_scale=SPEED)
                sent_here = await queue.send_own(two, elsewhere, list(typed.queued),
                                                 account=account,
                                                 owner="bob@studio-2:22:submit")
                assert sent_here == []  # studio 1 polls: it sends the prompt
                await until(lambda: all_ended(two, typed.queued), what="the prompt to end")
            [prompt] = await two.generations.get_many(typed.queued)
            lines = await one.generations.get_many(batch.queued)
    order = made(sim)
    assert order.count("typed on studio 2") == 1 and creates(sim) == len(order)  # once
    assert prompt.status == "SUCCEEDED" and prompt.submitted_by == STUDIO_2.person
    place = order.index("typed on studio 2")
    # Behind only what was sent before it was queued (and a take under way then)…
    assert place <= before + 1, f"the prompt was the {place + 1}th create, {before} before it"
    # …and ahead of the batch lines that waited: they were still waiting when it went.
    after = len(order) - place - 1 + sum(1 for r in lines if r.queued)
    assert after >= 10, f"only {after} batch lines went after the prompt"


async def test_two_machines_feeding_one_queue_send_each_item_once_within_the_room(
        pg_dsn: str) -> None:
    """No lease between them (as two machines could in a handover): both feed at once."""
    with make_sim(speed=SPEED) as sim:
        async with await open_store(pg_dsn, who=STUDIO_1) as one, \
                await open_store(pg_dsn, who=STUDIO_2) as two, \
                client_for(sim) as c1, client_for(sim) as c2:
            done = await queue.enqueue_requests(one, c1.base_url, requests("race", 30))
            peak = 0
            async with feeding(one, c1, SPEED, QueueSettings(ahead=1)), \
                    feeding(two, c2, SPEED, QueueSettings(ahead=1)):
                async def finished() -> bool:
                    nonlocal peak
                    peak = max(peak, at_service(sim))
                    return await all_ended(one, done.queued)
                await until(finished, timeout=180, what="the race to end")
            rows = await one.generations.get_many(done.queued)
    assert creates(sim) == 30 and len({r.task_id for r in rows}) == 30
    assert peak <= 6, f"the service held {peak} tasks at once"


# -- the command line of two machines on one team database ---------------------------------

SCALE = ["--time-scale", "20"]


def machine_home(tmp_path: Path, who: Who) -> Path:
    home = tmp_path / who.machine
    home.mkdir()
    (home / "config.toml").write_text(f'[team]\nname = "{who.person}"\nmachine = "{who.machine}"\n')
    return home


async def cli(home: Path, sim: Simulator, url: str, *args: str) -> Any:
    """One command of a machine on the team database, with --json: what it printed."""
    env = {**cli_env(home, sim), ENV_URL: url}
    done = await asyncio.to_thread(subprocess.run, [*CLI, *args, "--json"], env=env,
                                   capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_two_machines_command_lines_share_one_queue(pg_dsn: str, sim: Simulator,
                                                         tmp_path: Path) -> None:
    """Studio 1 queues a batch file; studio 2 lists it, pauses it, moves a line to the
    top and cancels one; studio 1's ``watch`` feeds the queue: studio 2's prompt goes
    while the batch is paused, the batch when it is resumed — each line once, the moved
    one first, the cancelled one never."""
    one, two = machine_home(tmp_path, STUDIO_1), machine_home(tmp_path, STUDIO_2)
    lines = tmp_path / "cranes.txt"
    lines.write_text("".join(f"crane {n}\n" for n in range(8)))
    waiting = await cli(one, sim, pg_dsn, "submit", "--from", str(lines))
    assert [row["status"] for row in waiting] == ["QUEUED"] * 8
    ids = [f"#{row['id']}" for row in waiting]
    listed = await cli(two, sim, pg_dsn, "queue", "list")
    assert listed["queued"] == 8
    assert listed["problem"].startswith("waiting: nobody is feeding the queue")
    batch_id = listed["batches"][0]["batch_id"]
    assert (await cli(two, sim, pg_dsn, "queue", "pause", batch_id))["paused"] is True
    await cli(two, sim, pg_dsn, "queue", "move", "top", ids[7])
    await cli(two, sim, pg_dsn, "queue", "cancel", ids[1])
    env = {**cli_env(one, sim), ENV_URL: pg_dsn}
    watch = subprocess.Popen([*CLI, "watch", "--no-download", *SCALE], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    account = account_id(sim.base_url, ApiKey(KEY))
    try:
        async with await open_store(pg_dsn) as store:
            async def polled() -> bool:
                return (await store.leases.current(account)).holder is not None
            await until(polled, what="studio 1's watch to poll")
            [typed] = await cli(two, sim, pg_dsn, "submit", "a heron typed on studio 2")
            assert typed["submitted_by"] == STUDIO_2.person
            await until(lambda: "a heron typed on studio 2" in made(sim),
                        what="studio 1 to send studio 2's prompt")
            assert made(sim) == ["a heron typed on studio 2"]  # the batch is paused
            await cli(two, sim, pg_dsn, "queue", "resume", batch_id)
            rows = [int(i.lstrip("#")) for i in ids]

            async def ended() -> bool:
                return all(r.terminal or r.display_status == "ABANDONED"
                           for r in await store.generations.get_many(rows))
            await until(ended, timeout=120, what="the batch to end")
    finally:
        watch.kill()
        watch.wait(timeout=30)
    order = made(sim)
    assert order[0] == "a heron typed on studio 2" and order[1] == "crane 7"  # moved up
    assert sorted(order[1:]) == sorted(f"crane {n}" for n in range(8) if n != 1)  # once each
    assert creates(sim) == len(order) == 8


def test_the_run_that_lost_the_race_for_a_batch_file_says_so(
        pg_dsn: str, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The same batch file submitted on two machines at once: each looks, finds every
    line new, and one queues them first — the other printed an empty table.  It says
    every line was already submitted, and by whom.  (The race, made certain: bob's run
    queues the file between this run's look and its own queueing.)"""
    lines = tmp_path / "cranes.txt"
    lines.write_text("crane 1\ncrane 2\ncrane 3\n")
    home = machine_home(tmp_path, STUDIO_1)
    look = batch.survey

    async def look_then_lose(store: TaskStore, plan: batch.BatchPlan) -> batch.Survey:
        found = await look(store, plan)
        assert len(found.to_send) == 3  # every line new, as this run saw it
        async with await open_store(pg_dsn, who=STUDIO_2) as bob:
            await queue.enqueue_plan(bob, sim.base_url, plan)
        return found

    monkeypatch.setattr(batch, "survey", look_then_lose)
    for name, value in {**cli_env(home, sim), ENV_URL: pg_dsn}.items():
        monkeypatch.setenv(name, value)
    assert main(["submit", "--from", str(lines)]) == 0
    out, said = capsys.readouterr()
    assert out == ""  # no empty table
    assert "every line was already submitted (by bob@studio-2)" in said
    monkeypatch.setattr(batch, "survey", look)
    assert main(["submit", "--from", str(lines)]) == 0  # no race: as before
    assert "nothing to send (3 already queued" in capsys.readouterr().err

    async def rows() -> list[Any]:
        async with await open_store(pg_dsn) as store:
            return await store.history.page()
    queued = asyncio.run(rows())
    assert sorted(r.prompt for r in queued) == ["crane 1", "crane 2", "crane 3"]
    assert {r.submitted_by for r in queued} == {STUDIO_2.person}  # each line once
