"""The change feed: every subscriber hears of every write, whoever made it."""

from __future__ import annotations

import asyncio

from storage import Change, ChangeFeed, Observation, TaskStore, open_store
from storage.changes import MAX_ROWS
from storage.clock import now_iso
from tests.store_contract.helpers import accepted, actor, answer, intent

SOON = 5.0  # seconds another writer's change may take to arrive (a loaded machine)


async def next_change(feed: ChangeFeed, timeout: float = SOON) -> Change:
    return await asyncio.wait_for(anext(feed), timeout)


async def changes_until(feed: ChangeFeed, wanted: set[int]) -> Change:
    """Changes merged until every wanted row was named (or everything was said)."""
    seen = Change()
    while not (wanted <= seen.rows or seen.everything):
        seen = seen | await next_change(feed)
    return seen


async def settled(feed: ChangeFeed) -> None:
    """Every change so far taken: the feed has been quiet for a while."""
    for _ in range(50):
        if await quiet(feed, 0.25):
            return
    raise AssertionError("the feed never went quiet")


async def quiet(feed: ChangeFeed, seconds: float = 0.4) -> bool:
    """Nothing arrives for a while (a feed that says nothing when nothing changed)."""
    try:
        await asyncio.wait_for(anext(feed), seconds)
    except TimeoutError:
        return True
    return False


async def test_a_write_in_this_process_reaches_every_subscriber(store: TaskStore) -> None:
    first, second = store.changes(), store.changes()
    row = await intent(store, "a fox")
    for feed in (first, second):
        change = await changes_until(feed, {row.id})
        assert row.id in change.rows and change.figures


async def test_a_write_by_another_store_on_the_same_location_arrives(
        store: TaskStore, location: str) -> None:
    feed = store.changes()
    async with await open_store(location) as other:
        row = await intent(other, "written elsewhere")
    assert row.id in (await changes_until(feed, {row.id})).rows


async def test_a_write_by_another_process_arrives(store: TaskStore, location: str) -> None:
    feed = store.changes()
    row_id = answer(actor(location, "write", "from another process"))
    change = await changes_until(feed, {row_id})
    assert row_id in change.rows and change.figures


async def test_bursts_merge_into_one_change(store: TaskStore) -> None:
    feed = store.changes()
    rows = [await intent(store, f"burst {n}") for n in range(5)]
    await asyncio.sleep(0)  # the subscriber was busy meanwhile
    change = await changes_until(feed, {r.id for r in rows})
    assert {r.id for r in rows} <= change.rows


async def test_figures_move_with_status_not_with_a_note(store: TaskStore) -> None:
    feed = store.changes()
    row = await accepted(store)
    await settled(feed)
    await store.history.set_note(row.id, "just a note")
    change = await changes_until(feed, {row.id})
    assert not change.figures and not change.everything
    await store.following.apply(row.id, Observation("RUNNING"), 1)
    assert (await changes_until(feed, {row.id})).figures


async def test_the_lease_moves_but_a_renewal_says_nothing(store: TaskStore) -> None:
    feed = store.changes()
    await store.leases.hold("acct", "poller-a", 30)
    assert (await next_change(feed)).lease
    await store.leases.hold("acct", "poller-a", 30)  # a renewal: nobody needs to know
    assert await quiet(feed)
    await store.leases.nudge("acct")
    assert (await next_change(feed)).lease
    await store.leases.release("acct", "poller-a")
    assert (await next_change(feed)).lease


async def test_nothing_is_said_when_nothing_changed(store: TaskStore) -> None:
    feed = store.changes()
    row = await accepted(store)
    await settled(feed)
    await store.generations.get(row.id)  # reading is not a change
    await store.history.page()
    await store.history.counts("2026-01-01T00:00:00.000+00:00")
    assert await quiet(feed)
    assert feed.take() is None


async def test_a_cancelled_wait_loses_nothing(store: TaskStore) -> None:
    feed = store.changes()
    assert await quiet(feed, 0.1)  # a wait given up on
    row = await intent(store, "after the wait")
    assert row.id in (await changes_until(feed, {row.id})).rows


async def test_take_returns_what_arrived_without_waiting(store: TaskStore) -> None:
    feed = store.changes()
    assert feed.take() is None
    row = await intent(store, "taken")

    async def arrived() -> Change:
        while True:
            change = feed.take()
            if change is not None:
                return change
            await asyncio.sleep(0.01)

    assert row.id in (await asyncio.wait_for(arrived(), SOON)).rows
    assert feed.take() is None


async def test_a_subscriber_that_falls_far_behind_is_told_everything(store: TaskStore) -> None:
    feed = store.changes()
    records = [{"created_at": now_iso(), "endpoint": "e", "model": "m", "prompt": f"bulk {n}",
                "size": "1280*720", "duration": 5, "submission": "accepted",
                "task_id": f"bulk-{n}", "status": "SUCCEEDED", "updated_at": now_iso()}
               for n in range(MAX_ROWS + 500)]
    assert await store.history.import_many(records) == len(records)
    seen = Change()
    while not seen.everything and len(seen.rows) < len(records):
        seen = seen | await next_change(feed)
    assert seen.everything or len(seen.rows) == len(records)


async def test_closing_the_store_ends_every_feed(location: str) -> None:
    store = await open_store(location)
    feed = store.changes()
    waiting = asyncio.ensure_future(anext(feed))
    await asyncio.sleep(0.05)
    await store.close()
    try:
        await asyncio.wait_for(waiting, SOON)
    except StopAsyncIteration:
        pass
    else:
        raise AssertionError("the feed went on after the store closed")


async def test_a_feed_closed_by_its_subscriber_ends(store: TaskStore) -> None:
    feed = store.changes()
    await feed.aclose()
    await intent(store)
    assert [change async for change in feed] == []


async def test_deleting_for_good_is_a_change(store: TaskStore) -> None:
    row = await accepted(store)
    await store.trash.forget(row.id)
    feed = store.changes()
    await settled(feed)  # the writes before (a feed may report those too)
    assert [r.id for r in await store.trash.purge(days=-1)] == [row.id]
    change = await changes_until(feed, {row.id})
    assert change.figures
