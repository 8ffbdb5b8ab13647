"""What processes sharing a store agree on: one poller per account, one request budget,
and the account's tasks no row holds."""

from __future__ import annotations

import time
from itertools import pairwise

from storage import TaskStore, open_store
from tests.store_contract.helpers import accepted, actor, answer, first_line, until


async def test_one_holder_at_a_time_and_takeover_when_it_expires(store: TaskStore,
                                                                  location: str) -> None:
    async with await open_store(location) as other:
        assert (await store.leases.hold("acct", "a", 0.5)).held_by("a")
        lease = await other.leases.hold("acct", "b", 10)
        assert lease.holder == "a" and not lease.held_by("b")
        assert (await store.leases.hold("acct", "a", 0.5)).held_by("a")  # renewed
        assert (await other.leases.current("acct")).holder == "a"
        assert (await other.leases.current("elsewhere")).holder is None

        async def taken() -> bool:
            return (await other.leases.hold("acct", "b", 10)).held_by("b")

        await until(taken, what="the expired lease to be taken over")
        assert not (await store.leases.hold("acct", "a", 10)).held_by("a")
        await store.leases.release("acct", "a")  # not theirs: nothing happens
        assert (await store.leases.current("acct")).holder == "b"
        await other.leases.release("acct", "b")
        assert (await store.leases.current("acct")).holder is None
        assert (await store.leases.hold("acct", "a", 10)).held_by("a")


async def test_a_nudge_moves_the_lease_without_taking_it(store: TaskStore) -> None:
    await store.leases.nudge("acct")
    lease = await store.leases.hold("acct", "a", 10)
    assert lease.held_by("a") and lease.nudged_at is not None  # a nudge holds nothing
    before = lease.nudged_at
    time.sleep(0.002)
    await store.leases.nudge("acct")
    after = await store.leases.current("acct")
    assert after.held_by("a") and after.nudged_at is not None and after.nudged_at > before


async def test_a_killed_holders_lease_is_taken_over(store: TaskStore, location: str) -> None:
    holder = actor(location, "hold", "acct", "killed-owner")
    try:
        assert first_line(holder) == "held"
        assert not (await store.leases.hold("acct", "me", 10)).held_by("me")
        holder.kill()  # kill -9: no release
        holder.wait(30)

        async def taken() -> bool:
            return (await store.leases.hold("acct", "me", 10)).held_by("me")

        await until(taken, timeout=15, what="takeover after the holder was killed")
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)


async def test_the_request_budget_is_shared_and_never_exceeded(store: TaskStore,
                                                               location: str) -> None:
    # One request a second: the waits (returned, not slept) are seconds long, so the
    # time a loaded machine takes to start and end the other process cannot pay the
    # debt off before the last take.
    assert await store.budget.take("acct", 1.0, 2.0) == 0.0
    assert await store.budget.take("acct", 1.0, 2.0) == 0.0  # the burst
    third = await store.budget.take("acct", 1.0, 2.0)
    assert 0.5 < third <= 1.0  # one token at 1 a second
    assert await store.budget.take("other", 1.0, 2.0) == 0.0  # each account its own
    waits = answer(actor(location, "take", "acct", "5", "1"))
    assert all(b > a for a, b in pairwise(waits))  # in order, spaced
    assert waits[-1] > third + 2  # after ours: one bucket for both processes
    assert await store.budget.take("acct", 1.0, 2.0, count=3) > waits[-1]


async def test_foreign_tasks(store: TaskStore) -> None:
    mine = await accepted(store, task_id="mine")
    await store.foreign.record("acct", [
        ("sdk-1", "RUNNING", "m", "2026-03-01T10:00:00.000+00:00"),
        ("sdk-2", "PENDING", None, "2026-03-01T11:00:00.000+00:00"),
        ("mine", "RUNNING", "m", "2026-03-01T09:00:00.000+00:00"),
    ])
    await store.foreign.record("acct", [("sdk-1", "SUCCEEDED", "m",
                                         "2026-03-01T10:00:00.000+00:00")])
    await store.foreign.record("acct", [])
    seen = await store.foreign.recent("acct")
    assert [(t.task_id, t.status) for t in seen] == [("sdk-2", "PENDING"),
                                                     ("sdk-1", "SUCCEEDED")]
    assert await store.foreign.recent("another account") == [] and mine.task_id == "mine"
