"""What every machine using the team database agrees on: who polls an account, how
many requests the account may still send, and which of its tasks no row knows
(``Leases``, ``Budget``, ``ForeignTasks``).

**The poller lease is a row, judged by the server's clock** (``storage.postgres.lease``
and docs/team.md, "Why the poller lease is a row"): one statement takes or renews it
if it is free, expired by ``now()`` on the server, or the caller's — never two holders
— and it runs to the server's ``now() + seconds``.  A session advisory lock was
rejected: after a network cut the server keeps it until TCP keepalive gives up
(hours by default), the cut-off holder cannot see that it lost it, it does not
survive a transaction-pooling proxy, and it has no holder's name for "polled by
alice@studio-2".  The holder's side of the promise — stop polling before the lease
can be taken, by its own monotonic clock — is the engine's (``LeaseKeeper``'s rule:
poll only until ``seconds`` less a margin after *sending* the last renewal the
server confirmed).

**The budget is one token bucket per account**, read and written by one atomic
statement on the server's clock (``clock_timestamp()``, so machines' clocks never
meet): the row's lock orders the reservations of every process on every machine.
An account is a fingerprint of endpoint and key, never the key itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

from storage.clock import iso, iso_in, now_iso
from storage.postgres import lease
from storage.postgres.db import STATEMENT_TIMEOUT, Database
from storage.records import ForeignTask, LeaseState

_LEASE = ("SELECT owner, CASE WHEN until = '-infinity' THEN NULL ELSE until END,"
          " nudged_at, until >= now() FROM poller_leases WHERE account = $1")


def _moment(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


class PostgresLeases:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def hold(self, account: str, owner: str, seconds: float) -> LeaseState:
        """A renewal later than ``seconds`` would be no use: it waits no longer."""
        async with self._db.connection() as conn, asyncio.timeout(max(1.0, seconds)):
            grant = await lease.hold(conn, account, owner, seconds)
        released = grant.until is not None and grant.until.year < 2  # '-infinity'
        # Refused, the row is read in the statement's snapshot: right after another
        # machine took the lease over it may still name us — never say we hold it then.
        holder = grant.holder if grant.mine or grant.holder != owner else None
        return LeaseState(holder, None if released else _moment(grant.until),
                          _moment(grant.nudged_at))

    async def current(self, account: str) -> LeaseState:
        found = await self._db.fetchrow(_LEASE, account)
        if found is None:
            return LeaseState(None, None, None)
        owner, until, nudged, live = found
        return LeaseState(owner if live else None, _moment(until), _moment(nudged))

    async def release(self, account: str, owner: str) -> None:
        async with self._db.connection() as conn, asyncio.timeout(STATEMENT_TIMEOUT):
            await lease.release(conn, account, owner)

    async def nudge(self, account: str) -> None:
        await self._db.execute(
            "INSERT INTO poller_leases AS lease (account, owner, until, nudged_at)"
            " VALUES ($1, '', '-infinity', clock_timestamp()) ON CONFLICT (account) DO UPDATE"
            " SET nudged_at = greatest(clock_timestamp(), lease.nudged_at"
            " + interval '1 millisecond')", account)


class PostgresBudget:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(self, account: str, rate: float, burst: float, count: int = 1) -> float:
        """One statement: the bucket refilled for the time since its last reservation
        (by the server's clock), ``count`` taken, the debt returned — atomically."""
        tokens = await self._db.scalar(
            "INSERT INTO request_budgets AS bucket (account, tokens, stamp)"
            " VALUES ($1, $3::float8 - $4::float8, extract(epoch FROM clock_timestamp()))"
            " ON CONFLICT (account) DO UPDATE SET tokens = least($3::float8, bucket.tokens"
            " + (excluded.stamp - bucket.stamp) * $2::float8) - $4::float8,"
            " stamp = excluded.stamp RETURNING tokens", account, rate, burst, count)
        return max(0.0, -float(tokens) / rate)


class PostgresForeignTasks:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, account: str,
                     tasks: Iterable[tuple[str, str, str | None, str | None]]) -> None:
        seen = now_iso()
        batch = [(t, account, status, model, created, seen)
                 for t, status, model, created in tasks]
        if not batch:
            return
        async with self._db.write() as tx:
            await tx.executemany(
                "INSERT INTO foreign_tasks (task_id, account, status, model, created_at,"
                " seen_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (task_id) DO UPDATE SET"
                " status = excluded.status, seen_at = excluded.seen_at", batch)

    async def recent(self, account: str) -> list[ForeignTask]:
        found = await self._db.fetch(
            "SELECT task_id, status, model, created_at, seen_at FROM foreign_tasks f"
            " WHERE account = $1 AND seen_at >= $2 AND NOT EXISTS (SELECT 1 FROM generations g"
            " WHERE g.task_id = f.task_id) ORDER BY created_at DESC NULLS LAST",
            account, iso_in(-86400))
        return [ForeignTask(*row) for row in found]
