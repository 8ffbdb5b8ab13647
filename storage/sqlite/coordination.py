"""What processes sharing one database agree on: who polls an account, how many
requests the account may still send, and which of its tasks no row knows
(``Leases``, ``Budget``, ``ForeignTasks``).

DashScope allows 20 queries and list calls per second per account, whatever
sends them.  So one process at a time holds the account's poller lease (renewed
while it lives, taken over within seconds when it dies), and every process takes
its requests from one token bucket kept here.  An account is a fingerprint of
endpoint and key, never the key itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from storage.clock import iso_in, now_iso
from storage.records import ForeignTask, LeaseState
from storage.sqlite.db import Database


class SqliteLeases:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def hold(self, account: str, owner: str, seconds: float) -> LeaseState:
        now = now_iso()
        # One statement takes or renews it atomically; reading it after, alone, shows
        # whoever holds it then (every few seconds: the cheap way matters).
        await self._db.write_one(
            "INSERT INTO poller_leases (account, owner, until) VALUES (?, ?, ?)"
            " ON CONFLICT(account) DO UPDATE SET owner = excluded.owner,"
            " until = excluded.until WHERE poller_leases.owner = excluded.owner"
            " OR poller_leases.until < ?", (account, owner, iso_in(seconds), now))
        found = await self._db.fetch(
            "SELECT owner, until, nudged_at FROM poller_leases WHERE account = ?",
            (account,))
        return LeaseState(*found[0]) if found else LeaseState(None, None, None)

    async def current(self, account: str) -> LeaseState:
        found = await self._db.fetch(
            "SELECT owner, until, nudged_at FROM poller_leases WHERE account = ?", (account,))
        if not found:
            return LeaseState(None, None, None)
        owner, until, nudged = found[0]
        return LeaseState(owner if until >= now_iso() else None, until, nudged)

    async def release(self, account: str, owner: str) -> None:
        async with self._db.write():
            await self._db.execute(
                "UPDATE poller_leases SET until = '' WHERE account = ? AND owner = ?",
                (account, owner))

    async def nudge(self, account: str) -> None:
        async with self._db.write():
            await self._db.execute(
                "INSERT INTO poller_leases (account, owner, until, nudged_at) VALUES (?, '', '', ?)"
                " ON CONFLICT(account) DO UPDATE SET nudged_at = excluded.nudged_at",
                (account, now_iso()))


class SqliteBudget:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(self, account: str, rate: float, burst: float, count: int = 1) -> float:
        """Read and write in one BEGIN IMMEDIATE transaction: reservations are serial."""
        now = time.time()
        async with self._db.write():
            found = await self._db.fetch(
                "SELECT tokens, stamp FROM request_budgets WHERE account = ?", (account,))
            tokens = burst if not found else min(burst,
                                                 found[0][0] + (now - found[0][1]) * rate)
            tokens -= count
            await self._db.execute(
                "INSERT INTO request_budgets (account, tokens, stamp) VALUES (?, ?, ?)"
                " ON CONFLICT(account) DO UPDATE SET tokens = excluded.tokens,"
                " stamp = excluded.stamp", (account, tokens, now))
        return max(0.0, -tokens / rate)


class SqliteForeignTasks:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, account: str,
                     tasks: Iterable[tuple[str, str, str | None, str | None]]) -> None:
        seen = now_iso()
        batch = [(t, account, status, model, created, seen)
                 for t, status, model, created in tasks]
        if not batch:
            return
        async with self._db.write():
            await self._db.executemany(
                "INSERT INTO foreign_tasks (task_id, account, status, model, created_at,"
                " seen_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(task_id) DO UPDATE SET"
                " status = excluded.status, seen_at = excluded.seen_at", batch)

    async def recent(self, account: str) -> list[ForeignTask]:
        found = await self._db.fetch(
            "SELECT task_id, status, model, created_at, seen_at FROM foreign_tasks"
            " WHERE account = ? AND seen_at >= ? AND task_id NOT IN"
            " (SELECT task_id FROM generations WHERE task_id IS NOT NULL)"
            " ORDER BY created_at DESC", (account, iso_in(-86400)))
        return [ForeignTask(*row) for row in found]
