"""The local queue (``Queue``): queued rows of ``generations`` (submission 'queued'),
their order, holds and pauses (schema v11).

Every read-modify-write is one ``BEGIN IMMEDIATE`` transaction, so ``take`` counts
what is in flight and hands out one item atomically: two processes feeding at once
never both send an item, nor together exceed the capacity.  The SQL is plain (no
SQLite-only syntax beyond what ``storage.sqlite`` uses everywhere), for a second
backend to follow.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from storage.clock import now_iso
from storage.processes import process_tag
from storage.records import (
    LIVE,
    SUBMISSION_ABANDONED,
    SUBMISSION_QUEUED,
    SUBMISSION_REJECTED,
    SUBMISSION_SENDING,
    Enqueued,
    Generation,
    QueueEntry,
    QueueItem,
    QueuePause,
)
from storage.redact import scrub_optional
from storage.sqlite import rows
from storage.sqlite.db import Database

WHOLE = ""  # the scope of a pause of the whole queue
PRIORITIES = (-9, 9)
CHUNK = 500  # ids or keys per IN (…): SQLite allows 32,766 parameters, a server fewer
FEED_ORDER = "ORDER BY queue_priority DESC, queue_order, id"
QUEUED = f"submission = '{SUBMISSION_QUEUED}' AND forgotten_at IS NULL"
_LIVE = ", ".join(f"'{status}'" for status in sorted(LIVE))
MOVES = ("up", "down", "top", "bottom")
# Sent before (after) the item at (priority, order, id) — five parameters: p, p, o, o, id.
_AHEAD = ("(queue_priority > ? OR (queue_priority = ? AND (queue_order < ? OR"
          " (queue_order = ? AND id < ?))))")
_BEHIND = ("(queue_priority < ? OR (queue_priority = ? AND (queue_order > ? OR"
           " (queue_order = ? AND id > ?))))")


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


class SqliteQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- waiting ---------------------------------------------------------------------

    async def enqueue(self, entries: Sequence[QueueEntry], *, priority: int = 0,
                      batch_id: str | None = None) -> Enqueued:
        priority = _clamp(priority)
        now = now_iso()
        async with self._db.write():
            known_keys = await self._keys([e.key for e in entries if e.key is not None])
            start = await self._last_order()
            order = start
            inserts: list[tuple[Any, ...]] = []
            again: list[tuple[int, int]] = []  # (row, order): refused or abandoned before
            seen: set[str] = set()
            known = 0
            kept: list[QueueEntry] = []
            for entry in entries:
                if entry.key is not None:
                    if entry.key in seen:
                        known += 1
                        continue
                    seen.add(entry.key)
                    holder = known_keys.get(entry.key)
                    if holder is not None:
                        row_id, submission = holder
                        if submission not in (SUBMISSION_REJECTED, SUBMISSION_ABANDONED):
                            known += 1
                            continue
                        order += 1
                        again.append((row_id, order))
                        kept.append(entry)
                        continue
                order += 1
                kept.append(entry)
                inserts.append((now, entry.endpoint, entry.model, entry.prompt, entry.size,
                                entry.duration, int(entry.audio), int(entry.watermark),
                                entry.seed, SUBMISSION_QUEUED, now, batch_id, entry.key,
                                entry.note, priority, order, self._db.who.person))
            if inserts:
                await self._db.executemany(
                    "INSERT INTO generations (created_at, endpoint, model, prompt, size,"
                    " duration, audio, watermark, seed, submission, updated_at, batch_id,"
                    " intent_key, note, queue_priority, queue_order, submitted_by) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", inserts)
            for row_id, place in again:
                await rows.update(self._db, row_id, submission=SUBMISSION_QUEUED,
                                  submission_note=None, error_code=None, error_message=None,
                                  sending_since=None, lease_owner=None,
                                  queue_priority=priority, queue_order=place, queue_held=0,
                                  submitted_by=self._db.who.person)
            if order == start:
                return Enqueued((), known)
            found = await self._db.fetch(
                f"SELECT id FROM generations WHERE {QUEUED} AND queue_order > ? AND"
                " queue_order <= ? ORDER BY queue_order", (start, order))
            ids = [int(r[0]) for r in found]
            retaken = {row_id for row_id, _ in again}
            await self._db.executemany(
                "INSERT INTO status_events (generation_id, at, status, detail)"
                " VALUES (?, ?, ?, ?)",
                [(row_id, now, "QUEUED", "queued again: the last attempt created nothing"
                  if row_id in retaken else None) for row_id in ids])
            tags = [(row_id, tag) for row_id, entry in zip(ids, kept, strict=True)
                    for tag in sorted({t.strip() for t in entry.tags if t.strip()})
                    if row_id not in retaken]
            if tags:
                await self._db.executemany(
                    "INSERT INTO generation_tags (generation_id, tag) VALUES (?, ?)", tags)
        return Enqueued(tuple(ids), known)

    async def _keys(self, keys: list[str]) -> dict[str, tuple[int, str]]:
        found: dict[str, tuple[int, str]] = {}
        for chunk in _chunks(keys):
            for row in await self._db.fetch(
                    "SELECT intent_key, id, submission FROM generations WHERE intent_key IN"
                    f" ({_marks(chunk)})", chunk):
                found[row[0]] = (int(row[1]), str(row[2]))
        return found

    async def _last_order(self) -> int:
        """The place behind every queued item (places are only compared among them)."""
        return int(await self._db.scalar(
            f"SELECT COALESCE(MAX(queue_order), 0) FROM generations WHERE {QUEUED}"))

    # -- sending -----------------------------------------------------------------------

    async def take(self, *, capacity: int, endpoints: Sequence[str] | None = None,
                   only: Collection[int] | None = None,
                   paused_too: bool = False) -> Generation | None:
        if only is not None and not only:
            return None
        async with self._db.write():
            if await self._in_flight(endpoints) >= capacity:
                return None
            paused = [row[0] for row in await self._db.fetch("SELECT scope FROM queue_pauses")]
            if WHOLE in paused and not paused_too:
                return None
            paused = [scope for scope in paused if scope != WHOLE]
            clauses, params = [QUEUED, "queue_held = 0"], []
            if paused:
                clauses.append(f"(batch_id IS NULL OR batch_id NOT IN ({_marks(paused)}))")
                params += paused
            if endpoints is not None:
                clauses.append(f"endpoint IN ({_marks(endpoints) or 'NULL'})")
                params += list(endpoints)
            if only is not None:
                wanted = sorted(only)[:CHUNK]
                clauses.append(f"id IN ({_marks(wanted)})")
                params += wanted
            generation_id = await self._db.scalar(
                f"SELECT id FROM generations WHERE {' AND '.join(clauses)} {FEED_ORDER}"
                " LIMIT 1", params)
            if generation_id is None:
                return None
            now = now_iso()
            await rows.update(self._db, generation_id, submission=SUBMISSION_SENDING,
                              sending_since=now, lease_owner=process_tag())
            await rows.event(self._db, generation_id, "SUBMITTING", "sent from the queue")
        return await rows.require(self._db, generation_id)

    async def put_back(self, generation_id: int, note: str) -> Generation:
        async with self._db.write():
            submission = await self._db.scalar(
                "SELECT submission FROM generations WHERE id = ?", (generation_id,))
            if submission == SUBMISSION_SENDING:
                await rows.update(self._db, generation_id, submission=SUBMISSION_QUEUED,
                                  submission_note=note, sending_since=None, lease_owner=None)
                await rows.event(self._db, generation_id, "QUEUED", note)
        return await rows.require(self._db, generation_id)

    async def in_flight(self, endpoints: Sequence[str] | None = None) -> int:
        return await self._in_flight(endpoints)

    async def _in_flight(self, endpoints: Sequence[str] | None) -> int:
        at, params = "", []
        if endpoints is not None:
            at = f" AND endpoint IN ({_marks(endpoints) or 'NULL'})"
            params = list(endpoints)
        sending = await self._db.scalar(
            f"SELECT COUNT(*) FROM generations WHERE submission = '{SUBMISSION_SENDING}'{at}",
            params)
        followed = await self._db.scalar(
            "SELECT COUNT(*) FROM generations WHERE task_id IS NOT NULL AND forgotten_at IS"
            f" NULL AND next_poll_at IS NOT NULL AND (status IN ({_LIVE}) OR status IS NULL)"
            f"{at}", params)
        return int(sending) + int(followed)

    async def lineup(self) -> list[QueueItem]:
        found = await self._db.fetch(
            "SELECT id, batch_id, size, duration, audio, queue_priority, queue_held FROM"
            f" generations WHERE {QUEUED} {FEED_ORDER}")
        return [QueueItem(int(r[0]), r[1], str(r[2]), int(r[3]), bool(r[4]), int(r[5] or 0),
                          bool(r[6])) for r in found]

    async def positions(self, generation_ids: Iterable[int]) -> dict[int, int]:
        """Counted, not numbered: the items before the first of them (an index range),
        then the stretch from the first to the last in feed order — a page of a batch is
        a short stretch, so its places cost a count, not a walk of the whole queue."""
        found = await self._queued(generation_ids)
        if not found:
            return {}
        wanted = {generation_id for generation_id, _, _ in found}
        first_id, first_priority, first_order = found[0]
        last_id, last_priority, last_order = found[-1]
        first = (first_priority, first_priority, first_order, first_order, first_id)
        last = (last_priority, last_priority, last_order, last_order, last_id)
        before = int(await self._db.scalar(
            f"SELECT COUNT(*) FROM generations WHERE {QUEUED} AND {_AHEAD}", first))
        narrow, bounds = "", []  # one priority (a page of a batch): a range of the index
        if first_priority == last_priority:
            narrow = "queue_priority = ? AND queue_order BETWEEN ? AND ? AND "
            bounds = [first_priority, first_order, last_order]
        stretch = await self._db.fetch(
            f"SELECT id FROM generations WHERE {QUEUED} AND {narrow}NOT {_AHEAD} AND NOT"
            f" {_BEHIND} {FEED_ORDER}", [*bounds, *first, *last])
        return {int(r[0]): before + place for place, r in enumerate(stretch, 1)
                if int(r[0]) in wanted}

    async def endpoints(self) -> list[str]:
        found = await self._db.fetch(
            f"SELECT DISTINCT endpoint FROM generations WHERE {QUEUED}")
        return [str(r[0]) for r in found]

    # -- pausing -----------------------------------------------------------------------

    async def pause(self, batch_id: str | None = None, reason: str | None = None) -> None:
        await self._db.write_one(
            "INSERT INTO queue_pauses (scope, reason, at) VALUES (?, ?, ?) ON CONFLICT (scope)"
            " DO UPDATE SET reason = excluded.reason, at = excluded.at",
            (batch_id or WHOLE, scrub_optional(reason), now_iso()))

    async def resume(self, batch_id: str | None = None) -> None:
        await self._db.write_one("DELETE FROM queue_pauses WHERE scope = ?", (batch_id or WHOLE,))

    async def pauses(self) -> list[QueuePause]:
        found = await self._db.fetch("SELECT scope, reason, at FROM queue_pauses"
                                     " ORDER BY scope != '', at, scope")
        return [QueuePause(r[0] or None, r[1], str(r[2])) for r in found]

    # -- ordering ----------------------------------------------------------------------

    async def _queued(self, generation_ids: Iterable[int]) -> list[tuple[int, int, int]]:
        """(id, priority, order) of the queued ones among these ids, in feed order."""
        ids = sorted(set(generation_ids))
        found: list[tuple[int, int, int]] = []
        for chunk in _chunks(ids):
            found += [(int(r[0]), int(r[1] or 0), int(r[2] or 0)) for r in await self._db.fetch(
                f"SELECT id, queue_priority, queue_order FROM generations WHERE {QUEUED} AND"
                f" id IN ({_marks(chunk)})", chunk)]
        return sorted(found, key=lambda r: (-r[1], r[2], r[0]))

    async def _set_place(self, generation_id: int, priority: int, order: int) -> None:
        await rows.update(self._db, generation_id, queue_priority=priority, queue_order=order)

    async def hold(self, generation_ids: Iterable[int], held: bool) -> int:
        async with self._db.write():
            found = await self._queued(generation_ids)
            for generation_id, _, _ in found:
                await rows.update(self._db, generation_id, queue_held=int(held))
        return len(found)

    async def move(self, generation_ids: Iterable[int], to: str) -> int:
        if to not in MOVES:
            raise ValueError(f"move to {to!r}: use one of {', '.join(MOVES)}")
        moved = 0
        async with self._db.write():
            found = await self._queued(generation_ids)
            if not found:
                return 0
            if to in ("top", "bottom"):
                top = to == "top"
                priority = int(await self._db.scalar(
                    f"SELECT {'MAX' if top else 'MIN'}(queue_priority) FROM generations"
                    f" WHERE {QUEUED}"))
                edge = int(await self._db.scalar(
                    f"SELECT {'MIN' if top else 'MAX'}(queue_order) FROM generations WHERE"
                    f" {QUEUED} AND queue_priority = ?", (priority,)))
                first = edge - len(found) if top else edge + 1
                for place, (generation_id, _, _) in enumerate(found):
                    await self._set_place(generation_id, priority, first + place)
                return len(found)
            moving = {generation_id for generation_id, _, _ in found}
            up = to == "up"
            for generation_id, _, _ in (found if up else reversed(found)):
                here = await self._db.fetch(
                    "SELECT queue_priority, queue_order FROM generations WHERE id = ?",
                    (generation_id,))
                priority, order = int(here[0][0] or 0), int(here[0][1] or 0)
                before = ("queue_priority > ? OR (queue_priority = ? AND queue_order < ?)"
                          if up else
                          "queue_priority < ? OR (queue_priority = ? AND queue_order > ?)")
                turn = "ORDER BY queue_priority, queue_order DESC" if up else FEED_ORDER
                neighbour = await self._db.fetch(
                    f"SELECT id, queue_priority, queue_order FROM generations WHERE {QUEUED}"
                    f" AND ({before}) {turn} LIMIT 1", (priority, priority, order))
                if not neighbour or int(neighbour[0][0]) in moving:
                    continue
                other, other_priority, other_order = (int(v or 0) for v in neighbour[0])
                if other_priority == priority:  # they trade places
                    await self._set_place(generation_id, priority, other_order)
                    await self._set_place(other, priority, order)
                else:  # it joins the other's priority, next to it; the other keeps its own
                    await self._set_place(generation_id, other_priority, other_order)
                    await self._set_place(other, other_priority,
                                          other_order + (1 if up else -1))
                moved += 1
        return moved

    async def prioritise(self, generation_ids: Iterable[int], *, priority: int | None = None,
                         by: int = 0) -> int:
        changed = 0
        async with self._db.write():
            for generation_id, current, _ in await self._queued(generation_ids):
                wanted = _clamp(priority if priority is not None else current + by)
                if wanted != current:
                    await rows.update(self._db, generation_id, queue_priority=wanted)
                    changed += 1
        return changed

    # -- leaving and coming back ---------------------------------------------------------

    async def cancel(self, generation_ids: Iterable[int]) -> list[Generation]:
        note = "taken off the queue before it was sent: nothing was created, nothing billed"
        async with self._db.write():
            found = await self._queued(generation_ids)
            for generation_id, _, _ in found:
                await rows.update(self._db, generation_id, submission=SUBMISSION_ABANDONED,
                                  submission_note=note, lease_owner=None, queue_held=0)
                await rows.event(self._db, generation_id, "ABANDONED", note)
        return await self._db.rows(
            f"SELECT * FROM generations WHERE id IN ({_marks(found)}) ORDER BY id",
            [generation_id for generation_id, _, _ in found]) if found else []

    async def requeue(self, generation_id: int, *, retry: bool,
                      priority: int | None = None) -> Generation | None:
        async with self._db.write():
            old = await rows.get(self._db, generation_id)
            if old is None or not (old.status in ("CANCELED", "FAILED") or (
                    old.status is None and old.submission == SUBMISSION_REJECTED)):
                return None
            if await self._db.scalar("SELECT id FROM generations WHERE retry_of = ?",
                                     (generation_id,)) is not None:
                return None
            place = _clamp(priority if priority is not None else old.queue_priority or 0)
            first = int(await self._db.scalar(
                f"SELECT COALESCE(MIN(queue_order), 1) FROM generations WHERE {QUEUED}"
                " AND queue_priority = ?", (place,)))
            if old.intent_key is not None:  # the batch line's key goes with the new row
                await rows.update(self._db, generation_id, intent_key=None)
            now = now_iso()
            cursor = await self._db.execute(
                "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
                " audio, watermark, seed, submission, updated_at, batch_id, intent_key, note,"
                " queue_priority, queue_order, retries, retry_of, submitted_by) VALUES (?, ?,"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, old.endpoint, old.model, old.prompt, old.size, old.duration,
                 int(old.audio), int(old.watermark), old.seed, SUBMISSION_QUEUED, now,
                 old.batch_id, old.intent_key, old.note, place, first - 1,
                 old.retries + (1 if retry else 0), generation_id, old.submitted_by))
            new_id = cursor.lastrowid
            assert new_id is not None
            await self._db.execute(
                "INSERT INTO generation_tags (generation_id, tag) SELECT ?, tag FROM"
                " generation_tags WHERE generation_id = ?", (new_id, generation_id))
            why = (f"{old.display_status}"
                   + (f": {old.error_code}" if old.error_code else "")
                   + (f", retry {old.retries + 1}" if retry else ""))
            await rows.event(self._db, new_id, "QUEUED", f"queued again for #{generation_id}"
                             f" ({why})")
        return await rows.require(self._db, new_id)

    async def retryable(self, *, codes: Sequence[str], max_retries: int, since: str,
                        limit: int = 100) -> list[Generation]:
        coded = f"error_code IN ({_marks(codes)}) OR " if codes else ""
        return await self._db.rows(
            "SELECT * FROM generations AS failed WHERE status = 'FAILED' AND updated_at >= ?"
            " AND queue_order IS NOT NULL AND forgotten_at IS NULL AND retries < ? AND"
            f" ({coded}error_code IS NULL) AND NOT EXISTS (SELECT 1 FROM generations AS again"
            " WHERE again.retry_of = failed.id) ORDER BY id LIMIT ?",
            (since, max_retries, *codes, limit))


def _clamp(priority: int) -> int:
    low, high = PRIORITIES
    return max(low, min(high, int(priority)))
