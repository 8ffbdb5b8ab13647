"""SIGTERM and SIGHUP (an SSH connection that drops) stop a command as Ctrl-C does.

A command stopped that way gives back what it held — its lock files, the
account's poller lease — and leaves its rows where a rerun continues from
(never "downloading" with nobody downloading).  Real processes, real signals.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from storage import Generation, TaskStore, open_store
from tests.conftest import CLI, KEY, cli_env, client_for
from tui.dashscope import ApiKey
from tui.engine.following.account import account_id
from tui.engine.following.poller import PollScheduler, PollSettings
from tui.simulator import Simulator
from tui.simulator.faults import Fault
from tui.stopping import on_stop_signals

SCALE = ["--time-scale", "600"]
DEADLINE = 60.0
STOP_SIGNALS = [signal.SIGTERM, signal.SIGHUP]


def run(home: Path, sim: Simulator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=cli_env(home, sim), capture_output=True,
                          text=True, timeout=120)


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def row(home: Path, generation_id: int) -> Generation | None:
    async def read() -> Generation | None:
        async with await open_store(home / "tasks.db") as store:
            return await store.generations.get(generation_id)
    return asyncio.run(read())


def lease_holder(home: Path, sim: Simulator) -> str | None:
    async def read() -> str | None:
        async with await open_store(home / "tasks.db") as store:
            lease = await store.leases.current(account_id(sim.base_url, ApiKey(KEY)))
            return lease.holder
    return asyncio.run(read())


@pytest.fixture
def held_media(sim: Simulator) -> Iterator[Fault]:
    """The next video answer sends half the video, then waits (for the test to end)."""
    fault = Fault("hold", on="media", seconds=DEADLINE)
    sim.faults.push(fault)
    yield fault
    fault.release()


def downloading(home: Path) -> bool:
    found = row(home, 1)
    parts = list((home / "downloads").glob("*.part"))
    return (found is not None and found.download_state == "downloading" and bool(parts)
            and parts[0].stat().st_size > 0)


def stop(proc: subprocess.Popen[str], signum: int) -> str:
    """Send the signal; the process's standard error once it has ended."""
    proc.send_signal(signum)
    try:
        _out, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return err


def assert_given_back(home: Path, err: str, proc: subprocess.Popen[str], signum: int) -> None:
    assert proc.returncode == 128 + signum, err  # as a shell reports a command it stopped
    assert "Traceback" not in err and "bug" not in err, err
    stopped = row(home, 1)
    assert stopped is not None and stopped.download_state == "failed", stopped
    assert stopped.download_error == "the download was interrupted"
    downloads = home / "downloads"
    assert not list(downloads.glob("*.lock"))
    assert [p.stat().st_size > 0 for p in downloads.glob("*.part")] == [True]  # kept: resumed


def assert_a_rerun_resumes(home: Path, sim: Simulator) -> None:
    again = run(home, sim, "download", "1")
    assert again.returncode == 0, again.stderr
    assert sim.media_headers[-1].get("Range", "").startswith("bytes="), sim.media_headers[-1]
    done = row(home, 1)
    assert done is not None and done.download_state == "done"
    assert not [p for p in (home / "downloads").iterdir() if p.suffix != ".mp4"]


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=["SIGTERM", "SIGHUP"])
def test_a_stopped_download_gives_back_its_lock_and_its_row(
        sim: Simulator, tmp_path: Path, held_media: Fault, signum: int) -> None:
    home = tmp_path / "home"
    made = run(home, sim, "submit", "a fox", "--wait", *SCALE)
    assert made.returncode == 0, made.stderr
    proc = subprocess.Popen([*CLI, "download", "1"], env=cli_env(home, sim),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    until(lambda: downloading(home), "the download to be under way")
    err = stop(proc, signum)
    assert_given_back(home, err, proc, signum)
    held_media.release()
    assert_a_rerun_resumes(home, sim)


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=["SIGTERM", "SIGHUP"])
def test_a_stopped_wait_download_gives_back_its_lock_its_row_and_the_lease(
        sim: Simulator, tmp_path: Path, held_media: Fault, signum: int) -> None:
    home = tmp_path / "home"
    assert run(home, sim, "submit", "a heron").returncode == 0
    proc = subprocess.Popen([*CLI, "wait", "1", "--download", *SCALE],
                            env=cli_env(home, sim), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    until(lambda: downloading(home), "the download to be under way")
    err = stop(proc, signum)
    assert_given_back(home, err, proc, signum)
    assert lease_holder(home, sim) is None  # the next process polls at once (watch: below)
    held_media.release()
    assert_a_rerun_resumes(home, sim)


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=["SIGTERM", "SIGHUP"])
def test_a_stopped_watch_gives_back_its_lock_its_row_and_the_lease(
        sim: Simulator, tmp_path: Path, held_media: Fault, signum: int) -> None:
    home = tmp_path / "home"
    assert run(home, sim, "submit", "a lark").returncode == 0
    proc = subprocess.Popen([*CLI, "watch", "--download", "--signal", "none", *SCALE],
                            env=cli_env(home, sim), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    until(lambda: downloading(home), "the download to be under way")
    assert lease_holder(home, sim) is not None  # watch polls (and so downloads) all along
    err = stop(proc, signum)
    assert_given_back(home, err, proc, signum)
    assert lease_holder(home, sim) is None
    held_media.release()
    assert_a_rerun_resumes(home, sim)


def test_ctrl_c_gives_back_the_same(sim: Simulator, tmp_path: Path,
                                     held_media: Fault) -> None:
    """The reference the other signals follow: SIGINT, as Ctrl-C sends it."""
    home = tmp_path / "home"
    assert run(home, sim, "submit", "a wren").returncode == 0
    proc = subprocess.Popen([*CLI, "wait", "1", "--download", *SCALE],
                            env=cli_env(home, sim), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    until(lambda: downloading(home), "the download to be under way")
    err = stop(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    stopped = row(home, 1)
    assert stopped is not None and stopped.download_state == "failed"
    assert not list((home / "downloads").glob("*.lock"))
    assert lease_holder(home, sim) is None


# -- the poller gives its lease back, and passes a stop on --------------------------------


async def test_a_stop_during_the_lease_release_is_passed_on_and_the_lease_released(
        sim: Simulator, store: TaskStore) -> None:
    """The stop arrives while the poller is giving its leases back (a ``wait`` whose
    tasks just ended): the lease is still released, and the stop is not swallowed."""
    account = account_id(sim.base_url, ApiKey(KEY))
    async with client_for(sim) as client:
        poller = PollScheduler(store, client, PollSettings(time_scale=600), account=account)
        assert await poller._may_poll()
        assert (await store.leases.current(account)).holder == poller.owner
        releasing = asyncio.create_task(poller.release())
        await asyncio.sleep(0)  # it has started giving back
        releasing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await releasing
    assert (await store.leases.current(account)).holder is None


async def test_the_signal_handlers_are_given_back() -> None:
    """A dashboard run inside another program (a test) leaves its signals as they were."""
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    undo = on_stop_signals(asyncio.get_running_loop(), lambda signum: None)
    assert all(signal.getsignal(signum) != before[signum] for signum in STOP_SIGNALS)
    undo()
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before
