"""The trash: forgetting hides a row everywhere, restoring brings it back, purging ends it."""

from __future__ import annotations

from storage import Observation, TaskStore
from storage.history import parse_filter
from tests.store_contract.helpers import accepted, finished


async def test_forget_restore_and_purge(store: TaskStore) -> None:
    row = await finished(store, "forget me")
    await store.history.set_tags(row.id, ["x"])
    gone = await store.trash.forget(row.id)
    assert gone is not None and gone.forgotten_at is not None
    assert await store.trash.forget(row.id) == gone  # twice: nothing more
    assert await store.history.count(parse_filter("forget")) == 0
    assert await store.history.page() == [] and await store.history.all_tags() == []
    assert await store.downloads.unsaved() == []
    assert [r.id for r in await store.history.page(parse_filter("in:trash"))] == [row.id]
    assert await store.generations.get(row.id) == gone  # by key: still there

    restored = await store.trash.restore(row.id)
    assert restored is not None and restored.forgotten_at is None
    assert await store.trash.restore(row.id) == restored
    assert await store.history.tags_of(row.id) == ["x"]
    assert [e.status for e in await store.generations.events(row.id)][-2:] == [
        "FORGOTTEN", "RESTORED"]

    await store.trash.forget(row.id)
    assert await store.trash.purge(days=1) == []  # forgotten just now: still restorable
    assert [r.id for r in await store.trash.purge(days=0)] == [row.id]
    assert await store.generations.get(row.id) is None
    assert await store.generations.events(row.id) == []
    assert await store.history.tags_of(row.id) == []
    assert await store.trash.forget(row.id) is None and await store.trash.restore(row.id) is None


async def test_a_forgotten_live_task_is_not_followed_until_restored(store: TaskStore) -> None:
    row = await accepted(store)
    await store.following.apply(row.id, Observation("RUNNING"), 0)
    await store.trash.forget(row.id)
    assert await store.following.unfinished() == []
    assert await store.following.claim_due("p", limit=5, lease_seconds=5,
                                           include_future=True) == []
    restored = await store.trash.restore(row.id)
    assert restored is not None and restored.followed
    assert [r.id for r in await store.following.unfinished()] == [row.id]
    assert await store.generations.known_task_ids([row.task_id or ""]) == {row.task_id}
