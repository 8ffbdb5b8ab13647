"""The change feed: what changed in the store, whoever wrote it.

A store tells each subscriber which generations were written — by this process or
by any other on the same store — whether the status bar's figures may have moved,
and whether the poller lease moved.  Subscribers re-read what they show; they never
poll the store to find out whether to.

A backend learns of changes its own way (SQLite: a change log and
``PRAGMA data_version``; PostgreSQL: LISTEN/NOTIFY) and publishes them into a
``ChangeHub``; the hub hands each subscriber its own ``ChangeFeed``, in which
bursts merge into one ``Change`` until the subscriber takes it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import NamedTuple

# Beyond this many rows, a Change says "everything" instead: re-reading the view is
# cheaper than looking up thousands of ids (an import, a purge, a long stall).
MAX_ROWS = 2000


class Change(NamedTuple):
    """What moved since the subscriber last took a change (several writes merged)."""

    rows: frozenset[int] = frozenset()  # generation ids written (inserted, updated, deleted)
    everything: bool = False  # which rows is unknown: re-read what you show
    figures: bool = False  # counts and figures may have moved (status, download, trash, …)
    lease: bool = False  # the poller lease moved (holder, release, nudge)

    def __or__(self, other: Change) -> Change:
        everything = self.everything or other.everything
        rows = frozenset() if everything else self.rows | other.rows
        if len(rows) > MAX_ROWS:
            everything, rows = True, frozenset()
        return Change(rows, everything, self.figures or other.figures or everything,
                      self.lease or other.lease or everything)

    def __bool__(self) -> bool:
        return bool(self.rows) or self.everything or self.figures or self.lease


EVERYTHING = Change(everything=True, figures=True, lease=True)


class ChangeFeed:
    """One subscriber's changes: an async iterator of ``Change``, each the merge of
    every change published since the last one was taken.

    Cancel-safe: a subscriber cancelled while it waits loses nothing (the merged
    change waits for its next ``__anext__``).  The subscription lasts while the
    feed is referenced; ``aclose()`` (or dropping it) ends it.  When the store
    closes, iteration ends.
    """

    def __init__(self, wanted: Callable[[], None]) -> None:
        self._pending: Change | None = None
        self._ready = asyncio.Event()
        self._closed = False
        self._wanted = wanted  # starts the backend's listening, if it is not running

    @property
    def ended(self) -> bool:
        return self._closed

    def deliver(self, change: Change) -> None:
        """Called by the hub: merge ``change`` into what waits to be taken."""
        if self._closed or not change:
            return
        self._pending = change if self._pending is None else self._pending | change
        self._ready.set()

    def end(self) -> None:
        """Called by the hub when the store closes: iteration stops."""
        self._closed = True
        self._ready.set()

    def take(self) -> Change | None:
        """What changed since the last take, without waiting (None: nothing)."""
        self._wanted()
        change, self._pending = self._pending, None
        if not self._closed:
            self._ready.clear()
        return change

    def __aiter__(self) -> ChangeFeed:
        return self

    async def __anext__(self) -> Change:
        while True:
            self._wanted()
            if self._pending is not None:
                change, self._pending = self._pending, None
                if not self._closed:
                    self._ready.clear()
                return change
            if self._closed:
                raise StopAsyncIteration
            await self._ready.wait()

    async def aclose(self) -> None:
        """Stop listening (further changes are not kept for this subscriber)."""
        self.end()


class ChangeHub:
    """The subscribers of one store, and the fan-out of what its backend publishes."""

    def __init__(self, wanted: Callable[[], None]) -> None:
        self._feeds: weakref.WeakSet[ChangeFeed] = weakref.WeakSet()
        self._wanted = wanted
        self.closed = False

    def subscribe(self) -> ChangeFeed:
        """A new feed: it sees every change published from now on (at least once)."""
        feed = ChangeFeed(self._wanted)
        if self.closed:
            feed.end()
        else:
            self._feeds.add(feed)
            self._wanted()
        return feed

    @property
    def listened(self) -> bool:
        """Whether anyone still listens (the backend may stop listening when not)."""
        return any(not feed.ended for feed in self._feeds)

    def publish(self, change: Change) -> None:
        for feed in list(self._feeds):
            feed.deliver(change)

    def close(self) -> None:
        self.closed = True
        for feed in list(self._feeds):
            feed.end()
        self._feeds = weakref.WeakSet()
