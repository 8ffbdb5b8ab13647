"""The embedded store: one SQLite file, its parts sharing one connection."""

from __future__ import annotations

import os
from pathlib import Path

from storage.changes import ChangeFeed
from storage.records import Who
from storage.sqlite.coordination import SqliteBudget, SqliteForeignTasks, SqliteLeases
from storage.sqlite.db import Contention, Database
from storage.sqlite.downloads import SqliteDownloads
from storage.sqlite.feed import LogFeed
from storage.sqlite.following import SqliteFollowing
from storage.sqlite.generations import SqliteGenerations
from storage.sqlite.history import SqliteHistory
from storage.sqlite.intents import SqliteIntents
from storage.sqlite.queue import SqliteQueue
from storage.sqlite.trash import SqliteTrash


class SqliteStore:
    """A ``storage.interface.TaskStore`` on a SQLite file (WAL; several processes)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.generations = SqliteGenerations(db)
        self.intents = SqliteIntents(db)
        self.queue = SqliteQueue(db)
        self.following = SqliteFollowing(db)
        self.downloads = SqliteDownloads(db)
        self.history = SqliteHistory(db)
        self.trash = SqliteTrash(db)
        self.leases = SqliteLeases(db)
        self.budget = SqliteBudget(db)
        self.foreign = SqliteForeignTasks(db)
        self._feed = LogFeed(db)

    @classmethod
    async def open(cls, path: Path | str, who: Who | None = None) -> SqliteStore:
        """Open (creating or upgrading) the database; raises ``StoreError`` with a sentence."""
        db = await Database.open(Path(path), who)
        return cls(db)

    @property
    def location(self) -> str:
        return str(self._db.path.absolute())

    @property
    def who(self) -> Who:
        return self._db.who

    @property
    def shared(self) -> bool:
        """A SQLite file is one machine's: whoever opens it is that machine."""
        return False

    @property
    def read_only(self) -> bool:
        """The file exists and this user may not write it (it opens for reading)."""
        return self._db.path.exists() and not os.access(self._db.path, os.W_OK)

    @property
    def path(self) -> Path:
        return self._db.path

    @property
    def contention(self) -> Contention:
        """Lock waits of this process (read by bench/contention_bench.py)."""
        return self._db.contention

    @contention.setter
    def contention(self, value: Contention) -> None:
        self._db.contention = value

    def changes(self) -> ChangeFeed:
        return self._feed.hub.subscribe()

    async def close(self) -> None:
        await self._feed.close()
        await self._db.close()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
