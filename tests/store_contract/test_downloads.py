"""Downloads: a video's state on this machine, and which finished videos are not saved."""

from __future__ import annotations

from storage import TaskStore
from storage.history import parse_filter
from tests.store_contract.helpers import accepted, finished


async def test_download_state_and_what_is_not_saved(store: TaskStore) -> None:
    fox = await finished(store, "a fox")
    cat = await finished(store, "a cat")
    failed = await finished(store, "a failure", status="FAILED")
    await accepted(store, "still running")
    assert [r.id for r in await store.downloads.unsaved()] == [fox.id, cat.id]
    assert [r.id for r in await store.downloads.unsaved(parse_filter("cat"))] == [cat.id]
    assert [r.id for r in await store.downloads.unsaved(limit=1)] == [fox.id]
    assert await store.downloads.unsaved(ended_after="2026-03-01T10:00:00.000+00:00") == []
    assert len(await store.downloads.unsaved(ended_before="2026-03-01T10:00:00.000+00:00")) == 2

    going = await store.downloads.set(fox.id, state="downloading", path="/f.part", done=0)
    assert going.download_state == "downloading" and going.download_path == "/f.part"
    await store.downloads.progress(fox.id, 500, 1000)
    row = await store.generations.get(fox.id)
    assert row is not None and (row.download_bytes, row.download_total) == (500, 1000)
    done = await store.downloads.set(fox.id, state="done", path="/f.mp4", done=1000,
                                     total=1000, sha256="ab")
    assert (done.download_state, done.download_sha256, done.download_error) == ("done", "ab",
                                                                                 None)
    await store.downloads.set(cat.id, state="expired", error="gone")
    assert await store.downloads.unsaved() == [] and failed.id
