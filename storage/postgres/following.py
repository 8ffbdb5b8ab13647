"""Polling: which tasks are due, who polls each, what the service answered
(``Following``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from storage.clock import iso_in, now_iso
from storage.postgres import rows
from storage.postgres.db import Database
from storage.postgres.rows import FOLLOWED, Args
from storage.records import (
    SUBMISSION_TRACKED,
    TERMINAL,
    Generation,
    LiveTask,
    Observation,
    can_advance,
)
from storage.redact import scrub


class PostgresFollowing:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def track(self, *, task_id: str, endpoint: str, model: str, prompt: str,
                    size: str, duration: int, audio: bool) -> Generation:
        """``task_id`` is UNIQUE: two machines adopting one task make one row."""
        existing = await self._db.rows("SELECT * FROM generations WHERE task_id = $1", task_id)
        if existing:
            return existing[0]
        now = now_iso()
        async with self._db.write() as tx:
            generation_id = await tx.scalar(
                "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
                " audio, submission, task_id, next_poll_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $1, $1)"
                " ON CONFLICT (task_id) DO NOTHING RETURNING id",
                now, endpoint, model, prompt, size, duration, audio, SUBMISSION_TRACKED, task_id)
            if generation_id is None:  # another machine adopted it meanwhile
                found = await tx.rows("SELECT * FROM generations WHERE task_id = $1", task_id)
                return found[0]
            await rows.event(tx, generation_id, "TRACKED", f"adopted {task_id}")
            return await rows.require(tx, generation_id)

    async def apply(self, generation_id: int, seen: Observation,
                    next_poll_in: float | None) -> tuple[Generation, bool]:
        async with self._db.write() as tx:
            current = await rows.locked(tx, generation_id)
            values: dict[str, Any] = {
                "polls": current.polls + 1, "poll_failures": 0, "poll_error": None,
                "last_polled_at": now_iso(), "last_request_id": seen.request_id,
                "lease_owner": None, "lease_until": None,
            }
            changed = can_advance(current.status, seen.status)
            if changed:
                values["status"] = seen.status
            if changed or seen.status == current.status:
                values.update({k: v for k, v in seen._asdict().items()
                               if k not in ("status", "request_id") and v is not None})
            final = values.get("status", current.status) in TERMINAL
            values["next_poll_at"] = None if final or next_poll_in is None else iso_in(next_poll_in)
            await rows.update(tx, generation_id, **values)
            if changed:
                await rows.event(tx, generation_id, seen.status,
                                 seen.error_message if seen.status == "FAILED" else None)
            return await rows.require(tx, generation_id), changed

    async def record_poll_failure(self, generation_id: int, reason: str,
                                  next_poll_in: float) -> Generation:
        async with self._db.write() as tx:
            await tx.execute(
                "UPDATE generations SET poll_failures = poll_failures + 1, last_polled_at = $1,"
                " poll_error = $2, next_poll_at = CASE WHEN next_poll_at IS NULL THEN NULL"
                " ELSE $3 END, lease_owner = NULL, lease_until = NULL, updated_at = $1"
                " WHERE id = $4", now_iso(), scrub(reason), iso_in(next_poll_in), generation_id)
            return await rows.require(tx, generation_id)

    async def stop(self, generation_id: int, reason: str) -> Generation:
        async with self._db.write() as tx:
            await rows.update(tx, generation_id, next_poll_at=None, poll_error=reason,
                              lease_owner=None, lease_until=None)
            await rows.event(tx, generation_id, "NOT FOLLOWED", reason)
            return await rows.require(tx, generation_id)

    async def resume(self, generation_id: int) -> Generation:
        async with self._db.write() as tx:
            row = await rows.locked(tx, generation_id)
            if row.task_id is None or row.terminal:
                return row
            await rows.update(tx, generation_id, next_poll_at=now_iso(), poll_error=None,
                              poll_failures=0, lease_owner=None, lease_until=None)
            if row.next_poll_at is None:
                await rows.event(tx, generation_id, "FOLLOWED", "followed again")
            return await rows.require(tx, generation_id)

    async def claim_due(self, owner: str, *, limit: int, lease_seconds: float,
                        include_future: bool = False,
                        endpoints: Sequence[str] | None = None) -> list[Generation]:
        """One statement: the due rows are locked in due order (``FOR UPDATE``) and
        leased.  A second poller meeting a locked row waits for the first to commit,
        then finds it leased and passes over it: never two owners."""
        now = now_iso()
        args = Args()
        where = _followed_at(endpoints, args)
        due = "" if include_future else f" AND next_poll_at <= {args.add(now)}"
        free = (f" AND (lease_until IS NULL OR lease_until < {args.add(now)}"
                f" OR lease_owner = {args.add(owner)})")
        found = await self._db.rows(
            f"UPDATE generations SET lease_owner = {args.add(owner)},"
            f" lease_until = {args.add(iso_in(lease_seconds))} WHERE id IN (SELECT id FROM"
            f" generations WHERE {where}{due}{free} ORDER BY next_poll_at, id"
            f" LIMIT {args.add(limit)} FOR UPDATE) RETURNING *", *args.values)
        return sorted(found, key=lambda row: (row.next_poll_at or "", row.id))

    async def release(self, generation_id: int, owner: str) -> None:
        await self._db.execute(
            "UPDATE generations SET lease_owner = NULL, lease_until = NULL"
            " WHERE id = $1 AND lease_owner = $2", generation_id, owner)

    async def release_all(self, owner: str) -> None:
        await self._db.execute(
            # (followed rows only — their index, not the whole table; a lease matters on
            # a followed row only, as in SQLite's ``release_all``)
            "UPDATE generations SET lease_owner = NULL, lease_until = NULL"
            f" WHERE lease_owner = $1 AND {FOLLOWED}", owner)

    async def poll_now(self, generation_ids: Iterable[int], *, after: float = 0.0) -> None:
        wanted = list(generation_ids)
        if not wanted:
            return
        await self._db.execute(
            f"UPDATE generations SET next_poll_at = $1 WHERE {FOLLOWED}"
            " AND id = ANY($2::bigint[])", iso_in(after), wanted)

    async def live(self, endpoints: Sequence[str] | None = None) -> list[LiveTask]:
        args = Args()
        where = _followed_at(endpoints, args)
        found = await self._db.fetch(
            "SELECT id, task_id, status, created_at, scheduled_time, size, duration,"
            f" next_poll_at FROM generations WHERE {where} ORDER BY created_at, id",
            *args.values)
        return [LiveTask(*row) for row in found]

    async def endpoints(self) -> list[str]:
        found = await self._db.fetch(f"SELECT DISTINCT endpoint FROM generations WHERE {FOLLOWED}")
        return [row[0] for row in found]

    async def unfinished(self) -> list[Generation]:
        return await self._db.rows(f"SELECT * FROM generations WHERE {FOLLOWED} ORDER BY id")


def _followed_at(endpoints: Sequence[str] | None, args: Args) -> str:
    if endpoints is None:
        return FOLLOWED
    return FOLLOWED + f" AND endpoint IN ({args.many(endpoints)})"
