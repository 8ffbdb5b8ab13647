"""The local queue of a team store (``Queue``): queued rows of ``generations``
(submission 'queued'), their order, holds and pauses (schema v5) — what SQLite's
``storage.sqlite.queue`` does, for every machine of a team at once.

**Taking is serialised per endpoint, by transaction-scoped advisory locks.**  ``take``
must count what is in flight and hand out one item in one atomic step.  Under READ
COMMITTED a row lock alone cannot do that: two machines with four tasks in flight and
a room of five would both count four, lock two different rows (``SKIP LOCKED``) and
send six.  So a take first locks what it counts: one exclusive advisory lock per
endpoint it feeds (the tasks of an account are those made at its endpoints, which is
what ``in_flight`` counts), taken in one order so two takers never wait on each other
in a circle, under a shared lock on the whole queue (a take for every endpoint —
``endpoints`` None — holds that one exclusively instead).  Each count is a statement
run after the lock is granted, so it sees every take committed before (READ COMMITTED
gives each statement a new snapshot), and the lock goes at commit, together with the
row now ``sending``: two machines feeding one account take turns, a few milliseconds
each; feeders of different accounts (endpoints) do not wait for each other.  A
collision of two endpoints' keys only makes them take turns.  Within the lock the next
item is claimed by ``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) AND
submission = 'queued'``: an item that another transaction is changing (a cancel, a
hold) is passed over rather than waited for, and one that stopped being queued is
never sent.  (A direct send, ``Intents.add`` or ``claim``, does not take the lock: it is
a person's own submission, counted by the feeders that come after it.)

**The other writes take turns on one lock for the queue's order** (enqueue, move,
prioritise, hold, cancel, requeue): places are numbered from the smallest or largest
queued one, which two machines must not read at once.  Each of them changes a row only
while it is still queued (``submission = 'queued'`` in the ``UPDATE``, read again after
any row lock it waited for), so an item a feeder has just taken is never cancelled,
held or queued twice.  ``requeue`` relies on ``retry_of`` being UNIQUE as well (and
locks the old row).  Every bulk write is one statement over arrays (``unnest``): 10,000
lines queue in one transaction of a few statements.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from storage.clock import now_iso
from storage.postgres import rows
from storage.postgres.db import Database, Tx
from storage.postgres.rows import Args
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

WHOLE = ""  # the scope of a pause of the whole queue
PRIORITIES = (-9, 9)
FEED_ORDER = "ORDER BY queue_priority DESC, queue_order, id"
QUEUED = f"submission = '{SUBMISSION_QUEUED}' AND forgotten_at IS NULL"
MOVES = ("up", "down", "top", "bottom")
# pg_advisory_xact_lock keys (advisory locks are per database): taking from the queue
# ('pixtake'; shared by takes for some endpoints, exclusive for a take for all), one
# endpoint's takes (the pair 'pxqt', crc32 of the endpoint), the queue's order ('pixqord').
TAKE_LOCK = 0x70697874616B65
ENDPOINT_LOCKS = 0x70787174
ORDER_LOCK = 0x706978716F7264
_LIVE = sorted(LIVE)
_AGAIN = "queued again: the last attempt created nothing"


def endpoint_key(endpoint: str) -> int:
    """An endpoint's advisory lock key: a 32-bit signed number, the same on every
    machine (Python's ``hash`` of a string is not)."""
    return zlib.crc32(endpoint.encode()) - (1 << 31)


class PostgresQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- waiting ---------------------------------------------------------------------

    async def enqueue(self, entries: Sequence[QueueEntry], *, priority: int = 0,
                      batch_id: str | None = None) -> Enqueued:
        priority = _clamp(priority)
        now = now_iso()
        person = self._db.who.person
        async with self._db.write() as tx:
            await _order_lock(tx)
            known_keys = await _keys(tx, [e.key for e in entries if e.key is not None])
            start = order = await _last_order(tx)
            fresh: dict[int, QueueEntry] = {}  # by place
            again: dict[int, int] = {}  # place by row: refused or abandoned before
            seen: set[str] = set()
            known = 0
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
                        again[row_id] = order
                        continue
                order += 1
                fresh[order] = entry
            if order == start:
                return Enqueued((), known)
            placed: dict[int, int] = {}  # row by place
            if fresh:
                places = sorted(fresh)
                made = [fresh[p] for p in places]
                # A key claimed meanwhile by a direct send (which takes no lock) is left
                # to it: ON CONFLICT inserts nothing, and it counts as known.
                found = await tx.fetch(
                    "INSERT INTO generations (created_at, endpoint, model, prompt, size,"
                    " duration, audio, watermark, seed, submission, updated_at, batch_id,"
                    " intent_key, note, queue_priority, queue_order, submitted_by)"
                    " SELECT $1, e.endpoint, e.model, e.prompt, e.size, e.duration, e.audio,"
                    " e.watermark, e.seed, $2, $1, $3, e.intent_key, e.note, $4, e.place, $5"
                    " FROM unnest($6::text[], $7::text[], $8::text[], $9::text[],"
                    " $10::bigint[], $11::boolean[], $12::boolean[], $13::bigint[],"
                    " $14::text[], $15::text[], $16::bigint[]) AS e (endpoint, model,"
                    " prompt, size, duration, audio, watermark, seed, intent_key, note,"
                    " place) ORDER BY e.place"
                    " ON CONFLICT (intent_key) DO NOTHING RETURNING id, queue_order",
                    now, SUBMISSION_QUEUED, batch_id, priority, person,
                    [e.endpoint for e in made], [e.model for e in made],
                    [e.prompt for e in made], [e.size for e in made],
                    [e.duration for e in made], [bool(e.audio) for e in made],
                    [bool(e.watermark) for e in made], [e.seed for e in made],
                    [e.key for e in made], [e.note for e in made], places)
                placed.update((int(r["queue_order"]), int(r["id"])) for r in found)
                known += len(fresh) - len(found)
            retaken: set[int] = set()
            if again:
                # Only while nothing was created: a line taken over meanwhile is left.
                found = await tx.fetch(
                    "UPDATE generations AS g SET submission = $1, submission_note = NULL,"
                    " error_code = NULL, error_message = NULL, sending_since = NULL,"
                    " lease_owner = NULL, queue_priority = $2, queue_order = a.place,"
                    " queue_held = false, submitted_by = $3, updated_at = $4"
                    " FROM unnest($5::bigint[], $6::bigint[]) AS a (id, place)"
                    " WHERE g.id = a.id AND g.submission = ANY($7::text[])"
                    " RETURNING g.id, g.queue_order, g.forgotten_at IS NULL AS kept",
                    SUBMISSION_QUEUED, priority, person, now, list(again),
                    list(again.values()), [SUBMISSION_REJECTED, SUBMISSION_ABANDONED])
                for r in found:
                    retaken.add(int(r["id"]))
                    if r["kept"]:
                        placed[int(r["queue_order"])] = int(r["id"])
                known += len(again) - len(found)
            ids = [placed[p] for p in sorted(placed)]
            await tx.execute(
                "INSERT INTO status_events (generation_id, at, status, detail)"
                " SELECT e.id, $1, 'QUEUED', e.detail FROM unnest($2::bigint[], $3::text[])"
                " AS e (id, detail)", now, ids,
                [_AGAIN if i in retaken else None for i in ids])
            tags = [(placed[p], tag) for p, entry in fresh.items() if p in placed
                    for tag in sorted({t.strip() for t in entry.tags if t.strip()})]
            if tags:
                await tx.execute(
                    "INSERT INTO generation_tags (generation_id, tag)"
                    " SELECT * FROM unnest($1::bigint[], $2::text[])",
                    [i for i, _ in tags], [t for _, t in tags])
        return Enqueued(tuple(ids), known)

    # -- sending -----------------------------------------------------------------------

    async def take(self, *, capacity: int, endpoints: Sequence[str] | None = None,
                   only: Collection[int] | None = None,
                   paused_too: bool = False) -> Generation | None:
        if only is not None and not only:
            return None
        async with self._db.write() as tx:
            await _take_lock(tx, endpoints)
            if await _in_flight(tx, endpoints) >= capacity:
                return None
            paused = [str(r[0]) for r in await tx.fetch("SELECT scope FROM queue_pauses")]
            if WHOLE in paused and not paused_too:
                return None
            paused = [scope for scope in paused if scope != WHOLE]
            args = Args()
            clauses = [QUEUED, "NOT queue_held"]
            if paused:
                clauses.append(f"(batch_id IS NULL OR batch_id <> ALL({args.add(paused)}"
                               "::text[]))")
            if endpoints is not None:
                clauses.append(f"endpoint = ANY({args.add(list(endpoints))}::text[])")
            if only is not None:
                clauses.append(f"id = ANY({args.add(sorted(only))}::bigint[])")
            now = now_iso()
            generation_id = await tx.scalar(
                f"UPDATE generations SET submission = {args.add(SUBMISSION_SENDING)},"
                f" sending_since = {args.add(now)}, lease_owner = {args.add(process_tag())},"
                f" updated_at = {args.add(now)} WHERE id = (SELECT id FROM generations"
                f" WHERE {' AND '.join(clauses)} {FEED_ORDER} LIMIT 1 FOR UPDATE SKIP LOCKED)"
                f" AND submission = {args.add(SUBMISSION_QUEUED)} RETURNING id",
                *args.values)
            if generation_id is None:
                return None
            await rows.event(tx, generation_id, "SUBMITTING", "sent from the queue")
            return await rows.require(tx, generation_id)

    async def put_back(self, generation_id: int, note: str) -> Generation:
        async with self._db.write() as tx:
            back = await tx.scalar(
                "UPDATE generations SET submission = $1, submission_note = $2,"
                " sending_since = NULL, lease_owner = NULL, updated_at = $3"
                " WHERE id = $4 AND submission = $5 RETURNING id",
                SUBMISSION_QUEUED, scrub_optional(note), now_iso(), generation_id,
                SUBMISSION_SENDING)
            if back is not None:
                await rows.event(tx, generation_id, "QUEUED", note)
            return await rows.require(tx, generation_id)

    async def in_flight(self, endpoints: Sequence[str] | None = None) -> int:
        async with self._db.connection() as conn:
            return await _in_flight(Tx(conn, self._db.who.machine), endpoints)

    async def lineup(self) -> list[QueueItem]:
        found = await self._db.fetch(
            "SELECT id, batch_id, size, duration, audio, queue_priority, queue_held FROM"
            f" generations WHERE {QUEUED} {FEED_ORDER}")
        return [QueueItem(int(r[0]), r[1], str(r[2]), int(r[3]), bool(r[4]), int(r[5] or 0),
                          bool(r[6])) for r in found]

    async def positions(self, generation_ids: Iterable[int]) -> dict[int, int]:
        ids = sorted(set(generation_ids))
        if not ids:
            return {}
        found = await self._db.fetch(
            f"SELECT id, place FROM (SELECT id, row_number() OVER ({FEED_ORDER}) AS place"
            f" FROM generations WHERE {QUEUED}) AS lineup WHERE id = ANY($1::bigint[])", ids)
        return {int(r[0]): int(r[1]) for r in found}

    async def endpoints(self) -> list[str]:
        found = await self._db.fetch(f"SELECT DISTINCT endpoint FROM generations WHERE {QUEUED}")
        return [str(r[0]) for r in found]

    # -- pausing -----------------------------------------------------------------------

    async def pause(self, batch_id: str | None = None, reason: str | None = None) -> None:
        await self._db.execute(
            "INSERT INTO queue_pauses (scope, reason, at) VALUES ($1, $2, $3) ON CONFLICT"
            " (scope) DO UPDATE SET reason = excluded.reason, at = excluded.at",
            batch_id or WHOLE, scrub_optional(reason), now_iso())

    async def resume(self, batch_id: str | None = None) -> None:
        await self._db.execute("DELETE FROM queue_pauses WHERE scope = $1", batch_id or WHOLE)

    async def pauses(self) -> list[QueuePause]:
        found = await self._db.fetch("SELECT scope, reason, at FROM queue_pauses"
                                     " ORDER BY scope <> '', at, scope")
        return [QueuePause(r[0] or None, r[1], str(r[2])) for r in found]

    # -- ordering ----------------------------------------------------------------------

    async def hold(self, generation_ids: Iterable[int], held: bool) -> int:
        async with self._db.write() as tx:
            await _order_lock(tx)
            found = await tx.fetch(
                f"UPDATE generations SET queue_held = $1, updated_at = $2 WHERE {QUEUED}"
                " AND id = ANY($3::bigint[]) RETURNING id", held, now_iso(),
                sorted(set(generation_ids)))
        return len(found)

    async def move(self, generation_ids: Iterable[int], to: str) -> int:
        if to not in MOVES:
            raise ValueError(f"move to {to!r}: use one of {', '.join(MOVES)}")
        async with self._db.write() as tx:
            await _order_lock(tx)
            found = await _queued(tx, generation_ids)
            if not found:
                return 0
            if to in ("top", "bottom"):
                top = to == "top"
                priority = int(await tx.scalar(
                    f"SELECT {'max' if top else 'min'}(queue_priority) FROM generations"
                    f" WHERE {QUEUED}"))
                edge = int(await tx.scalar(
                    f"SELECT {'min' if top else 'max'}(queue_order) FROM generations WHERE"
                    f" {QUEUED} AND queue_priority = $1", priority))
                first = edge - len(found) if top else edge + 1
                await _set_places(tx, [(generation_id, priority, first + place)
                                       for place, (generation_id, _, _) in enumerate(found)])
                return len(found)
            moving = {generation_id for generation_id, _, _ in found}
            up = to == "up"
            moved = 0
            for generation_id, _, _ in (found if up else reversed(found)):
                here = await tx.fetchrow(
                    "SELECT queue_priority, queue_order FROM generations WHERE id = $1",
                    generation_id)
                assert here is not None
                priority, order = int(here[0] or 0), int(here[1] or 0)
                before = ("queue_priority > $1 OR (queue_priority = $1 AND queue_order < $2)"
                          if up else
                          "queue_priority < $1 OR (queue_priority = $1 AND queue_order > $2)")
                turn = "ORDER BY queue_priority, queue_order DESC, id DESC" if up \
                    else FEED_ORDER
                neighbour = await tx.fetchrow(
                    f"SELECT id, queue_priority, queue_order FROM generations WHERE {QUEUED}"
                    f" AND ({before}) {turn} LIMIT 1", priority, order)
                if neighbour is None or int(neighbour[0]) in moving:
                    continue
                other, other_priority, other_order = (int(v or 0) for v in neighbour)
                if other_priority == priority:  # they trade places
                    places = [(generation_id, priority, other_order), (other, priority, order)]
                else:  # it joins the other's priority, next to it; the other keeps its own
                    places = [(generation_id, other_priority, other_order),
                              (other, other_priority, other_order + (1 if up else -1))]
                await _set_places(tx, places)
                moved += 1
        return moved

    async def prioritise(self, generation_ids: Iterable[int], *, priority: int | None = None,
                         by: int = 0) -> int:
        low, high = PRIORITIES
        async with self._db.write() as tx:
            await _order_lock(tx)
            found = await tx.fetch(
                "UPDATE generations AS g SET queue_priority = w.wanted, updated_at = $1"
                " FROM (SELECT id, greatest($2::bigint, least($3::bigint,"
                " coalesce($4::bigint, coalesce(queue_priority, 0) + $5::bigint))) AS wanted"
                f" FROM generations WHERE {QUEUED} AND id = ANY($6::bigint[])) AS w"
                " WHERE g.id = w.id AND coalesce(g.queue_priority, 0) <> w.wanted"
                f" AND g.submission = '{SUBMISSION_QUEUED}' RETURNING g.id",
                now_iso(), low, high, None if priority is None else int(priority), int(by),
                sorted(set(generation_ids)))
        return len(found)

    # -- leaving and coming back ---------------------------------------------------------

    async def cancel(self, generation_ids: Iterable[int]) -> list[Generation]:
        note = "taken off the queue before it was sent: nothing was created, nothing billed"
        now = now_iso()
        async with self._db.write() as tx:
            await _order_lock(tx)
            found = await tx.fetch(
                "UPDATE generations SET submission = $1, submission_note = $2,"
                f" lease_owner = NULL, queue_held = false, updated_at = $3 WHERE {QUEUED}"
                " AND id = ANY($4::bigint[]) RETURNING id", SUBMISSION_ABANDONED, note, now,
                sorted(set(generation_ids)))
            if not found:
                return []
            ids = sorted(int(r[0]) for r in found)
            await tx.execute(
                "INSERT INTO status_events (generation_id, at, status, detail)"
                " SELECT unnest($1::bigint[]), $2, 'ABANDONED', $3", ids, now, note)
            return await tx.rows("SELECT * FROM generations WHERE id = ANY($1::bigint[])"
                                 " ORDER BY id", ids)

    async def requeue(self, generation_id: int, *, retry: bool,
                      priority: int | None = None) -> Generation | None:
        async with self._db.write() as tx:
            await _order_lock(tx)
            found = await tx.rows("SELECT * FROM generations WHERE id = $1 FOR UPDATE",
                                  generation_id)
            old = found[0] if found else None
            if old is None or not (old.status in ("CANCELED", "FAILED") or (
                    old.status is None and old.submission == SUBMISSION_REJECTED)):
                return None
            if await tx.scalar("SELECT id FROM generations WHERE retry_of = $1",
                               generation_id) is not None:
                return None
            place = _clamp(priority if priority is not None else old.queue_priority or 0)
            first = int(await tx.scalar(
                f"SELECT coalesce(min(queue_order), 1) FROM generations WHERE {QUEUED}"
                " AND queue_priority = $1", place))
            if old.intent_key is not None:  # the batch line's key goes with the new row
                await rows.update(tx, generation_id, intent_key=None)
            now = now_iso()
            new_id = int(await tx.scalar(
                "INSERT INTO generations (created_at, endpoint, model, prompt, size, duration,"
                " audio, watermark, seed, submission, updated_at, batch_id, intent_key, note,"
                " queue_priority, queue_order, retries, retry_of, submitted_by) VALUES ($1,"
                " $2, $3, $4, $5, $6, $7, $8, $9, $10, $1, $11, $12, $13, $14, $15, $16, $17,"
                " $18) RETURNING id",
                now, old.endpoint, old.model, old.prompt, old.size, old.duration, old.audio,
                old.watermark, old.seed, SUBMISSION_QUEUED, old.batch_id, old.intent_key,
                old.note, place, first - 1, old.retries + (1 if retry else 0), generation_id,
                old.submitted_by))
            await tx.execute(
                "INSERT INTO generation_tags (generation_id, tag) SELECT $1, tag FROM"
                " generation_tags WHERE generation_id = $2", new_id, generation_id)
            why = (f"{old.display_status}"
                   + (f": {old.error_code}" if old.error_code else "")
                   + (f", retry {old.retries + 1}" if retry else ""))
            await rows.event(tx, new_id, "QUEUED", f"queued again for #{generation_id}"
                             f" ({why})")
            return await rows.require(tx, new_id)

    async def retryable(self, *, codes: Sequence[str], max_retries: int, since: str,
                        limit: int = 100) -> list[Generation]:
        return await self._db.rows(
            "SELECT * FROM generations AS failed WHERE status = 'FAILED' AND updated_at >= $1"
            " AND queue_order IS NOT NULL AND forgotten_at IS NULL AND retries < $2 AND"
            " (error_code = ANY($3::text[]) OR error_code IS NULL) AND NOT EXISTS (SELECT 1"
            " FROM generations AS again WHERE again.retry_of = failed.id) ORDER BY id"
            " LIMIT $4", since, max_retries, list(codes), limit)


# -- inside a transaction ----------------------------------------------------------------

async def _take_lock(tx: Tx, endpoints: Sequence[str] | None) -> None:
    """Take turns with every other take that counts the same tasks (see the module's
    docstring): the endpoints' locks in one order, under the queue's shared lock."""
    if endpoints is None:
        await tx.execute("SELECT pg_advisory_xact_lock($1)", TAKE_LOCK)
        return
    await tx.execute("SELECT pg_advisory_xact_lock_shared($1)", TAKE_LOCK)
    for key in sorted({endpoint_key(e) for e in endpoints}):
        await tx.execute("SELECT pg_advisory_xact_lock($1::int, $2::int)", ENDPOINT_LOCKS,
                         key)


async def _order_lock(tx: Tx) -> None:
    await tx.execute("SELECT pg_advisory_xact_lock($1)", ORDER_LOCK)


async def _in_flight(tx: Tx, endpoints: Sequence[str] | None) -> int:
    at = "" if endpoints is None else " AND endpoint = ANY($2::text[])"
    params: list[Any] = [_LIVE] + ([] if endpoints is None else [list(endpoints)])
    found = await tx.scalar(
        f"SELECT (SELECT count(*) FROM generations WHERE submission = '{SUBMISSION_SENDING}'"
        f"{at}) + (SELECT count(*) FROM generations WHERE task_id IS NOT NULL AND"
        " forgotten_at IS NULL AND next_poll_at IS NOT NULL AND (status = ANY($1::text[])"
        f" OR status IS NULL){at})", *params)
    return int(found)


async def _keys(tx: Tx, keys: list[str]) -> dict[str, tuple[int, str]]:
    if not keys:
        return {}
    found = await tx.fetch("SELECT intent_key, id, submission FROM generations"
                           " WHERE intent_key = ANY($1::text[])", keys)
    return {str(r[0]): (int(r[1]), str(r[2])) for r in found}


async def _last_order(tx: Tx) -> int:
    """The place behind every queued item (places are only compared among them)."""
    return int(await tx.scalar(
        f"SELECT coalesce(max(queue_order), 0) FROM generations WHERE {QUEUED}"))


async def _queued(tx: Tx, generation_ids: Iterable[int]) -> list[tuple[int, int, int]]:
    """(id, priority, order) of the queued ones among these ids, in feed order."""
    found = await tx.fetch(
        f"SELECT id, queue_priority, queue_order FROM generations WHERE {QUEUED} AND"
        f" id = ANY($1::bigint[]) {FEED_ORDER}", sorted(set(generation_ids)))
    return [(int(r[0]), int(r[1] or 0), int(r[2] or 0)) for r in found]


async def _set_places(tx: Tx, places: list[tuple[int, int, int]]) -> None:
    """Give rows these (id, priority, order) places, in one statement."""
    await tx.execute(
        "UPDATE generations AS g SET queue_priority = p.priority, queue_order = p.place,"
        " updated_at = $1 FROM unnest($2::bigint[], $3::bigint[], $4::bigint[])"
        " AS p (id, priority, place) WHERE g.id = p.id", now_iso(),
        [i for i, _, _ in places], [p for _, p, _ in places], [o for _, _, o in places])


def _clamp(priority: int) -> int:
    low, high = PRIORITIES
    return max(low, min(high, int(priority)))
