"""One SQLite connection shared by every part of the store: transactions, lock waits,
migrations, and driver errors turned into sentences.

Safe for several processes on one file: WAL journal, every read-modify-write
inside ``BEGIN IMMEDIATE``, every read fetched whole (an open read would pin a
stale snapshot that SQLite refuses to upgrade to a write), and lock waits
retried with a bounded back-off.  Driver errors leave this package only as the
``StoreError`` sentences of ``storage.errors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.errors import (
    SchemaTooNew,
    StoreBusy,
    StoreCorrupt,
    StoreFull,
    StoreUnavailable,
    full_disk,
)
from storage.records import Generation, Who
from storage.sqlite import plans
from storage.sqlite.faults import is_busy, translate
from storage.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")

# SQLite's own busy handler blocks the connection's one thread (and every read
# queued behind it), so it waits only briefly; the write lock is then retried
# here with an asynchronous, jittered back-off for up to WRITE_PATIENCE.
BUSY_TIMEOUT_MS = 20
WRITE_PATIENCE = 60.0


@dataclass
class Contention:
    """How long this process waited for the write lock (for the contention benchmark)."""

    writes: int = 0
    busy_retries: int = 0
    waits: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))


class Database:
    """The connection, and the only way the parts of the store read and write it."""

    def __init__(self, connection: aiosqlite.Connection, path: Path,
                 who: Who | None = None) -> None:
        self._db = connection
        self.path = path
        self.who = who or Who.here()  # whose intents, which machine's downloads
        self._writing = asyncio.Lock()  # one connection: one transaction at a time
        self.contention = Contention()
        self.committed: Callable[[], None] = lambda: None  # after every write (the feed)

    @classmethod
    async def open(cls, path: Path, who: Who | None = None) -> Database:
        """Open (creating or upgrading) the database; raises ``StoreError`` with a sentence."""
        for folder in (path.parent, *path.parent.parents):
            if folder.exists() and not folder.is_dir():
                raise StoreUnavailable(f"{folder} is a file, not a folder; the database "
                                       f"{path} cannot live under it — set PIXVERSE_TUI_HOME "
                                       "to a folder")
            if folder.exists():
                break
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StoreFull(full_disk(path.parent)) from None
            raise StoreUnavailable(
                f"cannot create the folder {path.parent} ({exc.strerror or exc}); "
                "make it writable or set PIXVERSE_TUI_HOME to another folder") from None
        if path.is_dir():
            raise StoreCorrupt(f"{path} is a folder, not a database; move it aside or set "
                               "PIXVERSE_TUI_HOME to another folder")
        try:
            connection = await aiosqlite.connect(path, isolation_level=None,
                                                 timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise translate(exc, path) from None
        connection.row_factory = aiosqlite.Row
        try:
            db = cls(connection, path, who)
            await db.retrying(lambda: connection.execute(
                f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"))
            await db.retrying(lambda: connection.execute("PRAGMA journal_mode = WAL"))
            await connection.execute("PRAGMA synchronous = NORMAL")
            await connection.execute("PRAGMA foreign_keys = ON")
            await db._migrate()
        except sqlite3.Error as exc:
            await connection.close()
            raise translate(exc, path) from None
        except BaseException:
            await connection.close()
            raise
        return db

    async def close(self) -> None:
        await self._db.close()

    async def _migrate(self) -> None:
        if await self.scalar("PRAGMA user_version") == SCHEMA_VERSION:
            return  # nothing to do: a read-only database still opens for reading
        async with self.write():
            version = await self.scalar("PRAGMA user_version")
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.path} was written by a newer pixverse-tui (schema {version}, "
                    f"this one knows {SCHEMA_VERSION}); upgrade pixverse-tui.")
            for number in range(version, SCHEMA_VERSION):
                for statement in statements(MIGRATIONS[number]):
                    await self._db.execute(statement)
                await self._db.execute(f"PRAGMA user_version = {number + 1}")

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run one statement, waiting out other processes' locks (bounded, jittered)."""
        deadline = time.monotonic() + WRITE_PATIENCE
        delay = 0.005
        while True:
            try:
                return await call()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"{self.path} stayed locked by other processes for "
                        f"{WRITE_PATIENCE:.0f} s; try again") from None
                self.contention.busy_retries += 1
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(0.25, delay * 2)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        """One write transaction.  Reads never hold a statement open across an await
        (see ``fetch``), so BEGIN IMMEDIATE never meets our own stale snapshot."""
        async with self._writing:
            asked = time.monotonic()
            # BEGIN is inside the try: a task cancelled while waiting for it still has
            # it executed by aiosqlite's thread, so it must be rolled back.
            try:
                await self.retrying(lambda: self._db.execute("BEGIN IMMEDIATE"))
                self.contention.waits.append(time.monotonic() - asked)
                yield
                await self.retrying(lambda: self._db.execute("COMMIT"))
                self.contention.writes += 1
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error, ValueError):  # BEGIN itself failed
                    await self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise translate(exc, self.path) from None
                raise
        self.committed()

    async def write_one(self, sql: str, params: Iterable[Any] = ()) -> None:
        """One statement that is a whole write on its own (SQLite makes it atomic): no
        BEGIN and COMMIT around it — half the round trips of ``write``."""
        args = tuple(params)
        async with self._writing:
            asked = time.monotonic()
            try:
                await self.retrying(lambda: self._db.execute(sql, args))
            except sqlite3.Error as exc:
                raise translate(exc, self.path) from None
            self.contention.waits.append(time.monotonic() - asked)
            self.contention.writes += 1
        self.committed()

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Cursor:
        """One statement inside ``write()`` (whose transaction translates its errors)."""
        return await self._db.execute(sql, tuple(params))

    async def executemany(self, sql: str, params: Iterable[Iterable[Any]]) -> None:
        """One statement for many rows, inside ``write()``."""
        await self._db.executemany(sql, params)

    async def fetch(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Every row of a query in one step: no cursor stays open while others run."""
        args = tuple(params)
        try:
            return list(await self.retrying(lambda: self._db.execute_fetchall(sql, args)))
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None

    async def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        rows = await self.fetch(sql, params)
        return rows[0][0] if rows else None

    async def rows(self, sql: str, params: Iterable[Any] = ()) -> list[Generation]:
        """Generations, each with the other machines its video is saved on
        (``plans.generations``: as the page reader reads them)."""
        return await self.run(plans.generations(sql, tuple(params), self.who.machine))

    async def run(self, plan: plans.Plan[T]) -> T:
        """A read written as a plan (``storage.sqlite.plans``): each of its queries fetched
        whole, in turn, its rows sent back to it; its answer."""
        try:
            query = next(plan)
            while True:
                query = plan.send(await self.fetch(*query))
        except StopIteration as done:
            answer: T = done.value
            return answer


def statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    found, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            found.append(text)
            current = []
    if "\n".join(current).strip():
        found.append("\n".join(current).strip())
    return found
