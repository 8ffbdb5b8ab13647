"""The one route by which "something changed" reaches the view — kept in one place so
the store's change feed (``store.changes()``, which the poller already listens to)
replaces it in one commit.

Today three things say a change happened: the poller's ``TaskUpdated`` and this
process's own writes (``StoreChanged``) mark the view stale (``touched``); a
timer asks the store for its last write (``generations.last_change``: one index
lookup, which also sees other processes' writes); and what *ended* is read with
``generations.ended_since`` once a second (``ended``), for the signals.  With the
feed, these three become one subscription.
"""

from __future__ import annotations

from storage import Generation
from storage.clock import iso, utc_now
from storage.records import BatchSummary
from tui.ui.services import Services


class ChangeWatch:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.stale = False  # told of a change the view has not read yet
        self._seen: str | None = None  # the store's last write when the page was read
        self._ended_stamp = iso(utc_now())  # ends before this are history, not news

    def touched(self) -> None:
        """A change this process knows of (a poll, a write of its own)."""
        self.stale = True

    async def reading(self) -> None:
        """The view is about to read the page: what it reads is current up to now."""
        self.stale = False
        self._seen = await self.services.db.generations.last_change()

    async def changed(self) -> bool:
        """Whether anything was written — by any process — since the page was read."""
        return self.stale or await self.services.db.generations.last_change() != self._seen

    async def ended(self) -> tuple[list[Generation], list[BatchSummary]]:
        """Tasks that ended since the last look, and the batches they belong to."""
        store = self.services.db
        stamp = iso(utc_now())
        rows = await store.generations.ended_since(self._ended_stamp)
        self._ended_stamp = stamp
        batches = [summary for batch_id in {r.batch_id for r in rows if r.batch_id}
                   if (summary := await store.intents.batch(batch_id)) is not None]
        return rows, batches
