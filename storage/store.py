"""The task store: one row per generation, an append-only status log, FTS search.

Safe for several processes on one file: WAL journal, every read-modify-write
inside ``BEGIN IMMEDIATE``, every read fetched whole (an open read would pin a
stale snapshot that SQLite refuses to upgrade to a write), and lock waits
retried with a bounded back-off.  Driver errors leave this module only as the
``StoreError`` sentences of ``storage.errors``.  The intent row is written
before a create request is sent (see ``add_intent``); status only moves forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import random
import socket
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.clock import iso_in, now_iso, parse_iso, utc_now
from storage.coordination import CoordinationMixin
from storage.errors import (
    DuplicateTask,
    SchemaTooNew,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreUnavailable,
    disk_is_full,
    full_disk,
)
from storage.history import HistoryFilter, order_by
from storage.records import (
    LIVE,
    SUBMISSION_ABANDONED,
    SUBMISSION_ACCEPTED,
    SUBMISSION_REJECTED,
    SUBMISSION_SENDING,
    SUBMISSION_TRACKED,
    SUBMISSION_UNCONFIRMED,
    TERMINAL,
    BatchSummary,
    Billable,
    Counts,
    Generation,
    LiveTask,
    Observation,
    StatusEvent,
    can_advance,
)
from storage.redact import scrub, scrub_optional
from storage.schema import MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")

# A followed task: has a task id, is not finished, not given up on (a poll time),
# not in the trash.  The one definition every query below uses.
FOLLOWED = ("task_id IS NOT NULL AND forgotten_at IS NULL AND next_poll_at IS NOT NULL"
            " AND (status IS NULL OR status NOT IN ("
            + ", ".join(f"'{status}'" for status in sorted(TERMINAL)) + "))")

# SQLite's own busy handler blocks the connection's one thread (and every read
# queued behind it), so it waits only briefly; the write lock is then retried
# here with an asynchronous, jittered back-off for up to WRITE_PATIENCE.
BUSY_TIMEOUT_MS = 20
WRITE_PATIENCE = 60.0
STALE_SENDING_SECONDS = 180  # longer than any create request can take
SCAN_PAGE = 2000  # rows per query when scanning the whole history
# Error and note texts, which may quote request headers: scrubbed of keys when written.
SCRUBBED = frozenset({"submission_note", "error_message", "poll_error", "download_error"})
TRASH_DAYS = 30  # forgotten generations stay restorable this long


def process_tag() -> str:
    """Identifies this process, so other processes can tell whether it still lives."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(tag: str | None) -> bool:
    if not tag or ":" not in tag:
        return False
    host, _, pid = tag.rpartition(":")
    if host != socket.gethostname():
        return True  # cannot tell; rely on the age check
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Contention:
    """How long this process waited for the write lock (for the contention benchmark)."""

    writes: int = 0
    busy_retries: int = 0
    waits: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))


class TaskStore(CoordinationMixin):
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._writing = asyncio.Lock()  # one connection: one transaction at a time
        self.contention = Contention()

    # -- lifecycle ----------------------------------------------------------

    @classmethod
    async def open(cls, path: Path | str) -> TaskStore:
        """Open (creating or upgrading) the database; raises ``StoreError`` with a sentence."""
        path = Path(path)
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
            db = await aiosqlite.connect(path, isolation_level=None,
                                         timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise _translate(exc, path) from None
        db.row_factory = aiosqlite.Row
        try:
            store = cls(db, path)
            await store._retrying(lambda: db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"))
            await store._retrying(lambda: db.execute("PRAGMA journal_mode = WAL"))
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            await store._migrate()
        except sqlite3.Error as exc:
            await db.close()
            raise _translate(exc, path) from None
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> TaskStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _migrate(self) -> None:
        if await self._scalar("PRAGMA user_version") == SCHEMA_VERSION:
            return  # nothing to do: a read-only database still opens for reading
        async with self._write():
            version = await self._scalar("PRAGMA user_version")
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.path} was written by a newer pixverse-tui (schema {version}, "
                    f"this one knows {SCHEMA_VERSION}); upgrade pixverse-tui.")
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    await self._db.execute(statement)
                await self._db.execute(f"PRAGMA user_version = {number + 1}")

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run one statement, waiting out other processes' locks (bounded, jittered)."""
        deadline = time.monotonic() + WRITE_PATIENCE
        delay = 0.005
        while True:
            try:
                return await call()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"{self.path} stayed locked by other processes for "
                        f"{WRITE_PATIENCE:.0f} s; try again") from None
                self.contention.busy_retries += 1
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(0.25, delay * 2)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[None]:
        """One write transaction.  Reads never hold a statement open across an await
        (see ``_fetch``), so BEGIN IMMEDIATE never meets our own stale snapshot."""
        async with self._writing:
            asked = time.monotonic()
            # BEGIN is inside the try: a task cancelled while waiting for it still has
            # it executed by aiosqlite's thread, so it must be rolled back.
            try:
                await self._retrying(lambda: self._db.execute("BEGIN IMMEDIATE"))
                self.contention.waits.append(time.monotonic() - asked)
                yield
                await self._retrying(lambda: self._db.execute("COMMIT"))
                self.contention.writes += 1
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error, ValueError):  # BEGIN itself failed
                    await self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _translate(exc, self.path) from None
                raise

    async def _write_one(self, sql: str, params: Iterable[Any] = ()) -> None:
        """One statement that is a whole write on its own (SQLite makes it atomic): no
        BEGIN and COMMIT around it — half the round trips of ``_write``."""
        args = tuple(params)
        async with self._writing:
            asked = time.monotonic()
            try:
                await self._retrying(lambda: self._db.execute(sql, args))
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from None
            self.contention.waits.append(time.monotonic() - asked)
            self.contention.writes += 1

    async def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Every row of a query in one step: no cursor stays open while others run."""
        args = tuple(params)
        try:
            return list(await self._retrying(lambda: self._db.execute_fetchall(sql, args)))
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from None

    async def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        rows = await self._fetch(sql, params)
        return rows[0][0] if rows else None

    async def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[Generation]:
        return [Generation.from_row(row) for row in await self._fetch(sql, params)]

    async def _event(self, generation_id: int, status: str, detail: str | None = None) -> None:
        await self._db.execute(
            "INSERT INTO status_events (generation_id, at, status, detail) VALUES (?, ?, ?, ?)",
            (generation_id, now_iso(), status, scrub_optional(detail)))

    async def _update(self, generation_id: int, **values: Any) -> None:
        for name in SCRUBBED.intersection(values):
            values[name] = scrub_optional(values[name])
        values["updated_at"] = now_iso()
        columns = ", ".join(f"{name} = ?" for name in values)
        await self._db.execute(f"UPDATE generations SET {columns} WHERE id = ?",
                               (*values.values(), generation_id))

    async def _require(self, generation_id: int) -> Generation:
        found = await self.get(generation_id)
        if found is None:
            raise KeyError(f"no generation #{generation_id} in {self.path}")
        return found

    # -- submission ---------------------------------------------------------

    async def add_intent(
        self, *, endpoint: str, model: str, prompt: str, size: str, duration: int,
        audio: bool = False, watermark: bool = False, seed: int | None = None,
        batch_id: str | None = None,
    ) -> Generation:
        """Record the intent to create a task — before the request is sent."""
        now = now_iso()
        async with self._write():
            cursor = await self._db.execute(
                "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
                " audio, watermark, seed, submission, sending_since, lease_owner, updated_at,"
                " batch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, endpoint, model, prompt, size, duration, int(audio), int(watermark), seed,
                 SUBMISSION_SENDING, now, process_tag(), now, batch_id))
            generation_id = cursor.lastrowid
            assert generation_id is not None
            await self._event(generation_id, "SUBMITTING")
        return await self._require(generation_id)

    async def claim_intent(
        self, key: str, *, endpoint: str, model: str, prompt: str, size: str, duration: int,
        audio: bool = False, watermark: bool = False, seed: int | None = None,
        batch_id: str | None = None, tags: Iterable[str] = (), note: str | None = None,
    ) -> tuple[Generation, bool]:
        """The row for one intent of a batch, and whether this caller is to send it.

        The first caller for ``key`` records the intent (as ``add_intent`` does) and
        sends.  A later one — another process, or the same batch run again — gets the
        row as it stands and must not send, unless the service refused it or the
        user settled that nothing was created: then it is this caller's to send
        again, once (the row is taken over atomically).
        """
        now = now_iso()
        async with self._write():
            cursor = await self._db.execute(
                "SELECT id, submission FROM generations WHERE intent_key = ?", (key,))
            found = await cursor.fetchone()
            if found is not None:
                generation_id, submission = found[0], found[1]
                if submission not in (SUBMISSION_REJECTED, SUBMISSION_ABANDONED):
                    claimed = False
                else:
                    await self._update(
                        generation_id, submission=SUBMISSION_SENDING, sending_since=now,
                        lease_owner=process_tag(), submission_note=None, error_code=None,
                        error_message=None)
                    await self._event(generation_id, "SUBMITTING", "sent again: the last "
                                      "attempt created nothing")
                    claimed = True
            else:
                cursor = await self._db.execute(
                    "INSERT INTO generations (created_at, endpoint, model, prompt, size,"
                    " duration, audio, watermark, seed, submission, sending_since, lease_owner,"
                    " updated_at, batch_id, intent_key, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?, ?, ?, ?, ?, ?, ?)",
                    (now, endpoint, model, prompt, size, duration, int(audio), int(watermark),
                     seed, SUBMISSION_SENDING, now, process_tag(), now, batch_id, key, note))
                generation_id = cursor.lastrowid
                assert generation_id is not None
                clean = sorted({t.strip() for t in tags if t.strip()})
                await self._db.executemany(
                    "INSERT INTO generation_tags (generation_id, tag) VALUES (?, ?)",
                    [(generation_id, tag) for tag in clean])
                await self._event(generation_id, "SUBMITTING")
                claimed = True
        return await self._require(generation_id), claimed

    async def intents(self, prefix: str) -> dict[str, Generation]:
        """The rows of every intent whose key starts with ``prefix`` (one batch's), by key."""
        rows = await self._rows(
            "SELECT * FROM generations WHERE intent_key >= ? AND intent_key < ?",
            (prefix, prefix + "\U0010ffff"))
        return {row.intent_key: row for row in rows if row.intent_key is not None}

    async def billable_since(self, stamp: str) -> list[Billable]:
        """Generations created since ``stamp`` that cost money or may: made, in flight,
        or of unknown outcome (the trash included: forgetting does not refund)."""
        live = ", ".join(f"'{status}'" for status in sorted(LIVE))
        rows = await self._fetch(
            "SELECT created_at, status, size, usage_size, duration, usage_duration, audio,"
            " usage_audio FROM generations INDEXED BY generations_created WHERE created_at >= ?"
            f" AND (status = 'SUCCEEDED' OR status IN ({live}) OR submission IN"
            f" ('{SUBMISSION_SENDING}', '{SUBMISSION_UNCONFIRMED}'))", (stamp,))
        out = []
        for created, status, size, usage_size, duration, usage_duration, audio, usage_audio \
                in rows:
            made = status == "SUCCEEDED"
            out.append(Billable(
                created, (usage_size if made and usage_size else size),
                float(usage_duration if made and usage_duration else duration),
                bool(usage_audio if made and usage_audio is not None else audio), made))
        return out

    async def mark_accepted(self, generation_id: int, *, task_id: str, status: str,
                            request_id: str | None, next_poll_in: float) -> Generation:
        async with self._write():
            await self._update(
                generation_id, submission=SUBMISSION_ACCEPTED, submission_note=None,
                task_id=task_id, status=status, create_request_id=request_id,
                last_request_id=request_id, lease_owner=None, sending_since=None,
                next_poll_at=None if status in TERMINAL else iso_in(next_poll_in))
            await self._event(generation_id, status, f"created as {task_id}")
        return await self._require(generation_id)

    async def mark_rejected(self, generation_id: int, *, code: str | None, message: str,
                            request_id: str | None) -> Generation:
        async with self._write():
            await self._update(
                generation_id, submission=SUBMISSION_REJECTED, error_code=code,
                error_message=message, create_request_id=request_id, lease_owner=None,
                sending_since=None)
            await self._event(generation_id, "REJECTED", message)
        return await self._require(generation_id)

    async def mark_unconfirmed(self, generation_id: int, note: str) -> Generation:
        async with self._write():
            await self._update(generation_id, submission=SUBMISSION_UNCONFIRMED,
                               submission_note=note, lease_owner=None)
            await self._event(generation_id, "UNCONFIRMED", note)
        return await self._require(generation_id)

    async def mark_abandoned(self, generation_id: int, note: str) -> Generation:
        async with self._write():
            await self._update(generation_id, submission=SUBMISSION_ABANDONED,
                               submission_note=note, lease_owner=None, next_poll_at=None)
            await self._event(generation_id, "ABANDONED", note)
        return await self._require(generation_id)

    async def sweep_interrupted_sends(self) -> list[Generation]:
        """Rows left 'sending' by a process that died (or long ago) become unconfirmed."""
        candidates = await self._rows(
            "SELECT * FROM generations WHERE submission = ?", (SUBMISSION_SENDING,))
        swept = []
        for row in candidates:
            started = parse_iso(row.sending_since)
            old = started is None or (utc_now() - started).total_seconds() > STALE_SENDING_SECONDS
            if old or not _process_alive(row.lease_owner):
                swept.append(await self.mark_unconfirmed(
                    row.id, "the program stopped while the create request was in flight; "
                            "a task may or may not exist"))
        return swept

    async def track(self, *, task_id: str, endpoint: str, model: str, prompt: str,
                    size: str, duration: int, audio: bool) -> Generation:
        """Adopt a task created elsewhere (idempotent on task id)."""
        existing = await self.get_by_task_id(task_id)
        if existing is not None:
            return existing
        now = now_iso()
        async with self._write():
            cursor = await self._db.execute(
                "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
                " audio, submission, task_id, next_poll_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, endpoint, model, prompt, size, duration, int(audio), SUBMISSION_TRACKED,
                 task_id, now, now))
            generation_id = cursor.lastrowid
            assert generation_id is not None
            await self._event(generation_id, "TRACKED", f"adopted {task_id}")
        return await self._require(generation_id)

    async def adopt_for(self, generation_id: int, task_id: str) -> Generation:
        """Resolve an unconfirmed intent: it did create ``task_id``."""
        async with self._write():
            holder = await self._scalar("SELECT id FROM generations WHERE task_id = ?",
                                        (task_id,))
            if holder is not None:
                raise DuplicateTask(f"{task_id} already belongs to #{holder}; a task can "
                                    "belong to one generation only")
            await self._update(generation_id, submission=SUBMISSION_ACCEPTED,
                               submission_note=f"found {task_id} through the task list",
                               task_id=task_id, status=None, next_poll_at=now_iso())
            await self._event(generation_id, "CONFIRMED", f"found {task_id} in the task list")
        return await self._require(generation_id)

    # -- observations -------------------------------------------------------

    async def apply(self, generation_id: int, seen: Observation,
                    next_poll_in: float | None) -> tuple[Generation, bool]:
        """Store one answer.  Returns the row and whether its status changed.

        A late or out-of-order answer (PENDING after RUNNING, anything after a
        terminal state) only updates poll bookkeeping.
        """
        async with self._write():
            current = await self._require(generation_id)
            values: dict[str, Any] = {
                "polls": current.polls + 1, "poll_failures": 0, "poll_error": None,
                "last_polled_at": now_iso(), "last_request_id": seen.request_id,
                "lease_owner": None, "lease_until": None,
            }
            changed = can_advance(current.status, seen.status)
            if changed:
                values["status"] = seen.status
            if changed or seen.status == current.status:
                details = {k: v for k, v in asdict(seen).items()
                           if k not in ("status", "request_id") and v is not None}
                if "usage_audio" in details:
                    details["usage_audio"] = int(details["usage_audio"])
                values.update(details)
            final = values.get("status", current.status) in TERMINAL
            values["next_poll_at"] = None if final or next_poll_in is None else iso_in(next_poll_in)
            await self._update(generation_id, **values)
            if changed:
                await self._event(generation_id, seen.status,
                                  seen.error_message if seen.status == "FAILED" else None)
        return await self._require(generation_id), changed

    async def record_poll_failure(self, generation_id: int, reason: str,
                                  next_poll_in: float) -> Generation:
        async with self._write():
            await self._db.execute(
                "UPDATE generations SET poll_failures = poll_failures + 1, last_polled_at = ?,"
                " poll_error = ?, next_poll_at = CASE WHEN next_poll_at IS NULL THEN NULL"
                " ELSE ? END, lease_owner = NULL, lease_until = NULL, updated_at = ?"
                " WHERE id = ?",
                (now_iso(), scrub(reason), iso_in(next_poll_in), now_iso(), generation_id))
        return await self._require(generation_id)

    async def stop_following(self, generation_id: int, reason: str) -> Generation:
        """A task the service will never answer about usefully: stop polling it, say why."""
        async with self._write():
            await self._update(generation_id, next_poll_at=None, poll_error=reason,
                               lease_owner=None, lease_until=None)
            await self._event(generation_id, "NOT FOLLOWED", reason)
        return await self._require(generation_id)

    async def follow_again(self, generation_id: int) -> Generation:
        """The user asks to follow a task again (after ``stop_following`` or failures)."""
        async with self._write():
            row = await self._require(generation_id)
            if row.task_id is None or row.terminal:
                return row
            await self._update(generation_id, next_poll_at=now_iso(), poll_error=None,
                               poll_failures=0, lease_owner=None, lease_until=None)
            if row.next_poll_at is None:
                await self._event(generation_id, "FOLLOWED", "followed again")
        return await self._require(generation_id)

    async def claim_due(self, owner: str, *, limit: int, lease_seconds: float,
                        include_future: bool = False,
                        endpoints: Sequence[str] | None = None) -> list[Generation]:
        """Lease up to ``limit`` tasks that are due for a poll, oldest-due first (only
        those made at ``endpoints``, when given: a task is asked about where it was made).

        The lease keeps two processes from polling the same task at once.
        """
        now = now_iso()
        where, params = self._followed_at(endpoints)
        async with self._write():
            rows = await self._rows(
                f"SELECT * FROM generations WHERE {where}"
                + ("" if include_future else " AND next_poll_at <= ?")
                + " AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)"
                " ORDER BY next_poll_at LIMIT ?",
                (*params, *(() if include_future else (now,)), now, owner, limit))
            if rows:  # one statement: the write lock is held for one step, not one per row
                marks = ", ".join("?" for _ in rows)
                await self._db.execute(
                    f"UPDATE generations SET lease_owner = ?, lease_until = ? WHERE id IN"
                    f" ({marks})", (owner, iso_in(lease_seconds), *(row.id for row in rows)))
        return rows

    @staticmethod
    def _followed_at(endpoints: Sequence[str] | None) -> tuple[str, tuple[Any, ...]]:
        if endpoints is None:
            return FOLLOWED, ()
        marks = ", ".join("?" for _ in endpoints) or "NULL"
        return FOLLOWED + f" AND endpoint IN ({marks})", tuple(endpoints)

    async def followed_endpoints(self) -> list[str]:
        """The endpoints the followed tasks were made at."""
        rows = await self._fetch(f"SELECT DISTINCT endpoint FROM generations WHERE {FOLLOWED}")
        return [row[0] for row in rows]

    async def next_due_at(self, endpoints: Sequence[str] | None = None) -> str | None:
        where, params = self._followed_at(endpoints)
        due: str | None = await self._scalar(
            f"SELECT MIN(next_poll_at) FROM generations WHERE {where}", params)
        return due

    async def live_tasks(self, endpoints: Sequence[str] | None = None) -> list[LiveTask]:
        """Every followed task (made at ``endpoints``), oldest first, in a few columns."""
        where, params = self._followed_at(endpoints)
        rows = await self._fetch(
            "SELECT id, task_id, status, created_at, scheduled_time, size, duration,"
            f" next_poll_at FROM generations WHERE {where} ORDER BY created_at, id", params)
        return [LiveTask(*row) for row in rows]

    async def poll_now(self, generation_ids: Iterable[int], *, after: float = 0.0) -> None:
        """Make these tasks due for a poll (``after`` seconds from now)."""
        wanted = list(generation_ids)
        if not wanted:
            return
        async with self._write():
            await self._db.execute(
                f"UPDATE generations SET next_poll_at = ? WHERE {FOLLOWED} AND id IN"
                f" ({', '.join('?' for _ in wanted)})", (iso_in(after), *wanted))

    async def known_task_ids(self, task_ids: Iterable[str]) -> set[str]:
        """Which of these task ids a row holds (the trash included)."""
        wanted = list(task_ids)
        if not wanted:
            return set()
        rows = await self._fetch(
            f"SELECT task_id FROM generations WHERE task_id IN"
            f" ({', '.join('?' for _ in wanted)})", wanted)
        return {row[0] for row in rows}

    async def release_all(self, owner: str) -> None:
        """Give back every lease of a poller that is stopping."""
        async with self._write():
            await self._db.execute(
                "UPDATE generations SET lease_owner = NULL, lease_until = NULL"
                " WHERE lease_owner = ? AND task_id IS NOT NULL", (owner,))

    async def release(self, generation_id: int, owner: str) -> None:
        async with self._write():
            await self._db.execute(
                "UPDATE generations SET lease_owner = NULL, lease_until = NULL"
                " WHERE id = ? AND lease_owner = ?", (generation_id, owner))

    # -- downloads ----------------------------------------------------------

    async def set_download(self, generation_id: int, *, state: str, path: str | None = None,
                           done: int | None = None, total: int | None = None,
                           sha256: str | None = None, error: str | None = None) -> Generation:
        async with self._write():
            await self._update(generation_id, download_state=state, download_path=path,
                               download_bytes=done, download_total=total,
                               download_sha256=sha256, download_error=error)
        return await self._require(generation_id)

    async def not_downloaded(self, *, ended_after: str | None = None,
                             ended_before: str | None = None,
                             limit: int = 1000) -> list[Generation]:
        """Finished videos not saved yet (nor expired, refused or set aside), the
        soonest to expire first — optionally only those that ended in a time range."""
        clauses = ["status = 'SUCCEEDED'", "video_url IS NOT NULL", "forgotten_at IS NULL",
                   "download_state NOT IN ('done', 'expired', 'refused', 'trashed')"]
        params: list[Any] = []
        if ended_after is not None:
            clauses.append("end_time > ?")
            params.append(ended_after)
        if ended_before is not None:
            clauses.append("end_time <= ?")
            params.append(ended_before)
        return await self._rows(
            f"SELECT * FROM generations WHERE {' AND '.join(clauses)}"
            " ORDER BY end_time, id LIMIT ?", (*params, limit))

    async def set_download_progress(self, generation_id: int, done: int,
                                    total: int | None) -> None:
        async with self._write():
            await self._update(generation_id, download_bytes=done, download_total=total)

    # -- history: favourites, tags, notes, forgetting ----------------------------

    async def set_favourite(self, generation_id: int, favourite: bool) -> Generation:
        async with self._write():
            await self._update(generation_id, favourite=int(favourite))
        return await self._require(generation_id)

    async def set_note(self, generation_id: int, note: str | None) -> Generation:
        async with self._write():
            await self._update(generation_id, note=(note or "").strip() or None)
        return await self._require(generation_id)

    async def set_tags(self, generation_id: int, tags: Iterable[str]) -> Generation:
        clean = sorted({t.strip() for t in tags if t.strip()})
        async with self._write():
            await self._db.execute("DELETE FROM generation_tags WHERE generation_id = ?",
                                   (generation_id,))
            await self._db.executemany(
                "INSERT INTO generation_tags (generation_id, tag) VALUES (?, ?)",
                [(generation_id, tag) for tag in clean])
            await self._update(generation_id)
        return await self._require(generation_id)

    async def tags_of(self, generation_id: int) -> list[str]:
        rows = await self._fetch(
            "SELECT tag FROM generation_tags WHERE generation_id = ? ORDER BY tag",
            (generation_id,))
        return [row[0] for row in rows]

    async def all_tags(self) -> list[tuple[str, int]]:
        rows = await self._fetch(
            "SELECT tag, COUNT(*) FROM generation_tags JOIN generations ON id = generation_id"
            " WHERE forgotten_at IS NULL GROUP BY tag ORDER BY tag")
        return [(row[0], row[1]) for row in rows]

    async def forget(self, generation_id: int) -> Generation | None:
        """Move a generation to the trash: hidden everywhere, no longer followed, and
        restorable for ``TRASH_DAYS`` (its file is the caller's business)."""
        async with self._write():
            row = await self.get(generation_id)
            if row is None or row.forgotten_at is not None:
                return row
            await self._update(generation_id, forgotten_at=now_iso(), next_poll_at=None,
                               lease_owner=None, lease_until=None)
            await self._event(generation_id, "FORGOTTEN")
        return await self._require(generation_id)

    async def restore(self, generation_id: int) -> Generation | None:
        """Take a generation back out of the trash (and follow it again if it is live)."""
        async with self._write():
            row = await self.get(generation_id)
            if row is None or row.forgotten_at is None:
                return row
            follow = row.task_id is not None and not row.terminal and row.poll_error is None \
                and row.submission in (SUBMISSION_ACCEPTED, SUBMISSION_TRACKED)
            await self._update(generation_id, forgotten_at=None,
                               next_poll_at=now_iso() if follow else row.next_poll_at)
            await self._event(generation_id, "RESTORED")
        return await self._require(generation_id)

    async def purge_trash(self, days: float = TRASH_DAYS) -> list[Generation]:
        """Delete for good what was forgotten more than ``days`` ago; returns those rows
        (their files, if any were set aside, are the caller's business)."""
        cutoff = iso_in(-days * 86400)
        if not await self._scalar("SELECT 1 FROM generations WHERE forgotten_at <= ? LIMIT 1",
                                  (cutoff,)):
            return []
        async with self._write():
            gone = await self._rows("SELECT * FROM generations WHERE forgotten_at <= ?",
                                    (cutoff,))
            await self._db.execute("DELETE FROM generations WHERE forgotten_at <= ?", (cutoff,))
        return gone

    async def forgotten_since(self, stamp: str) -> list[int]:
        rows = await self._fetch(
            "SELECT id FROM generations WHERE forgotten_at >= ?", (stamp,))
        return [row[0] for row in rows]

    # -- history: browsing --------------------------------------------------------

    async def page(self, where: HistoryFilter | None = None, *, sort: str = "submitted",
                   descending: bool = True, limit: int = 200,
                   offset: int = 0) -> list[Generation]:
        clause, params = (where or HistoryFilter()).where()
        # Newest-first pages walk the created_at index and stop after `limit` rows;
        # left alone, SQLite sorts every search match first (70 ms vs 5 ms at 100k).
        source = "generations INDEXED BY generations_created" if sort == "submitted" \
            else "generations"
        return await self._rows(
            f"SELECT * FROM {source} {clause} {order_by(sort, descending)} LIMIT ? OFFSET ?",
            (*params, limit, offset))

    async def matching_ids(self, where: HistoryFilter, ids: Iterable[int]) -> set[int]:
        """Which of these rows a filter admits (for live updates of a filtered view)."""
        wanted = list(ids)
        if not wanted:
            return set()
        clause, params = where.where()
        marks = ", ".join("?" for _ in wanted)
        joiner = "AND" if clause else "WHERE"
        rows = await self._fetch(f"SELECT id FROM generations {clause} {joiner} id IN ({marks})",
                                 (*params, *wanted))
        return {row[0] for row in rows}

    async def count_where(self, where: HistoryFilter | None = None, *,
                          at_most: int | None = None) -> int:
        """How many rows match — or, with ``at_most``, ``at_most + 1`` when there are more
        (a search that matches half the history need not count all of it)."""
        clause, params = (where or HistoryFilter()).where()
        if at_most is None:
            return int(await self._scalar(f"SELECT COUNT(*) FROM generations {clause}",
                                          params))
        return int(await self._scalar(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM generations {clause} LIMIT ?)",
            (*params, at_most + 1)))

    async def counts(self, day_start: str) -> Counts:
        """In flight, finished and failed since ``day_start`` (the user's midnight), not
        downloaded, and the whole history's size — each from an index."""
        live = await self._fetch(
            "SELECT status, COUNT(*) FROM generations WHERE task_id IS NOT NULL AND"
            " forgotten_at IS NULL AND status IN ('PENDING', 'RUNNING', 'SUSPENDED')"
            " GROUP BY status")
        by_status = {row[0]: row[1] for row in live}
        # Literal conditions, and the index named: SQLite uses a partial index only when
        # it can see the query implies the index's condition.
        sending = await self._scalar(
            f"SELECT COUNT(*) FROM generations WHERE submission = '{SUBMISSION_SENDING}'"
            " AND forgotten_at IS NULL")
        today = await self._fetch(
            "SELECT status, COUNT(*) FROM generations INDEXED BY generations_created"
            " WHERE created_at >= ? AND"
            " forgotten_at IS NULL AND end_time >= ? AND status IN ('SUCCEEDED', 'FAILED')"
            " GROUP BY status", (iso_in(-86400, parse_iso(day_start)), day_start))
        ended = {row[0]: row[1] for row in today}
        unsaved = await self._scalar(
            "SELECT COUNT(*) FROM generations INDEXED BY generations_unsaved WHERE"
            " status = 'SUCCEEDED' AND download_state != 'done' AND forgotten_at IS NULL")
        total = await self._scalar("SELECT COUNT(*) FROM generations WHERE forgotten_at IS NULL")
        return Counts(pending=by_status.get("PENDING", 0),
                      running=by_status.get("RUNNING", 0) + by_status.get("SUSPENDED", 0),
                      submitting=int(sending), finished_today=ended.get("SUCCEEDED", 0),
                      failed_today=ended.get("FAILED", 0), not_downloaded=int(unsaved),
                      total=int(total))

    async def iterate(self, where: HistoryFilter | None = None,
                      batch: int = 1000) -> AsyncIterator[Generation]:
        """Every matching row, oldest first, a batch at a time (for export and stats)."""
        clause, params = (where or HistoryFilter()).where()
        last = 0
        joiner = "AND" if clause else "WHERE"
        while True:
            rows = await self._rows(
                f"SELECT * FROM generations {clause} {joiner} id > ? ORDER BY id LIMIT ?",
                (*params, last, batch))
            for row in rows:
                yield row
            if len(rows) < batch:
                return
            last = rows[-1].id

    async def columns(self, names: tuple[str, ...], where: HistoryFilter | None = None
                      ) -> AsyncIterator[tuple[Any, ...]]:
        """Just these columns of every matching row (cheap scans, e.g. for statistics).

        Read in pages by id, each fetched whole, so no read stays open while the
        caller (or anyone else on this connection) writes.
        """
        for name in names:
            if name not in IMPORTABLE:
                raise ValueError(f"{name} is not a column")
        clause, params = (where or HistoryFilter()).where()
        joiner = "AND" if clause else "WHERE"
        last = 0
        while True:
            rows = await self._fetch(
                f"SELECT id, {', '.join(names)} FROM generations {clause} {joiner} id > ?"
                " ORDER BY id LIMIT ?", (*params, last, SCAN_PAGE))
            for row in rows:
                yield tuple(row)[1:]
            if len(rows) < SCAN_PAGE:
                return
            last = rows[-1][0]

    # -- history: moving between machines -------------------------------------

    async def import_record(self, record: dict[str, Any]) -> bool:
        """Insert one exported generation; False if it is already here (by task id)."""
        return await self.import_many([record]) == 1

    async def import_many(self, records: Iterable[dict[str, Any]]) -> int:
        """Import a batch in one transaction; returns how many were new.

        A few statements per batch, not per record: one query finds what is already
        here, rows go in with ``executemany`` (ids assigned here, so tags and status
        history can follow in two more) — import runs near SQLite's own speed.
        """
        batch = list(records)
        async with self._write():
            fresh = await self._not_yet_here(batch)
            if not fresh:
                return 0
            next_id = int(await self._scalar("SELECT COALESCE(MAX(id), 0) FROM generations"))
            by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
            tags: list[tuple[int, str]] = []
            events: list[tuple[int, Any, Any, Any]] = []
            for record in fresh:
                next_id += 1
                columns = tuple(c for c in IMPORTABLE if c in record)
                by_columns.setdefault(columns, []).append(
                    [next_id, *(_to_db(scrub_optional(record[c]) if c in SCRUBBED
                                       else record[c]) for c in columns)])
                tags += [(next_id, t) for t in record.get("tags") or []]
                events += [(next_id, e.get("at"), e.get("status"),
                            scrub_optional(e.get("detail")))
                           for e in record.get("history") or []]
            for columns, values in by_columns.items():
                await self._db.executemany(
                    f"INSERT INTO generations (id, {', '.join(columns)}) VALUES "
                    f"(?, {', '.join('?' for _ in columns)})", values)
            await self._db.executemany(
                "INSERT OR IGNORE INTO generation_tags (generation_id, tag) VALUES (?, ?)", tags)
            await self._db.executemany(
                "INSERT INTO status_events (generation_id, at, status, detail)"
                " VALUES (?, ?, ?, ?)", events)
        return len(fresh)

    async def _not_yet_here(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records of a batch this history does not hold yet (by task id, or for a
        submission that never got one, by creation time and prompt) — once each."""
        ids = [r["task_id"] for r in batch if r.get("task_id")]
        stamps = [r.get("created_at") for r in batch if not r.get("task_id")]
        known_ids: set[Any] = set()
        known_pairs: set[tuple[Any, Any]] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = await self._fetch(
                f"SELECT task_id FROM generations WHERE task_id IN "
                f"({', '.join('?' for _ in chunk)})", chunk)
            known_ids |= {row[0] for row in rows}
        for start in range(0, len(stamps), 500):
            chunk = stamps[start:start + 500]
            rows = await self._fetch(
                f"SELECT created_at, prompt FROM generations WHERE task_id IS NULL AND "
                f"created_at IN ({', '.join('?' for _ in chunk)})", chunk)
            known_pairs |= {(row[0], row[1]) for row in rows}
        fresh = []
        for record in batch:
            task_id = record.get("task_id")
            key = (record.get("created_at"), record.get("prompt"))
            if (task_id in known_ids) if task_id else (key in known_pairs):
                continue
            if task_id:
                known_ids.add(task_id)
            else:
                known_pairs.add(key)
            fresh.append(record)
        return fresh

    # -- reading ------------------------------------------------------------

    async def get(self, generation_id: int) -> Generation | None:
        rows = await self._rows("SELECT * FROM generations WHERE id = ?", (generation_id,))
        return rows[0] if rows else None

    async def get_many(self, generation_ids: Iterable[int]) -> list[Generation]:
        """These rows (those that exist), in id order — a query per 500 ids."""
        wanted = sorted(set(generation_ids))
        found: list[Generation] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            found += await self._rows(
                f"SELECT * FROM generations WHERE id IN ({', '.join('?' for _ in chunk)})"
                " ORDER BY id", chunk)
        return found

    async def matching_all(self, where: HistoryFilter) -> list[int]:
        """The ids of every row a filter admits, on every page."""
        clause, params = where.where()
        rows = await self._fetch(f"SELECT id FROM generations {clause}", params)
        return [row[0] for row in rows]

    async def not_downloaded_matching(self, where: HistoryFilter) -> list[Generation]:
        """Finished videos not saved yet, among the rows a filter admits."""
        clause, params = where.where()
        return await self._rows(
            f"SELECT * FROM generations {clause} AND status = 'SUCCEEDED' AND video_url IS NOT"
            " NULL AND download_state NOT IN ('done', 'expired', 'refused', 'trashed')"
            " ORDER BY end_time, id", params)

    async def ended_since(self, stamp: str) -> list[Generation]:
        """Rows that reached a final status (or were refused) at or after ``stamp``."""
        return await self._rows(
            "SELECT * FROM generations WHERE id IN (SELECT generation_id FROM status_events"
            " WHERE at >= ? AND status IN ('SUCCEEDED', 'FAILED', 'CANCELED', 'UNKNOWN',"
            " 'REJECTED')) AND forgotten_at IS NULL ORDER BY id", (stamp,))

    async def batch(self, batch_id: str) -> BatchSummary | None:
        """Where one batch's tasks are (the trash left out)."""
        rows = await self._fetch(
            "SELECT COUNT(*), SUM(status = 'SUCCEEDED'), SUM(status IN ('FAILED', 'UNKNOWN')"
            f" OR submission IN ('{SUBMISSION_REJECTED}', '{SUBMISSION_ABANDONED}')),"
            " SUM(status = 'CANCELED'), MIN(id) FROM generations WHERE batch_id = ? AND"
            " forgotten_at IS NULL", (batch_id,))
        total, succeeded, failed, canceled, first = rows[0]
        if not total:
            return None
        label = await self._scalar("SELECT prompt FROM generations WHERE id = ?", (first,))
        done = (succeeded or 0) + (failed or 0) + (canceled or 0)
        return BatchSummary(batch_id, str(label), total, succeeded or 0, failed or 0,
                            canceled or 0, total - done)

    async def batch_rows(self, batch_id: str) -> list[Generation]:
        return await self._rows("SELECT * FROM generations WHERE batch_id = ? AND"
                                " forgotten_at IS NULL ORDER BY id", (batch_id,))

    async def last_change(self) -> str | None:
        """When any process last wrote a row (cheap: an index's last entry)."""
        stamp: str | None = await self._scalar("SELECT MAX(updated_at) FROM generations")
        return stamp

    async def get_by_task_id(self, task_id: str) -> Generation | None:
        rows = await self._rows("SELECT * FROM generations WHERE task_id = ?", (task_id,))
        return rows[0] if rows else None

    async def get_by_download_path(self, path: str) -> list[Generation]:
        """Rows that record this file as their download (saved, or being saved)."""
        return await self._rows("SELECT * FROM generations WHERE download_path = ?", (path,))

    async def get_by_sha256(self, sha256: str) -> list[Generation]:
        """Rows whose saved video has this SHA-256 (hex): which generation a file is."""
        return await self._rows("SELECT * FROM generations WHERE download_sha256 = ?",
                                (sha256.lower(),))

    async def find(self, ref: str) -> list[Generation]:
        """Rows matching ``#12``/``12`` (local id), a full task id, or a task-id prefix."""
        ref = ref.strip()
        if ref.lstrip("#").isdigit():
            found = await self.get(int(ref.lstrip("#")))
            if found is not None:
                return [found]
        exact = await self.get_by_task_id(ref)
        if exact is not None:
            return [exact]
        if len(ref) < 4:
            return []
        escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return await self._rows(
            "SELECT * FROM generations WHERE task_id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 5",
            (escaped + "%",))

    async def recent(self, *, statuses: Iterable[str] = (), limit: int = 50, offset: int = 0,
                   query: str | None = None) -> list[Generation]:
        """Newest first; ``query`` searches prompts (see ``storage.history``)."""
        return await self.page(_simple(statuses, query), limit=limit, offset=offset)

    async def count(self, *, statuses: Iterable[str] = (), query: str | None = None) -> int:
        return await self.count_where(_simple(statuses, query))

    async def events(self, generation_id: int) -> list[StatusEvent]:
        rows = await self._fetch(
            "SELECT at, status, detail FROM status_events WHERE generation_id = ? ORDER BY id",
            (generation_id,))
        return [StatusEvent(row[0], row[1], row[2]) for row in rows]

    async def changed_since(self, stamp: str) -> list[Generation]:
        """Rows written (by any process) at or after ``stamp`` — for live views.

        At, not only after: two writes can share a millisecond, and a row seen twice
        costs less than a row missed.
        """
        return await self._rows(
            "SELECT * FROM generations WHERE updated_at >= ? ORDER BY updated_at", (stamp,))

    async def unfinished(self) -> list[Generation]:
        return await self._rows(f"SELECT * FROM generations WHERE {FOLLOWED} ORDER BY id")

    async def task_ids(self) -> set[str]:
        """Every task id this history holds (the trash included: not to be adopted again)."""
        rows = await self._fetch("SELECT task_id FROM generations WHERE task_id IS NOT NULL")
        return {row[0] for row in rows}


# Columns an export carries and an import restores (everything but the local id
# and the poll leases, which belong to the machine that wrote them).
IMPORTABLE = (
    "created_at", "endpoint", "model", "prompt", "size", "duration", "audio", "watermark",
    "seed", "submission", "submission_note", "task_id", "status", "submit_time",
    "scheduled_time", "end_time", "video_url", "orig_prompt", "usage_duration", "usage_size",
    "usage_fps", "usage_sr", "usage_audio", "usage_video_count", "error_code", "error_message",
    "create_request_id", "last_request_id", "polls", "poll_failures", "last_polled_at",
    "next_poll_at", "download_state", "download_path", "download_bytes", "download_total",
    "download_sha256", "download_error", "updated_at", "favourite", "note", "batch_id",
)


def _to_db(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def _simple(statuses: Iterable[str], query: str | None) -> HistoryFilter:
    return HistoryFilter(text=query or "", statuses=tuple(s.upper() for s in statuses))


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            statements.append(text)
            current = []
    if "\n".join(current).strip():
        statements.append("\n".join(current).strip())
    return statements


# SQLite's primary result codes (the low byte of an extended code).
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def _is_busy(exc: sqlite3.Error) -> bool:
    code = _code(exc)
    if code is not None:
        return code in (_BUSY, _LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def _translate(exc: sqlite3.Error, path: Path) -> StoreError:
    """One sentence a user can act on, for a driver error."""
    code, reason = _code(exc), str(exc)
    if code in (_CORRUPT, _NOTADB) or "not a database" in reason or "malformed" in reason:
        return StoreCorrupt(f"{path} is not a pixverse-tui database or is damaged ({reason}); "
                            "move it aside to start a new history")
    if code == _FULL or "disk is full" in reason or (code == _IOERR and disk_is_full(path)):
        return StoreFull(f"{full_disk(path)} (nothing was lost)")
    if code == _READONLY or "readonly" in reason:
        return StoreUnavailable(f"{path} is read-only; make it writable or set "
                                "PIXVERSE_TUI_HOME to a writable folder")
    if code == _CANTOPEN or "unable to open" in reason:
        return StoreUnavailable(f"cannot open {path} ({reason}); check that its folder exists "
                                "and is writable, or set PIXVERSE_TUI_HOME")
    if code == _IOERR:
        return StoreUnavailable(f"could not read or write {path} ({reason})")
    if _is_busy(exc):
        return StoreBusy(f"{path} stayed locked by other processes; try again")
    if isinstance(exc, sqlite3.ProgrammingError):  # closed under us while shutting down
        return StoreUnavailable(f"the database {path} is closed")
    return StoreError(f"the database {path} failed: {reason}")
