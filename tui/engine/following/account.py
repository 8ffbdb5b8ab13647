"""An account, as every process on one database knows it: a fingerprint, and the
request budget all of them share.

DashScope counts queries, list calls and cancels per account (20 per second),
whoever sends them: two dashboards and a ``wait`` must add up to less.  The
budget lives in the store, so it holds across processes; each request first
takes its token there (see ``storage.interface.Budget``).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from storage import StoreError
from storage.interface import Budget, TaskStore
from storage.processes import holder_gone
from tui.dashscope import ApiKey

if TYPE_CHECKING:  # annotations only: a lease's record comes with a lease read
    from storage.records import LeaseState

ACCOUNT_LIMIT = 20.0  # requests per second per account (protocol sheet, "Limits")


def account_id(base_url: str, key: ApiKey) -> str:
    """A stable name for (endpoint, key) that cannot be turned back into the key."""
    material = f"pixverse-tui account\n{base_url.rstrip('/')}\n{key.reveal()}"
    return hashlib.sha256(material.encode()).hexdigest()[:24]


_pollers = itertools.count(1)


def poller_owner(person: str) -> str:
    """Names one poller as the account lease's holder: who runs it (``user@host``, or
    ``[team] name``), then this process and the poller — ``alice@studio-2:4123:1``."""
    return f"{person}:{os.getpid()}:{next(_pollers)}"


def holder_name(owner: str) -> str:
    """Who a lease holder is, as the status bar shows it: ``alice@studio-2`` (an older
    ``host:pid:n`` holder: its host)."""
    return owner.rsplit(":", 2)[0] if owner.count(":") >= 2 else owner


class SharedBudget:
    """``rate`` requests per second for the whole account, across processes.

    The bucket holds a single token: requests leave evenly spaced, so a one-second
    window never sees more than ``rate`` + 1 — and ``rate`` is kept below the
    account's 20.  It is counted in the service's seconds: with a fast simulator
    clock (``time_scale``) the real rate grows with it.
    """

    def __init__(self, budget: Budget, account: str, rate: float, *, time_scale: float = 1.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.budget = budget
        self.account = account
        self.rate = min(rate, ACCOUNT_LIMIT - 1) * time_scale
        self.burst = 1.0
        self._sleep = sleep

    async def take(self) -> None:
        """Wait until this process may send one more request."""
        try:
            wait = await self.budget.take(self.account, self.rate, self.burst)
        except StoreError:
            wait = 1.0 / self.rate  # the database is busy: be slow rather than too fast
        if wait > 0:
            await self._sleep(wait)


async def hold_lease(store: TaskStore, account: str, owner: str,
                     seconds: float) -> LeaseState:
    """Take or renew the account's poller lease — and take it at once from a holder of
    this machine that was killed (kill -9 gives nothing back: its lease would keep every
    other process from polling, and ``wait`` waiting in silence, until it ran out)."""
    lease = await store.leases.hold(account, owner, seconds)
    if lease.holder not in (None, owner) and holder_gone(lease.holder):
        await store.leases.release(account, lease.holder)
        lease = await store.leases.hold(account, owner, seconds)
    return lease
