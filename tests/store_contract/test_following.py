"""Following: forward-only status, one poller per task, due times, giving up."""

from __future__ import annotations

import asyncio

from storage import Observation, TaskStore, open_store
from tests.store_contract.helpers import ENDPOINT, accepted, finished, intent, until


async def test_status_only_moves_forward(store: TaskStore) -> None:
    row = await accepted(store)
    row, changed = await store.following.apply(row.id, Observation("RUNNING",
                                                                   scheduled_time="s"), 1)
    assert changed and row.status == "RUNNING"
    row, changed = await store.following.apply(row.id, Observation("PENDING"), 1)
    assert not changed and row.status == "RUNNING" and row.scheduled_time == "s"
    row, changed = await store.following.apply(row.id, Observation("SUCCEEDED",
                                                                   video_url="u"), 1)
    assert changed and row.status == "SUCCEEDED" and row.next_poll_at is None
    for late in ("RUNNING", "FAILED", "UNKNOWN", "PENDING"):
        row, changed = await store.following.apply(row.id, Observation(late, video_url="x"), 1)
        assert not changed and row.status == "SUCCEEDED" and row.video_url == "u"
    history = [e.status for e in await store.generations.events(row.id)]
    assert history == ["SUBMITTING", "PENDING", "RUNNING", "SUCCEEDED"]
    assert row.polls == 7 and not row.followed


async def test_unknown_is_final_and_never_polled_again(store: TaskStore) -> None:
    row = await accepted(store)
    await store.following.apply(row.id, Observation("UNKNOWN"), 1)
    assert await store.following.claim_due("me", limit=10, lease_seconds=60,
                                           include_future=True) == []
    assert await store.following.unfinished() == []


async def test_leases_keep_two_pollers_apart(store: TaskStore, location: str) -> None:
    for _ in range(4):
        await accepted(store)
    async with await open_store(location) as other:
        first, second = await asyncio.gather(
            store.following.claim_due("a", limit=10, lease_seconds=60),
            other.following.claim_due("b", limit=10, lease_seconds=60))
        assert sorted(len(x) for x in (first, second)) == [0, 4]
        holder, waiting = ("a", "b") if first else ("b", "a")
        taken = first or second
        await store.following.release(taken[0].id, waiting)  # not theirs: nothing happens
        assert await other.following.claim_due(waiting, limit=10, lease_seconds=60) == []
        await store.following.release(taken[0].id, holder)
        assert [r.id for r in await other.following.claim_due(waiting, limit=10,
                                                              lease_seconds=60)] == [taken[0].id]
        await store.following.release_all(holder)
        assert len(await store.following.claim_due(waiting, limit=10, lease_seconds=60)) == 4


async def test_a_lease_runs_out(store: TaskStore) -> None:
    row = await accepted(store)
    assert [r.id for r in await store.following.claim_due("a", limit=5,
                                                          lease_seconds=0.2)] == [row.id]

    async def free() -> bool:
        return bool(await store.following.claim_due("b", limit=5, lease_seconds=30))

    await until(free, timeout=10, what="the lease to run out")


async def test_an_answer_releases_the_lease_and_sets_the_next_poll(store: TaskStore) -> None:
    row = await accepted(store)
    await store.following.claim_due("a", limit=5, lease_seconds=60)
    await store.following.apply(row.id, Observation("RUNNING"), 0)
    assert [r.id for r in await store.following.claim_due("b", limit=5,
                                                          lease_seconds=60)] == [row.id]
    await store.following.apply(row.id, Observation("RUNNING"), 3600)
    assert await store.following.claim_due("c", limit=5, lease_seconds=60) == []
    assert [r.id for r in await store.following.claim_due(
        "c", limit=5, lease_seconds=60, include_future=True)] == [row.id]


async def test_failures_are_counted_and_a_task_given_up_on_can_be_followed_again(
        store: TaskStore) -> None:
    row = await accepted(store)
    failed = await store.following.record_poll_failure(row.id, "garbled", 3600)
    assert failed.poll_failures == 1 and failed.poll_error == "garbled" and failed.followed
    stopped = await store.following.stop(row.id, "the service cannot answer")
    assert not stopped.followed and stopped.poll_error == "the service cannot answer"
    still = await store.following.record_poll_failure(row.id, "again", 1)
    assert still.next_poll_at is None  # a failure does not follow it again
    again = await store.following.resume(row.id)
    assert again.followed and again.poll_failures == 0 and again.poll_error is None
    statuses = [e.status for e in await store.generations.events(row.id)]
    assert statuses[-2:] == ["NOT FOLLOWED", "FOLLOWED"]
    done = await finished(store)
    assert await store.following.resume(done.id) == done
    never_sent = await intent(store)
    assert await store.following.resume(never_sent.id) == never_sent


async def test_due_times_and_the_followed_tasks(store: TaskStore) -> None:
    here = await accepted(store)
    later = await store.following.record_poll_failure(here.id, "slow", 3600)
    elsewhere = await store.following.track(task_id="t-far", endpoint="http://far/api/v1",
                                            model="m", prompt="far", size="1280*720",
                                            duration=5, audio=False)
    await finished(store)
    assert [r.id for r in await store.following.unfinished()] == [here.id, elsewhere.id]
    assert sorted(await store.following.endpoints()) == sorted([ENDPOINT, "http://far/api/v1"])
    live = await store.following.live([ENDPOINT])
    assert [t.id for t in live] == [here.id] and live[0].next_poll_at == later.next_poll_at
    assert [t.id for t in await store.following.live()] == [here.id, elsewhere.id]
    await store.following.poll_now([here.id])
    due = await store.following.claim_due("p", limit=5, lease_seconds=60, endpoints=[ENDPOINT])
    assert [r.id for r in due] == [here.id]


async def test_tracking_is_idempotent(store: TaskStore) -> None:
    kw = dict(endpoint=ENDPOINT, model="m", prompt="adopted", size="1280*720", duration=5,
              audio=True)
    first = await store.following.track(task_id="t-x", **kw)  # type: ignore[arg-type]
    second = await store.following.track(task_id="t-x", **kw)  # type: ignore[arg-type]
    assert first == second and first.followed and first.submission == "tracked"
    assert [e.status for e in await store.generations.events(first.id)] == ["TRACKED"]
