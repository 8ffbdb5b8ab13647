"""Polling: which tasks are due, who polls each, what the service answered
(``Following``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from storage.clock import iso_in, now_iso
from storage.records import (
    SUBMISSION_TRACKED,
    TERMINAL,
    Generation,
    LiveTask,
    Observation,
    can_advance,
)
from storage.redact import scrub
from storage.sqlite import rows
from storage.sqlite.db import Database
from storage.sqlite.rows import FOLLOWED

# The followed rows, through their own index (every query below says ``next_poll_at IS
# NOT NULL``, which it holds): without it the planner read the whole table in the order
# asked for — 0.4–0.5 s each at 1,000,000 finished rows, when the dashboard starts
# following and when it quits.
DUE = "generations INDEXED BY generations_due"


class SqliteFollowing:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def track(self, *, task_id: str, endpoint: str, model: str, prompt: str,
                    size: str, duration: int, audio: bool) -> Generation:
        existing = await self._db.rows("SELECT * FROM generations WHERE task_id = ?",
                                       (task_id,))
        if existing:
            return existing[0]
        now = now_iso()
        async with self._db.write():
            cursor = await self._db.execute(
                "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
                " audio, submission, task_id, next_poll_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, endpoint, model, prompt, size, duration, int(audio), SUBMISSION_TRACKED,
                 task_id, now, now))
            generation_id = cursor.lastrowid
            assert generation_id is not None
            await rows.event(self._db, generation_id, "TRACKED", f"adopted {task_id}")
        return await rows.require(self._db, generation_id)

    async def apply(self, generation_id: int, seen: Observation,
                    next_poll_in: float | None) -> tuple[Generation, bool]:
        async with self._db.write():
            current = await rows.require(self._db, generation_id)
            values: dict[str, Any] = {
                "polls": current.polls + 1, "poll_failures": 0, "poll_error": None,
                "last_polled_at": now_iso(), "last_request_id": seen.request_id,
                "lease_owner": None, "lease_until": None,
            }
            changed = can_advance(current.status, seen.status)
            if changed:
                values["status"] = seen.status
            if changed or seen.status == current.status:
                details = {k: v for k, v in seen._asdict().items()
                           if k not in ("status", "request_id") and v is not None}
                if "usage_audio" in details:
                    details["usage_audio"] = int(details["usage_audio"])
                values.update(details)
            final = values.get("status", current.status) in TERMINAL
            values["next_poll_at"] = None if final or next_poll_in is None else iso_in(next_poll_in)
            await rows.update(self._db, generation_id, **values)
            if changed:
                await rows.event(self._db, generation_id, seen.status,
                                 seen.error_message if seen.status == "FAILED" else None)
        return await rows.require(self._db, generation_id), changed

    async def record_poll_failure(self, generation_id: int, reason: str,
                                  next_poll_in: float) -> Generation:
        async with self._db.write():
            await self._db.execute(
                "UPDATE generations SET poll_failures = poll_failures + 1, last_polled_at = ?,"
                " poll_error = ?, next_poll_at = CASE WHEN next_poll_at IS NULL THEN NULL"
                " ELSE ? END, lease_owner = NULL, lease_until = NULL, updated_at = ?"
                " WHERE id = ?",
                (now_iso(), scrub(reason), iso_in(next_poll_in), now_iso(), generation_id))
        return await rows.require(self._db, generation_id)

    async def stop(self, generation_id: int, reason: str) -> Generation:
        async with self._db.write():
            await rows.update(self._db, generation_id, next_poll_at=None, poll_error=reason,
                              lease_owner=None, lease_until=None)
            await rows.event(self._db, generation_id, "NOT FOLLOWED", reason)
        return await rows.require(self._db, generation_id)

    async def resume(self, generation_id: int) -> Generation:
        async with self._db.write():
            row = await rows.require(self._db, generation_id)
            if row.task_id is None or row.terminal:
                return row
            await rows.update(self._db, generation_id, next_poll_at=now_iso(), poll_error=None,
                              poll_failures=0, lease_owner=None, lease_until=None)
            if row.next_poll_at is None:
                await rows.event(self._db, generation_id, "FOLLOWED", "followed again")
        return await rows.require(self._db, generation_id)

    async def claim_due(self, owner: str, *, limit: int, lease_seconds: float,
                        include_future: bool = False,
                        endpoints: Sequence[str] | None = None) -> list[Generation]:
        """The lease is taken inside BEGIN IMMEDIATE, so two processes never both see a
        task free."""
        now = now_iso()
        where, params = _followed_at(endpoints)
        async with self._db.write():
            found = await self._db.rows(
                f"SELECT * FROM {DUE} WHERE {where}"
                + ("" if include_future else " AND next_poll_at <= ?")
                + " AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)"
                " ORDER BY next_poll_at LIMIT ?",
                (*params, *(() if include_future else (now,)), now, owner, limit))
            if found:  # one statement: the write lock is held for one step, not one per row
                marks = ", ".join("?" for _ in found)
                await self._db.execute(
                    f"UPDATE generations SET lease_owner = ?, lease_until = ? WHERE id IN"
                    f" ({marks})", (owner, iso_in(lease_seconds), *(row.id for row in found)))
        return found

    async def release(self, generation_id: int, owner: str) -> None:
        async with self._db.write():
            await self._db.execute(
                "UPDATE generations SET lease_owner = NULL, lease_until = NULL"
                " WHERE id = ? AND lease_owner = ?", (generation_id, owner))

    async def release_all(self, owner: str) -> None:
        async with self._db.write():
            # (a lease matters on a followed row only: one that stopped being followed
            # lost it then, or loses it when it is followed again — ``resume``)
            await self._db.execute(
                f"UPDATE {DUE} SET lease_owner = NULL, lease_until = NULL"
                f" WHERE lease_owner = ? AND {FOLLOWED}", (owner,))

    async def poll_now(self, generation_ids: Iterable[int], *, after: float = 0.0) -> None:
        wanted = list(generation_ids)
        if not wanted:
            return
        async with self._db.write():
            await self._db.execute(
                f"UPDATE generations SET next_poll_at = ? WHERE {FOLLOWED} AND id IN"
                f" ({', '.join('?' for _ in wanted)})", (iso_in(after), *wanted))

    async def live(self, endpoints: Sequence[str] | None = None) -> list[LiveTask]:
        where, params = _followed_at(endpoints)
        found = await self._db.fetch(
            "SELECT id, task_id, status, created_at, scheduled_time, size, duration,"
            f" next_poll_at FROM {DUE} WHERE {where} ORDER BY created_at, id", params)
        return [LiveTask(*row) for row in found]

    async def endpoints(self) -> list[str]:
        found = await self._db.fetch(f"SELECT DISTINCT endpoint FROM {DUE} WHERE {FOLLOWED}")
        return [row[0] for row in found]

    async def unfinished(self) -> list[Generation]:
        return await self._db.rows(f"SELECT * FROM {DUE} WHERE {FOLLOWED} ORDER BY id")


def _followed_at(endpoints: Sequence[str] | None) -> tuple[str, tuple[Any, ...]]:
    if endpoints is None:
        return FOLLOWED, ()
    marks = ", ".join("?" for _ in endpoints) or "NULL"
    return FOLLOWED + f" AND endpoint IN ({marks})", tuple(endpoints)
