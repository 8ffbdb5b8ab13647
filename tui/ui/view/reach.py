"""Whether the database answers, as the dashboard sees it: when a read or a write meets
``StoreUnavailable`` (a file that cannot be opened any more, a team database whose
connection is gone), the status bar says so and the view stops asking, except for one
try now and then — after 1 s, 2 s, 4 s … at most every 30 s.  The first answer ends
it, and the view then reads again everything it shows.  No Textual here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

FIRST_TRY = 1.0  # seconds after the database stopped answering
LAST_TRY = 30.0  # the longest wait between two tries


class Reach:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.reason = ""  # the store's sentence, while it does not answer
        self.down_since: float | None = None
        self.wait = 0.0
        self.next_try = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, reason: str) -> bool:
        """The database did not answer; True when it had been answering (news to tell).

        A try that fails doubles the wait; other failures before the next try (a write
        the user asked for, a worker's read) only keep the reason."""
        now, news = self.clock(), self.down_since is None
        self.reason = reason
        if news:
            self.down_since, self.wait = now, FIRST_TRY
        elif now >= self.next_try:
            self.wait = min(LAST_TRY, self.wait * 2)
        else:
            return False
        self.next_try = now + self.wait
        return news

    def answered(self) -> bool:
        """The database answered; True when it had not been (read everything again)."""
        back = self.down_since is not None
        self.down_since, self.reason, self.wait, self.next_try = None, "", 0.0, 0.0
        return back

    def due(self) -> bool:
        """Whether to ask the database now: always while it answers, else at the next try."""
        return self.down_since is None or self.clock() >= self.next_try

    def describe(self) -> str:
        """The status bar's words: "" while it answers."""
        if self.down_since is None:
            return ""
        left = self.next_try - self.clock()
        retry = f"retrying in {math.ceil(left)} s" if left > 0.5 else "retrying now"
        return f"database unreachable — {retry}"
