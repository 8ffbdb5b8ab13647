"""Several processes on one database: no lock error ever reaches a caller."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from storage import TaskStore, open_store
from storage.records import Observation
from tests.conftest import CLI, cli_env
from tui.simulator import Simulator

WRITER = textwrap.dedent("""
    import asyncio, sys
    from storage import open_store

    async def main(path, rounds):
        store = await open_store(path)
        ids = [row.id for row in await store.history.page(limit=1000)]
        for n in range(rounds):
            row = await store.intents.add(endpoint="e", model="m", prompt=f"p{n}",
                                          size="1280*720", duration=5)
            await store.intents.mark_accepted(row.id, task_id=f"t-{sys.argv[3]}-{n}",
                                              status="PENDING", request_id=None, next_poll_in=0)
            async for _ in store.history.columns(("status", "size")):
                await store.history.set_favourite(ids[n % len(ids)], n % 2 == 0)
                break
            await store.following.claim_due(sys.argv[3], limit=20, lease_seconds=5)
            await store.following.unfinished()
        await store.close()
        print("ok")

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
""")


async def _seed(path: Path, n: int) -> TaskStore:
    store = await open_store(path)
    for i in range(n):
        row = await store.intents.add(endpoint="e", model="m", prompt=f"seed {i}",
                                      size="1280*720", duration=5)
        await store.intents.mark_accepted(row.id, task_id=f"seed-{i}", status="PENDING",
                                          request_id=None, next_poll_in=0)
    return store


async def test_a_read_left_open_does_not_make_the_next_write_fail(tmp_path: Path) -> None:
    """Another process commits while our scan is between rows; then we write."""
    path = tmp_path / "tasks.db"
    store = await _seed(path, 300)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        seen = 0
        async for _ in store.history.columns(("status",)):
            seen += 1
            if seen == 1:
                other.execute("UPDATE generations SET note = 'x' WHERE id = 1")
                await store.history.set_favourite(2, True)  # failed at once: stale read snapshot
        assert seen == 300
        row = await store.generations.get(2)
        assert row is not None and row.favourite
    finally:
        other.close()
        await store.close()


async def test_writes_interleaved_with_a_long_read_in_one_process(tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"
    store = await _seed(path, 400)
    other = await open_store(path)
    try:
        async def reader() -> int:
            total = 0
            for _ in range(20):
                total += len(await store.following.unfinished())
            return total

        async def writer(s: TaskStore) -> None:
            for i in range(40):
                await s.following.apply(1 + i % 400, Observation(status="RUNNING"), 1.0)

        counts = await asyncio.gather(reader(), writer(store), writer(other))
        assert counts[0] > 0
    finally:
        await other.close()
        await store.close()


def test_three_processes_on_one_database(tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"

    async def seed() -> None:
        await (await _seed(path, 50)).close()

    asyncio.run(seed())
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), "60", f"w{i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0 and out.strip() == "ok", err[-2000:]
        assert "locked" not in err


def test_an_interrupted_wait_gives_its_leases_back(slow_sim: Simulator, tmp_path: Path) -> None:
    """Ctrl-C on `wait` must not keep other processes off those tasks for 30 s."""
    home = tmp_path / "home"
    made = subprocess.run([*CLI, "submit", "a lantern", "--variations", "3", "--json"],
                          env=cli_env(home, slow_sim), capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    first = json.loads(made.stdout)[0]["task_id"]
    waiting = subprocess.Popen([*CLI, "wait", first], env=cli_env(home, slow_sim),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    database = sqlite3.connect(home / "tasks.db")
    try:
        deadline = time.monotonic() + 30
        while not database.execute("SELECT COUNT(*) FROM generations"
                                   " WHERE lease_owner IS NOT NULL").fetchone()[0]:
            assert time.monotonic() < deadline and waiting.poll() is None
            time.sleep(0.05)
        waiting.send_signal(signal.SIGINT)
        assert waiting.wait(30) == 130
        held = database.execute("SELECT COUNT(*) FROM generations WHERE lease_owner IS NOT"
                                " NULL").fetchone()[0]
    finally:
        database.close()
        if waiting.poll() is None:
            waiting.kill()
    assert held == 0


async def test_a_lease_held_by_a_killed_process_of_this_machine_is_taken_at_once(
        sim: Simulator, tmp_path: Path) -> None:
    """kill -9 gives nothing back: a `submit` killed while it held the account's lease
    (sending its prompt) kept every other process from polling — `wait` sat silent for
    30 s.  A holder of this machine that no longer runs is passed over at once; a living
    one never is."""
    import os
    import socket

    from tests.conftest import KEY, client_for
    from tui.dashscope import ApiKey
    from tui.engine.following.account import account_id
    from tui.engine.following.poller import PollScheduler, PollSettings

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its number names no process now
    account = account_id(sim.base_url, ApiKey(KEY))
    async with await open_store(tmp_path / "tasks.db") as store, client_for(sim) as client:
        here = socket.gethostname()
        living = f"{here}:{os.getpid()}:submit"  # this test's own process: it lives
        assert (await store.leases.hold(account, living, 30.0)).held_by(living)
        waiting = PollScheduler(store, client, PollSettings(), account=account)
        assert not await waiting._may_poll()  # a living holder keeps its lease
        await store.leases.release(account, living)

        killed = f"{here}:{gone.pid}:submit"
        assert (await store.leases.hold(account, killed, 30.0)).held_by(killed)
        taking = PollScheduler(store, client, PollSettings(), account=account)
        assert await taking._may_poll()  # not 30 s later: now
        assert (await store.leases.current(account)).holder == taking.owner
        elsewhere = f"bob@another-machine:{gone.pid}:1"  # cannot be told: it runs out
        await taking.release()
        assert (await store.leases.hold(account, elsewhere, 30.0)).held_by(elsewhere)
        third = PollScheduler(store, client, PollSettings(), account=account)
        assert not await third._may_poll()
