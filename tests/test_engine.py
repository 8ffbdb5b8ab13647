"""Submission and polling against the simulator over loopback (downloads: test_downloads.py)."""

from __future__ import annotations

from pathlib import Path

from storage import TaskStore, open_store
from tests.conftest import FAST, client_for
from tui.dashscope import DashScopeClient, GenerationRequest
from tui.engine.following.poller import Health, PollScheduler, PollSettings
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator

FAST_POLLS = PollSettings(time_scale=FAST)


def sim_tasks(sim: Simulator) -> int:
    return sum(len(a.tasks) for a in sim.world.accounts.values())


async def finished(store: TaskStore, client: DashScopeClient, prompt: str = "a fox"):
    outcome = await submit(store, client, GenerationRequest(prompt), first_poll_after=0)
    poller = PollScheduler(store, client, FAST_POLLS)
    [row] = await poller.wait_for({outcome.generation.id})
    return row


async def test_submit_follow_to_success(sim: Simulator, client: DashScopeClient,
                                        store: TaskStore) -> None:
    row = await finished(store, client)
    assert row.status == "SUCCEEDED" and row.video_url and row.usage_size == "1280*720"
    assert row.submit_time and row.scheduled_time and row.end_time
    history = [e.status for e in await store.generations.events(row.id)]
    assert history[0] == "SUBMITTING" and history[-1] == "SUCCEEDED"


async def test_a_rejected_create_is_recorded_and_not_retried(
        sim: Simulator, client: DashScopeClient, store: TaskStore) -> None:
    sim.inject(on="create", kind="status", status=400, code="DataInspectionFailed",
               message="Input data may contain inappropriate content.")
    outcome = await submit(store, client, GenerationRequest("bad"))
    row = outcome.generation
    assert row.submission == "rejected" and row.error_code == "DataInspectionFailed"
    assert sim_tasks(sim) == 0


async def test_an_ambiguous_create_is_unconfirmed_not_resent(
        sim: Simulator, client: DashScopeClient, store: TaskStore) -> None:
    sim.inject(on="create", kind="drop_after")
    outcome = await submit(store, client, GenerationRequest("maybe"))
    assert outcome.error is not None and outcome.error.ambiguous
    assert outcome.generation.submission == "unconfirmed"
    assert outcome.generation.display_status == "UNCONFIRMED"
    assert sim_tasks(sim) == 1  # the server did create it; we did not create a second


async def test_polling_resumes_after_a_restart(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with client_for(sim) as client:
        store = await open_store(path)
        outcome = await submit(store, client, GenerationRequest("survive"), first_poll_after=0)
        await store.close()  # the program stops before the task ends
        store = await open_store(path)
        assert [r.id for r in await store.following.unfinished()] == [outcome.generation.id]
        poller = PollScheduler(store, client, FAST_POLLS)
        await poller.run(stop_when_idle=True)
        row = await store.generations.get(outcome.generation.id)
        await store.close()
    assert row is not None and row.status == "SUCCEEDED"


async def test_poller_backs_off_on_429_and_recovers(sim: Simulator, client: DashScopeClient,
                                                    store: TaskStore) -> None:
    outcome = await submit(store, client, GenerationRequest("x"), first_poll_after=0)
    for _ in range(4):  # more than the client's own retries
        sim.inject(on="query", kind="status", status=429, code="Throttling.RateQuota")
    health: list[Health] = []
    poller = PollScheduler(store, client, FAST_POLLS, on_health=lambda h, _: health.append(h))
    await poller.poll_once()
    assert poller.health is Health.BACKING_OFF
    row = await store.generations.get(outcome.generation.id)
    assert row is not None and row.poll_failures == 1 and row.status == "PENDING"
    poller._backoff_until = 0  # skip the wait
    await poller.wait_for({outcome.generation.id})
    assert health[-1] is Health.OK
