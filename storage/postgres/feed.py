"""The change feed of a team store: LISTEN/NOTIFY, and a slow safety re-read.

Triggers send one notification per statement that changes what anyone shows, in
the writer's own transaction (schema v2: ``SEQ FLAGS IDS``), so it is delivered at
commit — to every machine listening — or not at all.  Each store listens on a
connection of its own, from the moment it opens: a write committed after
``changes()`` returns is heard, with no gap to cover.  Heard notifications go to the
``ChangeHub``, which merges them for each subscriber.

NOTIFY is best effort: a notification sent while the listening connection is down
is lost for good.  So while anyone listens, every ``SAFETY_EVERY`` seconds the feed
asks the server one cheap question on that connection — the last number
``change_seq`` gave out, no table read — and:

- the question fails or is not answered (a cut, a restart): the connection is
  dropped and made again, with back-off; once listening again, subscribers are told
  ``everything`` (what they missed is unknown);
- the number moved past the last one heard and then stood still for a whole period
  (a notification was lost, or a writer rolled back after taking a number): they are
  told ``everything`` once.

Nobody listening: the connection stays (idle, it costs the server nothing) and no
question is asked.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from storage.changes import EVERYTHING, Change, ChangeHub
from storage.errors import StoreError
from storage.postgres.connect import connect
from storage.postgres.schema import CHANNEL

if TYPE_CHECKING:
    import asyncpg

SAFETY_EVERY = 5.0  # seconds between two safety re-reads while anyone listens
ANSWER_WITHIN = 3.0  # seconds the server has to answer a safety re-read
RECONNECT = (0.5, 10.0)  # back-off between attempts to listen again: first, longest


def parse(payload: str) -> tuple[int, Change]:
    """A notification's ``SEQ FLAGS IDS`` as its number and its change (anything
    unreadable: everything)."""
    try:
        seq, flags, ids = payload.split(" ")
        number = int(seq)
        figures, lease = "f" in flags, "l" in flags
        if ids == "*":
            return number, Change(everything=True, figures=True, lease=True)
        rows = frozenset() if ids == "-" else frozenset(int(i) for i in ids.split(","))
        return number, Change(rows=rows, figures=figures, lease=lease)
    except ValueError:
        return 0, EVERYTHING


class NotifyFeed:
    """Listens for one store's subscribers (the hub)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.hub = ChangeHub(self._wanted)
        self._conn: asyncpg.Connection | None = None
        self._heard = 0  # the highest change number heard
        self._seen: int | None = None  # change_seq's last value at the last re-read
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()  # the listening connection went away

    async def start(self) -> None:
        """Listen now (when the store opens); if the server cannot be reached for that,
        the first subscriber's re-reads keep trying."""
        with contextlib.suppress(StoreError, OSError):
            await self._listen()

    async def close(self) -> None:
        self.hub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)
            if not conn.is_closed():
                conn.terminate()

    async def _listen(self) -> None:
        conn = await connect(self._url)
        try:
            await conn.add_listener(CHANNEL, self._heard_of)
            conn.add_termination_listener(self._terminated)
            self._seen = self._heard = await _last_number(conn)
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn

    def _heard_of(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        number, change = parse(str(payload))
        self._heard = max(self._heard, number)
        self.hub.publish(change)

    def _terminated(self, _conn: object) -> None:
        self._lost.set()

    def _wanted(self) -> None:
        """Someone listens: make sure the safety re-reads run."""
        if self.hub.closed or (self._task is not None and not self._task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the feed's first wait starts it
        self._task = loop.create_task(self._watch(), name="team store change feed")

    async def _watch(self) -> None:
        delay = RECONNECT[0]
        while self.hub.listened:
            if self._conn is None or self._conn.is_closed():
                if await self._listen_again():
                    delay = RECONNECT[0]
                    self.hub.publish(EVERYTHING)  # what was said meanwhile is lost
                    continue
                await asyncio.sleep(delay)
                delay = min(RECONNECT[1], delay * 2)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), SAFETY_EVERY)
            if self._lost.is_set() or not self.hub.listened:
                continue
            await self._safety_read()

    async def _listen_again(self) -> bool:
        self._lost.clear()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
        try:
            await self._listen()
        except (StoreError, OSError):
            return False
        return True

    async def _safety_read(self) -> None:
        assert self._conn is not None
        try:
            number = await asyncio.wait_for(_last_number(self._conn), ANSWER_WITHIN)
        except Exception:  # unanswered or refused: listen again on a new connection
            self._conn.terminate()
            self._lost.set()
            return
        if number > self._heard and number == self._seen:
            self._heard = number  # moved, then still, yet unheard: say it once
            self.hub.publish(EVERYTHING)
        self._seen = number


async def _last_number(conn: asyncpg.Connection) -> int:
    """The last change number given out (0 before the first): one row of the
    sequence, no table read."""
    row = await conn.fetchrow("SELECT last_value, is_called FROM change_seq")
    return int(row[0]) if row is not None and row[1] else 0
