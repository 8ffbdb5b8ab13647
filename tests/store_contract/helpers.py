"""Shared by the contract tests: rows made the way the engine makes them, another process,
and waiting for a condition with a deadline (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from storage import Generation, Observation, TaskStore

ENDPOINT = "http://127.0.0.1:1/api/v1"
ROOT = Path(__file__).resolve().parents[2]


async def intent(store: TaskStore, prompt: str = "p", **kw: Any) -> Generation:
    return await store.intents.add(endpoint=ENDPOINT, model="m", prompt=prompt,
                                   size=kw.pop("size", "1280*720"),
                                   duration=kw.pop("duration", 5), **kw)


async def accepted(store: TaskStore, prompt: str = "p", task_id: str | None = None,
                   status: str = "PENDING", **kw: Any) -> Generation:
    row = await intent(store, prompt, **kw)
    return await store.intents.mark_accepted(row.id, task_id=task_id or f"task-{row.id}",
                                             status=status, request_id="r", next_poll_in=0)


async def finished(store: TaskStore, prompt: str = "p", status: str = "SUCCEEDED",
                   **kw: Any) -> Generation:
    row = await accepted(store, prompt, **kw)
    seen = Observation(status, end_time="2026-03-01T10:00:00.000+00:00",
                       video_url="http://127.0.0.1:1/v.mp4" if status == "SUCCEEDED" else None)
    done, _ = await store.following.apply(row.id, seen, None)
    return done


def actor(location: str, action: str, *args: str) -> subprocess.Popen[str]:
    """Another process on the store (see ``actor.py``)."""
    return subprocess.Popen([sys.executable, "-m", "tests.store_contract.actor", location,
                             action, *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def answer(process: subprocess.Popen[str], timeout: float = 60) -> Any:
    """The JSON line another process printed (it must have exited well, unless it dies on
    purpose)."""
    out, err = process.communicate(timeout=timeout)
    assert out.strip(), err[-2000:]
    return json.loads(out.strip().splitlines()[0])


def first_line(process: subprocess.Popen[str]) -> Any:
    """The first JSON line of a process that keeps running."""
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, process.stderr.read() if process.stderr else ""
    return json.loads(line)


async def until(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0,
                what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
