"""The team database's connections, shared by every part of the store: a few pooled
connections, transactions, and driver errors turned into sentences.

A store keeps up to ``POOL_SIZE`` connections of its own (made by
``storage.postgres.connect``, so a refused password or an unreachable server is
one sentence whenever it happens), hands one to each read or transaction, and
takes it back.  Every statement and every transaction has a deadline: on a
network cut the server never answers, and a caller must hear so in seconds, not
when TCP gives up.  A connection that failed, timed out or was cancelled
mid-statement is thrown away, never reused; one the server closed while idle (a
restart) is noticed before it is handed out.

Driver errors leave this package only as the ``StoreError`` sentences of
``storage.errors``, with no password in them (``connect.scrub``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from storage.errors import (
    DuplicateTask,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from storage.postgres import connect as connecting
from storage.records import DOWNLOAD_FIELDS, Generation, Who
from storage.redact import scrub as hide_keys

if TYPE_CHECKING:
    import asyncpg

POOL_SIZE = 4  # connections per store: the poller, downloads and the view at once
STATEMENT_TIMEOUT = 30.0  # seconds a statement (or a whole transaction) may take
REPLACEMENT = "\ufffd"  # PostgreSQL text cannot hold NUL: it becomes this


def clean(value: Any) -> Any:
    """A parameter as PostgreSQL can store it: NUL characters (which SQLite keeps and
    hostile text may carry) replaced, in strings and in lists of strings."""
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT) if "\x00" in value else value
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    return value


def _args(params: Iterable[Any]) -> list[Any]:
    return [clean(value) for value in params]


# A row's download as one machine sees it: its own (``machine_downloads``, schema v4), or
# none yet; ``saved_on``: the other machines that saved it.
_NOT_HERE = {f"download_{f}": None for f in DOWNLOAD_FIELDS} | {"download_state": "none"}
_DOWNLOADS = ("SELECT generation_id, machine, state, path, bytes, total, sha256, error"
              " FROM machine_downloads WHERE generation_id = ANY($1::bigint[])"
              " ORDER BY generation_id, machine")


class Tx:
    """One connection inside one transaction (``Database.write``), or for one read, for
    one machine (whose downloads ``rows`` reads)."""

    def __init__(self, conn: asyncpg.Connection, machine: str) -> None:
        self.conn = conn
        self.machine = machine

    async def execute(self, sql: str, *params: Any) -> str:
        return await self.conn.execute(sql, *_args(params), timeout=STATEMENT_TIMEOUT)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [_args(row) for row in rows]
        if batch:
            await self.conn.executemany(sql, batch, timeout=STATEMENT_TIMEOUT)

    async def fetch(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        return list(await self.conn.fetch(sql, *_args(params), timeout=STATEMENT_TIMEOUT))

    async def fetchrow(self, sql: str, *params: Any) -> asyncpg.Record | None:
        return await self.conn.fetchrow(sql, *_args(params), timeout=STATEMENT_TIMEOUT)

    async def scalar(self, sql: str, *params: Any) -> Any:
        return await self.conn.fetchval(sql, *_args(params), timeout=STATEMENT_TIMEOUT)

    async def rows(self, sql: str, *params: Any) -> list[Generation]:
        """Generations, each with this machine's download and the machines that saved it
        elsewhere: one more query for all of them (a team database keeps every machine's
        download in ``machine_downloads``; ``generations.download_*`` stay unused)."""
        found = await self.fetch(sql, *params)
        if not found:
            return []
        mine: dict[int, dict[str, Any]] = {}
        elsewhere: dict[int, list[str]] = {}
        for d in await self.fetch(_DOWNLOADS, [row["id"] for row in found]):
            if d["machine"] == self.machine:
                mine[d["generation_id"]] = {f"download_{f}": d[f] for f in DOWNLOAD_FIELDS}
            elif d["state"] == "done":
                elsewhere.setdefault(d["generation_id"], []).append(d["machine"])
        out = []
        for row in found:
            values = dict(row.items())
            values.update(mine.get(values["id"], _NOT_HERE))
            values["saved_on"] = tuple(elsewhere.get(values["id"], ()))
            out.append(Generation.from_row(_Values(values)))
        return out

    async def copy(self, table: str, columns: Sequence[str],
                   records: Iterable[Sequence[Any]]) -> None:
        """Rows in bulk through a binary COPY: values already of the columns' types and
        already ``clean`` (an import converts each value once; cleaning them again here
        would cost as much as the COPY)."""
        await self.conn.copy_records_to_table(
            table, columns=list(columns), records=records, timeout=STATEMENT_TIMEOUT)


class _Values(dict[str, Any]):
    """A row as ``Generation.from_row`` reads one (``keys()`` and the values in order)."""

    def __iter__(self) -> Any:
        return iter(self.values())


class Database:
    """The pool, and the only way the parts of the store read and write the database."""

    def __init__(self, url: str, *, read_only: bool = False, size: int = POOL_SIZE,
                 who: Who | None = None) -> None:
        self.who = who or Who.here()  # whose intents, which machine's downloads
        self.url = url
        self.where = connecting.masked(url)  # for messages: never a password
        self.read_only = read_only
        self._idle: list[asyncpg.Connection] = []
        self._slots = asyncio.Semaphore(size)
        self._closed = False

    def adopt(self, conn: asyncpg.Connection) -> None:
        """Keep an open connection (outside any transaction) for the pool's use."""
        self._idle.append(conn)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)
            if not conn.is_closed():
                conn.terminate()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of the pool for one read or transaction.  Errors inside are
        translated; the connection is reused only if nothing went wrong with it."""
        if self._closed:
            raise StoreUnavailable(f"the team database {self.where} is closed")
        async with self._slots:
            conn = None
            while self._idle and conn is None:
                conn = self._idle.pop()
                if conn.is_closed():
                    conn = None  # the server closed it while it waited (a restart)
            if conn is None:
                conn = await connecting.connect(self.url)
            healthy = False
            try:
                yield conn
                healthy = True
            except (StoreError, KeyError, ValueError):
                healthy = True  # ours, from a caller's check: the connection is fine
                raise
            except BaseException as exc:
                error = translate(exc, self.where)
                if error is None:
                    raise
                healthy = not _connection_trouble(exc)
                raise error from None
            finally:
                if healthy and not self._closed and not conn.is_closed() \
                        and not conn.is_in_transaction():
                    self._idle.append(conn)
                else:
                    conn.terminate()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """One transaction: everything in it is stored, with its change-feed entry (the
        triggers' NOTIFY, sent at commit), or nothing is."""
        async with self.connection() as conn, asyncio.timeout(STATEMENT_TIMEOUT), \
                conn.transaction():
            yield Tx(conn, self.who.machine)

    async def fetch(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        async with self.connection() as conn:
            return await Tx(conn, self.who.machine).fetch(sql, *params)

    async def fetchrow(self, sql: str, *params: Any) -> asyncpg.Record | None:
        async with self.connection() as conn:
            return await Tx(conn, self.who.machine).fetchrow(sql, *params)

    async def scalar(self, sql: str, *params: Any) -> Any:
        async with self.connection() as conn:
            return await Tx(conn, self.who.machine).scalar(sql, *params)

    async def rows(self, sql: str, *params: Any) -> list[Generation]:
        async with self.connection() as conn:
            return await Tx(conn, self.who.machine).rows(sql, *params)

    async def execute(self, sql: str, *params: Any) -> str:
        """One statement that is a whole write on its own (PostgreSQL makes it atomic)."""
        async with self.connection() as conn:
            return await Tx(conn, self.who.machine).execute(sql, *params)


def _connection_trouble(exc: BaseException) -> bool:
    """Whether the connection itself may be broken or mid-statement after ``exc``."""
    import asyncpg

    if isinstance(exc, asyncpg.PostgresError):
        return isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.AdminShutdownError
                          | asyncpg.CannotConnectNowError)
    return True


def translate(exc: BaseException, where: str) -> StoreError | None:
    """One sentence a user can act on, for a driver (or network) error; None when
    ``exc`` is not one (a cancellation, a bug) and must go on as it is."""
    import asyncpg

    def said(error: BaseException) -> str:
        text = str(error).strip()
        return hide_keys(connecting.scrub(text.splitlines()[0] if text
                                             else type(error).__name__))

    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, TimeoutError):
        return StoreUnavailable(f"the team database {where} did not answer in time; it may "
                                "be down or unreachable")
    if isinstance(exc, asyncpg.UniqueViolationError):
        return DuplicateTask(f"the team database {where} already holds that "
                             f"({said(exc)})")
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return StoreUnavailable(f"this database role may only read the team database {where} "
                                "(ask for a writer's role to change anything)")
    if isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
        return StoreUnavailable(f"the team database {where} is read-only here (a standby, or "
                                "a read-only session); nothing can be changed")
    if isinstance(exc, asyncpg.DiskFullError | asyncpg.OutOfMemoryError):
        return StoreFull(f"the team database server {where} is out of room ({said(exc)}); "
                         "nothing was lost")
    if isinstance(exc, asyncpg.TooManyConnectionsError | asyncpg.DeadlockDetectedError
                  | asyncpg.SerializationError | asyncpg.LockNotAvailableError):
        return StoreBusy(f"the team database {where} is busy ({said(exc)}); try again")
    if isinstance(exc, asyncpg.UndefinedTableError | asyncpg.UndefinedColumnError
                  | asyncpg.UndefinedFunctionError):
        return StoreCorrupt(f"the team database {where} is not a pixverse-tui database or "
                            f"was changed by hand ({said(exc)})")
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.AdminShutdownError
                  | asyncpg.CannotConnectNowError | asyncpg.InterfaceError
                  | OSError | ConnectionError):
        return StoreUnavailable(f"lost the connection to the team database {where} "
                                f"({said(exc)}); it may be down or unreachable")
    if isinstance(exc, asyncpg.PostgresError):
        return StoreError(f"the team database {where} failed: {said(exc)}")
    return None
