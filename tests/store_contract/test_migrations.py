"""Schemas: an older store is upgraded, a newer one refused in one sentence; several
processes write one store."""

from __future__ import annotations

import asyncio

import pytest

from storage import Observation, SchemaTooNew, open_store
from storage.history import parse_filter
from tests.store_contract.backends import OLD_PROMPT, OLD_TASK, Backend
from tests.store_contract.helpers import accepted, actor, answer, intent


async def test_a_store_of_the_previous_version_is_upgraded(backend: Backend,
                                                           location: str) -> None:
    backend.create_previous(location)
    async with await open_store(location) as store:
        old = await store.generations.by_task_id(OLD_TASK)
        assert old is not None and old.prompt == OLD_PROMPT and old.status == "SUCCEEDED"
        # Kept rows have no recorded submitter; their downloads are this machine's.
        assert (old.submitted_by, old.download_state, old.saved_on) == (None, "none", ())
        assert [e.status for e in await store.generations.events(old.id)] == ["SUCCEEDED"]
        assert [r.id for r in await store.downloads.unsaved()] == [old.id]
        figures = await store.history.counts("2026-01-02T00:00:00.000+00:00")
        assert (figures.total, figures.not_downloaded, figures.finished_today) == (1, 1, 1)
        assert [r.id for r in await store.history.page(parse_filter("previous"))] == [old.id]
        feed = store.changes()
        row = await accepted(store, "after the upgrade")
        await store.following.apply(row.id, Observation("RUNNING"), 1)
        await store.history.set_note(old.id, "an old row is watched too")
        seen = await asyncio.wait_for(anext(feed), 10)
        while not ({row.id, old.id} <= seen.rows or seen.everything):
            seen = seen | await asyncio.wait_for(anext(feed), 10)
    async with await open_store(location) as again:  # upgraded once: opens as it is
        assert await again.history.count() == 2


async def test_a_newer_store_is_refused_in_one_sentence(backend: Backend,
                                                        location: str) -> None:
    await (await open_store(location)).close()
    backend.make_newer(location)
    with pytest.raises(SchemaTooNew) as refused:
        await open_store(location)
    sentence = str(refused.value)
    assert "newer pixverse-tui" in sentence and "upgrade pixverse-tui" in sentence
    assert "\n" not in sentence and sentence.endswith(".")


def test_several_processes_write_one_store(location: str) -> None:
    async def create() -> None:
        await (await open_store(location)).close()

    asyncio.run(create())
    writers = [actor(location, "write", f"from process {n}") for n in range(3)]
    ids = [answer(w, timeout=120) for w in writers]
    assert len(set(ids)) == 3

    async def check() -> None:
        async with await open_store(location) as store:
            rows = await store.generations.get_many(ids)
            assert sorted(r.prompt for r in rows) == [f"from process {n}" for n in range(3)]
            assert all(r.task_id == f"other-{r.id}" for r in rows)
            await intent(store)

    asyncio.run(check())
