"""Teams: who submitted each generation (``by:``), downloads kept per machine, and copying
a whole history from one store into another (``History.copy_out`` / ``copy_in``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage import Observation, TaskStore, open_store
from storage.history import parse_filter
from storage.records import QueueEntry, Who
from tests.store_contract.backends import Backend
from tests.store_contract.helpers import ENDPOINT, accepted, finished, intent

ALICE = Who("alice@studio-2", "studio-2")
BOB = Who("bob@laptop", "laptop")


@pytest.fixture
async def alice(location: str) -> AsyncIterator[TaskStore]:
    """The store under test, opened by alice on studio-2."""
    opened = await open_store(location, who=ALICE)
    yield opened
    await opened.close()


async def other_store(tmp_path: Path, name: str, who: Who = ALICE) -> TaskStore:
    """A SQLite store beside the one under test (another place to copy to or from)."""
    return await open_store(tmp_path / name / "tasks.db", who=who)


async def copy(source: TaskStore, target: TaskStore, *, page: int = 3) -> int:
    """Everything in ``source`` into ``target``, a few rows at a time (as ``store copy``)."""
    added, after = 0, (await target.history.copied_from(source.location)).up_to
    while records := await source.history.copy_out(after, page):
        added += await target.history.copy_in(source.location, records)
        after = records[-1]["id"]
    return added


async def everything(store: TaskStore) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while records := await store.history.copy_out(out[-1]["id"] if out else 0, 1000):
        out += records
    return out


# -- who submitted it -----------------------------------------------------------------------

async def test_a_store_is_opened_for_someone(location: str, alice: TaskStore) -> None:
    assert alice.who == ALICE and isinstance(alice.shared, bool)
    async with await open_store(location) as anyone:
        assert anyone.who == Who.here() and "@" in anyone.who.person


async def test_intents_record_who_submitted_them(location: str, alice: TaskStore) -> None:
    mine = await intent(alice, "alice's fox")
    claimed, sent = await alice.intents.claim("batch-1:1", endpoint=ENDPOINT, model="m",
                                              prompt="alice's batch line", size="1280*720",
                                              duration=5)
    adopted = await alice.following.track(task_id="made-by-the-sdk", endpoint=ENDPOINT,
                                          model="m", prompt="?", size="?", duration=0,
                                          audio=False)
    assert sent and mine.submitted_by == claimed.submitted_by == "alice@studio-2"
    assert adopted.submitted_by is None  # nobody here submitted it
    async with await open_store(location, who=BOB) as bob:
        theirs = await intent(bob, "bob's owl")
        assert theirs.submitted_by == "bob@laptop"
        await bob.intents.mark_rejected(claimed.id, code="Throttling", message="busy",
                                        request_id=None)
        again, sent = await bob.intents.claim("batch-1:1", endpoint=ENDPOINT, model="m",
                                              prompt="alice's batch line", size="1280*720",
                                              duration=5)
        assert sent and again.id == claimed.id and again.submitted_by == "bob@laptop"
    row = await alice.generations.get(theirs.id)
    assert row is not None and row.submitted_by == "bob@laptop"  # whoever reads it


async def test_queued_intents_record_who_submitted_them(location: str,
                                                         alice: TaskStore) -> None:
    """The local queue records an intent too (issue 17): its rows say who queued them —
    a batch line taken over by someone else says them — and a retry, whoever feeds the
    queue, stays its submitter's."""
    line = QueueEntry(endpoint=ENDPOINT, model="m", prompt="alice's line", size="1280*720",
                      duration=5, key="batch-q:1")
    typed = QueueEntry(endpoint=ENDPOINT, model="m", prompt="alice's prompt",
                       size="1280*720", duration=5)
    done = await alice.queue.enqueue([line, typed], batch_id="batch-q")
    rows = await alice.generations.get_many(done.queued)
    assert [r.submitted_by for r in rows] == ["alice@studio-2"] * 2
    assert {r.id for r in await alice.history.page(parse_filter("by:me status:QUEUED"))} \
        == set(done.queued)
    async with await open_store(location, who=BOB) as bob:
        assert await bob.history.count(parse_filter("by:me")) == 0
        taken = await bob.queue.take(capacity=100)  # bob's process feeds alice's queue
        assert taken is not None and taken.submitted_by == "alice@studio-2"
        await bob.intents.mark_rejected(taken.id, code="Throttling", message="busy",
                                        request_id=None)
        again = await bob.queue.enqueue([line], batch_id="batch-q")  # bob runs the file
        assert again.queued == (taken.id,)
        row = await bob.generations.get(taken.id)
        assert row is not None and row.submitted_by == "bob@laptop"
        second = await bob.queue.take(capacity=100, only=[rows[1].id])
        assert second is not None
        await bob.intents.mark_accepted(second.id, task_id="q-1", status="PENDING",
                                        request_id=None, next_poll_in=0)
        await bob.following.apply(second.id, Observation("FAILED", error_code="InternalError"),
                                  None)
        retried = await bob.queue.requeue(second.id, retry=True)
        assert retried is not None and retried.submitted_by == "alice@studio-2"


async def test_by_filters_on_who_submitted(location: str, alice: TaskStore) -> None:
    here = await finished(alice, "a fox by alice here")
    async with await open_store(location, who=Who("Alice@Laptop", "laptop")) as laptop:
        there = await finished(laptop, "a fox by alice on her laptop")
    async with await open_store(location, who=BOB) as bob:
        bobs = await finished(bob, "a fox by bob")
    tracked = await alice.following.track(task_id="sdk-1", endpoint=ENDPOINT, model="m",
                                          prompt="a fox from the sdk", size="?", duration=0,
                                          audio=False)

    async def ids(text: str) -> set[int]:
        where = parse_filter(text)
        assert not where.problems
        found = {r.id for r in await alice.history.page(where, limit=100)}
        assert await alice.history.count(where) == len(found)
        assert set(await alice.history.ids(where)) == found
        return found

    assert await ids("by:me") == {here.id}  # exactly who this store was opened for
    assert await ids("by:alice") == {here.id, there.id}  # alice on any machine
    assert await ids("by:ALICE@laptop") == {there.id}  # a whole name: that one
    assert await ids("by:bob,alice@studio-2") == {bobs.id, here.id}
    assert await ids("by:bob by:me") == {bobs.id, here.id}  # repeated: either
    assert await ids("fox by:bob") == {bobs.id}
    assert await ids("by:carol") == set() and await ids("by:ali") == set()
    assert await ids("by:%") == set() and await ids("by:_lice") == set()  # no wildcards
    assert tracked.id not in await ids("by:me by:alice by:bob")  # no one recorded
    assert await ids("fox") == {here.id, there.id, bobs.id, tracked.id}
    unsaved = await alice.downloads.unsaved(parse_filter("by:bob"))
    assert [r.id for r in unsaved] == [bobs.id]
    assert parse_filter("by:").problems and parse_filter('by:""').problems


async def test_budgets_count_everyone(location: str, alice: TaskStore) -> None:
    """The account's budget is the team's: every submitter's billable rows count."""
    await finished(alice, "alice's fox")
    async with await open_store(location, who=BOB) as bob:
        await accepted(bob, "bob's owl, running")
        billable = await bob.intents.billable_since("2000-01-01T00:00:00.000+00:00")
    assert sorted(b.settled for b in billable) == [False, True]


async def test_by_me_is_whoever_opened_the_store(location: str, alice: TaskStore) -> None:
    await intent(alice, "alice's")
    async with await open_store(location, who=BOB) as bob:
        theirs = await intent(bob, "bob's")
        assert [r.id for r in await bob.history.page(parse_filter("by:me"))] == [theirs.id]


# -- downloads per machine ------------------------------------------------------------------

async def test_a_video_saved_on_another_machine_is_not_saved_here(
        tmp_path: Path, alice: TaskStore) -> None:
    """studio-2 saved it (the record came with a copy from the team's database): here it
    is "saved on studio-2", not a file of this machine, until this machine saves it."""
    source = await other_store(tmp_path, "team", who=Who("bob@studio-3", "studio-3"))
    try:
        row = await finished(source, "a fox saved on studio-3")
        await source.downloads.set(row.id, state="done", path="/studio-3/fox.mp4", done=10,
                                   total=10, sha256="ab" * 32)
        await copy(source, alice)
    finally:
        await source.close()
    here = (await alice.history.page())[0]
    assert (here.download_state, here.download_path, here.saved_on) == ("none", None,
                                                                        ("studio-3",))
    assert [r.id for r in await alice.history.page(parse_filter("dl:no"))] == [here.id]
    assert await alice.history.page(parse_filter("dl:yes")) == []
    assert [r.id for r in await alice.downloads.unsaved()] == [here.id]
    assert await alice.generations.by_download_path("/studio-3/fox.mp4") == []
    assert await alice.generations.by_sha256("ab" * 32) == []
    assert (await alice.history.counts("2026-01-01T00:00:00.000+00:00")).not_downloaded == 1
    saved = await alice.downloads.set(here.id, state="done", path="/here/fox.mp4", done=10,
                                      total=10, sha256="ab" * 32)
    assert (saved.download_state, saved.saved_on) == ("done", ("studio-3",))
    assert (await alice.history.counts("2026-01-01T00:00:00.000+00:00")).not_downloaded == 0
    assert [r.id for r in await alice.generations.by_sha256("AB" * 32)] == [here.id]


async def test_downloads_are_per_machine_on_a_shared_store(location: str,
                                                           alice: TaskStore) -> None:
    if not alice.shared:
        pytest.skip("a store that is not shared is one machine's: whoever opens it")
    row = await finished(alice, "a fox")
    async with await open_store(location, who=BOB) as bob:
        await bob.downloads.set(row.id, state="done", path="/laptop/fox.mp4", sha256="cd" * 32)
        theirs = await alice.generations.get(row.id)
        assert theirs is not None
        assert (theirs.download_state, theirs.saved_on) == ("none", ("laptop",))
        await alice.downloads.set(row.id, state="downloading", path="/studio/fox.part")
        mine = await bob.generations.get(row.id)
        assert mine is not None and (mine.download_state, mine.download_path) == (
            "done", "/laptop/fox.mp4")
        assert [r.id for r in await bob.generations.by_download_path("/laptop/fox.mp4")] \
            == [row.id]
        assert await bob.generations.by_download_path("/studio/fox.part") == []


# -- copying a history ------------------------------------------------------------------------

async def fill(store: TaskStore) -> None:
    """One of everything a history holds."""
    done = await finished(store, "a finished fox, saved and starred")
    await store.downloads.set(done.id, state="done", path="/v/fox.mp4", done=100, total=100,
                              sha256="ef" * 32)
    await store.history.set_tags(done.id, ["keep", "fox"])
    await store.history.set_note(done.id, "the best one")
    await store.history.set_favourite(done.id, True)
    await finished(store, "a failure", status="FAILED")
    await accepted(store, "still running")
    rejected = await intent(store, "refused twice at once")
    await store.intents.mark_rejected(rejected.id, code="InvalidParameter", message="no",
                                      request_id="r1")
    twin = await intent(store, "refused twice at once")
    await store.intents.mark_rejected(twin.id, code="InvalidParameter", message="no",
                                      request_id="r2")
    unsure = await intent(store, "nobody knows")
    await store.intents.mark_unconfirmed(unsure.id, "no answer")
    for line in range(3):
        await store.intents.claim(f"batch-9:{line}", endpoint=ENDPOINT, model="m",
                                  prompt=f"line {line}", size="1280*720", duration=5,
                                  batch_id="batch-9", tags=["batch"], note="from a file")
    gone = await finished(store, "forgotten")
    await store.trash.forget(gone.id)
    await store.following.track(task_id="from-the-console", endpoint=ENDPOINT, model="m",
                                prompt="?", size="?", duration=0, audio=False)


async def test_copy_out_and_in_keeps_every_row_whole(tmp_path: Path, backend: Backend,
                                                     alice: TaskStore) -> None:
    """SQLite → the store under test (empty: ids kept) → another SQLite file: the same
    rows, tags, events, notes, trash, intents and downloads all the way."""
    first = await other_store(tmp_path, "first")
    last = await other_store(tmp_path, "last")
    try:
        await fill(first)
        original = await everything(first)
        assert len(original) == 11 and original[0]["downloads"] == {"studio-2": {
            "state": "done", "path": "/v/fox.mp4", "bytes": 100, "total": 100,
            "sha256": "ef" * 32, "error": None}}
        assert await copy(first, alice) == 11
        assert await everything(alice) == original
        mark = await alice.history.copied_from(first.location)
        assert (mark.up_to, mark.seen) == (original[-1]["id"], 11)
        assert (await alice.history.copied_from(last.location)).up_to == 0
        assert await copy(alice, last) == 11
        assert await everything(last) == original
        kept = await alice.history.page(parse_filter("fox"))
        assert [r.note for r in kept] == ["the best one"] and kept[0].favourite
        assert await alice.history.tags_of(kept[0].id) == ["fox", "keep"]
        trash = await alice.history.page(parse_filter("in:trash"))
        assert [r.prompt for r in trash] == ["forgotten"]
        assert set(await alice.intents.with_prefix("batch-9:")) == {
            "batch-9:0", "batch-9:1", "batch-9:2"}
        assert [r.submission for r in await alice.following.unfinished()] == [
            "accepted", "tracked"]
    finally:
        await first.close()
        await last.close()


async def test_copying_again_or_after_a_stop_adds_exactly_what_is_missing(
        tmp_path: Path, alice: TaskStore) -> None:
    source = await other_store(tmp_path, "source")
    try:
        await fill(source)
        records = await everything(source)
        assert await alice.history.copy_in(source.location, records[:5]) == 5
        # Killed before the next batch committed, then run from the start again:
        assert await alice.history.copy_in(source.location, records[:7]) == 2
        assert await copy(source, alice) == 4
        assert await copy(source, alice) == 0  # twice: nothing new
        assert (await alice.history.copied_from(source.location)).seen == 11
        assert await everything(alice) == records
        newer = await intent(source, "written after the copy")
        assert await copy(source, alice) == 1
        copied = await alice.generations.get(newer.id)
        assert copied is not None and copied.prompt == "written after the copy"
    finally:
        await source.close()


async def test_copying_into_a_store_in_use_merges(tmp_path: Path, alice: TaskStore) -> None:
    """Rows the target holds already (a task id, an intent key, a refusal it had before)
    are not copied twice; two alike in the source both are; the copied rows take ids
    after the target's own."""
    twins = await other_store(tmp_path, "twins")
    source = await other_store(tmp_path, "source")
    try:
        await fill(twins)
        records = await everything(twins)
        refused = [r for r in records if r["prompt"] == "refused twice at once"]
        refused[1]["created_at"] = refused[0]["created_at"]  # sent in the same millisecond
        await source.history.copy_in(twins.location, records)
        mine = await intent(alice, "alice's own row")
        await copy(source, alice)
        rows = await everything(alice)
        assert len(rows) == len(records) + 1 and rows[0]["prompt"] == "alice's own row"
        assert [r["prompt"] for r in rows[1:]] == [r["prompt"] for r in records]
        assert all(r["id"] > mine.id for r in rows[1:])
        # The same history copied again from another place (a moved file): nothing new.
        moved = await other_store(tmp_path, "moved")
        try:
            await copy(source, moved)
            assert await copy(moved, alice) == 0
        finally:
            await moved.close()
    finally:
        await source.close()
        await twins.close()


async def test_copied_texts_are_scrubbed(tmp_path: Path, alice: TaskStore) -> None:
    source = await other_store(tmp_path, "source")
    try:
        row = await intent(source, "a fox")
        records = await source.history.copy_out()
        leaked = "Bearer sk-0123456789abcdefghij"
        records[0].update(error_message=leaked, submission_note=leaked)
        records[0]["history"][0]["detail"] = leaked
        records[0]["downloads"] = {"laptop": {"state": "failed", "path": None, "bytes": None,
                                              "total": None, "sha256": None, "error": leaked}}
        await alice.history.copy_in(source.location, records)
        out = await everything(alice)
        assert "sk-0123" not in repr(out) and row.id == out[0]["id"]
    finally:
        await source.close()


async def test_a_copy_is_seen_by_the_change_feed(tmp_path: Path, alice: TaskStore) -> None:
    feed = alice.changes()
    source = await other_store(tmp_path, "source")
    try:
        await finished(source, "a fox")
        await copy(source, alice)
    finally:
        await source.close()
    copied = (await alice.history.page())[0]
    change = await asyncio.wait_for(anext(feed), 10)
    while not (change.everything or copied.id in change.rows):
        change = change | await asyncio.wait_for(anext(feed), 10)
    assert change.figures


async def test_a_download_on_another_machine_reaches_this_machines_feed(
        location: str, alice: TaskStore) -> None:
    """Another machine saving a video changes the row here ("saved on laptop") and the
    figures (this machine's unsaved count may not move, but it is read again)."""
    row = await finished(alice, "a fox")
    feed = alice.changes()
    async with await open_store(location, who=BOB) as bob:
        await bob.downloads.set(row.id, state="done", path="/laptop/fox.mp4")
    change = await asyncio.wait_for(anext(feed), 10)
    while not (change.everything or row.id in change.rows):
        change = change | await asyncio.wait_for(anext(feed), 10)
