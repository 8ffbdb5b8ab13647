"""History: search semantics, filter tokens, pages and counts, annotations, import."""

from __future__ import annotations

import asyncio

import pytest

from storage import Observation, TaskStore, open_store
from storage.clock import now_iso
from storage.history import SORT_KEYS, HistoryFilter, parse_filter
from storage.records import QueueEntry, Tally, Who
from tests.store_contract.helpers import ENDPOINT, accepted, finished, intent


async def add(store: TaskStore, prompt: str, *, size: str = "1280*720", duration: int = 5,
              audio: bool = False, status: str = "SUCCEEDED"):
    row = await store.intents.add(endpoint=ENDPOINT, model="pixverse/pixverse-v5.6-t2v",
                                  prompt=prompt, size=size, duration=duration, audio=audio)
    row = await store.intents.mark_accepted(row.id, task_id=f"task-{row.id}",
                                            status="PENDING", request_id="r", next_poll_in=0)
    ok = status == "SUCCEEDED"
    row, _ = await store.following.apply(row.id, Observation(
        status, submit_time="2026-03-20T02:00:00.000+00:00",
        scheduled_time="2026-03-20T02:00:02.000+00:00",
        end_time="2026-03-20T02:01:02.000+00:00", video_url="http://v" if ok else None,
        error_code="InternalError" if status == "FAILED" else None), None)
    return row


async def found(store: TaskStore, text: str) -> set[int]:
    return {r.id for r in await store.history.page(parse_filter(text), limit=1000)}


async def test_words_phrases_and_chinese_substrings(store: TaskStore) -> None:
    cat = await add(store, "一只小猫在月光下奔跑")
    fox = await add(store, "A red fox in the snow")
    dog = await add(store, "小狗在海边 and a fox, red-eyed")
    odd = await add(store, 'quotes "here", 100% and under_score')
    assert await found(store, "月光下") == {cat.id}  # three characters and more: the index
    assert await found(store, "小猫") == {cat.id}  # two
    assert await found(store, "在") == {cat.id, dog.id}  # one
    assert await found(store, "小猫在月光下") == {cat.id}
    assert await found(store, "red fox") == {fox.id, dog.id}  # every word, anywhere
    assert await found(store, '"red fox"') == {fox.id}  # a phrase
    assert await found(store, "RED FOX") == {fox.id, dog.id}  # Latin letters: any case
    assert await found(store, "fo") == {fox.id, dog.id}  # part of a word
    assert await found(store, "FO") == {fox.id, dog.id} == await found(store, "Fo x")
    assert await found(store, "fox 海边") == {dog.id}
    assert await found(store, "0%") == {odd.id}  # wildcards are letters like any other
    assert await found(store, "r_") == {odd.id} and await found(store, "e_s") == set()
    assert await found(store, "under_score") == {odd.id}
    assert await found(store, '"here"') == {odd.id}
    assert await found(store, "zebra") == set() and await found(store, "zz") == set()
    assert await store.history.count(parse_filter("fox")) == 2


async def test_filter_tokens(store: TaskStore) -> None:
    fox = await add(store, "a red fox in snow", size="1920*1080", duration=8, audio=True)
    cat = await add(store, "a cat", size="720*1280")
    fail = await add(store, "a failing whale", status="FAILED")
    sending = await intent(store, "still sending")
    doubt = await store.intents.mark_unconfirmed((await intent(store, "in doubt")).id, "?")
    await store.history.set_favourite(cat.id, True)
    await store.history.set_tags(fox.id, ["keep", "winter"])
    await store.history.set_tags(cat.id, ["keep"])
    await store.downloads.set(fox.id, state="done", path="/x.mp4", done=1, total=1)
    everything = {fox.id, cat.id, fail.id, sending.id, doubt.id}

    assert await found(store, "fox tier:1080p") == {fox.id}
    assert await found(store, "tier:720P") == {cat.id, fail.id, sending.id, doubt.id}
    assert await found(store, "status:FAILED") == {fail.id}
    assert await found(store, "status:failed,succeeded") == {fox.id, cat.id, fail.id}
    assert await found(store, "status:SUBMITTING") == {sending.id}
    assert await found(store, "status:UNCONFIRMED") == {doubt.id}
    assert await found(store, "fav") == {cat.id}
    assert await found(store, "fav:no") == everything - {cat.id}
    assert await found(store, "tag:winter") == {fox.id}
    assert await found(store, "tag:keep") == {fox.id, cat.id}
    assert await found(store, "tag:keep tag:winter") == {fox.id}
    assert await found(store, "audio:yes") == {fox.id}
    assert await found(store, "dur:8") == {fox.id}
    assert await found(store, "dl:yes") == {fox.id}
    assert await found(store, "dl:no") == everything - {fox.id}
    assert await found(store, "since:2000-01-01 until:2000-01-02") == set()
    assert await found(store, "since:2000-01-01") == everything
    assert await found(store, "until:2000-01-01") == set()
    assert parse_filter("tier:999 since:nope").problems
    await store.trash.forget(fail.id)
    assert await found(store, "whale") == set()
    assert await found(store, "in:trash") == {fail.id} == await found(store, "trash whale")


async def test_a_folded_batch_shows_as_its_first_task(store: TaskStore) -> None:
    first = await accepted(store, "batch one", batch_id="b")
    await accepted(store, "batch two", batch_id="b")
    alone = await accepted(store, "alone")
    folded = HistoryFilter()._replace(folded=("b",))
    assert {r.id for r in await store.history.page(folded)} == {first.id, alone.id}
    assert await store.history.count(folded) == 2


async def test_pages_cover_every_row_once_in_order(store: TaskStore) -> None:
    rows = [await accepted(store, f"prompt {n % 7}") for n in range(25)]
    for sort in SORT_KEYS:
        for descending in (True, False):
            seen = []
            for offset in range(0, 30, 10):
                seen += await store.history.page(sort=sort, descending=descending, limit=10,
                                                 offset=offset)
            assert sorted(r.id for r in seen) == [r.id for r in rows], (sort, descending)
    newest = await store.history.page(limit=3)
    assert [r.id for r in newest] == [r.id for r in rows[::-1][:3]]
    by_prompt = await store.history.page(sort="prompt", descending=False, limit=25)
    assert [r.prompt for r in by_prompt] == sorted(r.prompt for r in rows)
    ties = [r.id for r in by_prompt if r.prompt == "prompt 0"]
    assert ties == sorted(ties)  # the id breaks ties, in the same direction


async def test_counts_ids_and_scans(store: TaskStore) -> None:
    rows = [await accepted(store, f"fox {n}") for n in range(30)]
    await accepted(store, "a cat")
    fox = parse_filter("fox")
    assert await store.history.count() == 31
    assert await store.history.count(fox) == 30
    assert await store.history.count(fox, at_most=10) == 11  # "more than 10"
    assert await store.history.count(fox, at_most=100) == 30
    assert sorted(await store.history.ids(fox)) == [r.id for r in rows]
    assert [r.id async for r in store.history.rows(fox)] == [r.id for r in rows]
    values = [v async for v in store.history.columns(("prompt", "size"), fox)]
    assert values == [(r.prompt, "1280*720") for r in rows]
    with pytest.raises(ValueError, match="not a column"):
        [v async for v in store.history.columns(("prompt; DROP TABLE generations",))]


async def test_a_tally_is_exact_when_cheap_and_never_more_than_there_are(
        store: TaskStore) -> None:
    """``tally``: what a view shows on every keystroke.  Whatever a backend's bound on the
    work, "at least n" never claims more rows than match, and a few rows are exact."""
    rows = [await finished(store, f"fox {n}", status="FAILED" if n % 3 else "SUCCEEDED")
            for n in range(30)]
    for row in rows[::5]:
        await store.history.set_tags(row.id, ["keep"])
    for text in ("fox", "fox status:FAILED", "fox status:FAILED tag:keep", "tag:keep",
                 "status:FAILED tag:keep", "fav", "zebra", "", "in:trash", "tier:720P dur:5",
                 "since:2026-01-01"):
        where = parse_filter(text)
        exact = await store.history.count(where)
        for at_most in (5, 100):
            tally = await store.history.tally(where, at_most=at_most)
            if tally.exact:  # (at most ``at_most``, or everything kept: the figures)
                assert tally.matches == exact, (text, at_most, tally)
                assert exact <= at_most or not text, (text, at_most, tally)
            else:
                assert tally.matches <= exact and (tally.matches < at_most  # work bound
                                                   or tally.matches == at_most + 1), (
                    text, at_most, tally)
        # A history this small is counted exactly whenever the answer fits.
        assert await store.history.tally(where, at_most=100) == Tally(exact), text
    assert await store.history.tally(parse_filter("fox"), at_most=5) == Tally(6, exact=False)


async def test_a_tally_counts_what_count_counts_for_team_and_queue_filters(
        location: str, store: TaskStore) -> None:
    """``by:``, ``dl:``, the queue's QUEUED and folded batches are counted as ``count``
    counts them (a tally is exact in a history this small)."""
    for n in range(6):
        row = await finished(store, f"fox {n}")
        if n % 2:
            await store.downloads.set(row.id, state="done", path=f"/v/{n}.mp4")
    await store.queue.enqueue([QueueEntry(endpoint=ENDPOINT, model="m", prompt=f"fox q{n}",
                                          size="1280*720", duration=5) for n in range(3)],
                              batch_id="batch-q")
    async with await open_store(location, who=Who("bob@laptop", "laptop")) as bob:
        await finished(bob, "a fox by bob")
    for text in ("by:me", "by:bob", "fox by:me", "by:bob dl:no", "dl:yes", "fox dl:no",
                 "status:QUEUED", "fox status:QUEUED by:me", "status:QUEUED tag:none"):
        where = parse_filter(text)
        assert not where.problems, text
        exact = await store.history.count(where)
        assert await store.history.tally(where, at_most=100) == Tally(exact), text
    folded = HistoryFilter()._replace(folded=("batch-q",))
    assert await store.history.count(folded) == 8
    assert await store.history.tally(folded, at_most=5) == Tally(8)
    assert await store.history.tally(parse_filter("fox")._replace(folded=("batch-q",)),
                                     at_most=100) == Tally(8)


async def test_the_status_bar_figures(store: TaskStore) -> None:
    await accepted(store, "pending")
    running = await accepted(store, "running")
    await store.following.apply(running.id, Observation("RUNNING"), 1)
    await intent(store, "sending")
    done = await add(store, "done")
    await add(store, "failed", status="FAILED")
    saved = await add(store, "saved")
    await store.downloads.set(saved.id, state="done", path="/x", done=1, total=1)
    gone = await add(store, "forgotten")
    await store.trash.forget(gone.id)
    figures = await store.history.counts("2026-03-20T00:00:00.000+00:00")
    assert (figures.pending, figures.running, figures.submitting) == (1, 1, 1)
    assert (figures.finished_today, figures.failed_today) == (2, 1)
    assert figures.not_downloaded == 1 and figures.total == 6 and done.id
    later = await store.history.counts("2026-03-21T00:00:00.000+00:00")
    assert (later.finished_today, later.failed_today) == (0, 0)
    # Kathmandu's midnight (+05:45): the tasks ended at 02:01 UTC, 07:46 there.
    nepal = await store.history.counts("2026-03-19T18:15:00.000+00:00")
    assert (nepal.finished_today, nepal.failed_today) == (2, 1)
    after = await store.history.counts("2026-03-20T02:15:00.000+00:00")
    assert (after.finished_today, after.failed_today) == (0, 0)
    await store.trash.restore(gone.id)
    await store.following.apply(running.id, Observation("SUCCEEDED", end_time=(
        "2026-03-20T05:00:00.000+00:00"), video_url="http://v"), None)
    moved = await store.history.counts("2026-03-20T00:00:00.000+00:00")
    assert (moved.pending, moved.running, moved.finished_today) == (1, 0, 4)
    assert moved.not_downloaded == 3 and moved.total == 7


async def test_favourites_notes_and_tags(store: TaskStore) -> None:
    row = await accepted(store)
    assert (await store.history.set_favourite(row.id, True)).favourite
    assert not (await store.history.set_favourite(row.id, False)).favourite
    assert (await store.history.set_note(row.id, "  keep  ")).note == "keep"
    assert (await store.history.set_note(row.id, "   ")).note is None
    await store.history.set_tags(row.id, ["b", "a", " a ", ""])
    assert await store.history.tags_of(row.id) == ["a", "b"]
    other = await accepted(store)
    await store.history.set_tags(other.id, ["a"])
    assert await store.history.all_tags() == [("a", 2), ("b", 1)]
    await store.history.set_tags(row.id, [])
    assert await store.history.tags_of(row.id) == []
    await store.trash.forget(other.id)
    assert await store.history.all_tags() == []


def record(n: int, **extra: object) -> dict[str, object]:
    return {"created_at": f"2026-01-01T00:00:{n:02d}.000+00:00", "endpoint": "e", "model": "m",
            "prompt": f"imported {n}", "size": "1280*720", "duration": 5,
            "submission": "accepted", "task_id": f"imp-{n}", "status": "SUCCEEDED",
            "updated_at": now_iso(), **extra}


async def test_importing_twice_adds_nothing(store: TaskStore) -> None:
    batch = [record(1, tags=["x"], history=[{"at": "2026-01-01T00:01:00.000+00:00",
                                             "status": "SUCCEEDED"}]),
             record(2, favourite=True), record(2)]
    never_sent = {**record(3), "task_id": None, "submission": "rejected", "status": None}
    assert await store.history.import_many([*batch, never_sent]) == 3
    assert await store.history.import_many([*batch, never_sent]) == 0
    one = await store.generations.by_task_id("imp-1")
    assert one is not None and await store.history.tags_of(one.id) == ["x"]
    assert [e.status for e in await store.generations.events(one.id)] == ["SUCCEEDED"]
    two = await store.generations.by_task_id("imp-2")
    assert two is not None and two.favourite
    assert await store.history.count() == 3


async def test_a_search_lists_by_creation_after_older_rows_were_imported(
        store: TaskStore) -> None:
    new = await accepted(store, "fox made here")
    await store.history.import_many([record(1, prompt="fox from 2000",
                                            created_at="2000-01-01T00:00:00.000+00:00")])
    for text in ("fox", "fo", "f"):
        shown = await store.history.page(parse_filter(text))
        assert [r.prompt for r in shown] == ["fox made here", "fox from 2000"], text
        oldest = await store.history.page(parse_filter(text), descending=False, limit=1)
        assert [r.prompt for r in oldest] == ["fox from 2000"] and new.id


async def test_a_bounded_search_looks_only_at_the_newest_rows(store: TaskStore) -> None:
    """``newest``: the dashboard's bound on a search no index serves (1–2 characters) —
    only the newest N kept rows are looked at; the trash and a bound past the history's
    size bound nothing."""
    prompts = ["fo 0", "cat 1", "fo 2", "fo 3", "cat 4", "fo 5", "cat 6"]
    await store.history.import_many(record(n, prompt=p) for n, p in enumerate(prompts))
    last = await store.generations.by_task_id("imp-6")
    assert last is not None and await store.trash.forget(last.id) is not None
    bounded = parse_filter("fo")._replace(newest=4)  # the newest kept: 5, 4, 3, 2
    shown = await store.history.page(bounded)
    assert [r.prompt for r in shown] == ["fo 5", "fo 3", "fo 2"]
    assert await store.history.count(bounded) == 3
    assert await store.history.count(bounded, at_most=1) == 2  # "more than one"
    assert sorted(await store.history.ids(bounded)) == sorted(r.id for r in shown)
    everything = bounded._replace(newest=100)
    assert [r.prompt for r in await store.history.page(everything)] == [
        "fo 5", "fo 3", "fo 2", "fo 0"]
    assert await store.history.count(everything) == 4
    in_trash = parse_filter("cat in:trash")._replace(newest=1)
    assert [r.prompt for r in await store.history.page(in_trash)] == ["cat 6"]


async def test_an_import_keeps_what_each_record_holds_in_the_batch_order(
        store: TaskStore) -> None:
    here = await accepted(store, "made here", task_id="imp-9")
    events = [{"at": f"2026-01-01T00:01:0{n}.000+00:00", "status": status}
              for n, status in enumerate(("PENDING", "RUNNING", "SUCCEEDED"))]
    batch = [record(n, tags=["b", "a", "b"], history=events, favourite=1, audio=0, seed=42,
                    usage_duration=5.0) for n in (5, 3, 4, 9)]
    assert await store.history.import_many(batch) == 3  # imp-9 is here already
    rows = [row async for row in store.history.rows()]
    assert [row.task_id for row in rows] == ["imp-9", "imp-5", "imp-3", "imp-4"]
    first = rows[1]
    assert (first.favourite, first.audio, first.seed, first.usage_duration) == \
        (True, False, 42, 5.0)
    # What a record leaves out gets what a new row gets.
    assert (first.download_state, first.polls, first.watermark, first.note) == \
        ("none", 0, False, None)
    assert await store.history.tags_of(first.id) == ["a", "b"]
    assert [e.status for e in await store.generations.events(first.id)] == \
        ["PENDING", "RUNNING", "SUCCEEDED"]
    assert await store.history.tags_of(here.id) == []  # the row here is left alone
    assert await store.history.count() == 4


async def test_two_stores_importing_one_batch_at_once_add_it_once(
        store: TaskStore, location: str) -> None:
    batch = [record(n, tags=["x"], created_at=f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}"
                    ".000+00:00") for n in range(300)]
    other = await open_store(location)
    try:
        added = await asyncio.gather(store.history.import_many(batch),
                                     other.history.import_many(batch))
    finally:
        await other.close()
    assert sorted(added) == [0, 300]
    assert await store.history.count() == 300
    assert await store.history.all_tags() == [("x", 300)]
