"""The change feed of a SQLite store, with what SQLite has.

Triggers append every change to the ``changes`` log in the writer's own
transaction (schema v8), whichever process writes.  While anyone listens, the
store looks at ``PRAGMA data_version`` every ``TICK`` — a statement that touches
no table and moves only when another connection committed — and reads the log
past the last ``seq`` it read when it moved; this process's own commits wake it at
once.  After ``QUIET_AFTER`` without a change it looks every ``QUIET_TICK`` instead
(an idle dashboard wakes twice a second, not ten times; the first write of another
process is seen within ``QUIET_TICK``, the rest of its burst within ``TICK``).
Nobody listening: nothing runs.

The looking is done on a connection of its own, used only from the event loop's
thread: both statements take microseconds (no table scanned, the log read by its
key), which is cheaper than a trip through the store's worker thread, and they
never queue behind the store's own reads and writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

from storage.changes import EVERYTHING, MAX_ROWS, Change, ChangeHub
from storage.sqlite.db import Database

TICK = 0.1  # seconds between looks at data_version: another process's write shows this late
QUIET_TICK = 0.5  # seconds between looks once nothing has changed for QUIET_AFTER
QUIET_AFTER = 5.0  # seconds without a change before the looks slow down


class LogFeed:
    """Reads the change log for one store's subscribers (the hub)."""

    def __init__(self, db: Database) -> None:
        self._path = db.path
        self.hub = ChangeHub(self._wanted)
        self._last = 0  # the seq of the last change read
        self._version: int | None = None
        self._look: sqlite3.Connection | None = None
        self._wake = asyncio.Event()
        self._ours = False  # this process committed since the last look
        self._task: asyncio.Task[None] | None = None
        self._from_now = True  # the next listener starts from the log's end
        db.committed = self._committed

    async def close(self) -> None:
        self.hub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._forget_connection()

    def _committed(self) -> None:
        self._ours = True
        self._wake.set()

    def _wanted(self) -> None:
        """Someone listens: make sure the log is being read (from its end, when nobody
        listened before: a new subscriber hears of what is written after it came)."""
        if self.hub.closed or (self._task is not None and not self._task.done()):
            return
        if self._from_now:
            try:
                self._version = self._data_version()
                self._last = self._scalar("SELECT COALESCE(MAX(seq), 0) FROM changes")
                self._from_now = False
            except sqlite3.Error:
                self._forget_connection()  # the listener reads from where it was
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the feed's first wait starts it
        self._task = loop.create_task(self._listen(), name="store change feed")

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        moved = loop.time()  # when the log last had news (a lease's renewal is none)
        while self.hub.listened:
            quiet = loop.time() - moved >= QUIET_AFTER
            tick = loop.call_later(QUIET_TICK if quiet else TICK, self._wake.set)
            await self._wake.wait()
            tick.cancel()
            self._wake.clear()
            ours, self._ours = self._ours, False
            try:
                version = self._data_version()
                if ours or version != self._version:
                    self._version = version
                    if self._read():
                        moved = loop.time()
            except sqlite3.Error:  # busy for a moment, or the file went away: next tick
                self._version = None
                self._forget_connection()
        self._from_now = True  # nobody listens: what is written now is nobody's news

    def _forget_connection(self) -> None:
        if self._look is not None:
            self._look.close()
            self._look = None

    def _connection(self) -> sqlite3.Connection:
        if self._look is None:
            self._look = sqlite3.connect(self._path, isolation_level=None, timeout=0)
            self._look.execute("PRAGMA query_only = 1")
        return self._look

    def _data_version(self) -> int:
        return int(self._connection().execute("PRAGMA data_version").fetchone()[0])

    def _scalar(self, sql: str) -> int:
        return int(self._connection().execute(sql).fetchone()[0])

    def _read(self) -> bool:
        """Publish what the log holds past the last change read; whether it held any."""
        found = self._connection().execute(
            "SELECT seq, generation_id, figures, lease FROM changes WHERE seq > ?"
            " ORDER BY seq LIMIT ?", (self._last, MAX_ROWS + 1)).fetchall()
        if not found:
            return False
        if found[0][0] != self._last + 1 or len(found) > MAX_ROWS:
            # Pruned before we read them, or too many to name: re-read everything.
            self._last = self._scalar("SELECT MAX(seq) FROM changes")
            self.hub.publish(EVERYTHING)
            return True
        self._last = found[-1][0]
        self.hub.publish(Change(
            rows=frozenset(row[1] for row in found if row[1] is not None),
            figures=any(row[2] for row in found), lease=any(row[3] for row in found)))
        return True
