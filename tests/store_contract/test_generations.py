"""Rows by key: local id, task id, a user's reference, a file's digest."""

from __future__ import annotations

from storage import TaskStore
from tests.store_contract.helpers import accepted, finished, intent


async def test_reading_rows_by_key(store: TaskStore) -> None:
    a = await accepted(store, task_id="abcdef-1234")
    b = await accepted(store, task_id="abcdxx-5678")
    c = await intent(store)
    assert await store.generations.get(a.id) == a and await store.generations.get(999) is None
    assert [r.id for r in await store.generations.get_many([c.id, a.id, a.id, 999])] == [
        a.id, c.id]
    many = [await intent(store, f"n{n}") for n in range(600)]
    assert len(await store.generations.get_many(r.id for r in many)) == 600
    assert await store.generations.by_task_id("abcdef-1234") == a
    assert await store.generations.by_task_id("nope") is None
    assert [r.id for r in await store.generations.find(f"#{b.id}")] == [b.id]
    assert [r.id for r in await store.generations.find(str(b.id))] == [b.id]
    assert [r.id for r in await store.generations.find("abcdef-1234")] == [a.id]
    assert [r.id for r in await store.generations.find("abcd")] == [a.id, b.id]
    assert await store.generations.find("abc") == []  # too short to be a prefix
    assert await store.generations.find("ab%") == [] and await store.generations.find("a_c_") == []
    known = await store.generations.known_task_ids(["abcdef-1234", "zzz", "abcdxx-5678"])
    assert known == {"abcdef-1234", "abcdxx-5678"}
    assert await store.generations.known_task_ids([]) == set()


async def test_a_saved_video_is_found_by_its_digest(store: TaskStore) -> None:
    row = await finished(store)
    await store.downloads.set(row.id, state="done", path="/v.mp4", done=9, total=9,
                              sha256="abcdef")
    assert [r.id for r in await store.generations.by_sha256("abcdef")] == [row.id]
    assert [r.id for r in await store.generations.by_sha256("ABCDEF")] == [row.id]
    assert await store.generations.by_sha256("0000") == []


async def test_the_rows_that_record_a_file_are_found_by_its_path(store: TaskStore) -> None:
    """Asked before every download, so two generations never share one file."""
    saved = await finished(store, "saved")
    saving = await finished(store, "being saved")
    failed = await finished(store, "failed part-way")
    binned = await finished(store, "in the trash")
    await store.downloads.set(saved.id, state="done", path="/v/fox.mp4", done=9, total=9,
                              sha256="ab")
    await store.downloads.set(saving.id, state="downloading", path="/v/fox-2.mp4", done=0)
    await store.downloads.set(failed.id, state="failed", path="/v/fox-2.mp4", error="cut")
    await store.downloads.set(binned.id, state="done", path="/v/owl.mp4", done=9, total=9,
                              sha256="cd")
    await store.trash.forget(binned.id)
    assert [r.id for r in await store.generations.by_download_path("/v/fox.mp4")] == [saved.id]
    assert sorted(r.id for r in await store.generations.by_download_path("/v/fox-2.mp4")) == [
        saving.id, failed.id]
    assert [r.id for r in await store.generations.by_download_path("/v/owl.mp4")] == [
        binned.id]  # the trash included: a restored row takes its file back
    # the path text exactly: no prefix, pattern or case folding
    for other in ("/v/fox", "/v/FOX.mp4", "/v/fox.mp4/", "/v/%.mp4", "/v/fo_.mp4", ""):
        assert await store.generations.by_download_path(other) == [], other
