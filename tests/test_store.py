"""The store: intent rows, forward-only status, search, leases, two processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import sqlite3
from pathlib import Path

import pytest

from storage import Observation, TaskStore
from storage.schema import SCHEMA_VERSION

ENDPOINT = "http://127.0.0.1:1/api/v1"


async def accepted(store: TaskStore, prompt: str = "p", task_id: str = "t1", **kw: object):
    row = await store.add_intent(endpoint=ENDPOINT, model="m", prompt=prompt, size="1280*720",
                                 duration=5, **kw)  # type: ignore[arg-type]
    return await store.mark_accepted(row.id, task_id=task_id, status="PENDING",
                                     request_id="r", next_poll_in=0)


async def test_intent_is_written_before_sending(store: TaskStore) -> None:
    row = await store.add_intent(endpoint=ENDPOINT, model="m", prompt="p", size="1280*720",
                                 duration=5, seed=3)
    assert row.submission == "sending" and row.task_id is None
    assert row.display_status == "SUBMITTING" and row.seed == 3


async def test_status_only_moves_forward(store: TaskStore) -> None:
    row = await accepted(store)
    row, changed = await store.apply(row.id, Observation("RUNNING", scheduled_time="s"), 1)
    assert changed and row.status == "RUNNING"
    row, changed = await store.apply(row.id, Observation("PENDING"), 1)
    assert not changed and row.status == "RUNNING" and row.scheduled_time == "s"
    row, changed = await store.apply(row.id, Observation("SUCCEEDED", video_url="u"), 1)
    assert changed and row.status == "SUCCEEDED" and row.next_poll_at is None
    for late in ("RUNNING", "FAILED", "UNKNOWN", "PENDING"):
        row, changed = await store.apply(row.id, Observation(late, video_url="other"), 1)
        assert not changed and row.status == "SUCCEEDED" and row.video_url == "u"
    history = [e.status for e in await store.events(row.id)]
    assert history == ["SUBMITTING", "PENDING", "RUNNING", "SUCCEEDED"]


async def test_unknown_is_terminal_and_never_polled_again(store: TaskStore) -> None:
    row = await accepted(store)
    await store.apply(row.id, Observation("UNKNOWN"), 1)
    assert await store.claim_due("me", limit=10, lease_seconds=60, include_future=True) == []


async def test_leases_keep_two_pollers_apart(store: TaskStore) -> None:
    for i in range(4):
        await accepted(store, task_id=f"t{i}")
    first = await store.claim_due("a", limit=10, lease_seconds=60)
    second = await store.claim_due("b", limit=10, lease_seconds=60)
    assert len(first) == 4 and second == []


async def test_search_prompts_including_chinese(store: TaskStore) -> None:
    await accepted(store, "一只小猫在月光下奔跑", task_id="a")
    await accepted(store, "A red fox in the snow", task_id="b")
    await accepted(store, "小狗在海边", task_id="c")
    assert [r.task_id for r in await store.recent(query="月光下")] == ["a"]
    assert [r.task_id for r in await store.recent(query="小猫")] == ["a"]  # 2 chars: LIKE
    assert [r.task_id for r in await store.recent(query="red fox")] == ["b"]
    assert await store.count(query="fox") == 1
    assert {r.task_id for r in await store.recent(query="在")} == {"a", "c"}


async def test_interrupted_send_becomes_unconfirmed(store: TaskStore) -> None:
    row = await store.add_intent(endpoint=ENDPOINT, model="m", prompt="p", size="1280*720",
                                 duration=5)
    assert await store.sweep_interrupted_sends() == []  # we are alive: leave it
    dead = f"{socket.gethostname()}:{2**22 + 12345}"  # above any pid this machine hands out
    await store._db.execute("UPDATE generations SET lease_owner = ? WHERE id = ?",
                            (dead, row.id))
    swept = await store.sweep_interrupted_sends()
    assert [r.submission for r in swept] == ["unconfirmed"]
    assert (await store.recent(statuses=["UNCONFIRMED"]))[0].id == row.id


async def test_schema_is_versioned(tmp_path: Path) -> None:
    store = await TaskStore.open(tmp_path / "a.db")
    await store.close()
    with sqlite3.connect(tmp_path / "a.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    from storage import SchemaTooNew

    with pytest.raises(SchemaTooNew, match="newer pixverse-tui"):
        await TaskStore.open(tmp_path / "a.db")


def _writer(path: str, name: str, count: int) -> None:
    async def go() -> None:
        store = await TaskStore.open(path)
        for i in range(count):
            row = await store.add_intent(endpoint=ENDPOINT, model="m", prompt=f"{name} {i}",
                                         size="1280*720", duration=5)
            row = await store.mark_accepted(row.id, task_id=f"{name}-{i}", status="PENDING",
                                            request_id=None, next_poll_in=0)
            await store.apply(row.id, Observation("RUNNING"), 0)
        await store.close()

    asyncio.run(go())


async def test_two_processes_write_one_database(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    await (await TaskStore.open(path)).close()  # create the schema once
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(path, name, 200)) for name in ("cli", "tui")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    store = await TaskStore.open(path)
    try:
        rows = await store.recent(limit=1000)
        assert len(rows) == 400 and all(r.status == "RUNNING" for r in rows)
        assert len({r.task_id for r in rows}) == 400
    finally:
        await store.close()
