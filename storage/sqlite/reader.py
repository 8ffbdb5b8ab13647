"""The SQLite page reader: ``storage.interface.PageReader`` on the standard library's
sqlite3, read-only (``mode=ro``), in the caller's thread — no event loop, no
aiosqlite, no thread of its own.  It runs the very plans the store runs
(``storage.sqlite.plans``), so a page reads the same rows either way."""

from __future__ import annotations

import os
import sqlite3

from storage.clock import iso_in
from storage.history import HistoryFilter
from storage.records import Generation, Who
from storage.sqlite import plans
from storage.sqlite.faults import translate
from storage.sqlite.schema import SCHEMA_VERSION

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, TypeVar

    T = TypeVar("T")


BUSY_SECONDS = 5.0  # a WAL reader waits only while another process recovers the file
# What a ``file:`` URI leaves as it is (``Path.as_uri``'s: RFC 3986's unreserved and "/").
_URI_PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~/")


def run_now(connection: sqlite3.Connection, plan: plans.Plan[T]) -> T:
    """A plan's queries, each fetched whole, in turn; its answer."""
    try:
        query = next(plan)
        while True:
            query = plan.send(connection.execute(*query).fetchall())
    except StopIteration as done:
        answer: T = done.value
        return answer


def read_only_uri(path: str | Path) -> str:
    """The ``file:`` URI that opens ``path`` read-only (``mode=ro``): ``Path.as_uri()`` of
    it made absolute, written here on POSIX so that ``list`` need not load pathlib."""
    if os.name != "posix":
        from pathlib import Path

        return Path(path).absolute().as_uri() + "?mode=ro"
    absolute = os.path.join(os.getcwd(), path)  # (as Path.absolute: nothing resolved)
    return "file://" + "".join(chr(b) if b in _URI_PLAIN else f"%{b:02X}"
                               for b in os.fsencode(absolute)) + "?mode=ro"


class SqlitePageReader:
    def __init__(self, connection: sqlite3.Connection, path: str | Path, who: Who) -> None:
        self._connection = connection
        self.path = path
        self.who = who  # whose ``by:me``, which machine's downloads (as the store's)

    @classmethod
    def open(cls, path: str | Path, who: Who | None = None) -> SqlitePageReader | None:
        """The reader of the file at ``path`` for ``who`` (default ``Who.here()``, as
        ``Database.open``'s) — or None where the store must be opened first: no file
        yet, a schema to create or upgrade (``open_store`` does both), or a file that
        cannot be read (``open_store`` says why)."""
        try:
            if not os.path.isfile(path):
                return None
            connection = sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None,
                                         timeout=BUSY_SECONDS)
        except (OSError, ValueError, sqlite3.Error):
            return None
        try:
            current = connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        except sqlite3.Error:
            current = False
        if not current:
            connection.close()
            return None
        connection.row_factory = sqlite3.Row
        return cls(connection, path, who or Who.here())

    @property
    def location(self) -> str:
        return str(self._path())

    def _path(self) -> Path:
        from pathlib import Path  # (for a message: a page read needs none)

        return Path(self.path)

    def _run(self, plan: plans.Plan[T]) -> T:
        try:
            return run_now(self._connection, plan)
        except sqlite3.Error as exc:
            raise translate(exc, self._path()) from None

    def untidy(self, trash_days: float) -> bool:
        return self._run(plans.untidy(iso_in(-trash_days * 86400)))

    def queued(self) -> int:
        return self._run(plans.figures()).get("queued", 0)

    def page(self, where: HistoryFilter | None = None, *, sort: str = "submitted",
             descending: bool = True, limit: int = 200, offset: int = 0) -> list[Generation]:
        return self._run(plans.page(where, who=self.who, sort=sort, descending=descending,
                                    limit=limit, offset=offset))

    def unsaved(self, where: HistoryFilter | None = None, *, ended_after: str | None = None,
                ended_before: str | None = None, limit: int | None = None
                ) -> list[Generation]:
        return self._run(plans.unsaved(where, who=self.who, ended_after=ended_after,
                                       ended_before=ended_before, limit=limit))

    def unsaved_tally(self, *, ended_after: str | None = None, ended_before: str | None = None,
                      at_most: int, first: int) -> tuple[int, list[tuple[int, str | None]]]:
        return self._run(plans.unsaved_tally(who=self.who, ended_after=ended_after,
                                             ended_before=ended_before, at_most=at_most,
                                             first=first))

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> SqlitePageReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
