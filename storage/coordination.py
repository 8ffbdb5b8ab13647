"""What processes sharing one database agree on: who polls an account, how many
requests the account may still send, and which of its tasks no row knows.

DashScope allows 20 queries and list calls per second per account, whatever
sends them.  So one process at a time holds the account's poller lease (renewed
while it lives, taken over within seconds when it dies), and every process takes
its requests from one token bucket kept here.  An account is a fingerprint of
endpoint and key, never the key itself.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from storage.clock import iso_in, now_iso


@dataclass(frozen=True)
class LeaseState:
    """Who polls an account: the holder (if any), and when someone last asked it to hurry."""

    holder: str | None
    until: str | None
    nudged_at: str | None

    def held_by(self, owner: str) -> bool:
        return self.holder == owner


@dataclass(frozen=True)
class ForeignTask:
    """A task of the account that no row knows: made by the SDK, the console, a script."""

    task_id: str
    status: str
    model: str | None
    created_at: str | None
    seen_at: str


class CoordinationMixin:
    """Mixed into ``TaskStore``: it provides the transactions and reads used here."""

    _write: Callable[[], AbstractAsyncContextManager[None]]
    _write_one: Callable[..., Awaitable[None]]
    _fetch: Callable[..., Awaitable[list[Any]]]
    _db: Any

    # -- the poller lease -----------------------------------------------------------

    async def hold_poller_lease(self, account: str, owner: str, seconds: float) -> LeaseState:
        """Take or renew the account's poller lease if it is free, expired or ours."""
        now = now_iso()
        # One statement takes or renews it atomically; reading it after, alone, shows
        # whoever holds it then (every few seconds: the cheap way matters).
        await self._write_one(
            "INSERT INTO poller_leases (account, owner, until) VALUES (?, ?, ?)"
            " ON CONFLICT(account) DO UPDATE SET owner = excluded.owner,"
            " until = excluded.until WHERE poller_leases.owner = excluded.owner"
            " OR poller_leases.until < ?", (account, owner, iso_in(seconds), now))
        rows = await self._fetch(
            "SELECT owner, until, nudged_at FROM poller_leases WHERE account = ?",
            (account,))
        return LeaseState(*rows[0]) if rows else LeaseState(None, None, None)

    async def poller_lease(self, account: str) -> LeaseState:
        """The lease as it is now (an expired one counts as free)."""
        rows = await self._fetch(
            "SELECT owner, until, nudged_at FROM poller_leases WHERE account = ?", (account,))
        if not rows:
            return LeaseState(None, None, None)
        owner, until, nudged = rows[0]
        return LeaseState(owner if until >= now_iso() else None, until, nudged)

    async def release_poller_lease(self, account: str, owner: str) -> None:
        async with self._write():
            await self._db.execute(
                "UPDATE poller_leases SET until = '' WHERE account = ? AND owner = ?",
                (account, owner))

    async def nudge_poller(self, account: str) -> None:
        """Ask whoever polls the account to look now (a task was submitted elsewhere)."""
        async with self._write():
            await self._db.execute(
                "INSERT INTO poller_leases (account, owner, until, nudged_at) VALUES (?, '', '', ?)"
                " ON CONFLICT(account) DO UPDATE SET nudged_at = excluded.nudged_at",
                (account, now_iso()))

    # -- the request budget ---------------------------------------------------------

    async def take_requests(self, account: str, rate: float, burst: float,
                            count: int = 1) -> float:
        """Reserve ``count`` requests from the account's bucket; returns how many seconds
        the caller must wait before sending them (0 when the bucket had them).

        A reservation, not a try: the bucket may go below zero, so each caller learns
        its own wait at once and requests leave in order, never above ``rate``.
        """
        now = time.time()
        async with self._write():
            rows = await self._fetch(
                "SELECT tokens, stamp FROM request_budgets WHERE account = ?", (account,))
            tokens = burst if not rows else min(burst, rows[0][0] + (now - rows[0][1]) * rate)
            tokens -= count
            await self._db.execute(
                "INSERT INTO request_budgets (account, tokens, stamp) VALUES (?, ?, ?)"
                " ON CONFLICT(account) DO UPDATE SET tokens = excluded.tokens,"
                " stamp = excluded.stamp", (account, tokens, now))
        return max(0.0, -tokens / rate)

    # -- tasks no row knows --------------------------------------------------------------

    async def record_foreign(self, account: str,
                             tasks: Iterable[tuple[str, str, str | None, str | None]]) -> None:
        """Note tasks the task list showed that no row holds: (task id, status, model,
        created)."""
        seen = now_iso()
        batch = [(t, account, status, model, created, seen)
                 for t, status, model, created in tasks]
        if not batch:
            return
        async with self._write():
            await self._db.executemany(
                "INSERT INTO foreign_tasks (task_id, account, status, model, created_at,"
                " seen_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(task_id) DO UPDATE SET"
                " status = excluded.status, seen_at = excluded.seen_at", batch)

    async def foreign_tasks(self, account: str) -> list[ForeignTask]:
        """Foreign tasks seen in the last 24 hours, newest first (no row holds them)."""
        rows = await self._fetch(
            "SELECT task_id, status, model, created_at, seen_at FROM foreign_tasks"
            " WHERE account = ? AND seen_at >= ? AND task_id NOT IN"
            " (SELECT task_id FROM generations WHERE task_id IS NOT NULL)"
            " ORDER BY created_at DESC", (account, iso_in(-86400)))
        return [ForeignTask(*row) for row in rows]

    async def forget_foreign(self, task_ids: Sequence[str]) -> None:
        if not task_ids:
            return
        async with self._write():
            await self._db.executemany("DELETE FROM foreign_tasks WHERE task_id = ?",
                                       [(t,) for t in task_ids])

