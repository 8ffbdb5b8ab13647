"""The follower: what happens when tasks end, for whoever watches — the dashboard,
``watch``, ``wait``.

It listens to the store's change feed (so it hears of every end, whichever process
polled it), and for each task that ended while it watched it:

- tells the front end (``Ended``), which prints a line or nothing;
- asks for the video to be saved (``Save``) when ``[downloads] auto`` (or
  ``--download``) is on and this process polls the account — whoever polls
  downloads, so two processes on one database save each video once;
- signals it (``tui.engine.following.signals``: a toast, the bell, a desktop
  notification through OSC 9/777, wrapped for tmux; batches told whole; at most
  one signal a second).

A create that got no clear answer (a lost answer, a sender killed mid-create) leaves
its row UNCONFIRMED: never sent again, stopped until the user settles it.  That is told
too (``Unconfirmed``) — whichever process sent it — so it is never a silent stop.

Now and then it looks for finished videos whose URLs are about to die: it asks for
them to be saved (when it would save them anyway), or tells that they expire
(``Expiring``).

No Textual: the dashboard turns what it is told into messages, ``watch`` into lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import NamedTuple

from storage import Change, ChangeFeed, Generation, StoreError, TaskStore
from storage.clock import now_iso, parse_iso
from storage.records import TERMINAL
from tui.engine.following import rescue
from tui.engine.following.signals import NotifySettings, Signals

LOOK_EVERY = 1.0  # seconds before a read that failed is tried again
RESCUE_EVERY = 600.0  # seconds between looks for videos about to expire
GATHER = 0.2  # seconds a change waits for the rest of its burst (ends are told within 1 s)
LATELY = timedelta(hours=1)  # a row that ended this long before we started is history
ENDED_WORDS = TERMINAL | {"REJECTED"}


class Ended(NamedTuple):
    """A task ended while we watched (or a submission was rejected)."""

    row: Generation


class Save(NamedTuple):
    """Save this finished video now (this process polls, and downloads are on)."""

    row: Generation


class Expiring(NamedTuple):
    """Finished videos not saved whose URLs die soon (nobody here saves them)."""

    rows: tuple[Generation, ...]


class Unconfirmed(NamedTuple):
    """A create got no clear answer while we watched: a task may exist.  The row is
    never sent again; ``resolve`` (u in the dashboard) settles it."""

    row: Generation


class Told(NamedTuple):
    """A signal's words, for a front end that shows toasts."""

    title: str
    message: str


Event = Ended | Save | Expiring | Told | Unconfirmed


def ended(row: Generation) -> bool:
    """Ended for good: a terminal status, or a submission the service refused."""
    return (row.terminal or row.display_status == "REJECTED") and row.forgotten_at is None


def in_doubt(row: Generation) -> bool:
    """A create with no clear answer, not settled yet (and not in the trash)."""
    return row.display_status == "UNCONFIRMED" and row.forgotten_at is None


def _never() -> bool:
    return False


class Follower:
    def __init__(self, store: TaskStore, *, tell: Callable[[Event], None],
                 signals: Signals | None = None, notify: NotifySettings | None = None,
                 write: Callable[[str], None] = lambda _: None,
                 bell: Callable[[], None] = lambda: None,
                 polling: Callable[[], bool] = _never, download: Callable[[], bool] = _never,
                 rescue_every: float | None = RESCUE_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.tell = tell
        self.polling = polling  # whether this process polls the account (and so saves)
        self.download = download  # whether finished videos are saved as they finish
        self.rescue_every = rescue_every  # None: never
        # The signals: given (a front end that made them first), or made here, their
        # toasts told as ``Told``.
        self.signals = signals or Signals(
            notify or NotifySettings(toast=False, title=False),
            toast=lambda title, message: tell(Told(title, message)), write=write, bell=bell,
            clock=clock)
        self.seen: dict[int, str] = {}  # each row's status as last read
        self.since = now_iso()
        self._clock = clock
        self._feed: ChangeFeed | None = None
        self._begun = False  # what was in flight when it began listening has been read

    def listen(self) -> None:
        """Subscribe to the change feed (no read): every end written from now on is heard,
        however late ``begin`` reads what is in flight — a front end listens before its
        first paint and begins after it."""
        if self._feed is None:
            self._feed = self.store.changes()
            self.since = now_iso()
            self._begun = False

    async def begin(self) -> int:
        """Listen, then read what is in flight (so nothing ends unseen); how many."""
        self.listen()
        if not self._begun:
            self._begun = True
            for row in await self.store.following.unfinished():
                self.seen.setdefault(row.id, row.display_status)
        return len(self.seen)

    async def run(self) -> None:
        """Follow until cancelled (or the store closes).  A database error is passed
        over: the change is looked at again."""
        await self.begin()
        assert self._feed is not None
        change: Change | None = None
        next_rescue = 0.0
        try:
            while not self._feed.ended:
                with contextlib.suppress(StoreError):
                    await self.follow(change)
                    change = None
                    if self.rescue_every is not None and self._clock() >= next_rescue:
                        next_rescue = self._clock() + self.rescue_every
                        await self.rescue()
                then = await _next_change(self._feed, self._patience(change, next_rescue))
                if then is not None:
                    await asyncio.sleep(GATHER)  # a burst of writes: one read of its rows
                    then = then | (self._feed.take() or then)
                    change = then if change is None else change | then
        finally:
            await self.stop()

    def _patience(self, failed: Change | None, next_rescue: float) -> float | None:
        """How long to wait for the next change: until a signal held back may be told, or
        the next look for expiring videos, or ``LOOK_EVERY`` to try a failed read again —
        and with none of these, for as long as nothing changes (idle means idle)."""
        waits = [self.signals.due_in(), LOOK_EVERY if failed is not None else None,
                 next_rescue - self._clock() if self.rescue_every is not None else None]
        known = [w for w in waits if w is not None]
        return max(0.0, min(known)) if known else None

    async def stop(self) -> None:
        if self._feed is not None:
            await self._feed.aclose()
            self._feed = None

    async def follow(self, change: Change | None) -> None:
        """What the change feed says changed: tell the ends, then signal (at most once a
        second, so this is also called when nothing changed)."""
        if change:
            news = [row for row in await self._changed_rows(change) if await self._news(row)]
            ends = [row for row in news if ended(row)]
            if ends:
                self._ended(ends)
                await self._batches_of(ends)
            for row in news:
                if in_doubt(row):
                    self.tell(Unconfirmed(row))
        self.signals.flush()

    async def rescue(self) -> None:
        """Videos about to be lost: saved (when this process saves), else told."""
        if self.polling() and self.download():
            for row in await rescue.to_rescue(self.store):
                self.tell(Save(row))
            return
        expiring = await rescue.expiring(self.store)
        if expiring:
            self.tell(Expiring(tuple(expiring)))

    async def _changed_rows(self, change: Change) -> list[Generation]:
        ids: set[int] = set(change.rows)
        if change.everything:  # which is not known: every task in flight, or seen so
            ids |= {i for i, status in self.seen.items() if status not in ENDED_WORDS}
            ids |= {r.id for r in await self.store.following.unfinished()}
        return await self.store.generations.get_many(ids)

    async def _news(self, row: Generation) -> bool:
        """Whether the row just ended, or just became unconfirmed (news to tell)."""
        status = row.display_status
        before = self.seen.get(row.id)
        if before == status:
            return False
        self.seen[row.id] = status
        if not (ended(row) or in_doubt(row)):
            return False
        return before is not None or await self._came_lately(row)

    async def _came_lately(self, row: Generation) -> bool:
        """A row first seen ended (or in doubt): did it come to that while we watched
        (fast tasks do; a lost answer comes with the change that took the row)?"""
        end = parse_iso(row.end_time)
        start = parse_iso(self.since)
        if end is not None and start is not None and end < start - LATELY:
            return False  # old history touched (a note, a tag): not news
        return any(event.at >= self.since and event.status == row.display_status
                   for event in await self.store.generations.events(row.id))

    def _ended(self, rows: list[Generation]) -> None:
        for row in rows:
            self.tell(Ended(row))
            if row.status == "SUCCEEDED" and self.download() and self.polling():
                self.tell(Save(row))

    async def _batches_of(self, rows: list[Generation]) -> None:
        batches = [summary for batch_id in sorted({r.batch_id for r in rows if r.batch_id})
                   if (summary := await self.store.intents.batch(batch_id)) is not None]
        self.signals.ended(rows, batches)


async def _next_change(feed: ChangeFeed, patience: float | None) -> Change | None:
    """What the store says changed next — or None after ``patience`` seconds of quiet
    (None: no limit), or when the store closed."""
    try:  # not ``wait_for``: on 3.11 it can swallow a cancel that races an answer
        async with asyncio.timeout(patience):
            return await anext(feed)
    except (TimeoutError, StopAsyncIteration):
        return None
