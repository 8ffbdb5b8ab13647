"""``PageReader``: the synchronous read a command that only prints a page uses (``list``)
reads what the store reads, writes nothing, and says when the store needs tidying first.
A backend that offers no reader (``open_page_reader`` returns None) skips these."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import PageReader, TaskStore, open_page_reader, open_store
from storage.history import parse_filter
from storage.records import QueueEntry, Who
from tests.store_contract.helpers import ENDPOINT, accepted, finished, intent

FILTERS = ("", "neon", "neon rain", '"rain fox"', "月光下", "n", "zebra", "status:FAILED",
           "status:SUBMITTING", "tag:keep", "neon status:FAILED tag:keep", "fav", "in:trash",
           "dl:no", "tier:720P dur:5")


@pytest.fixture
def reader(store: TaskStore, location: str) -> Iterator[PageReader]:
    found = open_page_reader(location)
    if found is None:
        pytest.skip("this backend offers no page reader")
    with found:
        yield found


async def many(store: TaskStore) -> None:
    for n in range(30):
        prompt = "一只小猫在月光下奔跑" if n % 7 == 0 else f"neon rain fox {n}"
        row = await (finished(store, prompt, status="FAILED" if n % 4 == 0 else "SUCCEEDED")
                     if n % 5 else accepted(store, prompt))
        if n % 3 == 0:
            await store.history.set_tags(row.id, ["keep"])
        if n % 6 == 0:
            await store.history.set_favourite(row.id, True)
    await store.trash.forget(2)


@pytest.mark.parametrize("text", FILTERS)
async def test_a_page_is_the_stores_page(store: TaskStore, reader: PageReader,
                                         text: str) -> None:
    await many(store)
    where = parse_filter(text)
    for sort, descending, offset in (("submitted", True, 0), ("submitted", True, 7),
                                     ("submitted", False, 0), ("prompt", True, 3)):
        expected = await store.history.page(where, sort=sort, descending=descending,
                                            limit=10, offset=offset)
        assert reader.page(where, sort=sort, descending=descending, limit=10,
                           offset=offset) == expected, (text, sort, descending, offset)


async def test_unsaved_videos_are_the_stores(store: TaskStore, reader: PageReader) -> None:
    await many(store)
    window = {"ended_after": "2026-02-28T00:00:00.000+00:00",
              "ended_before": "2026-03-02T00:00:00.000+00:00"}
    assert reader.unsaved(**window, limit=5) == await store.downloads.unsaved(**window,
                                                                              limit=5)
    assert reader.unsaved() == await store.downloads.unsaved() != []


async def test_it_sees_what_the_store_wrote_after_it_opened(
        store: TaskStore, reader: PageReader) -> None:
    assert reader.page() == []
    row = await finished(store, "written later")
    assert [r.id for r in reader.page()] == [row.id]


async def test_a_send_in_flight_or_an_old_trash_make_it_untidy(
        store: TaskStore, reader: PageReader) -> None:
    kept = await finished(store, "a finished one")
    assert not reader.untidy(30)
    await store.trash.forget(kept.id)
    assert not reader.untidy(30)  # forgotten just now: not due for deleting
    assert reader.untidy(-1)  # "forgotten more than -1 days ago": due
    await store.trash.purge(-1)
    assert not reader.untidy(-1)
    sending = await intent(store, "being sent")  # a crash may interrupt it: tidy first
    assert reader.untidy(30)
    await store.intents.mark_unconfirmed(sending.id, "lost")
    assert not reader.untidy(30)


ALICE = Who("alice@studio-2", "studio-2")
BOB = Who("bob@laptop", "laptop")
TEAM_FILTERS = ("", "by:me", "by:bob", "by:alice,bob", "by:ALICE@studio-2", "fox by:me",
                "dl:yes", "dl:no", "dl:no by:bob", "fox dl:no", "status:QUEUED",
                "status:QUEUED by:me", "fox status:QUEUED", "status:SUBMITTING", "tag:keep",
                "fox tag:keep by:bob", "fav dl:yes")


async def team_history(location: str, tmp_path: Path) -> None:
    """alice's and bob's rows on one store: finished, saved here or not, queued (a batch
    and a typed prompt), one being sent, and videos saved on other machines (a copy
    from carol's studio-3 brings their downloads, as ``store copy`` does)."""
    async with await open_store(tmp_path / "carol" / "tasks.db",
                                who=Who("carol@studio-3", "studio-3")) as carol:
        for n in range(3):
            row = await finished(carol, f"a fox carol saved {n}")
            await carol.downloads.set(row.id, state="done", path=f"/studio-3/{n}.mp4")
        after = 0
        async with await open_store(location, who=ALICE) as alice:
            while records := await carol.history.copy_out(after, 2):
                await alice.history.copy_in(carol.location, records)
                after = records[-1]["id"]
    for who in (ALICE, BOB):
        async with await open_store(location, who=who) as store:
            name = who.person.split("@")[0]
            for n in range(4):
                row = await finished(store, f"{name}'s fox {n}",
                                     status="FAILED" if n == 3 else "SUCCEEDED")
                if n == 1:
                    await store.downloads.set(row.id, state="done", path=f"/{name}/{n}.mp4")
                    await store.history.set_favourite(row.id, True)
                if n % 2 == 0:
                    await store.history.set_tags(row.id, ["keep"])
            await store.queue.enqueue(
                [QueueEntry(endpoint=ENDPOINT, model="m", prompt=f"{name}'s queued fox {n}",
                            size="1280*720", duration=5) for n in range(2)],
                batch_id=f"batch-{name}")
            await store.queue.enqueue([QueueEntry(endpoint=ENDPOINT, model="m",
                                                  prompt=f"{name}'s typed fox",
                                                  size="1280*720", duration=5)], priority=1)
    async with await open_store(location, who=BOB) as bob:
        await intent(bob, "bob's fox being sent")


@pytest.mark.parametrize("who", [ALICE, BOB, Who("someone@studio-3", "studio-3")],
                         ids=["alice", "bob", "on-studio-3"])
async def test_team_and_queued_rows_read_as_the_store_reads_them(
        location: str, tmp_path: Path, who: Who) -> None:
    """Issue 15 beside team mode and the queue: a reader opened for someone reads what
    the store opened for them reads — ``submitted_by``, ``by:me``/``by:NAME``, this
    machine's downloads and ``dl:``, the other machines in ``saved_on``, QUEUED rows —
    and counts what waits in the queue as the status bar's figures do."""
    await team_history(location, tmp_path)
    found = open_page_reader(location, who=who)
    if found is None:
        pytest.skip("this backend offers no page reader")
    with found as reader:
        assert reader.who == who
        async with await open_store(location, who=who) as store:
            assert reader.queued() == (await store.history.counts("")).queued == 6
            saved_elsewhere = {r.id: r.saved_on for r in await store.history.page(limit=100)
                               if r.saved_on}
            assert len(saved_elsewhere) == (0 if who.machine == "studio-3" else 3)
            for text in TEAM_FILTERS:
                where = parse_filter(text)
                assert not where.problems, text
                for sort, descending in (("submitted", True), ("download", False),
                                         ("status", True)):
                    expected = await store.history.page(where, sort=sort,
                                                        descending=descending, limit=100)
                    assert reader.page(where, sort=sort, descending=descending,
                                       limit=100) == expected, (text, sort)
                assert reader.unsaved(where) == await store.downloads.unsaved(where), text
            mine = reader.page(parse_filter("by:me"), limit=100)
            assert {r.submitted_by for r in mine} <= {who.person}


async def test_the_unsaved_tally_counts_and_names_what_unsaved_lists(
        store: TaskStore, reader: PageReader) -> None:
    """The warning about videos about to expire (``list``) reads a count and the first
    rows' references at once: the same as counting and naming ``unsaved``'s rows."""
    await many(store)
    for window in ({}, {"ended_after": "2026-02-28T00:00:00.000+00:00",
                        "ended_before": "2026-03-02T00:00:00.000+00:00"},
                   {"ended_after": "2999-01-01T00:00:00.000+00:00"}):
        rows = await store.downloads.unsaved(**window)
        for at_most, first in ((1000, 10), (3, 2), (1, 0)):
            assert reader.unsaved_tally(**window, at_most=at_most, first=first) == (
                min(len(rows), at_most), [(r.id, r.task_id) for r in rows[:first]]), window
