"""Files the app touches: only its own.

An imported row, a sidecar or a video's metadata is data: it never makes the app
delete or move a file it did not write.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from storage import Generation, TaskStore
from tests.test_downloads import downloader, finished
from tui.dashscope import DashScopeClient
from tui.engine import transfer, trash
from tui.simulator import Simulator

POSIX = pytest.mark.skipif(os.name != "posix", reason="symbolic links and O_NOFOLLOW")
WHEN = "2026-03-20T02:00:00.000+00:00"
PRECIOUS = b"precious: not the app's"


def line(**fields: Any) -> bytes:
    record = {"prompt": "a fox", "created_at": WHEN, "size": "1280*720", "duration": 5,
              "task_id": "task-imported", "status": "SUCCEEDED", **fields}
    return json.dumps(record).encode() + b"\n"


async def imported(store: TaskStore, task_id: str = "task-imported",
                   **fields: Any) -> Generation:
    data = line(task_id=task_id, **fields)
    report = await transfer.import_jsonl(store, io.BytesIO(data), "hostile.jsonl")
    assert report.added == 1, report.lines()
    row = await store.get_by_task_id(task_id)
    assert row is not None
    return row


def victim(tmp_path: Path, name: str = "victim.mp4") -> Path:
    """A file the app did not write, outside its folders."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    path = outside / name
    path.write_bytes(PRECIOUS)
    return path


def folders(tmp_path: Path) -> trash.Folders:
    return trash.Folders(tmp_path / "videos", tmp_path / "trash")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def saved(sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path,
                prompt: str = "a fox", **options: Any) -> Generation:
    """A finished generation, downloaded into the downloads folder."""
    row = await finished(sim, client, store, prompt)
    d = downloader(sim, store, folders(tmp_path).downloads, **options)
    try:
        return await d.download(row)
    finally:
        await d.aclose()


# -- 1. imported rows never point the app at files it did not write ----------------------


async def test_an_import_is_data_never_a_file_operation(store: TaskStore,
                                                        tmp_path: Path) -> None:
    target = victim(tmp_path)
    for state in ("trashed", "downloading"):
        row = await imported(store, f"task-{state}", download_state=state,
                             download_path=str(target), download_bytes=len(PRECIOUS),
                             download_sha256=sha256(PRECIOUS),
                             download_error=f"moved to the trash from {tmp_path / 'x.mp4'}")
        assert (row.download_state, row.download_path, row.download_error) == ("none", None,
                                                                               None)
        assert row.download_sha256 is None
    failed = await imported(store, "task-failed", download_state="failed",
                            download_path=str(target), download_error="the server stalled")
    assert (failed.download_state, failed.download_path) == ("failed", None)
    assert failed.download_error == "the server stalled"  # what happened stays: it is text
    sidecar = tmp_path / "sidecar.json"  # a sidecar alone says the same, to the same effect
    sidecar.write_bytes(line(task_id="task-sidecar", download_state="trashed",
                             download_path=str(target)))
    report = await transfer.import_path(store, sidecar)
    assert report.added == 1, report.lines()
    row = await store.get_by_task_id("task-sidecar")
    assert row is not None and (row.download_state, row.download_path) == ("none", None)
    assert target.read_bytes() == PRECIOUS


async def test_emptying_the_trash_deletes_only_what_it_set_aside(
        store: TaskStore, tmp_path: Path) -> None:
    """A row that says "trashed" (however it came to say it) about a file elsewhere."""
    target = victim(tmp_path)
    row = await imported(store)
    await store.set_download(row.id, state="trashed", path=str(target), done=len(PRECIOUS),
                             sha256=sha256(PRECIOUS), error="moved to the trash from /x.mp4")
    await store.forget(row.id)
    assert await trash.empty(store, folders(tmp_path).trash, days=0) == 1
    assert target.read_bytes() == PRECIOUS
    assert await store.get(row.id) is None  # the row itself is gone, as asked


async def test_undo_never_moves_a_file_the_record_names(store: TaskStore,
                                                        tmp_path: Path) -> None:
    target = victim(tmp_path)
    elsewhere = tmp_path / "outside" / "moved-here.mp4"
    row = await imported(store)
    await store.set_download(row.id, state="trashed", path=str(target), done=len(PRECIOUS),
                             sha256=sha256(PRECIOUS), error=f"moved to the trash from {elsewhere}")
    await store.forget(row.id)
    back = await trash.restore(store, row.id, folders(tmp_path))
    assert back is not None and back.forgotten_at is None
    assert target.read_bytes() == PRECIOUS and not elsewhere.exists()
    assert back.download_state == "none"


async def test_forgetting_moves_only_the_video_the_app_saved(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    where = folders(tmp_path)
    # an imported "saved video" elsewhere, of the recorded size and SHA-256: not ours
    target = victim(tmp_path)
    row = await imported(store, download_state="done", download_path=str(target),
                         download_bytes=len(PRECIOUS), download_total=len(PRECIOUS),
                         download_sha256=sha256(PRECIOUS))
    assert trash.own_video(row, where.downloads) is None
    await trash.forget(store, row, where, with_file=True)
    assert target.read_bytes() == PRECIOUS

    # our own video, changed since it was saved (same size): not moved, not forgotten
    video = await saved(sim, client, store, tmp_path)
    path = Path(video.download_path or "")
    assert trash.own_video(video, where.downloads) == path
    original = path.read_bytes()
    path.write_bytes(bytes(len(original)))
    with pytest.raises(OSError, match="no longer the video"):
        await trash.forget(store, video, where, with_file=True)
    assert path.read_bytes() == bytes(len(original))
    current = await store.get(video.id)
    assert current is not None and current.forgotten_at is None

    # as saved: into the trash, back on undo, deleted when the trash is emptied
    path.write_bytes(original)
    await trash.forget(store, video, where, with_file=True)
    assert not path.exists() and len(list(where.trash.iterdir())) == 1
    back = await trash.restore(store, video.id, where)
    assert back is not None and back.download_state == "done"
    assert Path(back.download_path or "") == path and path.read_bytes() == original
    gone = await trash.forget(store, back, where, with_file=True)
    assert gone is not None
    assert await trash.empty(store, where.trash, days=-1) >= 1
    assert list(where.trash.iterdir()) == [] and not path.exists()


async def test_undo_puts_a_video_back_only_into_the_downloads_folder(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    where = folders(tmp_path)
    video = await saved(sim, client, store, tmp_path)
    path = Path(video.download_path or "")
    kept = await trash.forget(store, video, where, with_file=True)
    assert kept is not None and kept.download_state == "trashed"
    elsewhere = tmp_path / "outside" / "planted.mp4"
    await store.set_download(kept.id, state="trashed", path=kept.download_path,
                             done=kept.download_bytes, total=kept.download_total,
                             sha256=kept.download_sha256,
                             error=f"moved to the trash from {elsewhere}")
    path.write_bytes(PRECIOUS)  # and meanwhile another file took its old name
    back = await trash.restore(store, video.id, where)
    assert back is not None and back.download_state == "done"
    landed = Path(back.download_path or "")
    assert landed.parent == where.downloads and landed != path
    assert sha256(landed.read_bytes()) == video.download_sha256
    assert path.read_bytes() == PRECIOUS and not elsewhere.exists()
