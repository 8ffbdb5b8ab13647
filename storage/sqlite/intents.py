"""Submissions: intents recorded before a create is sent, their outcomes, batches
(``Intents``)."""

from __future__ import annotations

from collections.abc import Iterable

from storage.clock import iso_in, now_iso, parse_iso, utc_now
from storage.errors import DuplicateTask
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
from storage.sqlite import rows
from storage.sqlite.db import Database

STALE_SENDING_SECONDS = 180  # longer than any create request can take


class SqliteIntents:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, *, endpoint: str, model: str, prompt: str, size: str, duration: int,
        audio: bool = False, watermark: bool = False, seed: int | None = None,
        batch_id: str | None = None,
    ) -> Generation:
        now = now_iso()
        async with self._db.write():
            cursor = await self._db.execute(
                "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
                " audio, watermark, seed, submission, sending_since, lease_owner, updated_at,"
                " batch_id, submitted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, endpoint, model, prompt, size, duration, int(audio), int(watermark), seed,
                 SUBMISSION_SENDING, now, process_tag(), now, batch_id, self._db.who.person))
            generation_id = cursor.lastrowid
            assert generation_id is not None
            await rows.event(self._db, generation_id, "SUBMITTING")
        return await rows.require(self._db, generation_id)

    async def claim(
        self, key: str, *, endpoint: str, model: str, prompt: str, size: str, duration: int,
        audio: bool = False, watermark: bool = False, seed: int | None = None,
        batch_id: str | None = None, tags: Iterable[str] = (), note: str | None = None,
    ) -> tuple[Generation, bool]:
        """The check and the insert (or take-over) share one BEGIN IMMEDIATE transaction,
        and ``intent_key`` is unique: two processes cannot both claim a key."""
        now = now_iso()
        async with self._db.write():
            cursor = await self._db.execute(
                "SELECT id, submission FROM generations WHERE intent_key = ?", (key,))
            found = await cursor.fetchone()
            if found is not None:
                generation_id, submission = found[0], found[1]
                if submission not in (SUBMISSION_REJECTED, SUBMISSION_ABANDONED):
                    claimed = False
                else:
                    await rows.update(
                        self._db, generation_id, submission=SUBMISSION_SENDING,
                        sending_since=now, lease_owner=process_tag(), submission_note=None,
                        error_code=None, error_message=None, submitted_by=self._db.who.person)
                    await rows.event(self._db, generation_id, "SUBMITTING", "sent again: the "
                                     "last attempt created nothing")
                    claimed = True
            else:
                cursor = await self._db.execute(
                    "INSERT INTO generations (created_at, endpoint, model, prompt, size,"
                    " duration, audio, watermark, seed, submission, sending_since, lease_owner,"
                    " updated_at, batch_id, intent_key, note, submitted_by) VALUES (?, ?, ?, ?,"
                    " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (now, endpoint, model, prompt, size, duration, int(audio), int(watermark),
                     seed, SUBMISSION_SENDING, now, process_tag(), now, batch_id, key, note,
                     self._db.who.person))
                generation_id = cursor.lastrowid
                assert generation_id is not None
                await rows.insert_tags(self._db, generation_id, tags)
                await rows.event(self._db, generation_id, "SUBMITTING")
                claimed = True
        return await rows.require(self._db, generation_id), claimed

    async def with_prefix(self, prefix: str) -> dict[str, Generation]:
        found = await self._db.rows(
            "SELECT * FROM generations WHERE intent_key >= ? AND intent_key < ?",
            (prefix, prefix + "\U0010ffff"))
        return {row.intent_key: row for row in found if row.intent_key is not None}

    async def mark_accepted(self, generation_id: int, *, task_id: str, status: str,
                            request_id: str | None, next_poll_in: float) -> Generation:
        async with self._db.write():
            await rows.update(
                self._db, generation_id, submission=SUBMISSION_ACCEPTED, submission_note=None,
                task_id=task_id, status=status, create_request_id=request_id,
                last_request_id=request_id, lease_owner=None, sending_since=None,
                next_poll_at=None if status in TERMINAL else iso_in(next_poll_in))
            await rows.event(self._db, generation_id, status, f"created as {task_id}")
        return await rows.require(self._db, generation_id)

    async def mark_rejected(self, generation_id: int, *, code: str | None, message: str,
                            request_id: str | None) -> Generation:
        async with self._db.write():
            await rows.update(
                self._db, generation_id, submission=SUBMISSION_REJECTED, error_code=code,
                error_message=message, create_request_id=request_id, lease_owner=None,
                sending_since=None)
            await rows.event(self._db, generation_id, "REJECTED", message)
        return await rows.require(self._db, generation_id)

    async def mark_unconfirmed(self, generation_id: int, note: str) -> Generation:
        async with self._db.write():
            await rows.update(self._db, generation_id, submission=SUBMISSION_UNCONFIRMED,
                              submission_note=note, lease_owner=None)
            await rows.event(self._db, generation_id, "UNCONFIRMED", note)
        return await rows.require(self._db, generation_id)

    async def mark_abandoned(self, generation_id: int, note: str) -> Generation:
        async with self._db.write():
            await rows.update(self._db, generation_id, submission=SUBMISSION_ABANDONED,
                              submission_note=note, lease_owner=None, next_poll_at=None)
            await rows.event(self._db, generation_id, "ABANDONED", note)
        return await rows.require(self._db, generation_id)

    async def adopt_for(self, generation_id: int, task_id: str) -> Generation:
        async with self._db.write():
            holder = await self._db.scalar("SELECT id FROM generations WHERE task_id = ?",
                                           (task_id,))
            if holder is not None:
                raise DuplicateTask(f"{task_id} already belongs to #{holder}; a task can "
                                    "belong to one generation only")
            await rows.update(self._db, generation_id, submission=SUBMISSION_ACCEPTED,
                              submission_note=f"found {task_id} through the task list",
                              task_id=task_id, status=None, next_poll_at=now_iso())
            await rows.event(self._db, generation_id, "CONFIRMED",
                             f"found {task_id} in the task list")
        return await rows.require(self._db, generation_id)

    async def sweep_interrupted(self) -> list[Generation]:
        candidates = await self._db.rows(
            "SELECT * FROM generations WHERE submission = ?", (SUBMISSION_SENDING,))
        swept = []
        for row in candidates:
            started = parse_iso(row.sending_since)
            old = started is None or (utc_now() - started).total_seconds() > STALE_SENDING_SECONDS
            if old or not process_alive(row.lease_owner):
                swept.append(await self.mark_unconfirmed(
                    row.id, "the program stopped while the create request was in flight; "
                            "a task may or may not exist"))
        return swept

    async def billable_since(self, stamp: str) -> list[Billable]:
        live = ", ".join(f"'{status}'" for status in sorted(LIVE))
        found = await self._db.fetch(
            "SELECT created_at, status, size, usage_size, duration, usage_duration, audio,"
            " usage_audio FROM generations INDEXED BY generations_created WHERE created_at >= ?"
            f" AND (status = 'SUCCEEDED' OR status IN ({live}) OR submission IN"
            f" ('{SUBMISSION_SENDING}', '{SUBMISSION_UNCONFIRMED}'))", (stamp,))
        return [Billable.of(*row) for row in found]

    async def batch(self, batch_id: str) -> BatchSummary | None:
        found = await self._db.fetch(
            "SELECT COUNT(*), SUM(status = 'SUCCEEDED'), SUM(status IN ('FAILED', 'UNKNOWN')"
            f" OR submission IN ('{SUBMISSION_REJECTED}', '{SUBMISSION_ABANDONED}')),"
            " SUM(status = 'CANCELED'), MIN(id) FROM generations WHERE batch_id = ? AND"
            " forgotten_at IS NULL", (batch_id,))
        total, succeeded, failed, canceled, first = found[0]
        if not total:
            return None
        label = await self._db.scalar("SELECT prompt FROM generations WHERE id = ?", (first,))
        done = (succeeded or 0) + (failed or 0) + (canceled or 0)
        return BatchSummary(batch_id, str(label), total, succeeded or 0, failed or 0,
                            canceled or 0, total - done)

    async def batch_rows(self, batch_id: str) -> list[Generation]:
        return await self._db.rows("SELECT * FROM generations WHERE batch_id = ? AND"
                                   " forgotten_at IS NULL ORDER BY id", (batch_id,))
