"""``History.bulk``: around a long load, whatever the backend prepares, every read and
write stays correct during it and after it — into an empty store, into one in use, and
when the load fails half-way."""

from __future__ import annotations

from typing import Any

import pytest

from storage import TaskStore, open_store
from storage.clock import now_iso
from storage.history import parse_filter
from tests.store_contract.helpers import accepted, finished

ROWS = 300


def record(n: int) -> dict[str, Any]:
    """An exported generation: every seventh never sent (found by moment and prompt)."""
    sent = n % 7 != 0
    return {"created_at": f"2026-01-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000+00:00",
            "endpoint": "e", "model": "m", "prompt": f"imported fox {n} 小猫" if n % 2 else
            f"imported owl {n}", "size": "1280*720", "duration": 5,
            "submission": "accepted" if sent else "rejected",
            "task_id": f"bulk-{n}" if sent else None,
            "status": ("FAILED" if n % 5 == 0 else "SUCCEEDED") if sent else None,
            "end_time": "2026-01-02T00:00:00.000+00:00" if sent else None,
            "updated_at": now_iso(), "favourite": n % 10 == 0,
            "tags": ["keep"] if n % 4 == 0 else [],
            "history": [{"at": "2026-01-01T00:01:00.000+00:00", "status": "SUCCEEDED"}]}


async def what_it_shows(store: TaskStore) -> dict[str, Any]:
    """What a user sees of the history: counts by search, a page, tags, one row's past."""
    found: dict[str, Any] = {}
    for text in ("", "fox", "owl", "小猫", "fav", "tag:keep", "status:FAILED", "fox 13"):
        where = parse_filter(text)
        found[text] = (await store.history.count(where),
                       [row.prompt for row in await store.history.page(where, limit=20)])
    one = await store.generations.by_task_id("bulk-1")
    assert one is not None
    found["events"] = [e.status for e in await store.generations.events(one.id)]
    found["tags"] = await store.history.all_tags()
    return found


async def load(store: TaskStore, records: list[dict[str, Any]], batch: int = 100) -> int:
    added = 0
    for start in range(0, len(records), batch):
        added += await store.history.import_many(records[start:start + batch])
    return added


async def test_a_bulk_load_into_an_empty_store_reads_as_a_plain_one(
        store: TaskStore, location: str) -> None:
    records = [record(n) for n in range(1, ROWS + 1)]
    async with store.history.bulk():
        assert await load(store, records[:ROWS // 2]) == ROWS // 2
        # Meanwhile, another client (another machine) reads and writes correctly.
        async with await open_store(location) as other:
            assert await other.history.count(parse_filter("owl")) == ROWS // 4
            row = await finished(other, "written meanwhile by another machine")
            await other.history.set_tags(row.id, ["keep"])
        assert await load(store, records[ROWS // 2:]) == ROWS - ROWS // 2
        assert await load(store, records) == 0  # a record here already is found
        during = await what_it_shows(store)
    after = await what_it_shows(store)
    assert after == during
    assert after[""][0] == ROWS + 1 and after["tag:keep"][0] == ROWS // 4 + 1
    assert after["fox"][0] == ROWS // 2 and after["小猫"][0] == ROWS // 2
    assert await load(store, records) == 0
    # And the store is itself again: writes, searches, an import of new rows.
    new = await accepted(store, "a fox made after the load")
    assert new.id in [row.id for row in await store.history.page(parse_filter("fox made"))]
    assert await load(store, [record(ROWS + 1)]) == 1


async def test_a_bulk_load_into_a_store_in_use_keeps_it_as_it_was(store: TaskStore) -> None:
    mine = await finished(store, "my own fox")
    async with store.history.bulk():
        assert await load(store, [record(n) for n in range(1, 51)]) == 50
    assert await store.history.count(parse_filter("fox")) == 26
    assert (await store.history.page(parse_filter("my own")))[0].id == mine.id


async def test_a_load_that_fails_inside_bulk_leaves_the_store_whole(store: TaskStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.history.bulk():
            assert await load(store, [record(n) for n in range(1, 101)]) == 100
            raise RuntimeError("the file turned out unreadable")
    assert await store.history.count(parse_filter("fox")) == 50
    assert await load(store, [record(n) for n in range(1, 121)]) == 20
