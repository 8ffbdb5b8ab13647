"""The local queue: submissions wait as QUEUED (nothing sent), are handed to one sender
each, in priority then arrival order, within the account's room; held, paused, moved,
cancelled and queued again as the user says."""

from __future__ import annotations

import asyncio

import pytest

from storage import Observation, TaskStore, open_store
from storage.clock import iso_in
from storage.history import parse_filter
from storage.records import QueueEntry, Who
from tests.store_contract.helpers import ENDPOINT, accepted, actor, answer, finished, until

ROOM = 100  # a capacity nothing in these tests reaches, unless it means to


def entries(*prompts: str, key: str | None = None, **kw: object) -> list[QueueEntry]:
    return [QueueEntry(endpoint=ENDPOINT, model="m", prompt=p, size="1280*720", duration=5,
                       key=f"{key}:{n}" if key else None, **kw)  # type: ignore[arg-type]
            for n, p in enumerate(prompts)]


async def taken(store: TaskStore, capacity: int = ROOM, **kw: object) -> list[str]:
    """The prompts ``take`` hands out, in order, until it hands out none."""
    out = []
    while (row := await store.queue.take(capacity=capacity, **kw)) is not None:  # type: ignore[arg-type]
        out.append(row.prompt)
    return out


async def test_queued_submissions_wait_and_count_as_queued(store: TaskStore) -> None:
    done = await store.queue.enqueue(entries("a", "b", tags=("keep", " keep")), batch_id="b1")
    assert len(done.queued) == 2 and done.known == 0
    rows = await store.generations.get_many(done.queued)
    assert [r.prompt for r in rows] == ["a", "b"]
    assert all(r.display_status == "QUEUED" and r.queued and r.task_id is None
               and r.batch_id == "b1" and not r.followed for r in rows)
    assert [e.status for e in await store.generations.events(rows[0].id)] == ["QUEUED"]
    assert await store.history.tags_of(rows[0].id) == ["keep"]
    counts = await store.history.counts(iso_in(-3600))
    assert counts.queued == 2 and counts.in_flight == 0 and counts.total == 2
    assert await store.history.count(parse_filter("status:queued")) == 2
    assert await store.intents.billable_since(iso_in(-60)) == []  # nothing billed
    assert await store.queue.endpoints() == [ENDPOINT]


async def test_priority_first_then_first_in_first_out(store: TaskStore) -> None:
    await store.queue.enqueue(entries("batch 1", "batch 2"), priority=0)
    await store.queue.enqueue(entries("prompt 1"), priority=1)
    await store.queue.enqueue(entries("batch 3"), priority=0)
    await store.queue.enqueue(entries("prompt 2"), priority=1)
    lineup = await store.queue.lineup()
    assert [i.priority for i in lineup] == [1, 1, 0, 0, 0]
    assert await taken(store) == ["prompt 1", "prompt 2", "batch 1", "batch 2", "batch 3"]
    row = await store.generations.get(lineup[0].id)
    assert row is not None and row.display_status == "SUBMITTING" and not row.queued


async def test_take_stays_within_the_accounts_room(store: TaskStore) -> None:
    await accepted(store, "running at the service")
    await store.queue.enqueue(entries("1", "2", "3"))
    assert await store.queue.in_flight() == 1
    assert await taken(store, capacity=3) == ["1", "2"]  # being sent counts too
    assert await store.queue.in_flight() == 3
    assert await store.queue.in_flight([ENDPOINT]) == 3
    assert await store.queue.in_flight(["http://elsewhere/api/v1"]) == 0
    assert await store.queue.take(capacity=3, endpoints=["http://elsewhere/api/v1"]) is None
    assert await taken(store, capacity=4) == ["3"]


async def test_a_create_refused_for_the_account_puts_the_item_back(store: TaskStore) -> None:
    await store.queue.enqueue(entries("first", "second"))
    row = await store.queue.take(capacity=ROOM)
    assert row is not None and row.submission == "sending"
    back = await store.queue.put_back(row.id, "quota used up")
    assert back.queued and back.submission_note == "quota used up"
    assert await taken(store) == ["first", "second"]  # at its place again
    done = await finished(store)
    assert (await store.queue.put_back(done.id, "no")).submission == "accepted"


async def test_held_and_paused_items_wait(store: TaskStore) -> None:
    batch = await store.queue.enqueue(entries("b1", "b2"), batch_id="B")
    solo = await store.queue.enqueue(entries("solo", "held"))
    assert await store.queue.hold([solo.queued[1], batch.queued[0], 999], True) == 3 - 1
    await store.queue.pause("B")
    assert [(p.batch_id, p.reason) for p in await store.queue.pauses()] == [("B", None)]
    assert await taken(store) == ["solo"]
    await store.queue.pause(reason="the key was refused")
    await store.queue.resume("B")
    assert await store.queue.take(capacity=ROOM) is None  # the whole queue waits
    assert await store.queue.take(capacity=ROOM, only={batch.queued[1]}, paused_too=True) \
        is not None  # one sent at once despite the whole queue's pause…
    await store.queue.pause("B")
    assert await store.queue.take(capacity=ROOM, paused_too=True) is None  # …not a batch's
    await store.queue.resume("B")
    await store.queue.put_back(batch.queued[1], "back")
    assert [(p.batch_id, p.reason) for p in await store.queue.pauses()] == [
        (None, "the key was refused")]
    await store.queue.resume()
    await store.queue.resume()  # resuming what runs changes nothing
    assert await taken(store) == ["b2"]
    await store.queue.hold([batch.queued[0], solo.queued[1]], False)
    assert await taken(store, only={solo.queued[1]}) == ["held"]
    assert await taken(store) == ["b1"]


async def test_a_pause_is_a_change_of_the_figures(store: TaskStore) -> None:
    feed = store.changes()
    await store.queue.pause("B")
    change = await asyncio.wait_for(anext(feed), 10)
    assert change.figures
    await feed.aclose()


async def test_moves(store: TaskStore) -> None:
    ids = list((await store.queue.enqueue(entries("a", "b", "c", "d"))).queued)
    prompt = await store.queue.enqueue(entries("p"), priority=1)
    a, b, c, d = ids

    async def order() -> list[int]:
        return [i.id for i in await store.queue.lineup()]

    async def priorities() -> dict[int, int]:
        return {i.id: i.priority for i in await store.queue.lineup()}

    assert await order() == [prompt.queued[0], a, b, c, d]
    assert await store.queue.move([c, d], "up") == 2
    assert await order() == [prompt.queued[0], a, c, d, b]
    assert await store.queue.move([d], "top") == 1
    assert await order() == [d, prompt.queued[0], a, c, b]
    assert await store.queue.move([d, a], "bottom") == 2
    assert await order() == [prompt.queued[0], c, b, d, a]
    assert await store.queue.move([c], "up") == 1  # past another priority: it joins it
    assert await order() == [c, prompt.queued[0], b, d, a]
    assert await priorities() == {c: 1, prompt.queued[0]: 1, b: 0, d: 0, a: 0}
    assert await store.queue.move([c], "up") == 0  # first already
    assert await store.queue.move([prompt.queued[0]], "down") == 1  # below: it takes 0
    assert await order() == [c, b, prompt.queued[0], d, a]
    assert await priorities() == {c: 1, prompt.queued[0]: 0, b: 0, d: 0, a: 0}
    assert await store.queue.move([prompt.queued[0]], "up") == 1  # the same priority: trade
    assert await order() == [c, prompt.queued[0], b, d, a]
    assert await store.queue.move([c], "down") == 1
    assert await order() == [prompt.queued[0], c, b, d, a]
    assert await priorities() == {c: 0, prompt.queued[0]: 0, b: 0, d: 0, a: 0}
    assert await store.queue.move([a], "down") == 0  # last already
    with pytest.raises(ValueError, match="up, down, top, bottom"):
        await store.queue.move([a], "sideways")
    assert await store.queue.prioritise([b, d], by=5) == 2
    assert await order() == [b, d, prompt.queued[0], c, a]
    assert await store.queue.prioritise([a], priority=99) == 1
    assert (await store.queue.lineup())[0].priority == 9


async def test_positions_in_the_lineup(store: TaskStore) -> None:
    a, b, c = (await store.queue.enqueue(entries("a", "b", "c"))).queued
    [p] = (await store.queue.enqueue(entries("p"), priority=1)).queued
    sent = await finished(store)
    assert await store.queue.positions([a, b, c, p, sent.id, 999]) == {p: 1, a: 2, b: 3, c: 4}
    assert await store.queue.positions([]) == {}
    await store.queue.hold([a], True)  # a held item keeps its place
    await store.queue.move([c], "top")
    assert await store.queue.positions([a, c]) == {c: 1, a: 3}
    await store.queue.cancel([p])
    assert await store.queue.positions([a, b, c, p]) == {c: 1, a: 2, b: 3}
    assert await store.queue.positions([b, a]) == {a: 2, b: 3}  # one priority
    more = (await store.queue.enqueue(entries("d", "e", "f"))).queued
    await store.trash.forget(more[1])  # in the trash: not in the queue's order
    assert await store.queue.positions([b, more[0], more[2]]) == {b: 3, more[0]: 4,
                                                                   more[2]: 5}


async def test_cancelled_queued_items_are_never_sent(store: TaskStore) -> None:
    ids = (await store.queue.enqueue(entries("keep", "drop"))).queued
    gone = await store.queue.cancel([ids[1], 12345])
    assert [r.id for r in gone] == [ids[1]] and gone[0].display_status == "ABANDONED"
    assert "nothing billed" in (gone[0].submission_note or "")
    assert await taken(store) == ["keep"]
    assert await store.queue.cancel([ids[0]]) == []  # no longer queued


async def test_a_whole_large_batch_is_cancelled_after_some_of_it_was_sent(
        store: TaskStore) -> None:
    """10,000 lines queued, a few sent one by one, then the rest cancelled at once (marks
    on a whole batch): one write, whatever the store did before it."""
    ids = (await store.queue.enqueue(entries(*(f"line {n}" for n in range(10_000))),
                                     batch_id="big")).queued
    assert await taken(store, capacity=3) == ["line 0", "line 1", "line 2"]
    gone = await store.queue.cancel(ids)
    assert len(gone) == 9_997 and all(r.display_status == "ABANDONED" for r in gone)
    counts = await store.history.counts(iso_in(-3600))
    assert counts.queued == 0 and counts.submitting == 3 and counts.total == 10_000
    assert await store.queue.lineup() == []


async def test_batch_lines_are_queued_once(store: TaskStore) -> None:
    first = await store.queue.enqueue(entries("one", "two", key="f1"), batch_id="f1")
    again = await store.queue.enqueue(entries("one", "two", "three", key="f1"), batch_id="f1")
    assert len(first.queued) == 2 and len(again.queued) == 1 and again.known == 2
    found = await store.intents.with_prefix("f1:")
    assert sorted(found) == ["f1:0", "f1:1", "f1:2"]
    row = await store.queue.take(capacity=ROOM)
    assert row is not None
    await store.intents.mark_rejected(row.id, code="InvalidParameter", message="no",
                                      request_id=None)
    retaken = await store.queue.enqueue(entries("one", key="f1"), batch_id="f1")
    assert retaken.queued == (row.id,)  # refused: nothing was created, so it waits again
    again_row = await store.generations.get(row.id)
    assert again_row is not None and again_row.queued and again_row.error_code is None
    claimed, mine = await store.intents.claim("f1:1", endpoint=ENDPOINT, model="m",
                                              prompt="two", size="1280*720", duration=5)
    assert not mine and claimed.queued  # a queued line is not claimed by a direct send


async def test_requeue_once_keeping_seed_batch_key_and_tags(store: TaskStore) -> None:
    [row_id] = (await store.queue.enqueue(
        entries("again", key="k", seed=7, tags=("t",), note="n"), batch_id="B")).queued
    row = await store.queue.take(capacity=ROOM)
    assert row is not None and row.id == row_id
    await store.intents.mark_accepted(row_id, task_id="t-1", status="PENDING", request_id=None,
                                      next_poll_in=0)
    assert await store.queue.requeue(row_id, retry=True) is None  # still running
    await store.following.apply(row_id, Observation("FAILED", error_code="InternalError"), None)
    since = iso_in(-60)
    assert [r.id for r in await store.queue.retryable(codes=["InternalError"], max_retries=2,
                                                      since=since)] == [row_id]
    assert await store.queue.retryable(codes=["Other"], max_retries=2, since=since) == []
    new = await store.queue.requeue(row_id, retry=True)
    assert new is not None and new.queued and new.seed == 7 and new.batch_id == "B"
    assert new.retries == 1 and new.retry_of == row_id and new.note == "n"
    assert new.intent_key == "k:0" and (await store.generations.get(row_id)).intent_key is None  # type: ignore[union-attr]
    assert await store.history.tags_of(new.id) == ["t"]
    assert await store.queue.requeue(row_id, retry=True) is None  # once
    assert await store.queue.retryable(codes=["InternalError"], max_retries=2,
                                       since=since) == []
    assert (await store.intents.with_prefix("k:"))["k:0"].id == new.id


async def test_two_stores_taking_at_once_send_each_item_once(store: TaskStore,
                                                             location: str) -> None:
    await store.queue.enqueue(entries(*(f"item {n}" for n in range(30))))
    async with await open_store(location) as other:
        async def drain(s: TaskStore) -> list[int]:
            got = []
            while (row := await s.queue.take(capacity=ROOM)) is not None:
                got.append(row.id)
            return got

        ours, theirs = await asyncio.gather(drain(store), drain(other))
    assert len(ours) + len(theirs) == 30 and not set(ours) & set(theirs)


async def test_two_machines_racing_take_each_item_once_within_the_room(location: str) -> None:
    """Two machines (stores opened for different people and hosts) feed one account's
    queue at once, round after round as tasks end: never beyond the room together,
    every item once."""
    room, items = 4, 30
    async with await open_store(location, who=Who("alice", "studio-1")) as one, \
            await open_store(location, who=Who("bob", "studio-2")) as two:
        await one.queue.enqueue(entries(*(f"item {n}" for n in range(items))))

        async def drain(s: TaskStore) -> list[int]:
            got = []
            while (row := await s.queue.take(capacity=room, endpoints=[ENDPOINT])) is not None:
                got.append(row.id)
            return got

        every: list[int] = []
        while len(every) < items:
            ours, theirs = await asyncio.gather(drain(one), drain(two))
            now = ours + theirs
            assert now and len(now) <= room, f"{len(now)} taken at once, room for {room}"
            assert await one.queue.in_flight([ENDPOINT]) <= room
            every += now
            for n, row_id in enumerate(now):  # they are sent, run and end: room again
                await one.intents.mark_accepted(row_id, task_id=f"raced-{row_id}",
                                                status="PENDING", request_id=None,
                                                next_poll_in=0)
                await (one if n % 2 else two).following.apply(
                    row_id, Observation("SUCCEEDED", end_time=iso_in(0)), None)
        assert sorted(every) == sorted(set(every)) and len(every) == items
        assert await one.queue.lineup() == []


def test_two_processes_taking_at_once_stay_within_room_and_send_each_once(
        location: str) -> None:
    async def fill() -> None:
        async with await open_store(location) as s:
            await s.queue.enqueue(entries(*(f"item {n}" for n in range(40))))
    asyncio.run(fill())
    processes = [actor(location, "feed", "25") for _ in range(3)]
    got = [answer(p, timeout=120) for p in processes]
    every = [i for ids in got for i in ids]
    assert len(every) == 25 == len(set(every))  # the room, across processes, each once


async def test_a_dead_takers_item_is_in_doubt_not_sent_again(store: TaskStore,
                                                             location: str) -> None:
    await store.queue.enqueue(entries("taken by a process that dies", "next"))
    dead = actor(location, "take-and-die")
    row_id = answer(dead)
    assert dead.returncode == 9
    swept = await store.intents.sweep_interrupted()
    assert [r.id for r in swept] == [row_id] and swept[0].display_status == "UNCONFIRMED"
    assert await taken(store) == ["next"]  # the one in doubt is not handed out again

    async def settled() -> bool:
        row = await store.generations.get(row_id)
        return row is not None and row.display_status == "UNCONFIRMED"
    await until(settled, what="the row in doubt")
