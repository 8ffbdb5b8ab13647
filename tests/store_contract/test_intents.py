"""Intents: recorded before sending, never sent twice, settled by the user or the list."""

from __future__ import annotations

import asyncio

import pytest

from storage import DuplicateTask, TaskStore, open_store
from storage.clock import iso_in
from tests.store_contract.helpers import (
    ENDPOINT,
    accepted,
    actor,
    answer,
    finished,
    intent,
)


async def claim(store: TaskStore, key: str, **kw: object) -> tuple[int, bool]:
    row, mine = await store.intents.claim(key, endpoint=ENDPOINT, model="m", prompt=f"line {key}",
                                          size="1280*720", duration=5, **kw)  # type: ignore[arg-type]
    return row.id, mine


async def test_the_intent_is_written_before_sending(store: TaskStore) -> None:
    row = await intent(store, "p", seed=3, batch_id="b1")
    assert row.submission == "sending" and row.task_id is None and row.seed == 3
    assert row.display_status == "SUBMITTING" and row.batch_id == "b1"
    assert [e.status for e in await store.generations.events(row.id)] == ["SUBMITTING"]
    again = await store.generations.get(row.id)
    assert again == row


async def test_a_key_is_claimed_once_and_its_row_found_again(store: TaskStore) -> None:
    first, mine = await claim(store, "batch:1", tags=["keep", " keep", ""], note="n")
    assert mine
    again, mine_again = await claim(store, "batch:1")
    assert again == first and not mine_again
    assert await store.history.tags_of(first) == ["keep"]
    assert (await store.generations.get(first)).note == "n"  # type: ignore[union-attr]
    found = await store.intents.with_prefix("batch:")
    assert list(found) == ["batch:1"] and found["batch:1"].id == first
    assert await store.intents.with_prefix("other:") == {}


async def test_two_stores_claiming_at_once_send_each_line_once(store: TaskStore,
                                                               location: str) -> None:
    async with await open_store(location) as other:
        keys = [f"race:{n}" for n in range(20)]
        ours = await asyncio.gather(*(claim(store, k) for k in keys))
        theirs = await asyncio.gather(*(claim(other, k) for k in keys))
    for (a, mine_a), (b, mine_b) in zip(ours, theirs, strict=True):
        assert a == b and mine_a != mine_b


def test_two_processes_claiming_one_batch_send_each_line_once(location: str) -> None:
    keys = [f"proc:{n}" for n in range(60)]
    processes = [actor(location, "claim", *keys) for _ in range(3)]
    claimed = [answer(p, timeout=120) for p in processes]
    everything = [k for mine in claimed for k in mine]
    assert sorted(everything) == sorted(keys)  # each once, whoever sent it


async def test_a_refused_or_abandoned_line_is_taken_over_once(store: TaskStore) -> None:
    row_id, _ = await claim(store, "b:1")
    await store.intents.mark_rejected(row_id, code="Bad", message="no", request_id="r")
    assert await claim(store, "b:1") == (row_id, True)
    assert await claim(store, "b:1") == (row_id, False)  # it is being sent again
    row = await store.generations.get(row_id)
    assert row is not None and row.submission == "sending" and row.error_code is None
    await store.intents.mark_abandoned(row_id, "nothing was made")
    assert await claim(store, "b:1") == (row_id, True)


async def test_outcomes(store: TaskStore) -> None:
    row = await intent(store)
    done = await store.intents.mark_accepted(row.id, task_id="t-1", status="PENDING",
                                             request_id="req", next_poll_in=0)
    assert done.task_id == "t-1" and done.followed and done.create_request_id == "req"
    refused = await store.intents.mark_rejected((await intent(store)).id, code="C",
                                                message="refused", request_id=None)
    assert refused.display_status == "REJECTED" and not refused.followed
    doubt = await store.intents.mark_unconfirmed((await intent(store)).id, "timed out")
    assert doubt.display_status == "UNCONFIRMED" and doubt.submission_note == "timed out"
    final = await store.intents.mark_accepted((await intent(store)).id, task_id="t-2",
                                              status="FAILED", request_id=None, next_poll_in=0)
    assert final.next_poll_at is None and not final.followed


async def test_an_unconfirmed_intent_is_adopted_once(store: TaskStore) -> None:
    other = await accepted(store, task_id="taken")
    doubt = await store.intents.mark_unconfirmed((await intent(store)).id, "?")
    with pytest.raises(DuplicateTask, match="already belongs to #"):
        await store.intents.adopt_for(doubt.id, "taken")
    assert (await store.generations.get(doubt.id)).task_id is None  # type: ignore[union-attr]
    adopted = await store.intents.adopt_for(doubt.id, "found-1")
    assert adopted.task_id == "found-1" and adopted.followed and other.task_id == "taken"


async def test_a_dead_senders_intent_becomes_unconfirmed(store: TaskStore,
                                                          location: str) -> None:
    mine = await intent(store, "sent by a living process")
    dead = actor(location, "intent-and-die")
    row_id = answer(dead)
    assert dead.returncode == 9  # it died without a word
    swept = await store.intents.sweep_interrupted()
    assert [r.id for r in swept] == [row_id]
    assert swept[0].display_status == "UNCONFIRMED"
    assert (await store.generations.get(mine.id)).submission == "sending"  # type: ignore[union-attr]
    assert await store.intents.sweep_interrupted() == []


async def test_what_costs_money(store: TaskStore) -> None:
    start = iso_in(-1)
    made = await finished(store, "made", size="1920*1080", duration=10)
    in_flight = await accepted(store, "running")
    sending = await intent(store, "sending")
    refused = await store.intents.mark_rejected((await intent(store)).id, code=None,
                                                message="no", request_id=None)
    failed = await finished(store, "failed", status="FAILED")
    await store.trash.forget(made.id)  # forgetting does not refund
    billed = await store.intents.billable_since(start)
    assert sorted((b.size, b.duration, b.settled) for b in billed) == [
        ("1280*720", 5.0, False), ("1280*720", 5.0, False), ("1920*1080", 10.0, True)]
    assert await store.intents.billable_since(iso_in(60)) == []
    assert refused.id and failed.id and in_flight.id and sending.id


async def test_a_batch_summary(store: TaskStore) -> None:
    ok = await finished(store, "first of the batch", batch_id="b")
    await finished(store, "second", status="FAILED", batch_id="b")
    await accepted(store, "third", batch_id="b")
    gone = await accepted(store, "forgotten", batch_id="b")
    await store.trash.forget(gone.id)
    await finished(store, "another batch", batch_id="c")
    summary = await store.intents.batch("b")
    assert summary is not None and summary.label == "first of the batch"
    assert (summary.total, summary.succeeded, summary.failed, summary.live) == (3, 1, 1, 1)
    rows = await store.intents.batch_rows("b")
    assert len(rows) == 3 and rows[0].id == ok.id
    assert await store.intents.batch("none") is None
