"""The team store: one PostgreSQL database shared by every machine, its parts sharing
one small pool of connections (see docs/team.md)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from storage.changes import ChangeFeed
from storage.postgres.bulk import rebuild_dropped
from storage.postgres.connect import connect, masked
from storage.postgres.coordination import PostgresBudget, PostgresForeignTasks, PostgresLeases
from storage.postgres.db import Database, translate
from storage.postgres.downloads import PostgresDownloads
from storage.postgres.feed import NotifyFeed
from storage.postgres.following import PostgresFollowing
from storage.postgres.generations import PostgresGenerations
from storage.postgres.history import PostgresHistory
from storage.postgres.intents import PostgresIntents
from storage.postgres.queue import PostgresQueue
from storage.postgres.schema import MACHINE_SETTING, cjk_trigram_problem, migrate
from storage.postgres.trash import PostgresTrash
from storage.records import Who

if TYPE_CHECKING:
    import asyncpg

# Whether this role may change the history: a viewer's role (SELECT only), a standby
# or a read-only session cannot, and the app then runs as a viewer by itself.
# (has_table_privilege with several privileges is true if ANY is held: one at a time.)
_WRITABLE = ("SELECT " + " AND ".join(
    f"has_table_privilege('{table}', '{privilege}')"
    for table, privileges in (("generations", ("INSERT", "UPDATE", "DELETE")),
                              ("status_events", ("INSERT",)), ("figure_moves", ("INSERT",)))
    for privilege in privileges)
    + " AND has_sequence_privilege('change_seq', 'USAGE')"
    " AND current_setting('transaction_read_only') = 'off'")


async def _closed(conn: asyncpg.Connection) -> None:
    """Close a connection politely if it answers, at once if it does not."""
    try:
        await asyncio.wait_for(conn.close(), 5)
    except Exception:
        conn.terminate()


class PostgresStore:
    """A ``storage.interface.TaskStore`` on a PostgreSQL database (team mode)."""

    def __init__(self, db: Database, feed: NotifyFeed, *,
                 search_problem: str | None = None) -> None:
        self._db = db
        self.generations = PostgresGenerations(db)
        self.intents = PostgresIntents(db)
        self.queue = PostgresQueue(db)
        self.following = PostgresFollowing(db)
        self.downloads = PostgresDownloads(db)
        self.history = PostgresHistory(db)
        self.trash = PostgresTrash(db)
        self.leases = PostgresLeases(db)
        self.budget = PostgresBudget(db)
        self.foreign = PostgresForeignTasks(db)
        self._feed = feed
        self.search_problem = search_problem  # why Chinese searches read every row

    @classmethod
    async def open(cls, url: str, who: Who | None = None) -> PostgresStore:
        """Connect, bring the schema up to date (or refuse a newer one), start listening,
        for ``who`` (default ``Who.here()``); raises ``StoreError`` with a sentence."""
        who = who or Who.here()
        conn = await connect(url)
        try:
            # Downloads an older schema kept without a machine are this one's (v4).
            await conn.execute("SELECT set_config($1, $2, false)", MACHINE_SETTING,
                               who.machine)
            await migrate(conn, masked(url))
            await rebuild_dropped(conn, url)  # the indexes of a bulk load that was killed
            writable = bool(await conn.fetchval(_WRITABLE))
            search_problem = await cjk_trigram_problem(conn)
        except BaseException as exc:
            await _closed(conn)
            error = translate(exc, masked(url)) if isinstance(exc, Exception) else None
            if error is None or error is exc:
                raise
            raise error from None
        db = Database(url, read_only=not writable, who=who)
        db.adopt(conn)  # the pool's first connection: one connect fewer
        feed = NotifyFeed(url)
        await feed.start()
        return cls(db, feed, search_problem=search_problem)

    @property
    def location(self) -> str:
        return self._db.where

    @property
    def who(self) -> Who:
        return self._db.who

    @property
    def shared(self) -> bool:
        """A team database is every machine's: forgetting a row forgets it for all."""
        return True

    @property
    def read_only(self) -> bool:
        return self._db.read_only

    def changes(self) -> ChangeFeed:
        return self._feed.hub.subscribe()

    async def close(self) -> None:
        await self._feed.close()
        await self._db.close()

    async def __aenter__(self) -> PostgresStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
