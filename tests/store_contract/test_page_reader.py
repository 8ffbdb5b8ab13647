"""``PageReader``: the synchronous read a command that only prints a page uses (``list``)
reads what the store reads, writes nothing, and says when the store needs tidying first.
A backend that offers no reader (``open_page_reader`` returns None) skips these."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage import PageReader, TaskStore, open_page_reader
from storage.history import parse_filter
from tests.store_contract.helpers import accepted, finished, intent

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
