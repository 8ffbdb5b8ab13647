"""The baseline of ``contention_bench.py``: the store's access pattern before the fix,
emulated with plain ``sqlite3`` — seven processes (two dashboards, three ``wait``, a
``submit`` loop, a ``list`` loop) at the pace and CPU load the bench's first phase
measured, against a stand-in service.  Each runs ``baseline_process``."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import sqlite3
import sys
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

POLL_LATENCY = 0.004  # the stand-in for one query to the service on loopback


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")  # storage.clock's format


def _iso_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


class OldStore:
    """The store's access pattern before the fix, on one plain ``sqlite3`` connection.

    Like the old aiosqlite store: one thread owns the connection and every call is a
    hop to it; WAL, ``busy_timeout`` 15000 ms, ``BEGIN IMMEDIATE`` for each
    read-modify-write, and reads iterated one row per hop (aiosqlite's ``async for``
    over a cursor, arraysize 1), so a read stays open while the process's other
    coroutines write on the same connection.  Opening took the write lock (the old
    migration check) and swept interrupted sends.
    """

    def __init__(self, path: str, stats: dict[str, Any]) -> None:
        self.path = path
        self.stats = stats
        self._thread = ThreadPoolExecutor(1)
        self._lock = asyncio.Lock()
        self.db: sqlite3.Connection | None = None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def open(self) -> OldStore:
        self.db = await self._call(lambda: sqlite3.connect(
            self.path, timeout=15.0, isolation_level=None, check_same_thread=False))
        self.db.row_factory = sqlite3.Row
        for pragma in ("PRAGMA busy_timeout = 15000", "PRAGMA journal_mode = WAL",
                       "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"):
            await self._exec(pragma)
        async with self.write():
            await self.rows("PRAGMA user_version")
        await self.rows("SELECT * FROM generations WHERE submission = 'sending'")
        return self

    async def close(self) -> None:
        if self.db is not None:
            await self._call(self.db.close)
        self._thread.shutdown(wait=False)

    async def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        assert self.db is not None
        return await self._call(self.db.execute, sql, params)

    async def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        cursor = await self._exec(sql, params)
        found = []
        try:
            while (row := await self._call(cursor.fetchone)) is not None:
                found.append(row)
        finally:
            await self._call(cursor.close)
        return found

    async def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        cursor = await self._exec(sql, params)
        try:
            row = await self._call(cursor.fetchone)
        finally:
            await self._call(cursor.close)
        return None if row is None else row[0]

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        async with self._lock:
            asked = time.monotonic()
            try:
                await self._exec("BEGIN IMMEDIATE")
                granted = time.monotonic()
                self.stats["waits"].append(granted - asked)
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.OperationalError):
                    await self._exec("ROLLBACK")
                raise
            await self._exec("COMMIT")
            self.stats["holds"].append(time.monotonic() - granted)
            self.stats["writes"] += 1

    # the statements the old store ran, in the same shape

    async def get(self, row_id: int) -> sqlite3.Row | None:
        found = await self.rows("SELECT * FROM generations WHERE id = ?", (row_id,))
        return found[0] if found else None

    async def get_many(self, ids: list[int]) -> list[sqlite3.Row]:
        marks = ", ".join("?" for _ in ids)
        return await self.rows(f"SELECT * FROM generations WHERE id IN ({marks}) ORDER BY id",
                               tuple(ids))

    async def claim_due(self, owner: str, limit: int) -> list[sqlite3.Row]:
        now = _now_iso()
        async with self.write():
            due = await self.rows(
                "SELECT * FROM generations WHERE next_poll_at IS NOT NULL"
                " AND task_id IS NOT NULL AND forgotten_at IS NULL"
                " AND (status IS NULL OR status NOT IN ('SUCCEEDED','FAILED','CANCELED','UNKNOWN'))"
                " AND next_poll_at <= ? AND (lease_until IS NULL OR lease_until < ?"
                " OR lease_owner = ?) ORDER BY next_poll_at LIMIT ?", (now, now, owner, limit))
            until = _iso_in(30)
            for row in due:
                await self._exec("UPDATE generations SET lease_owner = ?, lease_until = ?"
                                 " WHERE id = ?", (owner, until, row["id"]))
        return due

    async def apply(self, row_id: int, status: str, next_in: float) -> sqlite3.Row | None:
        async with self.write():
            current = await self.get(row_id)
            assert current is not None
            old = current["status"]
            rank = {"PENDING": 1, "RUNNING": 2}
            changed = old is None or (old not in ("SUCCEEDED", "FAILED") and
                                      rank.get(status, 3) > rank.get(old, 3))
            final = (status if changed else old) in ("SUCCEEDED", "FAILED")
            now = _now_iso()
            await self._exec(
                "UPDATE generations SET polls = ?, poll_failures = 0, last_polled_at = ?,"
                " lease_owner = NULL, lease_until = NULL, status = ?, next_poll_at = ?,"
                " updated_at = ? WHERE id = ?",
                (current["polls"] + 1, now, status if changed else old,
                 None if final else _iso_in(next_in), now, row_id))
            if changed:
                await self._exec("INSERT INTO status_events (generation_id, at, status)"
                                 " VALUES (?, ?, ?)", (row_id, now, status))
        return await self.get(row_id)

    async def add_intent(self, prompt: str) -> int:
        now = _now_iso()
        async with self.write():
            cursor = await self._exec(
                "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
                " audio, watermark, submission, sending_since, lease_owner, updated_at)"
                " VALUES (?, 'bench', 'pixverse/pixverse-v5.6-t2v', ?, '1280*720', 5, 0, 0,"
                " 'sending', ?, ?, ?)", (now, prompt, now, f"bench:{os.getpid()}", now))
            row_id = int(cursor.lastrowid or 0)
            await self._exec("INSERT INTO status_events (generation_id, at, status)"
                             " VALUES (?, ?, 'SUBMITTING')", (row_id, now))
        await self.get(row_id)
        return row_id

    async def mark_accepted(self, row_id: int, task_id: str, first_poll: float) -> None:
        now = _now_iso()
        async with self.write():
            await self._exec(
                "UPDATE generations SET submission = 'accepted', task_id = ?,"
                " status = 'PENDING', lease_owner = NULL, sending_since = NULL,"
                " next_poll_at = ?, updated_at = ? WHERE id = ?",
                (task_id, _iso_in(first_poll), now, row_id))
            await self._exec("INSERT INTO status_events (generation_id, at, status, detail)"
                             " VALUES (?, ?, 'PENDING', ?)", (row_id, now, task_id))
        await self.get(row_id)


class FakeService:
    """The baseline's stand-in for the simulator: first in, first out, at the rate at
    which tasks ended in phase 1, each spending ``work`` seconds RUNNING."""

    def __init__(self, start: float, rate: float, work: float) -> None:
        self.start, self.rate, self.work = start, max(rate, 0.05), work

    def status(self, row: sqlite3.Row) -> tuple[str, float]:
        """The task's status now, and when it is worth asking again."""
        created = datetime.fromisoformat(row["created_at"]).timestamp()
        done = max(self.start + row["id"] / self.rate, created + self.work)
        now = time.time()
        if now >= done:
            return ("FAILED" if zlib.crc32(str(row["id"]).encode()) % 20 == 0
                    else "SUCCEEDED"), 0.0
        if now >= done - self.work:
            return "RUNNING", (done - now) / 2
        return "PENDING", 0.0


class Bucket:
    def __init__(self, rate: float) -> None:
        self.rate, self.tokens, self.stamp = rate, rate, time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class OldPoller:
    """The poll scheduler's database work: claim due rows, ask, store each answer."""

    def __init__(self, store: OldStore, service: FakeService, speed: float) -> None:
        self.store, self.service = store, service
        self.lo, self.hi = 3.0 / speed, 30.0 / speed
        self.owner = f"bench:{os.getpid()}:{id(self):x}"
        self.bucket = Bucket(10.0)

    async def round(self) -> None:
        rows = await self.store.claim_due(self.owner, 32)
        gate = asyncio.Semaphore(8)

        async def one(row: sqlite3.Row) -> None:
            async with gate:
                await self.bucket.take()
                await asyncio.sleep(POLL_LATENCY)
                status, later = self.service.status(row)
                await self.store.apply(row["id"], status, max(self.lo, min(self.hi, later)))

        await asyncio.gather(*(one(row) for row in rows))

    async def sleep_until_due(self) -> None:
        due = await self.store.scalar(
            "SELECT MIN(next_poll_at) FROM generations WHERE next_poll_at IS NOT NULL"
            " AND task_id IS NOT NULL AND forgotten_at IS NULL"
            " AND (status IS NULL OR status NOT IN ('SUCCEEDED','FAILED','CANCELED','UNKNOWN'))")
        wait = self.hi
        if due is not None:
            wait = min(wait, (datetime.fromisoformat(due) - datetime.now(UTC)).total_seconds())
        await asyncio.sleep(max(0.05, wait))

    async def run(self) -> None:
        while True:
            await self.round()
            await self.sleep_until_due()


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


async def _replay(stalls: list[list[float]], share: float) -> None:
    """Stall this event loop as often and as long as a phase-1 dashboard's stalled (the same
    gaps between stalls): ``share`` of each stall on the CPU, the rest asleep (the real one
    was partly waiting for a core)."""
    while stalls:
        ended = 0.0
        for at, length in stalls:
            await asyncio.sleep(max(0.0, at - ended))
            _spin(length * share)
            time.sleep(length * (1 - share))
            ended = at + length


async def _busy(duty: float) -> None:
    """Keep this event loop as busy as its counterpart's was in phase 1 (a dashboard's
    screen updates, a wait's HTTP and JSON work): CPU in 5 ms slices, blocking the loop."""
    while duty > 0:
        _spin(0.005)
        await asyncio.sleep(0.005 * (1 - duty) / duty)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _bug(exc: BaseException) -> None:
    """What the old CLI printed for a driver error it did not expect."""
    _say(f"pixverse-tui: unexpected {type(exc).__name__}: {exc} — this is a bug; "
         "PIXVERSE_TUI_DEBUG=1 shows where it happened")


@contextlib.contextmanager
def _claim(counter: Path) -> Iterator[Any]:
    with counter.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield handle


def _next_ids(counter: Path, n: int) -> list[int]:
    with _claim(counter) as handle:
        handle.seek(0)
        first = int(handle.read() or "1")
        handle.seek(0)
        handle.truncate()
        handle.write(str(first + n))
    return list(range(first, first + n))


async def baseline_role(role: str, name: str, p: dict[str, Any],
                        stats: dict[str, Any]) -> None:
    """One of the 7 baseline processes, doing what that process did, until cancelled."""
    service = FakeService(p["start"], p["rate"], p["work"])
    db, speed = p["db"], p["speed"]
    if role == "dashboard" and p["stalls"].get(name):
        stats["burner"] = asyncio.create_task(_replay(p["stalls"][name], p["stall_cpu"]))
    elif role in p["duty"]:
        stats["burner"] = asyncio.create_task(_busy(p["duty"][role]))
    if role == "dashboard":
        while True:  # a dashboard whose refresh failed died; the user starts it again
            store = OldStore(db, stats)
            try:
                await store.open()
                await old_dashboard(store, service, speed, stats)
            except sqlite3.OperationalError as exc:
                _say(f"Traceback (most recent call last): … sqlite3.OperationalError: {exc} "
                     "(the dashboard's refresh from the store; the dashboard exits)")
                stats["crashes"] += 1
            finally:
                await store.close()
            await asyncio.sleep(1.0)
    while True:  # wait, submit, list: one CLI process after another
        started = time.monotonic()
        _spin(p["run_cpu"].get(role, 0.0))  # the CPU the real command used (start-up mostly)
        store = OldStore(db, stats)
        try:
            await store.open()
            if role == "wait":
                await old_wait(store, service, speed, Path(p["counter"]), p["wait_tasks"])
            elif role == "submit":
                stats["prompts"] += 1
                row_id = await store.add_intent(f"baseline prompt {stats['prompts']}")
                await asyncio.sleep(POLL_LATENCY * 3)  # the create request
                await store.mark_accepted(row_id, f"base-{os.getpid()}-{row_id}", 3.0 / speed)
            else:
                await store.rows("SELECT * FROM generations INDEXED BY generations_created"
                                 " ORDER BY created_at DESC LIMIT 50")
        except sqlite3.OperationalError as exc:
            _bug(exc)
        finally:
            await store.close()
        stats["runs"] += 1
        gap = p["gaps"].get(role, 0.0)  # the pace the real CLI kept in phase 1
        await asyncio.sleep(max(0.0, gap - (time.monotonic() - started)))


async def old_dashboard(store: OldStore, service: FakeService, speed: float,
                        stats: dict[str, Any]) -> None:
    stamp = _now_iso()
    await store.scalar("SELECT COUNT(*) FROM generations WHERE forgotten_at IS NULL")
    await store.rows("SELECT * FROM generations INDEXED BY generations_created"
                     " WHERE forgotten_at IS NULL ORDER BY created_at DESC LIMIT 50")

    async def poller_forever() -> None:
        while True:
            try:
                await OldPoller(store, service, speed).run()
            except sqlite3.OperationalError as exc:  # the old app: notify, restart in 2 s
                _say(f"notification (error): Background work: poller failed: {exc}")
                await asyncio.sleep(2.0)

    poller = asyncio.create_task(poller_forever())
    try:
        while True:
            await asyncio.sleep(0.25)
            rows = await store.rows("SELECT * FROM generations WHERE updated_at >= ?"
                                    " ORDER BY updated_at", (stamp,))
            await store.rows("SELECT id FROM generations WHERE forgotten_at >= ?", (stamp,))
            if rows:
                stamp = max(r["updated_at"] for r in rows)
                ids = [r["id"] for r in rows]
                await store.rows("SELECT id FROM generations WHERE forgotten_at IS NULL AND id"
                                 f" IN ({', '.join('?' for _ in ids)})", tuple(ids))
            stats["refreshes"] += 1
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError, sqlite3.Error):
            await poller


async def old_wait(store: OldStore, service: FakeService, speed: float, counter: Path,
                   n: int) -> None:
    ids = _next_ids(counter, n)
    while None in [await store.get(i) for i in ids]:  # `find_one` for each; not submitted yet
        await asyncio.sleep(0.2)
    poller = OldPoller(store, service, speed)
    while True:
        rows = await store.get_many(ids)
        if all(r["next_poll_at"] is None or r["status"] in ("SUCCEEDED", "FAILED")
               for r in rows):
            return
        await poller.round()
        await poller.sleep_until_due()


def baseline_process(role: str, reports: Path, name: str) -> int:
    p = json.loads((reports / "params.json").read_text())
    stats: dict[str, Any] = {"writes": 0, "waits": [], "holds": [], "runs": 0, "crashes": 0,
                             "refreshes": 0, "prompts": 0}

    async def main() -> None:
        def quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            if not isinstance(context.get("exception"), sqlite3.Error):
                loop.default_exception_handler(context)  # the failure was reported already

        asyncio.get_running_loop().set_exception_handler(quiet)
        while not (reports / "go").exists():
            await asyncio.sleep(0.01)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(baseline_role(role, name, p, stats),
                                   timeout=p["deadline"] - time.time())

    asyncio.run(main())
    stats.pop("burner", None)
    (reports / f"{name}.json").write_text(json.dumps(stats))
    sys.stderr.flush()
    os._exit(0)  # a connection thread may still sit in a busy wait; it goes with us


