"""One follower for every front end: ends heard from the store's change feed (whoever
wrote them), videos saved only by the process that polls, signals limited in one place,
and a poller that calls no one."""

from __future__ import annotations

import ast
import asyncio
import inspect
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storage import Observation, TaskStore, open_store
from tui.cli.watch import signal_settings
from tui.engine.following import poller as poller_module
from tui.engine.following.follower import Ended, Event, Follower, Save, Told
from tui.engine.following.poller import PollScheduler

ROOT = Path(__file__).resolve().parent.parent


async def until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited too long for {what}"
        await asyncio.sleep(0.02)


async def tracked(store: TaskStore, task_id: str) -> int:
    row = await store.following.track(task_id=task_id, endpoint="http://127.0.0.1:1",
                                      model="pixverse/v5.6", prompt=f"a paper boat {task_id}",
                                      size="1280*720", duration=5, audio=False)
    return row.id


async def test_ends_written_by_another_process_are_told_once_and_saved_only_when_polling(
        store: TaskStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """watch's signals: OSC 777 wrapped for tmux, each end told once, at most one signal a
    second; a finished video is asked to be saved only while this process polls."""
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    first, second = await tracked(store, "t-1"), await tracked(store, "t-2")
    events: list[Event] = []
    written: list[str] = []
    polling = [False]
    follower = Follower(store, tell=events.append, notify=signal_settings("osc777"),
                        write=written.append, polling=lambda: polling[0],
                        download=lambda: True, rescue_every=None)
    assert await follower.begin() == 2
    following = asyncio.create_task(follower.run())
    try:
        async with await open_store(tmp_path / "tasks.db") as other:  # another process polls
            await other.following.apply(first, Observation(status="SUCCEEDED",
                                                           video_url="http://x/v.mp4"), None)
            await until(lambda: any(isinstance(e, Ended) for e in events), "the first end")
            polling[0] = True  # this process polls now: what finishes is saved here
            await other.following.apply(second, Observation(
                status="FAILED", error_code="DataInspectionFailed", error_message="\x1b]52;x"),
                None)
            await other.following.apply(second, Observation(status="FAILED"), None)
            await until(lambda: len(written) == 2, "two signals, a second apart")
        ended = [e.row.id for e in events if isinstance(e, Ended)]
        assert ended == [first, second]  # each once, whoever wrote it
        assert not [e for e in events if isinstance(e, Save)]  # the first: not polling;
        assert not [e for e in events if isinstance(e, Told)]  # the second failed
        assert all(w.startswith("\x1bPtmux;\x1b\x1b]777;notify;pixverse-tui: ") for w in written)
        assert all(w.endswith("\x1b\\") and "\x1b]52" not in w for w in written)
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)


async def test_a_finished_video_is_saved_by_the_process_that_polls(store: TaskStore) -> None:
    row_id = await tracked(store, "t-3")
    events: list[Event] = []
    follower = Follower(store, tell=events.append, polling=lambda: True, download=lambda: True,
                        rescue_every=None)
    await follower.begin()
    following = asyncio.create_task(follower.run())
    try:
        await store.following.apply(row_id, Observation(status="SUCCEEDED",
                                                        video_url="http://x/v.mp4"), None)
        await until(lambda: any(isinstance(e, Save) for e in events), "the save")
        await store.history.set_favourite(row_id, True)  # a later write: not a second end
        await asyncio.sleep(0.3)
        assert [type(e) for e in events] == [Ended, Save]
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)


def test_the_poller_calls_no_one() -> None:
    """No hook into a front end: what it learns is in the store, its health is read."""
    parameters = inspect.signature(PollScheduler).parameters
    assert not [name for name in parameters if name.startswith("on_")]
    source = inspect.getsource(poller_module)
    assert "on_update" not in source and "on_health" not in source
    imported = {node.module for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert not [m for m in imported if m.startswith(("tui.ui", "tui.cli", "textual"))]


def test_signals_are_limited_and_written_in_one_place() -> None:
    """Only the engine's signals module writes a desktop notification or keeps the
    once-a-second gap; the command line keeps no copy."""
    writers = []
    for path in [*(ROOT / "tui").rglob("*.py")]:
        text = path.read_text()
        if "\\x1b]9;" in text or "\\x1b]777;" in text or "SIGNAL_GAP" in text:
            writers.append(path.relative_to(ROOT).as_posix())
    assert writers == ["tui/engine/following/signals.py"]
    watch = (ROOT / "tui/cli/watch.py").read_text()
    assert "Follower" in watch and "time.monotonic" not in watch
