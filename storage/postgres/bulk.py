"""A long load into an empty team history: its secondary indexes built once, at the end.

Writing a row costs far more in its index entries than in itself — the trigram index on
prompts above all, then the expression index on when each generation ended and a
dozen b-trees (bench/RESULTS.md, "A million generations on both backends").  An index
built over the rows already there costs a fraction of that.  So when an import or a
``store copy`` begins (``History.bulk``) and the history is EMPTY, the loader:

1. takes a session advisory lock (``BULK_LOCK``) on a connection of its own, held for
   the whole load (a process that dies lets go of it with its connection);
2. in one transaction, records each secondary index's definition (``pg_get_indexdef``)
   in ``dropped_indexes`` (schema v6) and drops it — never a primary key, a UNIQUE
   constraint (the duplicate checks and ``ON CONFLICT`` need them) or the index on
   creation time that finds a never-sent record already here (``KEPT``);
3. lets the rows go in as always (COPY and one statement per batch);
4. builds every recorded index again, each in a transaction that deletes its record
   (``maintenance_work_mem`` raised for the build), then renews the statistics.

Killed at any moment (kill -9 included), the definitions stay recorded and the lock goes
with the connection: the next client to open the database (``rebuild_dropped``, called
when a store opens) finds them, takes the lock and builds what is missing first — the
lock keeps two of them from building at once, and a client that finds the lock held
(a load running) leaves the indexes to it.  Other machines stay correct meanwhile,
only slower: a query finds the same rows without an index.

Only a role that owns the tables may drop and build indexes; for any other (the
writer's role of docs/team.md) a load writes as it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from storage.errors import StoreError
from storage.postgres import connect as connecting

if TYPE_CHECKING:
    import asyncpg

# pg_advisory_lock's key for "a bulk load, or its indexes being built" ('pixbulk').
BULK_LOCK = 0x70697862756C6B
# The tables of the history whose secondary indexes a bulk load drops.
TABLES = ("generations", "status_events", "generation_tags", "machine_downloads")
# Kept through a load: what the load itself reads — the duplicate check of a record
# never sent (task_id IS NULL, same created_at and prompt) walks this one.
KEPT = ("generations_created",)
BUILD_MEMORY = "256MB"  # maintenance_work_mem for each index built
LOCK_WAIT = "5s"  # dropping waits this long at most for other machines' statements
# The secondary indexes a load drops: neither a primary key nor unique nor behind a
# constraint, the trigram index first.
_DROPPABLE = """
SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
  FROM pg_index AS i
  JOIN pg_class AS c ON c.oid = i.indexrelid
  JOIN pg_class AS t ON t.oid = i.indrelid
  JOIN pg_am AS a ON a.oid = c.relam
 WHERE t.oid = ANY(ARRAY[{tables}]::regclass[])
   AND NOT i.indisunique AND NOT i.indisprimary
   AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid)
   AND c.relname <> ALL($1::text[])
 ORDER BY a.amname <> 'gin', c.relname""".format(
    tables=", ".join(f"'{table}'" for table in TABLES))
_OWNER = ("SELECT pg_has_role(relowner, 'USAGE') AND"
          " current_setting('transaction_read_only') = 'off'"
          " FROM pg_class WHERE oid = 'generations'::regclass")


async def _owner(conn: asyncpg.Connection) -> bool:
    """Whether this role may drop and build the history's indexes."""
    return bool(await conn.fetchval(_OWNER))


@contextlib.asynccontextmanager
async def bulk_load(url: str) -> AsyncIterator[bool]:
    """A long load into the database at ``url``: yields whether the indexes were dropped
    (the history was empty, this role owns it, no other load runs).  When the load ends
    — well or with an error — they are built again; when it is interrupted (Ctrl-C, a
    cancellation) or the build fails, the next client to open the database builds them.
    Trouble here never fails a load: it then writes as it always did."""
    import asyncpg

    conn: asyncpg.Connection | None = None
    dropped = False
    try:
        conn = await connecting.connect(url)
        dropped = await _begin(conn)
    except (StoreError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError,
            TimeoutError):
        dropped = False
    try:
        try:
            yield dropped
        except Exception:
            if dropped and conn is not None:
                await _rebuilt_quietly(conn, url)
            raise
        if dropped and conn is not None:
            await _rebuilt_quietly(conn, url)
    finally:
        if conn is not None:
            await _closed(conn)


async def _rebuilt_quietly(conn: asyncpg.Connection, url: str) -> None:
    """``rebuild``, its failure left to the next client that opens the database."""
    import asyncpg

    with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError,
                             TimeoutError):
        await rebuild(conn, url)


async def _begin(conn: asyncpg.Connection) -> bool:
    if not await _owner(conn):
        return False
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", BULK_LOCK):
        return False  # another load (or a rebuild) runs: write as always
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
            # The table locked first, so nobody adds a row between the look and the drops.
            await conn.execute("LOCK TABLE generations IN SHARE ROW EXCLUSIVE MODE")
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM generations)"):
                raise _NotEmpty
            for name, definition in await conn.fetch(_DROPPABLE, list(KEPT)):
                await conn.execute("INSERT INTO dropped_indexes (name, definition)"
                                   " VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                                   name, definition)
                await conn.execute(f'DROP INDEX "{name}"')
    except _NotEmpty:
        await conn.execute("SELECT pg_advisory_unlock($1)", BULK_LOCK)
        return False
    except BaseException:
        await conn.execute("SELECT pg_advisory_unlock($1)", BULK_LOCK)
        raise
    return True


class _NotEmpty(Exception):
    """The history holds rows: a load writes as always."""


async def rebuild(conn: asyncpg.Connection, url: str | None = None) -> int:
    """Build every recorded index again (this connection holds ``BULK_LOCK``), each in a
    transaction that deletes its record; renew the statistics; let go of the lock.
    Returns how many were built.

    With ``url``, the trigram index (half of the work: a GIN index of every prompt's
    trigrams) is built on a second connection while this one builds the rest: two
    server processes at once, as ``CREATE INDEX`` on one table allows."""
    import asyncpg

    try:
        found = [(str(name), str(definition)) for name, definition in await conn.fetch(
            "SELECT name, definition FROM dropped_indexes ORDER BY dropped_at, name")]
        inverted = [entry for entry in found if " USING gin " in entry[1]]
        rest = [entry for entry in found if entry not in inverted]
        helper = None
        if url is not None and inverted and rest:
            with contextlib.suppress(StoreError, asyncpg.PostgresError, OSError, TimeoutError):
                helper = await connecting.connect(url)
        if helper is None:
            built = await _build(conn, found)
        else:
            try:  # both finished before anything else is said on either connection
                lanes = await asyncio.gather(_build(helper, inverted), _build(conn, rest),
                                             return_exceptions=True)
            finally:
                await _closed(helper)
            for lane in lanes:
                if isinstance(lane, BaseException):
                    raise lane
            built = sum(lane for lane in lanes if isinstance(lane, int))
        if built:
            await conn.execute(f"ANALYZE {', '.join(TABLES)}", timeout=None)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", BULK_LOCK)
    return built


async def _build(conn: asyncpg.Connection, indexes: list[tuple[str, str]]) -> int:
    built = 0
    for name, definition in indexes:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
            if await conn.fetchval("SELECT to_regclass($1)", f'"{name}"') is None:
                await conn.execute(definition, timeout=None)
                built += 1
            await conn.execute("DELETE FROM dropped_indexes WHERE name = $1", name)
    return built


async def rebuild_dropped(conn: asyncpg.Connection, url: str | None = None) -> int:
    """At open: the indexes a killed load left recorded, built again unless a load holds
    the lock (it builds them itself) or this role may not.  Returns how many were built."""
    import asyncpg

    try:
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM dropped_indexes)"):
            return 0
    except asyncpg.InsufficientPrivilegeError:
        return 0  # a role that may not read it may not build indexes either
    if not await _owner(conn):
        return 0
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", BULK_LOCK):
        return 0
    try:
        return await rebuild(conn, url)
    except asyncpg.PostgresError:
        return 0  # the store works without them (more slowly): the next open tries again


async def _closed(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=5)
    except Exception:
        conn.terminate()
