"""One poller per account across every machine: a lease row judged by the server's clock.

The row (``poller_leases``) is taken or renewed by one atomic statement: it
becomes ours if it is free, expired by the *server's* clock, or ours already,
and then runs until the server's ``now() + seconds``.  No machine's clock is
compared with another's.

The store's ``leases`` part (``storage.postgres.coordination``) runs these
statements; the engine's poller applies the holder's rule below by itself
(``tui.engine.following.poller``: ``_may_poll`` and the guard on every attempt),
for every backend.  ``LeaseKeeper`` states the rule on its own, for the tests.

What keeps two pollers apart is the holder's side (``LeaseKeeper``): it polls
only until ``seconds - margin`` after the moment — on its own monotonic clock —
it *sent* the last renewal the server confirmed.  The server ran that statement
after it was sent, so the lease it wrote ends no earlier than ``seconds`` after
the sending, by the server's clock; the holder stops ``margin`` before that.  A
renewal that never arrives, arrives late, or whose answer is lost (a network
cut) moves nothing: the holder stops in time, then the lease expires, then
another machine takes it.  The margin covers the two clocks' rates differing
(NTP slews a clock by at most 0.05 %) and a server clock stepped by less than
it.  Takeover after a kill -9 or a cut: at most ``seconds`` after the last
renewal, plus one retry interval of the machine taking over.

See docs/team.md, "Why the poller lease is a row".
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg

LEASE_SECONDS = 10.0  # how long a lease runs past each renewal, by the server's clock
RENEW_EVERY = 2.5  # how often the holder renews, and others try to take it
MARGIN = 1.5  # the holder stops this long before its lease can be taken
# Takeover after the holder dies or is cut off: at most LEASE_SECONDS + RENEW_EVERY.
TAKEOVER_BOUND = LEASE_SECONDS + RENEW_EVERY

# Take or renew in one statement, and say who holds it either way.  When the row is
# someone else's, the second branch reads it (in the statement's snapshot: after a
# race it may name the previous holder for one round — never "mine" wrongly).
_HOLD = """
WITH taken AS (
    INSERT INTO poller_leases AS lease (account, owner, until)
    VALUES ($1, $2, now() + make_interval(secs => $3))
    ON CONFLICT (account) DO UPDATE SET owner = excluded.owner, until = excluded.until
    WHERE lease.owner = excluded.owner OR lease.until < now()
    RETURNING owner, until, nudged_at
)
SELECT owner, until, nudged_at, true AS mine FROM taken
UNION ALL
SELECT owner, until, nudged_at, false FROM poller_leases
WHERE account = $1 AND NOT EXISTS (SELECT 1 FROM taken)
"""


@dataclass(frozen=True)
class LeaseGrant:
    """What one take-or-renew found: whether it is ours, who holds it, until when (by
    the server's clock — for showing, never for comparing with ours)."""

    mine: bool
    holder: str | None
    until: datetime | None
    nudged_at: datetime | None


async def hold(conn: asyncpg.Connection, account: str, owner: str,
               seconds: float = LEASE_SECONDS) -> LeaseGrant:
    """Take or renew the account's lease if it is free, expired or ours (atomic)."""
    row = await conn.fetchrow(_HOLD, account, owner, seconds)
    if row is None:
        return LeaseGrant(False, None, None, None)
    return LeaseGrant(bool(row["mine"]), row["owner"], row["until"], row["nudged_at"])


async def release(conn: asyncpg.Connection, account: str, owner: str) -> None:
    """Give the lease up at once (a clean exit): the next machine need not wait it out."""
    await conn.execute("UPDATE poller_leases SET until = '-infinity'"
                       " WHERE account = $1 AND owner = $2", account, owner)


@dataclass
class LeaseKeeper:
    """The holder's side: whether it may poll now, by its own monotonic clock only.

    Call ``sending()`` just before each take-or-renew and ``granted()`` with its
    answer; whatever else happens (no answer, an error, a cut), the deadline set by
    the last confirmed renewal stands and runs out.
    """

    seconds: float = LEASE_SECONDS
    margin: float = MARGIN
    deadline: float = -math.inf  # monotonic; polling stops here
    _sent: float = field(default=-math.inf, repr=False)

    def sending(self, now: float | None = None) -> None:
        self._sent = time.monotonic() if now is None else now

    def granted(self, grant: LeaseGrant) -> None:
        if grant.mine:
            self.deadline = max(self.deadline, self._sent + self.seconds - self.margin)
        else:
            self.deadline = -math.inf  # someone else's: stop now

    def may_poll(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.deadline
