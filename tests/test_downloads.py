"""Downloads against the simulator over loopback: verified, resumable, policed, exclusive."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from storage import Generation, TaskStore
from tests.conftest import KEY
from tui.dashscope import DashScopeClient, GenerationRequest
from tui.engine.following.observe import observation
from tui.engine.media.download import DownloadBusy, Downloader, DownloadError
from tui.engine.media.media_url import loopback_origin
from tui.engine.submitting.submit import submit
from tui.simulator import Simulator
from tui.simulator.faults import Fault

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 30.0  # seconds to wait for a condition before the test fails


async def finished(sim: Simulator, client: DashScopeClient, store: TaskStore,
                   prompt: str = "a fox") -> Generation:
    outcome = await submit(store, client, GenerationRequest(prompt))
    sim.clock.advance(400)
    row = outcome.generation
    assert row.task_id
    row, _ = await store.following.apply(row.id, observation(await client.query(row.task_id)), None)
    assert row.status == "SUCCEEDED"
    return row


async def with_video_url(sim: Simulator, client: DashScopeClient, store: TaskStore,
                         url: str) -> Generation:
    """A finished row whose video URL, as the service reported it, is ``url``."""
    outcome = await submit(store, client, GenerationRequest("hostile"))
    row = outcome.generation
    assert row.task_id
    sim.inject(on="query", kind="answer", status=200, body={
        "request_id": "r-1", "output": {
            "task_id": row.task_id, "task_status": "SUCCEEDED",
            "submit_time": "2026-03-20 10:34:41.630", "end_time": "2026-03-20 10:35:12.725",
            "video_url": url}})
    row, _ = await store.following.apply(row.id, observation(await client.query(row.task_id)), None)
    assert row.status == "SUCCEEDED" and row.video_url == url
    return row


def downloader(sim: Simulator, store: TaskStore, folder: Path, **options: object) -> Downloader:
    return Downloader(store, folder, allowed_origins=[sim.origin], **options)  # type: ignore[arg-type]


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def clip(sim: Simulator) -> bytes:
    return sim.clip("16x9")


async def refused(store: TaskStore, row: Generation, attempt: Awaitable[Generation],
                  state: str = "failed") -> DownloadError:
    with pytest.raises(DownloadError) as caught:
        await attempt
    error = caught.value
    assert "\n" not in str(error) and str(error).strip()
    after = await store.generations.get(row.id)
    assert after is not None and after.download_state == state == error.state
    return error


# -- what already worked ---------------------------------------------------------------


async def test_download_verifies_and_names_safely(sim: Simulator, client: DashScopeClient,
                                                  store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store, "../../etc/passwd [bold]x[/] 小猫")
    d = downloader(sim, store, tmp_path / "videos")
    row = await d.download(row)
    await d.aclose()
    path = Path(row.download_path or "")
    assert path.parent == tmp_path / "videos" and path.suffix == ".mp4"
    assert ".." not in path.name and "/" not in path.name and "小猫" in path.name
    data = path.read_bytes()
    assert data == clip(sim) and data[4:8] == b"ftyp"
    assert row.download_state == "done" and row.download_sha256 == hashlib.sha256(
        data).hexdigest() and row.download_bytes == len(data)
    assert files(tmp_path / "videos") == [path.name]  # no .part, no .lock left behind


async def test_an_interrupted_download_resumes_with_range(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="truncate")
    d = downloader(sim, store, tmp_path)
    with pytest.raises(DownloadError, match="closed before the whole video") as caught:
        await d.download(row)
    assert caught.value.retryable
    failed = await store.generations.get(row.id)
    assert failed is not None and failed.download_state == "failed"
    parts = list(tmp_path.glob("*.part"))
    assert len(parts) == 1 and 0 < (have := parts[0].stat().st_size) < len(clip(sim))
    assert not list(tmp_path.glob("*.mp4"))  # nothing half-written under the real name
    done = await d.download(failed)
    await d.aclose()
    assert sim.media_headers[-1].get("Range") == f"bytes={have}-"
    assert Path(done.download_path or "").read_bytes() == clip(sim)
    assert not list(tmp_path.glob("*.part"))


async def test_a_stalled_download_is_cut_off(sim: Simulator, client: DashScopeClient,
                                             store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="stall", seconds=3)
    d = downloader(sim, store, tmp_path, stall_seconds=0.3)
    with pytest.raises(DownloadError, match="stalled"):
        await d.download(row)
    done = await d.download(row)  # resumes from what arrived
    await d.aclose()
    assert Path(done.download_path or "").read_bytes() == clip(sim)


# -- the API key stays with the API ---------------------------------------------------------


async def test_media_requests_carry_no_authorization(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="redirect")  # a second hop, too
    d = downloader(sim, store, tmp_path)
    await d.download(row)
    await d.aclose()
    assert len(sim.media_headers) == 2
    for headers in sim.media_headers:
        assert "authorization" not in {name.lower() for name in headers}
        assert not any(KEY in value or KEY[3:] in value for value in headers.values())


# -- a server that lies ---------------------------------------------------------------


async def test_a_web_page_sent_as_the_video_is_not_kept(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="lie")  # 200, video/mp4, the right length: HTML inside
    d = downloader(sim, store, tmp_path)
    error = await refused(store, row, d.download(row))
    assert "not an MP4" in str(error) and error.retryable
    assert not list(tmp_path.glob("*.mp4*"))  # not renamed into place, not kept to resume
    done = await d.download(row)  # the next answer is honest
    await d.aclose()
    assert Path(done.download_path or "").read_bytes() == clip(sim)


async def test_an_html_answer_is_refused_before_it_is_written(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="answer", status=200, content_type="text/html",
               raw="<html>Sign in to continue</html>")
    d = downloader(sim, store, tmp_path)
    error = await refused(store, row, d.download(row))
    await d.aclose()
    assert "web page" in str(error) and not list(tmp_path.glob("*.mp4*"))


async def test_a_body_shorter_than_the_video_but_as_long_as_claimed_is_caught(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="false_length", length=len(clip(sim)) - 100)
    d = downloader(sim, store, tmp_path)
    error = await refused(store, row, d.download(row))
    await d.aclose()
    assert "cut off" in str(error)
    assert not list(tmp_path.glob("*.mp4*"))  # neither renamed into place nor kept to resume


async def test_a_server_ignoring_range_restarts_from_zero(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="truncate")
    d = downloader(sim, store, tmp_path)
    with pytest.raises(DownloadError):
        await d.download(row)
    sim.inject(on="media", kind="ignore_range")
    done = await d.download(row)
    await d.aclose()
    assert "Range" in sim.media_headers[-1]
    assert Path(done.download_path or "").read_bytes() == clip(sim)


async def test_a_206_from_the_wrong_offset_is_never_appended(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="truncate")
    d = downloader(sim, store, tmp_path)
    with pytest.raises(DownloadError):
        await d.download(row)
    sim.inject(on="media", kind="wrong_range", offset=0)  # we ask for bytes=N-, it sends 0-
    done = await d.download(row)
    await d.aclose()
    assert Path(done.download_path or "").read_bytes() == clip(sim)
    assert "Range" in sim.media_headers[-2] and "Range" not in sim.media_headers[-1]


async def test_a_server_that_keeps_sending_the_wrong_range_fails_cleanly(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    for _ in range(3):
        sim.inject(on="media", kind="wrong_range", offset=100)
    d = downloader(sim, store, tmp_path)
    error = await refused(store, row, d.download(row))
    await d.aclose()
    assert "wrong part" in str(error) and not list(tmp_path.glob("*.mp4*"))


# -- caps: size and pace -------------------------------------------------------------------


async def test_an_endless_body_is_cut_at_max_bytes(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="endless")
    d = downloader(sim, store, tmp_path, max_bytes=64 << 10)
    error = await refused(store, row, d.download(row), state="refused")
    await d.aclose()
    assert "larger than the 64 KiB download limit" in str(error) and not error.retryable
    assert not list(tmp_path.glob("*.mp4*"))


async def test_a_huge_content_length_is_refused_up_front(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="false_length", length=3 << 30)  # claims 3 GiB
    d = downloader(sim, store, tmp_path)
    error = await refused(store, row, d.download(row), state="refused")
    await d.aclose()
    assert "larger than the 2 GiB download limit" in str(error) and not error.retryable
    assert not list(tmp_path.glob("*.mp4*"))


async def test_a_trickling_body_counts_as_stalled(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="trickle", rate=100)  # the clip would take a minute
    d = downloader(sim, store, tmp_path, min_rate=4096, stall_seconds=0.3)
    error = await refused(store, row, d.download(row))
    await d.aclose()
    assert "stalled" in str(error) and error.retryable


# -- expired and refused URLs ----------------------------------------------------------


@pytest.mark.parametrize("status", [403, 404, 410])
async def test_an_expired_url_says_so_and_is_not_retryable(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path,
        status: int) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="expired", status=status)
    d = downloader(sim, store, tmp_path)
    error = await refused(store, row, d.download(row), state="expired")
    await d.aclose()
    assert "the video URL has expired — PixVerse URLs last about 24 hours; the video can no " \
           "longer be downloaded" in str(error)
    assert not error.retryable and len(sim.media_headers) == 1


@pytest.mark.parametrize("url, why", [
    ("http://127.0.0.1:{port}/media/x\x07.mp4", "control character"),
    ("http://127.0.0.1:{port}/media/x\u202e.mp4", "control character"),
    ("http://127.0.0.1:{port}/media/a b.mp4", "space"),
    ("https://user:secret@media.example.com/v.mp4", "user name or password"),
    ("file:///etc/passwd", "not an https URL"),
    ("http://media.example.com/v.mp4", "only https"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://100.100.100.200/latest/meta-data/", "metadata"),
    ("https://[fd00:ec2::254]/latest/", "metadata"),
    ("https://[::ffff:169.254.169.254]/latest/", "metadata"),
    ("https://169.254.10.1/v.mp4", "link-local"),
    ("https://[fe80::1]/v.mp4", "link-local"),
    ("https://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("https://localhost:{port}/media/x.mp4", "this computer"),
    ("https://127.0.0.1:{port}/media/x.mp4", "this computer"),
    ("https://media.example.com/" + "a" * 9000, "absurdly long"),
])
async def test_a_url_our_policy_refuses_fails_at_once(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path,
        url: str, why: str) -> None:
    row = await with_video_url(sim, client, store, url.format(port=sim.port))
    d = downloader(sim, store, tmp_path / "videos")
    error = await refused(store, row, d.download(row), state="refused")
    await d.aclose()
    assert why in str(error) and not error.retryable
    assert sim.media_headers == [] and files(tmp_path / "videos") == []


@pytest.mark.parametrize("host, why", [
    ("2852039166", "metadata"),  # 169.254.169.254 written as one number
    ("0x7f.1", "this computer"),  # 127.0.0.1
])
async def test_what_a_host_name_resolves_to_is_checked(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path,
        host: str, why: str) -> None:
    row = await with_video_url(sim, client, store, f"https://{host}/v.mp4")
    d = downloader(sim, store, tmp_path)
    error = await refused(store, row, d.download(row), state="refused")
    await d.aclose()
    assert "resolves to" in str(error) and why in str(error)


@pytest.mark.parametrize("location", [
    "http://169.254.169.254/latest/meta-data/",
    "https://100.100.100.200/latest/meta-data/",
    "https://[fe80::1]/v.mp4",
    "http://media.example.com/v.mp4",
    "https://user:pw@media.example.com/v.mp4",
])
async def test_every_redirect_hop_is_checked(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path,
        location: str) -> None:
    row = await finished(sim, client, store)
    sim.inject(on="media", kind="redirect", location=location)
    d = downloader(sim, store, tmp_path)
    error = await refused(store, row, d.download(row), state="refused")
    await d.aclose()
    assert not error.retryable and len(sim.media_headers) == 1


async def test_redirects_are_followed_at_most_five_times(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    for _ in range(5):
        sim.inject(on="media", kind="redirect", status=307)
    d = downloader(sim, store, tmp_path)
    done = await d.download(row)  # five hops: fine
    assert Path(done.download_path or "").read_bytes() == clip(sim)
    row2 = await finished(sim, client, store, "a second fox")
    for _ in range(6):
        sim.inject(on="media", kind="redirect")
    error = await refused(store, row2, d.download(row2))
    await d.aclose()
    assert "more than 5 times" in str(error)


def test_only_a_loopback_endpoint_allows_plain_http() -> None:
    assert loopback_origin("http://127.0.0.1:8470/api/v1") == "http://127.0.0.1:8470"
    assert loopback_origin("http://[::1]:8470/api/v1") == "http://[::1]:8470"
    assert loopback_origin("https://dashscope.aliyuncs.com/api/v1") is None
    with pytest.raises(ValueError, match="not on this computer"):
        Downloader(None, Path("."),  # type: ignore[arg-type]
                   allowed_origins=["http://media.example.com"])


# -- the folder ------------------------------------------------------------------------


async def test_a_folder_that_is_a_file_is_one_sentence(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("mine")
    before = files(tmp_path)
    d = downloader(sim, store, tmp_path)
    with pytest.raises(DownloadError, match="is a file, not a folder") as caught:
        await d.download(row, not_a_folder)
    await d.aclose()
    assert "\n" not in str(caught.value) and not caught.value.retryable
    assert files(tmp_path) == before and not_a_folder.read_text() == "mine"
    assert sim.media_headers == []


async def test_a_folder_that_cannot_be_created_marks_the_row_failed(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    (tmp_path / "file").write_text("")
    d = downloader(sim, store, tmp_path)
    error = await refused(store, row, d.download(row, tmp_path / "file" / "videos"))
    await d.aclose()
    assert "cannot write to" in str(error) and "not a directory" in str(error)
    after = await store.generations.get(row.id)
    assert after is not None and after.download_error and "not a directory" in (
        after.download_error)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions that bind the user")
async def test_a_read_only_folder_marks_the_row_failed(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        d = downloader(sim, store, folder)
        error = await refused(store, row, d.download(row))
        await d.aclose()
    finally:
        folder.chmod(0o700)
    assert "permission denied" in str(error)


# A full disk: tests/test_file_safety.py (a link to /dev/full is no longer followed).


# -- one download at a time ----------------------------------------------------------------


def hold(sim: Simulator) -> Fault:
    """The next media answer sends half, then waits until released."""
    fault = Fault("hold", on="media", seconds=DEADLINE)
    sim.faults.push(fault)
    return fault


async def test_two_downloads_in_one_process_do_not_collide(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    gate = hold(sim)
    waited = asyncio.Event()
    first = downloader(sim, store, tmp_path)
    second = downloader(sim, store, tmp_path, on_wait=lambda _: waited.set())
    try:
        one = asyncio.create_task(first.download(row))
        await until(lambda: len(sim.media_headers) == 1, "the first download to start")
        with pytest.raises(DownloadBusy, match="already being downloaded by another process"
                           ) as caught:
            await second.download(row, wait=False)
        assert caught.value.retryable
        two = asyncio.create_task(second.download(row, wait=True))
        await asyncio.wait_for(waited.wait(), DEADLINE)
        gate.release()
        a, b = await asyncio.wait_for(asyncio.gather(one, two), DEADLINE)
    finally:
        gate.release()
        await first.aclose()
        await second.aclose()
    assert a.download_path == b.download_path and b.download_state == "done"
    assert Path(b.download_path or "").read_bytes() == clip(sim)
    assert b.download_sha256 == hashlib.sha256(clip(sim)).hexdigest()
    assert len(sim.media_headers) == 1  # only one of them fetched anything
    assert sorted(p.suffix for p in tmp_path.iterdir() if "tasks.db" not in p.name) == [".mp4"]


WORKER = """
import asyncio, json, sys
from pathlib import Path
from storage import TaskStore, open_store
from tui.engine.media.download import Downloader, DownloadBusy, DownloadError

async def main(db, folder, row_id, origin, wait):
    store = await open_store(Path(db))
    d = Downloader(store, Path(folder), allowed_origins=[origin],
                   on_wait=lambda row: print("WAITING", flush=True))
    try:
        row = await store.generations.get(int(row_id))
        done = await d.download(row, wait=wait == "wait")
        print(json.dumps({"path": done.download_path, "sha256": done.download_sha256}))
        return 0
    except DownloadBusy as exc:
        print(exc, file=sys.stderr)
        return 3
    except DownloadError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        await d.aclose()
        await store.close()

sys.exit(asyncio.run(main(*sys.argv[1:])))
"""


def worker(tmp_path: Path, sim: Simulator, row: Generation, wait: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(tmp_path / "tasks.db"), str(tmp_path / "videos"),
         str(row.id), sim.origin, wait],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def line_from(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), DEADLINE)


async def test_two_processes_do_not_collide(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    gate = hold(sim)
    first = worker(tmp_path, sim, row, "wait")
    try:
        await until(lambda: len(sim.media_headers) == 1 or first.poll() is not None,
                    "the first process to start downloading")
        busy = worker(tmp_path, sim, row, "no-wait")
        _, complaint = await asyncio.to_thread(busy.communicate, timeout=DEADLINE)
        assert busy.returncode == 3 and "already being downloaded by another process" in (
            complaint)
        waiter = worker(tmp_path, sim, row, "wait")
        assert await line_from(waiter) == "WAITING\n"
        gate.release()
        out_first, err_first = await asyncio.to_thread(first.communicate, timeout=DEADLINE)
        out_waiter, err_waiter = await asyncio.to_thread(waiter.communicate, timeout=DEADLINE)
    finally:
        gate.release()
        for process in (first,):
            if process.poll() is None:
                process.kill()
    assert first.returncode == 0 and waiter.returncode == 0, err_first + err_waiter
    a, b = json.loads(out_first), json.loads(out_waiter)
    assert a == b and Path(a["path"]).read_bytes() == clip(sim)
    assert a["sha256"] == hashlib.sha256(clip(sim)).hexdigest()
    assert len(sim.media_headers) == 1  # exactly one process downloaded it
    assert files(tmp_path / "videos") == [Path(a["path"]).name]


@pytest.mark.skipif(os.name != "posix", reason="kill -9")
async def test_a_killed_downloader_leaves_no_stale_lock(
        sim: Simulator, client: DashScopeClient, store: TaskStore, tmp_path: Path) -> None:
    row = await finished(sim, client, store)
    gate = hold(sim)
    first = worker(tmp_path, sim, row, "wait")
    try:
        await until(lambda: len(sim.media_headers) == 1 or first.poll() is not None,
                    "the first process to start downloading")
        first.send_signal(signal.SIGKILL)
        first.wait(DEADLINE)
    finally:
        gate.release()
    d = downloader(sim, store, tmp_path / "videos")
    done = await d.download(row, wait=False)  # not "busy": the dead process holds nothing
    await d.aclose()
    assert Path(done.download_path or "").read_bytes() == clip(sim)
