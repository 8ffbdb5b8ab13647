"""The one route by which "the store changed" reaches the view: the store's change
feed (``store.changes()``), which reports every write — this process's poller, its
commands, another terminal's ``submit``, a second dashboard — as it is committed.

The history panel listens (``arrival``, in a worker: a burst merges into one
pending change) and its refresh timer re-reads the page when anything arrived
since the page was last read (``changed``).
The view's own changes that the store does not see (marks) ask for a repaint with
``touched``.  Nothing here asks the store whether it changed.
"""

from __future__ import annotations

from storage import Change, ChangeFeed
from tui.ui.services import Services


class ChangeWatch:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.stale = False  # the view changed (marks) and the page was not drawn since
        self.pending: Change | None = None  # what the feed said since the page was read
        self._feed: ChangeFeed | None = None

    def listen(self) -> None:
        """Subscribe (before the first page is read: nothing written after is missed)."""
        if self._feed is None:
            self._feed = self.services.db.changes()

    async def arrival(self) -> bool:
        """Wait for the next change and note it; False once the store closed."""
        if self._feed is None:
            self.listen()
        assert self._feed is not None
        try:
            change = await anext(self._feed)
        except StopAsyncIteration:
            return False
        self.pending = change if self.pending is None else self.pending | change
        return True

    def touched(self) -> None:
        """The view changed in a way the store does not see (marks): draw it again."""
        self.stale = True

    def reading(self) -> None:
        """The view is about to read the page: what it reads is current up to now."""
        self.stale = False
        self.pending = None

    def changed(self) -> bool:
        """Whether anything was written — by any process — since the page was read."""
        return self.stale or self.pending is not None

    async def close(self) -> None:
        if self._feed is not None:
            await self._feed.aclose()
            self._feed = None
