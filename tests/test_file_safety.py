"""Files the app touches: only its own, never through a link, never shared, sized in bytes.

An imported row, a sidecar or a video's metadata is data: it never makes the app
delete or move a file it did not write.  A link planted at any name a download
uses is never followed.  Two generations never share a file.  A full disk is
named as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage import Generation, StoreFull, TaskStore, open_store
from tests.conftest import CLI, cli_env, make_sim
from tests.test_downloads import clip, downloader, finished, hold, until
from tui.config import settings
from tui.dashscope import DashScopeClient
from tui.engine.history import transfer, trash
from tui.engine.media import preview, provenance
from tui.engine.media.download import DownloadError
from tui.engine.media.filelock import FileLock
from tui.engine.media.filenames import MAX_STEM_BYTES, RESERVED, check_template, file_name
from tui.simulator import Simulator
from tui.ui.state import write_state

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
    row = await store.generations.by_task_id(task_id)
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
    row = await store.generations.by_task_id("task-sidecar")
    assert row is not None and (row.download_state, row.download_path) == ("none", None)
    assert target.read_bytes() == PRECIOUS


async def test_emptying_the_trash_deletes_only_what_it_set_aside(
        store: TaskStore, tmp_path: Path) -> None:
    """A row that says "trashed" (however it came to say it) about a file elsewhere."""
    target = victim(tmp_path)
    row = await imported(store)
    await store.downloads.set(row.id, state="trashed", path=str(target), done=len(PRECIOUS),
                              sha256=sha256(PRECIOUS), error="moved to the trash from /x.mp4")
    await store.trash.forget(row.id)
    assert await trash.empty(store, folders(tmp_path).trash, days=0) == 1
    assert target.read_bytes() == PRECIOUS
    assert await store.generations.get(row.id) is None  # the row itself is gone, as asked


async def test_undo_never_moves_a_file_the_record_names(store: TaskStore,
                                                        tmp_path: Path) -> None:
    target = victim(tmp_path)
    elsewhere = tmp_path / "outside" / "moved-here.mp4"
    row = await imported(store)
    await store.downloads.set(row.id, state="trashed", path=str(target), done=len(PRECIOUS),
                              sha256=sha256(PRECIOUS), error=f"moved to the trash from {elsewhere}")
    await store.trash.forget(row.id)
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
    current = await store.generations.get(video.id)
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
    await store.downloads.set(kept.id, state="trashed", path=kept.download_path,
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


@POSIX
async def test_an_imported_path_naming_a_pipe_is_not_read(tmp_path: Path) -> None:
    """The preview decodes a saved video; a row may name a pipe, which would never end."""
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    reading = asyncio.create_task(asyncio.to_thread(preview.cached, fifo, None, tmp_path / "c"))
    try:
        with pytest.raises(preview.PreviewError, match="not a video file"):
            await asyncio.wait_for(asyncio.shield(reading), 5)
    finally:
        if not reading.done():  # unblock the reader, so the thread can end
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reading, 5)


# -- 3. a download never follows a link it did not make -----------------------------------


@POSIX
@pytest.mark.parametrize("suffix", [".part", ".lock", ".tagging", ".json.tmp", ""])
@pytest.mark.parametrize("existing", [True, False], ids=["to-a-file", "to-nowhere"])
async def test_a_link_at_any_name_a_download_uses_is_never_followed(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path,
        suffix: str, existing: bool) -> None:
    row = await finished(sim, client, store)
    place = tmp_path / "videos"
    d = downloader(sim, store, place, metadata=True, sidecar=True)
    target = d.target_for(row)
    place.mkdir()
    planted = (target.with_suffix(".json.tmp") if suffix == ".json.tmp"
               else target.with_name(target.name + suffix))
    pointed = victim(tmp_path) if existing else tmp_path / "outside-nothing" / "made.mp4"
    pointed.parent.mkdir(exist_ok=True)
    planted.symlink_to(pointed)
    try:
        done = await d.download(row)
    finally:
        await d.aclose()
    assert (pointed.read_bytes() == PRECIOUS) if existing else not pointed.exists()
    assert planted.is_symlink()  # left as it was: not ours to remove
    path = Path(done.download_path or "")
    assert done.download_state == "done" and path.is_file() and not path.is_symlink()
    assert path.parent == place and sha256(path.read_bytes()) == done.download_sha256
    sidecar = provenance.sidecar_path(path)
    assert sidecar.is_file() and not sidecar.is_symlink()


@POSIX
async def test_a_link_at_its_own_part_is_refused_not_followed(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    place = tmp_path / "videos"
    d = downloader(sim, store, place)
    target = d.target_for(row)
    place.mkdir()
    await store.downloads.set(row.id, state="failed", path=str(target), error="interrupted")
    row = await store.generations.get(row.id) or row
    pointed = victim(tmp_path)
    part = target.with_name(target.name + ".part")
    part.symlink_to(pointed)
    with pytest.raises(DownloadError, match="symbolic link") as caught:
        await d.download(row)
    await d.aclose()
    assert not caught.value.retryable and "\n" not in str(caught.value)
    assert pointed.read_bytes() == PRECIOUS and part.is_symlink() and not target.exists()
    after = await store.generations.get(row.id)
    assert after is not None and after.download_state == "failed"


@POSIX
async def test_a_saved_video_replaced_by_a_link_is_not_done(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    """The row says done; its file is now a link to a file of the same size elsewhere."""
    video = await saved(sim, client, store, tmp_path)
    path = Path(video.download_path or "")
    decoy = victim(tmp_path)
    decoy.write_bytes(b"x" * path.stat().st_size)
    path.unlink()
    path.symlink_to(decoy)
    d = downloader(sim, store, path.parent)
    again = await d.download(video)
    await d.aclose()
    now = Path(again.download_path or "")
    assert now != path and now.is_file() and not now.is_symlink()
    assert again.download_sha256 == sha256(now.read_bytes()) == sha256(clip(sim))
    assert decoy.read_bytes() == b"x" * len(decoy.read_bytes()) and path.is_symlink()


@POSIX
def test_files_the_app_keeps_for_itself_are_not_written_through_links(tmp_path: Path) -> None:
    """The settings it remembers, the preview cache and lock files."""
    state = tmp_path / "state.toml"
    (tmp_path / "state.toml.tmp").symlink_to(victim(tmp_path, "state"))
    write_state(state, {"theme": "nord"})
    assert (tmp_path / "outside" / "state").read_bytes() == PRECIOUS
    assert state.is_file() and not state.is_symlink()

    with make_sim() as sim:
        video = tmp_path / "clip.mp4"
        video.write_bytes(sim.clip("16x9"))
    cache = tmp_path / "cache"
    cache.mkdir()
    digest = sha256(video.read_bytes())
    entry = cache / f"{digest}-14x16.json"
    entry.symlink_to(victim(tmp_path, "cache"))
    assert preview.cached(video, digest, cache)
    assert (tmp_path / "outside" / "cache").read_bytes() == PRECIOUS

    nowhere = tmp_path / "outside" / "made-by-a-lock"
    (tmp_path / "x.lock").symlink_to(nowhere)
    with pytest.raises(OSError, match="symbolic link"):
        FileLock(tmp_path / "x.lock").try_acquire()
    assert not nowhere.exists()


# -- 4. two generations never share a file --------------------------------------------------


async def test_two_generations_of_one_prompt_never_share_a_file(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    one = await finished(sim, client, store, "a fox")
    two = await finished(sim, client, store, "a fox")
    d = downloader(sim, store, tmp_path / "videos", template="{slug}")
    try:
        a = await d.download(one)
        first = Path(a.download_path or "")
        inode = first.stat().st_ino
        b = await d.download(two)
    finally:
        await d.aclose()
    second = Path(b.download_path or "")
    assert first.name == "a-fox.mp4" and second != first and second.parent == first.parent
    assert first.stat().st_ino == inode  # the first video was never replaced
    for row in (a, b):
        path = Path(row.download_path or "")
        assert row.download_sha256 == sha256(path.read_bytes())


async def test_two_generations_saved_at_once_pick_different_names(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    one = await finished(sim, client, store, "a fox")
    two = await finished(sim, client, store, "a fox")
    gate = hold(sim)
    first = downloader(sim, store, tmp_path / "videos", template="{slug}")
    second = downloader(sim, store, tmp_path / "videos", template="{slug}")
    try:
        a_task = asyncio.create_task(first.download(one, wait=True))
        await until(lambda: len(sim.media_headers) == 1, "the first download to start")
        b = await asyncio.wait_for(second.download(two, wait=True), 30)  # no waiting for one
        gate.release()
        a = await asyncio.wait_for(a_task, 30)
    finally:
        gate.release()
        await first.aclose()
        await second.aclose()
    assert a.download_path != b.download_path
    for row in (a, b):
        assert row.download_sha256 == sha256(Path(row.download_path or "").read_bytes())


async def test_a_name_another_row_records_is_taken_but_its_own_is_reused(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    one = await finished(sim, client, store, "a fox")
    two = await finished(sim, client, store, "a fox")
    d = downloader(sim, store, tmp_path / "videos", template="{slug}")
    try:
        a = await d.download(one)
        first = Path(a.download_path or "")
        first.rename(first.with_name("kept-by-the-user.mp4"))  # its row still names it
        b = await d.download(two)
        assert b.download_path != a.download_path and not first.exists()
        again = await d.download(a)  # the same generation: its own name again
    finally:
        await d.aclose()
    assert again.download_path == a.download_path and first.is_file()


async def test_a_file_nobody_recorded_is_not_replaced(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store, "a fox")
    place = tmp_path / "videos"
    place.mkdir()
    (place / "a-fox.mp4").write_bytes(PRECIOUS)
    d = downloader(sim, store, place, template="{slug}")
    done = await d.download(row)
    await d.aclose()
    assert (place / "a-fox.mp4").read_bytes() == PRECIOUS
    assert Path(done.download_path or "").name == f"a-fox-{(row.task_id or '')[:8]}.mp4"


# -- 13. file names are measured in bytes; no device names ------------------------------


async def test_names_are_measured_in_bytes(store: TaskStore, tmp_path: Path) -> None:
    row = await store.intents.add(endpoint="e", model="m", prompt="狐" * 300, size="1280*720",
                                  duration=5, audio=False)
    for template in ("猫" * 59 + "{slug}", "{slug}" * 6, "é" * 90 + "{id}"):
        name = file_name(row, template)
        stem = name.removesuffix(".mp4")
        assert len(stem.encode("utf-8")) <= MAX_STEM_BYTES, template
        assert stem and "\ufffd" not in stem
    too_long = "猫" * 61 + "{slug}"  # 61 characters, 183 bytes
    with pytest.raises(ValueError, match="bytes"):
        check_template(too_long)
    config = tmp_path / "config.toml"
    config.write_text(f'[downloads]\ntemplate = "{too_long}"\n', encoding="utf-8")
    loaded = settings.load(config)
    assert [p for p in loaded.problems if "template" in p and "bytes" in p]


async def test_a_download_with_a_long_non_ascii_template_is_saved(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store, "一只小猫在月光下奔跑" * 10)
    d = downloader(sim, store, tmp_path / "videos", template="猫" * 55 + "_{slug}_{task_id}")
    done = await d.download(row)
    await d.aclose()
    path = Path(done.download_path or "")
    assert done.download_state == "done" and path.read_bytes() == clip(sim)
    assert len(path.name.encode("utf-8")) <= MAX_STEM_BYTES + len(".mp4")


async def test_device_names_are_never_stems(store: TaskStore) -> None:
    for word in ("con", "CON", "Nul", "aux", "prn", "com1", "COM9", "lpt1", "LPT9", "com¹",
                 "ＣＯＮ"):
        row = await store.intents.add(endpoint="e", model="m", prompt=word, size="1280*720",
                                      duration=5, audio=False)
        for template in ("{slug}", "nul", "{slug}-{slug}"):
            stem = file_name(row, template).removesuffix(".mp4")
            assert stem.lower() not in RESERVED, (word, template, stem)


# -- 15. a full disk says so ---------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB file system of its own (tmpfs; mounting needs root on Linux)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a tiny file system needs root on Linux")
    root = tmp_path / "disk"
    root.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; the file to delete to give them back."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    with pytest.raises(OSError) as caught:
        (disk / "probe").write_bytes(b"x" * 4096)
    assert caught.value.errno == errno.ENOSPC
    return filler


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=cli_env(home, None), capture_output=True,
                          text=True, timeout=120)


def test_every_command_says_the_disk_is_full_and_loses_nothing(
        tiny_disk: Path, tmp_path: Path) -> None:
    home = tiny_disk / "home"
    batch = tmp_path / "history.jsonl"
    batch.write_bytes(b"".join(line(task_id=f"task-{n}", prompt=f"fox {n}") for n in range(20)))
    assert run(home, "import", str(batch)).returncode == 0
    filler = fill(tiny_disk)
    more = tmp_path / "more.jsonl"
    more.write_bytes(b"".join(line(task_id=f"more-{n}", prompt="x" * 4000) for n in range(50)))
    database = home / "tasks.db"
    for args in (["list"], ["stats"], ["import", str(more)],
                 ["export", "-o", str(tiny_disk / "out.jsonl")]):
        got = run(home, *args)
        assert got.returncode == 1, (args, got.stdout, got.stderr)
        said = got.stderr.strip()
        assert "\n" not in said and "disk holding" in said and " is full" in said, (args, said)
        assert str(database) in said or str(tiny_disk) in said, said
        assert "I/O error" not in said and "Traceback" not in said
    other = tmp_path / "home-elsewhere"  # a history on a disk with room, exported to a full one
    assert run(other, "import", str(batch)).returncode == 0
    out = tiny_disk / "out.jsonl"
    got = run(other, "export", "-o", str(out))
    assert got.returncode == 1 and got.stderr.strip().endswith(
        f"the disk holding {out} is full; free some space and try again"), got.stderr
    piped = tiny_disk / "piped.jsonl"
    with piped.open("wb") as sink:  # export > piped.jsonl
        got = subprocess.run([*CLI, "export"], env=cli_env(other, None), stdout=sink,
                             stderr=subprocess.PIPE, text=True, timeout=120)
    assert got.returncode == 1 and got.stderr.strip().endswith(
        f"the disk holding {piped} is full; free some space and try again"), got.stderr
    filler.unlink()
    listed = run(home, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 20  # nothing lost


async def test_a_store_on_a_full_disk_raises_store_full(tiny_disk: Path) -> None:
    database = tiny_disk / "tasks.db"
    async with await open_store(database):
        pass
    fill(tiny_disk)
    with pytest.raises(StoreFull, match=f"the disk holding {database} is full"):
        async with await open_store(database) as store:
            await store.history.page(None)
    with pytest.raises(StoreFull, match="is full"):
        await open_store(tiny_disk / "new" / "folder" / "tasks.db")


async def test_a_download_onto_a_full_disk_is_one_sentence(
        tiny_disk: Path, sim: Simulator, client: DashScopeClient, store: TaskStore) -> None:
    row = await finished(sim, client, store)
    place = tiny_disk / "videos"
    place.mkdir()
    fill(tiny_disk)
    d = downloader(sim, store, place, metadata=False)
    with pytest.raises(DownloadError) as caught:
        await d.download(row)
    await d.aclose()
    said = str(caught.value)
    assert "\n" not in said and f"the disk holding {place} is full" in said, said
    after = await store.generations.get(row.id)
    assert after is not None and after.download_state == "failed"
