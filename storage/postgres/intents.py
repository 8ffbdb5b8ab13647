"""Submissions: intents recorded before a create is sent, their outcomes, batches
(``Intents``).

Never billed twice across machines: ``intent_key`` is UNIQUE, and ``claim`` inserts
with ``ON CONFLICT DO NOTHING`` — of two machines inserting one key at once, the
second waits for the first to commit and then inserts nothing — and takes a refused
line over only under the row's lock.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from storage.clock import iso_in, now_iso, parse_iso, utc_now
from storage.errors import DuplicateTask, StoreBusy
from storage.postgres import rows
from storage.postgres.db import Database
from storage.processes import process_alive, process_tag
from storage.records import (
    LIVE,
    SUBMISSION_ABANDONED,
    SUBMISSION_ACCEPTED,
    SUBMISSION_REJECTED,
    SUBMISSION_SENDING,
    SUBMISSION_UNCONFIRMED,
    TERMINAL,
    BatchSummary,
    Billable,
    Generation,
)

STALE_SENDING_SECONDS = 180  # longer than any create request can take
_INTENT = ("INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
           " audio, watermark, seed, submission, sending_since, lease_owner, updated_at,"
           " batch_id, intent_key, note, submitted_by) VALUES ($1, $2, $3, $4, $5, $6, $7,"
           " $8, $9, $10, $1, $11, $1, $12, $13, $14, $15)")


class PostgresIntents:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, *, endpoint: str, model: str, prompt: str, size: str, duration: int,
        audio: bool = False, watermark: bool = False, seed: int | None = None,
        batch_id: str | None = None,
    ) -> Generation:
        async with self._db.write() as tx:
            generation_id = await tx.scalar(
                _INTENT + " RETURNING id", now_iso(), endpoint, model, prompt, size,
                duration, audio, watermark, seed, SUBMISSION_SENDING, process_tag(),
                batch_id, None, None, self._db.who.person)
            await rows.event(tx, generation_id, "SUBMITTING")
            return await rows.require(tx, generation_id)

    async def claim(
        self, key: str, *, endpoint: str, model: str, prompt: str, size: str, duration: int,
        audio: bool = False, watermark: bool = False, seed: int | None = None,
        batch_id: str | None = None, tags: Iterable[str] = (), note: str | None = None,
    ) -> tuple[Generation, bool]:
        async with self._db.write() as tx:
            generation_id = await tx.scalar(
                _INTENT + " ON CONFLICT (intent_key) DO NOTHING RETURNING id", now_iso(),
                endpoint, model, prompt, size, duration, audio, watermark, seed,
                SUBMISSION_SENDING, process_tag(), batch_id, key, note, self._db.who.person)
            if generation_id is not None:
                await rows.insert_tags(tx, generation_id, tags)
                await rows.event(tx, generation_id, "SUBMITTING")
                return await rows.require(tx, generation_id), True
            found = await tx.rows("SELECT * FROM generations WHERE intent_key = $1"
                                  " FOR UPDATE", key)
            if not found:  # deleted for good between the two statements: try again
                raise StoreBusy(f"the intent {key} changed while it was claimed; try again")
            row = found[0]
            if row.submission not in (SUBMISSION_REJECTED, SUBMISSION_ABANDONED):
                return row, False
            await rows.update(tx, row.id, submission=SUBMISSION_SENDING, sending_since=now_iso(),
                              lease_owner=process_tag(), submission_note=None, error_code=None,
                              error_message=None, submitted_by=self._db.who.person)
            await rows.event(tx, row.id, "SUBMITTING",
                             "sent again: the last attempt created nothing")
            return await rows.require(tx, row.id), True

    async def with_prefix(self, prefix: str) -> dict[str, Generation]:
        found = await self._db.rows(
            "SELECT * FROM generations WHERE intent_key >= $1 AND intent_key < $2",
            prefix, prefix + "\U0010ffff")
        return {row.intent_key: row for row in found if row.intent_key is not None}

    async def mark_accepted(self, generation_id: int, *, task_id: str, status: str,
                            request_id: str | None, next_poll_in: float) -> Generation:
        async with self._db.write() as tx:
            await rows.update(
                tx, generation_id, submission=SUBMISSION_ACCEPTED, submission_note=None,
                task_id=task_id, status=status, create_request_id=request_id,
                last_request_id=request_id, lease_owner=None, sending_since=None,
                next_poll_at=None if status in TERMINAL else iso_in(next_poll_in))
            await rows.event(tx, generation_id, status, f"created as {task_id}")
            return await rows.require(tx, generation_id)

    async def mark_rejected(self, generation_id: int, *, code: str | None, message: str,
                            request_id: str | None) -> Generation:
        async with self._db.write() as tx:
            await rows.update(
                tx, generation_id, submission=SUBMISSION_REJECTED, error_code=code,
                error_message=message, create_request_id=request_id, lease_owner=None,
                sending_since=None)
            await rows.event(tx, generation_id, "REJECTED", message)
            return await rows.require(tx, generation_id)

    async def mark_unconfirmed(self, generation_id: int, note: str) -> Generation:
        async with self._db.write() as tx:
            await rows.update(tx, generation_id, submission=SUBMISSION_UNCONFIRMED,
                              submission_note=note, lease_owner=None)
            await rows.event(tx, generation_id, "UNCONFIRMED", note)
            return await rows.require(tx, generation_id)

    async def mark_abandoned(self, generation_id: int, note: str) -> Generation:
        async with self._db.write() as tx:
            await rows.update(tx, generation_id, submission=SUBMISSION_ABANDONED,
                              submission_note=note, lease_owner=None, next_poll_at=None)
            await rows.event(tx, generation_id, "ABANDONED", note)
            return await rows.require(tx, generation_id)

    async def adopt_for(self, generation_id: int, task_id: str) -> Generation:
        async with self._db.write() as tx:
            holder = await tx.scalar("SELECT id FROM generations WHERE task_id = $1", task_id)
            if holder is None:
                try:
                    async with tx.conn.transaction():  # a savepoint: a race ends here
                        await rows.update(
                            tx, generation_id, submission=SUBMISSION_ACCEPTED,
                            submission_note=f"found {task_id} through the task list",
                            task_id=task_id, status=None, next_poll_at=now_iso())
                except asyncpg.UniqueViolationError:
                    holder = await tx.scalar("SELECT id FROM generations WHERE task_id = $1",
                                             task_id)
            if holder is not None:
                raise DuplicateTask(f"{task_id} already belongs to #{holder}; a task can "
                                    "belong to one generation only")
            await rows.event(tx, generation_id, "CONFIRMED", f"found {task_id} in the task list")
            return await rows.require(tx, generation_id)

    async def sweep_interrupted(self) -> list[Generation]:
        """Each row is looked at again under its lock: two machines sweeping at once
        settle it once."""
        candidates = await self._db.rows(
            "SELECT * FROM generations WHERE submission = $1", SUBMISSION_SENDING)
        swept = []
        for candidate in candidates:
            async with self._db.write() as tx:
                row = await rows.locked(tx, candidate.id)
                if row.submission != SUBMISSION_SENDING:
                    continue
                started = parse_iso(row.sending_since)
                old = started is None or \
                    (utc_now() - started).total_seconds() > STALE_SENDING_SECONDS
                if not (old or not process_alive(row.lease_owner)):
                    continue
                note = ("the program stopped while the create request was in flight; "
                        "a task may or may not exist")
                await rows.update(tx, row.id, submission=SUBMISSION_UNCONFIRMED,
                                  submission_note=note, lease_owner=None)
                await rows.event(tx, row.id, "UNCONFIRMED", note)
                swept.append(await rows.require(tx, row.id))
        return swept

    async def billable_since(self, stamp: str) -> list[Billable]:
        found = await self._db.fetch(
            "SELECT created_at, status, size, usage_size, duration, usage_duration, audio,"
            " usage_audio FROM generations WHERE created_at >= $1 AND (status = 'SUCCEEDED'"
            " OR status = ANY($2::text[]) OR submission = ANY($3::text[]))",
            stamp, sorted(LIVE), [SUBMISSION_SENDING, SUBMISSION_UNCONFIRMED])
        return [Billable.of(*row) for row in found]

    async def batch(self, batch_id: str) -> BatchSummary | None:
        found = await self._db.fetchrow(
            "SELECT count(*), count(*) FILTER (WHERE status = 'SUCCEEDED'),"
            " count(*) FILTER (WHERE status IN ('FAILED', 'UNKNOWN') OR submission IN"
            f" ('{SUBMISSION_REJECTED}', '{SUBMISSION_ABANDONED}')),"
            " count(*) FILTER (WHERE status = 'CANCELED'), min(id) FROM generations"
            " WHERE batch_id = $1 AND forgotten_at IS NULL", batch_id)
        assert found is not None
        total, succeeded, failed, canceled, first = found
        if not total:
            return None
        label = await self._db.scalar("SELECT prompt FROM generations WHERE id = $1", first)
        done = succeeded + failed + canceled
        return BatchSummary(batch_id, str(label), total, succeeded, failed, canceled,
                            total - done)

    async def batch_rows(self, batch_id: str) -> list[Generation]:
        return await self._db.rows("SELECT * FROM generations WHERE batch_id = $1 AND"
                                   " forgotten_at IS NULL ORDER BY id", batch_id)
